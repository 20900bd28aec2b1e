"""A server's health-check interval, as the config HAProxy runs sets it.

HAProxy's runtime API reports ``rise`` and ``fall`` (``show stat``) but not ``inter``, so it is
read from the config: the ``server`` line, else the ``default-server`` lines that apply to it
(the backend's, then its ``defaults``'), else HAProxy's default of 2 s::

    check_interval_s(config_text, "commander-server-backend", "node1")   # 1.0
"""

from __future__ import annotations

from flowlb.haproxy.config import HAProxyConfig, parse_time_s

HAPROXY_DEFAULT_INTER_S = 2.0

__all__ = ["HAPROXY_DEFAULT_INTER_S", "check_interval_s", "parse_time_s"]


def check_interval_s(config: str | HAProxyConfig, backend: str, server: str) -> float:
    """The ``inter`` that applies to ``backend/server`` in ``config``, in seconds."""
    model = HAProxyConfig.parse(config) if isinstance(config, str) else config
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
