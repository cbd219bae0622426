"""bench.client: the raw HTTP/1.1 pieces the benchmarks read responses with."""

from __future__ import annotations

from bench.client import dechunk, parse_response


def test_a_chunked_body_is_joined_and_chunk_extensions_are_ignored():
    assert dechunk(b"4\r\nWiki\r\n6;name=value\r\npedia \r\n0\r\n\r\n") == b"Wikipedia "


def test_a_response_gives_its_status_lower_cased_headers_and_de_chunked_body():
    raw = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n"
    )
    status, headers, body = parse_response(raw)
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert body == b"[]"


def test_a_response_with_a_length_keeps_its_body_as_sent():
    assert parse_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}") == (
        404,
        {"content-length": "2"},
        b"{}",
    )
