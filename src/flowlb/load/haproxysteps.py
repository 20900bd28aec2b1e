"""HAProxy's own counters over one step of a rate search, from its runtime API.

Before a step, ``clear counters`` (the cluster is the run's own); after it, from ``show stat``'s
backend rows: the highest queue (``qmax``), retries (``wretr``), redispatches (``wredis``), 5xx
answers (``hrsp_5xx``) and connection errors (``econ``); from ``show info``: the session, connection
and TLS handshake rates of the last second (``SessRate``, ``ConnRate``, ``SslRate``), sampled every second
while the step runs, their highest kept.

Before each step the LB must be quiet: a step that broke leaves requests queued and sessions open on the
servers for a while, and a step measured on top of them breaks too (:func:`settle` waits until ``show
stat`` shows none, bounded).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flowlb.haproxy.runtime import stat_rows

SETTLE_S = 30.0  # the longest a step waits for the LB to drain the last one's sessions
SETTLE_POLL_S = 0.2

STAT_SUMS = {"retries": "wretr", "redispatches": "wredis", "http_5xx": "hrsp_5xx", "connect_errors": "econ"}
INFO_RATES = {"sess_rate": "SessRate", "conn_rate": "ConnRate", "ssl_rate": "SslRate"}


def parse_stat(text: str) -> dict[str, float]:
    """The backend rows of ``show stat`` summed (the queue: its highest)."""
    rows = [r for r in stat_rows(text) if r.get("svname") == "BACKEND"]
    figures = {name: float(sum(int(r.get(column) or 0) for r in rows)) for name, column in STAT_SUMS.items()}
    figures["queue_max"] = float(max((int(r.get("qmax") or 0) for r in rows), default=0))
    return figures


def parse_info(text: str) -> dict[str, float]:
    """The rates of ``show info`` (``Name: value`` lines)."""
    values = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {name: float(values[key].strip()) for name, key in INFO_RATES.items()
            if key in values and values[key].strip().isdigit()}


def start(runtime: Any) -> None:
    """Zero the counters (and the highest queue) before a step."""
    runtime.command("clear counters")


def parse_request_rate(text: str) -> dict[str, float]:
    """HTTP requests per second over the last second, summed over ``show stat``'s frontend rows (``req_rate``)."""
    rows = [r for r in stat_rows(text) if r.get("svname") == "FRONTEND"]
    return {"http_req_rate": float(sum(int(r.get("req_rate") or 0) for r in rows))}


def rates(runtime: Any) -> dict[str, float]:
    """The last second's rates now (``show info``'s, and HTTP requests from ``show stat``), or nothing when the
    runtime API does not answer."""
    try:
        return {**parse_info(runtime.command("show info")), **parse_request_rate(runtime.command("show stat"))}
    except Exception:  # noqa: BLE001 - counters are extra evidence; a step is judged without them
        return {}


def read(runtime: Any) -> dict[str, float]:
    """The step's counters, or nothing when the runtime API does not answer."""
    try:
        return {**parse_stat(runtime.command("show stat")), **parse_info(runtime.command("show info"))}
    except Exception:  # noqa: BLE001 - counters are extra evidence; a step is judged without them
        return {}


def in_flight(text: str) -> int:
    """Sessions the backends still hold or queue (``scur`` + ``qcur`` of ``show stat``'s backend rows)."""
    rows = [r for r in stat_rows(text) if r.get("svname") == "BACKEND"]
    return sum(int(r.get("scur") or 0) + int(r.get("qcur") or 0) for r in rows)


def settle(runtime: Any, timeout: float = SETTLE_S, clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], Any] = time.sleep) -> int:
    """Wait until the backends hold and queue no session (the last step's drained), at most ``timeout`` seconds.
    Returns the sessions still there: 0 when the LB settled (or its runtime API does not answer: no evidence to
    wait on)."""
    deadline = clock() + timeout
    while True:
        try:
            left = in_flight(runtime.command("show stat"))
        except Exception:  # noqa: BLE001 - without the runtime API a step starts at once
            return 0
        if left == 0 or clock() >= deadline:
            return left
        sleep(SETTLE_POLL_S)
