"""A server's health-check interval, as the config HAProxy runs sets it.

HAProxy's runtime API reports ``rise`` and ``fall`` (``show stat``) but not ``inter``, so it is
read from the config: the ``server`` line, else the ``default-server`` lines that apply to it
(the backend's, then its ``defaults``'), else HAProxy's default of 2 s::

    check_interval_s(config_text, "commander-server-backend", "node1")   # 1.0
"""

from __future__ import annotations

from flowlb.haproxy.config import HAProxyConfig, model_of, parse_time_s

HAPROXY_DEFAULT_INTER_S = 2.0

__all__ = ["HAPROXY_DEFAULT_INTER_S", "check_interval_s", "parse_time_s"]


def detection_limit_s(
    inter_s: float, fall: int, check_timeout_s: float | None = None, hangs: bool = False, tolerance_s: float = 1.0
) -> float:
    """How long HAProxy may take to mark a failing server DOWN: ``fall`` checks ``inter`` apart, each also
    waiting out its timeout (``timeout check``, else ``inter``) when the server hangs, plus one interval
    for the phase of the check timer and a tolerance."""
    per_check = inter_s + (check_timeout_s or inter_s) if hangs else inter_s
    return per_check * fall + inter_s + tolerance_s


def check_fall(config: HAProxyConfig, backend: str, server: str, default: int = 3) -> int:
    """The ``fall`` that applies to ``backend/server``: the server line, else its ``default-server`` lines."""
    proxy = config.proxy(backend)
    if proxy is None:
        return default
    chosen = next((s for s in proxy.servers() if s.name == server), None)
    words = [w for line in proxy.default_servers() for w in line.words[1:]]
    words += list(chosen.line.words[3:]) if chosen is not None else []
    fall = default
    for index, word in enumerate(words[:-1]):
        if word == "fall" and words[index + 1].isdigit():
            fall = int(words[index + 1])
    return fall


def check_interval_s(config: str | HAProxyConfig, backend: str, server: str) -> float:
    """The ``inter`` that applies to ``backend/server`` in ``config``, in seconds."""
    model = model_of(config)
    proxy = model.proxy(backend)
    if proxy is None:
        return HAPROXY_DEFAULT_INTER_S
    chosen = next((s for s in proxy.servers() if s.name == server), None)
    sources = [line.words[1:] for line in proxy.default_servers()]
    if chosen is not None:
        sources.append(chosen.line.words[3:])
    inter = None
    for words in sources:
        for index, word in enumerate(words[:-1]):
            if word == "inter":
                inter = parse_time_s(words[index + 1]) or inter
    return inter or HAPROXY_DEFAULT_INTER_S
