"""The settings the config under test gives one LB port: found by the address the harness bound it to.

The harness wrote each LB role's test address into the ``bind`` line, so the frontend (or listen
section) behind a role is the one whose ``bind`` carries that address::

    front = section_for_role(parsed(lb.config_text), lb.layout, "server")
    front.timeout_s("http-request")       # seconds, or None when the config sets none
"""

from __future__ import annotations

from flowlb.haproxy.config import HAProxyConfig, Section, model_of
from flowlb.haproxy.layout import Layout


def section_for_role(config: HAProxyConfig | str, layout: Layout, role: str) -> Section | None:
    """The frontend or listen section of ``config`` bound to ``role``'s test address; ``None`` when none is."""
    address = layout.binds[role]
    for section in model_of(config).of_kind("frontend", "listen"):
        for line in section.own("bind"):
            if address in line.value(1).split(","):
                return section
    return None


def header_timeout_s(section: Section) -> float | None:
    """How long HAProxy waits for request headers: ``timeout http-request``, else ``timeout client``."""
    return section.timeout_s("http-request") or section.timeout_s("client")


def backend_of(config: HAProxyConfig | str, front: Section) -> Section | None:
    """Where ``front`` of ``config`` sends a plain request: itself for a listen section, else its
    ``default_backend``."""
    if front.kind == "listen":
        return front
    names = [line.value(1) for line in front.effective("default_backend")]
    return model_of(config).proxy(names[-1]) if names else None


def idle_cut_s(front: Section, backend: Section | None) -> tuple[float | None, str]:
    """After how much silence HAProxy cuts a tunnelled (TCP or upgraded) session, and which setting says so.

    ``timeout tunnel`` where set (on the backend, or inherited); else the smaller of the frontend's
    ``timeout client`` and the backend's ``timeout server``; ``None`` when nothing bounds it.
    """
    tunnel = (backend or front).timeout_s("tunnel")
    if tunnel is not None:
        return tunnel, f"timeout tunnel {tunnel:g} s"
    sides = [(front.timeout_s("client"), "timeout client"), ((backend or front).timeout_s("server"), "timeout server")]
    known = [(value, name) for value, name in sides if value is not None]
    if not known:
        return None, "no timeout"
    value, name = min(known)
    return value, f"{name} {value:g} s and no timeout tunnel"
