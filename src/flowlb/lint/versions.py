"""What a config does differently on the HAProxy line it will run: rules for ``flowlb lint --haproxy-version``.

Each rule names the line where the difference starts (docs/findings.md, "HAProxy versions"):

* 2.8 and later offer HTTP/2 by ALPN on HTTP-mode TLS binds that set no ``alpn`` (2.6 offers HTTP/1.1);
* 3.1 and later warn about duplicate proxy names, duplicate server names in a backend, and timeouts
  without a unit below 100 (milliseconds, probably meant as seconds); with zero-warning (``-dW``) the
  config does not load.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from flowlb.haproxy.config import HAProxyConfig
from flowlb.lint.rules import Finding


def _at_least(version: str, minimum: str) -> bool:
    return tuple(map(int, version.split("."))) >= tuple(map(int, minimum.split(".")))


def version_findings(config: HAProxyConfig, version: str) -> Iterator[Finding]:
    """Findings for what ``config`` does differently (or is warned about) on HAProxy ``version``."""
    if _at_least(version, "2.8"):
        yield from _alpn_default(config, version)
    if _at_least(version, "3.1"):
        yield from _duplicate_names(config, version)
        yield from _unitless_small_timeouts(config, version)


def _alpn_default(config: HAProxyConfig, version: str) -> Iterator[Finding]:
    for front in config.of_kind("frontend", "listen"):
        if front.mode() != "http":
            continue
        for line in front.own("bind"):
            if "ssl" in line.words and "alpn" not in line.words and "no-alpn" not in line.words:
                yield Finding("FLOW040", line.number, f"on HAProxy {version} this TLS bind offers HTTP/2 (ALPN h2), "
                              "which 2.6 did not", "clients and tools that negotiate h2 behave differently through the "
                              "LB than they did on 2.6 (one connection, multiplexed requests)",
                              "say what you want: `alpn h2,http/1.1` or `alpn http/1.1` on the bind")


def _duplicate_names(config: HAProxyConfig, version: str) -> Iterator[Finding]:
    proxies = Counter((s.kind if s.kind != "listen" else "frontend", s.name) for s in config.of_kind(
        "frontend", "backend", "listen") if s.name)
    for section in config.of_kind("frontend", "backend", "listen"):
        key = (section.kind if section.kind != "listen" else "frontend", section.name)
        if proxies[key] > 1:
            yield Finding("FLOW041", section.number, f"HAProxy {version} warns: {section.where} is named twice",
                          "with zero-warning (-dW) the config does not load; without it, which one a rule means is "
                          "unclear", "give every frontend and backend its own name")
        servers = Counter(server.name for server in section.servers())
        for server in section.servers():
            if servers[server.name] > 1 and server.line is next(s.line for s in section.servers()
                                                                if s.name == server.name):
                yield Finding("FLOW041", server.line.number, f"HAProxy {version} warns: server `{server.name}` "
                              f"appears twice in {section.where}", "with zero-warning (-dW) the config does not "
                              "load; the runtime API and the stats name the wrong one",
                              "give every server its own name")


def _unitless_small_timeouts(config: HAProxyConfig, version: str) -> Iterator[Finding]:
    for section in config.sections:
        for line in section.own("timeout"):
            value = line.value(2)
            if value.isdigit() and int(value) < 100:
                yield Finding("FLOW042", line.number, f"HAProxy {version} warns: `{line.text}` has no unit, so it is "
                              f"{value} ms", "a timeout that short was almost surely meant in seconds: connections are "
                              "cut at once", f"write the unit: `timeout {line.value(1)} {value}s`")
