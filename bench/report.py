"""The table every benchmark adds its rows to, and the helpers that format its cells."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Row:
    """One line of the table."""

    name: str
    product: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    passed: bool | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        """PASS, FAIL or nothing (for figures that have no target)."""
        if self.passed is None:
            return ""
        return "PASS" if self.passed else "FAIL"


@dataclass
class Report:
    """Every row, in the order they are measured, and the raw figures for ``--json``."""

    rows: list[Row] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        """Add a row and show it at once, so that a long run shows progress."""
        self.rows.append(row)
        sys.stderr.write(f"bench: {row.name}: {row.product} {row.verdict}".rstrip() + "\n")

    @property
    def all_passed(self) -> bool:
        """Whether every row with a target met it."""
        return all(row.passed is not False for row in self.rows)

    def render(self) -> str:
        """The table as Markdown."""
        header = ("measurement", "product", "baseline", "ratio", "target", "result")
        lines = [header] + [
            (r.name, r.product, r.baseline, r.ratio, r.target, r.verdict) for r in self.rows
        ]
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

        def fmt(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

        out = [fmt(lines[0]), "| " + " | ".join("-" * w for w in widths) + " |"]
        out += [fmt(line) for line in lines[1:]]
        notes = [f"- {r.name}: {r.note}" for r in self.rows if r.note]
        return "\n".join(out + (["", *notes] if notes else []))


def ms(value: float) -> str:
    """Milliseconds, readable."""
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"  # noqa: PLR2004


def mib(value: float) -> str:
    """Bytes as MiB."""
    return f"{value / 2**20:.1f} MiB"


def percentile(ordered: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile of sorted values."""
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]
