"""The HTTP request parser, on bytes alone.

Fails if pipelined requests are merged or lost, if Content-Length or chunked bodies are framed
wrongly, if keep-alive is decided wrongly for HTTP/1.0 and ``Connection: close``, or if malformed
requests and oversized header blocks are accepted.
"""

from __future__ import annotations

import pytest

from flowlb.mocknode.httpparse import HttpParseError, HttpRequest, RequestParser


def parse_all(data: bytes, chunk_size: int = 0) -> list[HttpRequest]:
    parser = RequestParser()
    requests: list[HttpRequest] = []
    chunks = [data] if chunk_size == 0 else [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
    for chunk in chunks:
        parser.feed(chunk)
        while (request := parser.next_request()) is not None:
            requests.append(request)
    return requests


def test_request_line_headers_and_query() -> None:
    (request,) = parse_all(b"GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: h\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n")
    assert (request.method, request.path, request.query, request.http_version) == ("GET", "/a/b", "x=1&y=2", "HTTP/1.1")
    assert request.headers == [("Host", "h"), ("X-Dup", "1"), ("x-dup", "2")]
    assert request.header("X-DUP") == "1"
    assert request.request_line == "GET /a/b?x=1&y=2 HTTP/1.1"
    assert request.keep_alive


@pytest.mark.parametrize("chunk_size", [0, 1, 5])
def test_pipelined_requests_with_bodies(chunk_size: int) -> None:
    wire = (
        b"POST /one HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        b"POST /two HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n"
        b"GET /three HTTP/1.1\r\n\r\n"
    )
    requests = parse_all(wire, chunk_size)
    assert [(r.path, r.body) for r in requests] == [("/one", b"hello"), ("/two", b"abc0123456789"), ("/three", b"")]


@pytest.mark.parametrize(
    "head, keep_alive",
    [
        (b"GET / HTTP/1.1\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", True),
    ],
)
def test_keep_alive_decision(head: bytes, keep_alive: bool) -> None:
    (request,) = parse_all(head)
    assert request.keep_alive is keep_alive


@pytest.mark.parametrize(
    "wire, status",
    [
        (b"GET /\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n folded: x\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
    ],
)
def test_malformed_requests(wire: bytes, status: int) -> None:
    with pytest.raises(HttpParseError) as raised:
        parse_all(wire)
    assert raised.value.status == status


def test_header_block_over_64k_is_rejected_even_before_it_ends() -> None:
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (64 * 1024))
    with pytest.raises(HttpParseError, match="64 KiB"):
        parser.next_request()


@pytest.mark.parametrize("chunk_size", [0, 7, 65536])
def test_upload_is_digested_as_it_arrives_and_the_next_request_follows(chunk_size: int) -> None:
    import hashlib

    body = bytes(range(256)) * 1000 + b"tail"
    wire = (b"POST /flowlb/upload HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body)) + body + (
        b"GET /after HTTP/1.1\r\n\r\n")
    upload, after = parse_all(wire, chunk_size)
    assert (upload.path, upload.body, upload.body_size) == ("/flowlb/upload", b"", len(body))
    assert upload.body_sha256 == hashlib.sha256(body).hexdigest()
    assert after.path == "/after"


def test_upload_may_exceed_the_buffered_body_limit() -> None:
    parser = RequestParser()
    parser.feed(b"POST /flowlb/upload HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\n" + b"x" * 1024)
    assert parser.next_request() is None and parser.buffered == 0  # digested, not kept
    with pytest.raises(HttpParseError, match="too large"):
        parse_all(b"POST /elsewhere HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\n")
