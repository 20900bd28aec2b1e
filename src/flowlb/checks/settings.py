"""The settings the config under test gives one LB port: found by the address the harness bound it to.

The harness wrote each LB role's test address into the ``bind`` line, so the frontend (or listen
section) behind a role is the one whose ``bind`` carries that address::

    front = section_for_role(lb.config_text, lb.layout, "server")
    front.timeout_s("http-request")       # seconds, or None when the config sets none
"""

from __future__ import annotations

from flowlb.haproxy.config import HAProxyConfig, Section
from flowlb.haproxy.layout import Layout


def section_for_role(config_text: str, layout: Layout, role: str) -> Section | None:
    """The frontend or listen section bound to ``role``'s test address; ``None`` when none is."""
    address = layout.binds[role]
    for section in HAProxyConfig.parse(config_text).of_kind("frontend", "listen"):
        for line in section.own("bind"):
            if address in line.value(1).split(","):
                return section
    return None


def header_timeout_s(section: Section) -> float | None:
    """How long HAProxy waits for request headers: ``timeout http-request``, else ``timeout client``."""
    return section.timeout_s("http-request") or section.timeout_s("client")
