"""Every request that is not a health check is echoed as JSON naming the node and port.

Fails if the echo misreports method, path, query, headers (order, case, duplicates) or body
length, if a response lacks ``Server``/``X-Flow-Node``/``Content-Length``, if pipelined requests
are answered out of order, if ``status=``/``delay_ms=`` are ignored, or if the connection is kept
or closed against what HTTP/1.0, HTTP/1.1 and ``Connection: close`` ask for.
"""

from __future__ import annotations

import json
import socket
import time

import pytest


def read_responses(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """Reads ``count`` responses (all with Content-Length) from a raw socket."""
    buffer = b""
    responses = []
    while len(responses) < count:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            head = buffer[:end].decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
            length = int(headers["content-length"])
            if len(buffer) >= end + 4 + length:
                responses.append((int(head[0].split()[1]), headers, buffer[end + 4 : end + 4 + length]))
                buffer = buffer[end + 4 + length :]
                continue
        data = sock.recv(65536)
        assert data, f"connection closed after {len(responses)} responses"
        buffer += data
    return responses


def raw_connection(node) -> socket.socket:
    return socket.create_connection(("127.0.0.1", node.ports["server"]), timeout=node.timeout)


@pytest.mark.parametrize("port", ["server", "web"])
def test_echo_names_node_port_and_request(node, port) -> None:
    status, headers, body = node.request(port, "POST", "/flow/x?a=1&b=2", b"12345", {"X-Custom": "v1"})
    assert status == 200
    assert headers["x-flow-node"] == "t1"
    assert headers["server"] == "flowlb-mocknode/t1"
    assert headers["content-type"] == "application/json"
    echo = json.loads(body)
    assert echo["node"] == "t1"
    assert echo["port"] == port
    assert (echo["method"], echo["path"], echo["query"]) == ("POST", "/flow/x", "a=1&b=2")
    assert ["X-Custom", "v1"] in echo["headers"]
    assert echo["body_length"] == 5
    assert echo["http_version"] == "HTTP/1.1"


def test_headers_keep_order_case_and_duplicates(node) -> None:
    with raw_connection(node) as sock:
        sock.sendall(b"GET /h HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\nX-B: 3\r\n\r\n")
        ((_, _, body),) = read_responses(sock, 1)
    assert json.loads(body)["headers"] == [["Host", "x"], ["X-A", "1"], ["x-a", "2"], ["X-B", "3"]]


def test_pipelined_requests_are_answered_in_order_on_one_connection(node) -> None:
    with raw_connection(node) as sock:
        sock.sendall(b"".join(b"GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(20)))
        responses = read_responses(sock, 20)
    echoes = [json.loads(body) for _, _, body in responses]
    assert [echo["path"] for echo in echoes] == [f"/p{i}" for i in range(20)]
    assert [echo["connection_request"] for echo in echoes] == list(range(1, 21))


def test_chunked_body_is_decoded(node) -> None:
    with raw_connection(node) as sock:
        sock.sendall(b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n")
        sock.sendall(b"6\r\nefghij\r\n0\r\n\r\n")
        ((status, _, body),) = read_responses(sock, 1)
    assert status == 200
    assert json.loads(body)["body_length"] == 10


def test_query_chooses_status(node) -> None:
    status, headers, body = node.request("server", "GET", "/x?status=503")
    assert status == 503
    assert headers["x-flow-node"] == "t1"
    assert json.loads(body)["query"] == "status=503"
    assert node.request("server", "GET", "/x?status=99")[0] == 400


def test_query_delays_the_answer(node) -> None:
    started = time.monotonic()
    status, _, _ = node.request("server", "GET", "/x?delay_ms=300")
    assert status == 200
    assert time.monotonic() - started >= 0.3


def test_head_gets_headers_only_with_content_length(node) -> None:
    with raw_connection(node) as sock:
        sock.sendall(b"HEAD /x HTTP/1.1\r\nHost: x\r\n\r\nGET /after-head HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    head_response, get_response = data.split(b"HTTP/1.1 200 OK")[1:]
    assert b"Content-Length: " in head_response
    assert head_response.endswith(b"\r\n\r\n")
    assert b'"path": "/after-head"' in get_response


@pytest.mark.parametrize(
    "request_bytes, closes",
    [
        (b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n", False),
        (b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", True),
        (b"GET /x HTTP/1.0\r\n\r\n", True),
        (b"GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", False),
    ],
)
def test_connection_kept_or_closed(node, request_bytes, closes) -> None:
    with raw_connection(node) as sock:
        sock.sendall(request_bytes)
        ((status, headers, _),) = read_responses(sock, 1)
        assert status == 200
        assert (headers.get("connection", "").lower() == "close") is closes
        if closes:
            assert sock.recv(1) == b""
        else:
            sock.sendall(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_responses(sock, 1)[0][0] == 200


@pytest.mark.parametrize(
    "garbage",
    [b"NOT HTTP AT ALL\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", b"GET / HTTP/1.1\r\nX: " + b"a" * 70000],
)
def test_malformed_request_gets_400_and_close(node, garbage) -> None:
    with raw_connection(node) as sock:
        sock.sendall(garbage)
        ((status, headers, _),) = read_responses(sock, 1)
        assert status == 400
        assert headers["connection"] == "close"
        assert headers["x-flow-node"] == "t1"
        assert sock.recv(1) == b""


def test_counters_count_requests_and_connections_per_port(node) -> None:
    for _ in range(3):
        node.request("server", "GET", "/x")
    node.request("web", "GET", "/x")
    counters = node.counters()
    assert (counters["server"]["requests"], counters["server"]["connections"]) == (3, 3)
    assert (counters["web"]["requests"], counters["web"]["connections"]) == (1, 1)
