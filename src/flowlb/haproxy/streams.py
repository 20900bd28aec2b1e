"""HAProxy's own timers for the streams it carries, read from ``show sess all``: when it will cut each one.

Every stream HAProxy holds has its timers armed on each side (``rex``/``wex`` per channel or stream
connector, ``an_exp`` for an analyser, ``conn_exp`` for a connect), shown as the time left before
they fire. The nearest one is when HAProxy next acts on a stream that sees no traffic: a long
request is cut (504), a silent STOMP session closed. So a check can read, in a second, what it
would otherwise wait minutes to observe::

    stream = find_stream(api.command("show sess all"), listener_port=8443, http=True)
    stream.next_cut_s     # 3960.0 for `timeout server 4000s`; None when no timer is armed

The task's own ``exp`` is left out: it is a wake-up that may be stale (an old connect timer), not a
cut. The dump's layout differs between 2.6 (timers on ``req``/``res``) and 3.x (on ``scf``/``scb``);
the timer names are the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_STREAM_START = re.compile(r"^0x[0-9a-f]+: \[[^\]]*\] id=(\d+)", re.M)
_FRONTEND = re.compile(r"^\s+frontend=(\S+) \(id=-?\d+ mode=\w+\), listener=.*? addr=(\S+)", re.M)
_BACKEND = re.compile(r"^\s+backend=(\S+) ", re.M)
_SERVER = re.compile(r"^\s+server=(\S+) ", re.M)
_SIDE = re.compile(r"^\s+(scf|scb|req|res)=0x")
_TIMER = re.compile(r"(?<![\w.])(an_exp|rex|wex|conn_exp)=(\S+)")
_SCB_STATE = re.compile(r"^\s+scb=\S+ .*?state=(\w+)", re.M)
_TXN_STATES = re.compile(r"req\.st=(\w+) rsp\.st=(\w+)")
_HUMAN_PART = re.compile(r"(\d+)([dhms])")
_UNIT_S = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def human_seconds(text: str) -> float | None:
    """A time as HAProxy's dumps print it (``1h6m``, ``59m57s``, ``0s``) in seconds; ``None`` for ``<NEVER>``.

    HAProxy prints at most two units and drops the rest, so the value is a lower bound; ``?`` (a
    timer already past) is 0.
    """
    if text == "<NEVER>":
        return None
    parts = _HUMAN_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return 0.0 if text in ("?", "<PAST>") else None
    return float(sum(int(number) * _UNIT_S[unit] for number, unit in parts))


@dataclass(frozen=True)
class StreamTimers:
    """One stream of ``show sess all``: where it came in and went, and its armed timers in seconds."""

    id: int
    frontend: str
    listener_port: int | None
    backend: str
    server: str
    server_side: str  # the server connection's state: EST once connected, "" when none
    awaiting_response: bool  # an HTTP request sent in full whose answer has not begun
    timers: dict[str, float] = field(default_factory=dict)  # "res.rex" -> seconds left; armed timers only

    @property
    def connected(self) -> bool:
        """True once the stream has a server and its connection to it is established."""
        return self.server != "<NONE>" and self.server_side == "EST"

    @property
    def next_cut_s(self) -> float | None:
        """Seconds until HAProxy's nearest timer for this stream fires; ``None`` when none is armed."""
        return min(self.timers.values()) if self.timers else None

    @property
    def next_cut_name(self) -> str:
        """Which timer fires first (``scb.rex``), for messages."""
        return min(self.timers, key=self.timers.__getitem__) if self.timers else ""


def parse_streams(text: str) -> list[StreamTimers]:
    """Every stream in a ``show sess all`` answer."""
    starts = list(_STREAM_START.finditer(text))
    streams = []
    for index, start in enumerate(starts):
        block = text[start.start(): starts[index + 1].start() if index + 1 < len(starts) else len(text)]
        front = _FRONTEND.search(block)
        backend, server = _BACKEND.search(block), _SERVER.search(block)
        state = _SCB_STATE.search(block)
        txn = _TXN_STATES.search(block)
        streams.append(StreamTimers(
            id=int(start.group(1)),
            frontend=front.group(1) if front else "",
            listener_port=_port(front.group(2)) if front else None,
            backend=backend.group(1) if backend else "",
            server=server.group(1) if server else "<NONE>",
            server_side=state.group(1) if state else "",
            awaiting_response=bool(txn and txn.group(1) == "MSG_DONE" and txn.group(2) == "MSG_RPBEFORE"),
            timers=_timers(block),
        ))
    return streams


def find_stream(text: str, listener_port: int, *, http: bool) -> StreamTimers | None:
    """The stream that came in on ``listener_port`` and reached a server (for ``http``: whose request was sent
    and awaits its answer); ``None`` when there is none yet. The oldest one wins when there are several."""
    for stream in parse_streams(text):
        if stream.listener_port == listener_port and stream.connected and (stream.awaiting_response or not http):
            return stream
    return None


def _timers(block: str) -> dict[str, float]:
    timers: dict[str, float] = {}
    side = "stream"
    for line in block.splitlines():
        found_side = _SIDE.match(line)
        if found_side:
            side = found_side.group(1)
        for name, value in _TIMER.findall(line):
            seconds = human_seconds(value)
            if seconds is not None:
                timers[f"{side}.{name}"] = seconds
    return timers


def _port(address: str) -> int | None:
    host, _, port = address.rpartition(":")
    return int(port) if host and not host.startswith("unix") and port.isdigit() else None
