"""Security: a client that sends its headers slowly is cut off by the LB's header timeout.

Slowloris: a few clients that each dribble one header line every second hold connections open
forever and exhaust `maxconn`. `timeout http-request` bounds the time a client may take to send its
headers. The limit is the spec's ``timeouts.http_request_ms`` + 2 s. The client here sends a line
every 0.5 s (the pacing IS the check) and stops by itself after the limit. Fails when the LB still
holds the connection open after the limit. The article sets no timeout at all.
"""

from __future__ import annotations

import time

import pytest

from flowlb.checks.raw import connect, read_response
from flowlb.spec import ClusterSpec
from flowlb.targets.base import Target

PACE_S = 0.5


def test_slow_client_is_cut_off(lb: Target, flowlb_spec: ClusterSpec) -> None:
    limit = flowlb_spec.timeouts.http_request_ms / 1000 + 2.0
    start = time.monotonic()
    with connect(lb.endpoints.server, None, None, timeout=5.0) as sock:
        sock.sendall(b"GET /flowlb/slow HTTP/1.1\r\nHost: lb\r\n")
        line = 0
        while time.monotonic() - start < limit:
            try:
                sock.sendall(f"X-Slow-{line}: {line}\r\n".encode())
            except OSError:
                break  # the LB closed the connection
            line += 1
            data, closed = read_response(sock, deadline=time.monotonic() + PACE_S)
            if closed or data:
                break
        else:
            pytest.fail(
                f"the LB still waits for the headers of a client that sent {line} lines in {limit:.0f} s: a few such "
                "clients exhaust maxconn (slowloris). Fix: `timeout http-request 5s` in defaults."
            )
    took = time.monotonic() - start
    print(f"slow client cut off after {took:.1f} s (limit {limit:.1f} s)")
    assert took <= limit
