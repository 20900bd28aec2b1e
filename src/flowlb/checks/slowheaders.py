"""A client that sends its headers slowly (slowloris), and how long the LB lets it: one of the long waits.

The limit is the config's own header timeout on port 8000 (`timeout http-request`, else `timeout
client`) plus the margin, held against the policy (`policy.current().header_timeout_max_s`); a live LB,
whose config is not known, is held to the policy itself. The client sends one header line every
``PACE_S`` (the pacing IS the check) and stops by itself after the limit.
"""

from __future__ import annotations

import time

from flowlb import policy
from flowlb.checks.raw import connect, read_response
from flowlb.checks.settings import header_timeout_s, section_for_role
from flowlb.targets.base import Target

PACE_S = 0.5
FIX = "Fix: `timeout http-request 10s` in defaults (or the frontend)."


def header_limit(target: Target) -> tuple[float, str | None]:
    """How long a slow client may take, and why the config fails before any client is tried (or ``None``)."""
    layout = target.layout
    section = section_for_role(target.config_text, layout, "server") if layout and target.config_text else None
    rules = policy.current()
    if section is None:
        return rules.header_timeout_max_s + rules.margin_s, None
    return judge_header_timeout(section.where, header_timeout_s(section), rules)


def judge_header_timeout(where: str, configured: float | None, rules: policy.Policy) -> tuple[float, str | None]:
    """The limit for a config whose header timeout on port 8000 is ``configured`` (``where`` sets it), held
    against ``rules``: (limit, ``None``), or (0, why the config fails without a client being tried)."""
    if configured is None:
        return 0.0, (f"{where} (port 8000) sets neither `timeout http-request` nor `timeout client`: HAProxy "
                     f"waits for a slow client's headers forever, and a few such clients exhaust maxconn. {FIX}")
    if configured > rules.header_timeout_max_s:
        return 0.0, (f"{where} (port 8000) gives a client {configured:g} s to send its headers, more than the "
                     f"policy's {rules.header_timeout_max_s:g} s: a few slow clients hold connections that long. {FIX}")
    return configured + rules.margin_s, None


def slow_client(target: Target) -> tuple[float, float, str | None]:
    """Dribble headers to port 8000 until the LB cuts the client: (seconds it took, the limit, failure or ``None``)."""
    limit, refused = header_limit(target)
    if refused:
        return 0.0, limit, refused
    start = time.monotonic()
    with connect(target.endpoints.server, None, None, timeout=5.0) as sock:
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
            return limit, limit, (f"the LB still waits for the headers of a client that sent {line} lines in "
                                  f"{limit:.0f} s: a few such clients exhaust maxconn (slowloris). {FIX}")
    return time.monotonic() - start, limit, None
