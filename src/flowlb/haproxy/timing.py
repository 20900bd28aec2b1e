"""A server's health-check interval, as the config HAProxy runs sets it.

HAProxy's runtime API reports ``rise`` and ``fall`` (``show stat``) but not ``inter``, so it is
read from the config text: the ``server`` line, else the backend's ``default-server``, else the
last ``defaults`` section's, else HAProxy's default of 2 s::

    check_interval_s(config_text, "commander-server-backend", "node1")   # 1.0
"""

from __future__ import annotations

import re
from itertools import pairwise

HAPROXY_DEFAULT_INTER_S = 2.0
_MICROSECONDS = {"us": 1, "ms": 1000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000}
_TIME = re.compile(r"^(\d+)(us|ms|s|m|h|d)?$")
_SECTION = re.compile(
    r"^(global|defaults|frontend|backend|listen|resolvers|peers|userlist|program|cache|ring|mailers|http-errors)\b(.*)$"
)


def parse_time_s(text: str) -> float | None:
    """HAProxy's time format (``2000``, ``2s``, ``500ms``) in seconds; ``None`` if it is not one."""
    match = _TIME.match(text)
    if not match:
        return None
    return int(match[1]) * _MICROSECONDS[match[2] or "ms"] / 1_000_000


def _inter(tokens: list[str]) -> float | None:
    for keyword, value in pairwise(tokens):
        if keyword == "inter":
            return parse_time_s(value)
    return None


def check_interval_s(config_text: str, backend: str, server: str) -> float:
    """The ``inter`` that applies to ``backend/server`` in ``config_text``, in seconds."""
    defaults_inter: float | None = None
    section, name = "", ""
    backend_inter: float | None = None
    for raw in config_text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        header = _SECTION.match(line)
        if header:
            if section in ("backend", "listen") and name == backend:
                break  # the backend ended without naming the server
            section, name = header[1], header[2].split()[0] if header[2].split() else ""
            backend_inter = None
            continue
        tokens = line.split()
        if section == "defaults" and tokens[0] == "default-server":
            defaults_inter = _inter(tokens) or defaults_inter
        if section in ("backend", "listen") and name == backend:
            if tokens[0] == "default-server":
                backend_inter = _inter(tokens) or backend_inter
            elif tokens[0] == "server" and len(tokens) > 1 and tokens[1] == server:
                return _inter(tokens) or backend_inter or defaults_inter or HAPROXY_DEFAULT_INTER_S
    return backend_inter or defaults_inter or HAPROXY_DEFAULT_INTER_S
