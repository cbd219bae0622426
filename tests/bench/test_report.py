"""bench.report: the table every benchmark adds its rows to."""

from __future__ import annotations

from bench.report import Report, Row, percentile


def test_the_table_aligns_its_columns_and_lists_the_notes_under_it(capsys):
    report = Report()
    report.add(
        Row("POST /tasks requests/s", "4,510", "3,531", "1.28x", ">= 1.00x", passed=True, note="r")
    )
    report.add(Row("p50", "12.3 ms"))
    assert report.render().splitlines() == [
        "| measurement            | product | baseline | ratio | target   | result |",
        "| ---------------------- | ------- | -------- | ----- | -------- | ------ |",
        "| POST /tasks requests/s | 4,510   | 3,531    | 1.28x | >= 1.00x | PASS   |",
        "| p50                    | 12.3 ms |          |       |          |        |",
        "",
        "- POST /tasks requests/s: r",
    ]
    assert capsys.readouterr().err.splitlines() == [
        "bench: POST /tasks requests/s: 4,510 PASS",
        "bench: p50: 12.3 ms",
    ]


def test_rows_without_a_target_never_fail_the_run():
    report = Report()
    report.add(Row("total", "410.6 ms"))
    assert report.all_passed
    report.add(Row("p99", "194.8 ms", target="< 100 ms", passed=False))
    assert not report.all_passed


def test_percentiles_are_nearest_rank():
    ordered = [float(n) for n in range(1, 101)]
    assert percentile(ordered, 50) == 50.0
    assert percentile(ordered, 99) == 99.0
    assert percentile([7.0], 99) == 7.0
