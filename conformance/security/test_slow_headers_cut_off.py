"""Security: a client that sends its headers slowly is cut off by the LB's header timeout.

Slowloris: a few clients that each dribble one header line every second hold connections open
forever and exhaust `maxconn`. `timeout http-request` (else `timeout client`) bounds the time a
client may take to send its headers. The limit is the config's own header timeout on port 8000
plus 2 s, held against the policy of at most 30 s (`flowlb.policy`); a live LB, whose config is
not known, is held to the policy itself. The client sends a line every 0.5 s (the pacing IS the
check) and stops by itself after the limit. Fails when the LB still holds the connection open after
the limit, or when the config lets headers take longer than the policy. The article sets no timeout.
"""

from __future__ import annotations

import time

import pytest

from flowlb.checks.raw import connect, read_response
from flowlb.checks.settings import header_timeout_s, section_for_role
from flowlb.policy import HEADER_TIMEOUT_MAX_S, MARGIN_S
from flowlb.targets.base import Target

PACE_S = 0.5
FIX = "Fix: `timeout http-request 10s` in defaults (or the frontend)."


def _limit(lb: Target) -> float:
    """The config's header timeout plus the margin; the policy where the config is not known."""
    layout = getattr(lb, "layout", None)
    section = section_for_role(lb.config_text, layout, "server") if layout and lb.config_text else None
    if section is None:
        return HEADER_TIMEOUT_MAX_S + MARGIN_S
    configured = header_timeout_s(section)
    if configured is None:
        pytest.fail(f"{section.where} (port 8000) sets neither `timeout http-request` nor `timeout client`: HAProxy "
                    f"waits for a slow client's headers forever, and a few such clients exhaust maxconn. {FIX}")
    if configured > HEADER_TIMEOUT_MAX_S:
        pytest.fail(f"{section.where} (port 8000) gives a client {configured:g} s to send its headers, more than "
                    f"the policy's {HEADER_TIMEOUT_MAX_S:g} s: a few slow clients hold connections that long. {FIX}")
    return configured + MARGIN_S


def test_slow_client_is_cut_off(lb: Target) -> None:
    limit = _limit(lb)
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
                f"clients exhaust maxconn (slowloris). {FIX}"
            )
    took = time.monotonic() - start
    print(f"slow client cut off after {took:.1f} s (limit {limit:.1f} s)")
    assert took <= limit
