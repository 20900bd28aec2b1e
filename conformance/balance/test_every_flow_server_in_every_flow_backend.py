"""Balancing: every Flow server that serves one Flow port is in every Flow backend (8000/8443 and STOMP).

The cluster's Flow nodes are the union over the Flow backends, not each backend's own list: the
spread checks balance over the servers a backend has, so a node forgotten in the 8000/8443 backend
but present in STOMP (config drift after adding a node) passes them while it takes no API call.
From HAProxy's own word (``show stat``, ``show servers state``): a Flow backend is one with a server
on the Flow server or STOMP node port, a node is the host a server reaches. Fails naming the backend,
its line, the missing node and the line of a backend that has it. Not required everywhere: a node
that is only a ``backup`` (a standby kept for some ports), or only in maintenance (``disabled`` or
drained: taken out on purpose), and a web-only server (the UI tier is no Flow backend). A node that
a backend has as ``backup`` or in maintenance is not missing from it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flowlb.checks.topology import Forgotten, flow_servers, forgotten_servers, node_finder
from flowlb.errors import TargetError
from flowlb.haproxy.config import parsed
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.spec import ClusterSpec
from flowlb.targets.base import Target


def test_every_flow_server_is_in_every_flow_backend(
    lb: Target, runtime: RuntimeAPI, flowlb_spec: ClusterSpec, record_property: Callable[[str, object], None]
) -> None:
    try:
        servers = flow_servers(runtime, node_finder(getattr(lb, "layout", None), flowlb_spec))
    except TargetError as exc:
        pytest.skip(f"needs `show servers state` (HAProxy's runtime API) to know which server reaches which node: "
                    f"{exc}")
    per_backend: dict[str, list[str]] = {}
    for server in servers:
        per_backend.setdefault(server.backend, []).append(server.node)
    record_property("flow_nodes_per_backend", {backend: sorted(nodes) for backend, nodes in per_backend.items()})
    if not servers:  # a live LB whose nodes listen on other ports than the spec's: no backend is known as Flow's
        ports = flowlb_spec.node_ports
        pytest.skip(f"no server of HAProxy's is on a Flow server or STOMP node port ({ports.server}, {ports.stomp} "
                    "by the spec): which backends are Flow backends is not known")
    missing = forgotten_servers(servers)
    lines = _section_lines(lb.config_text)
    assert not missing, "; ".join(_describe(forgotten, lines) for forgotten in missing) + (
        ". Fix: add a `server` line for each missing node to the backend (as `backup` or `disabled` if it is meant "
        "to be one)."
    )


def _section_lines(config_text: str) -> dict[str, dict[str, int]]:
    """``{backend: {"": its line, server: its line}}`` of the config HAProxy runs (the operator's line numbers:
    the harness moves no line); empty where the text is unknown (a live LB)."""
    if not config_text:
        return {}
    found: dict[str, dict[str, int]] = {}
    for section in parsed(config_text).of_kind("backend", "listen"):
        found[section.name] = {"": section.number, **{s.name: s.line.number for s in section.servers()}}
    return found


def _describe(forgotten: Forgotten, lines: dict[str, dict[str, int]]) -> str:
    def at(backend: str, server: str = "") -> str:
        number = lines.get(backend, {}).get(server)
        return f" (line {number})" if number else ""

    where = ", ".join(f"{s.backend} has it as `{s.server}`{at(s.backend, s.server)}" for s in forgotten.elsewhere)
    return f"backend {forgotten.backend}{at(forgotten.backend)} lacks the Flow server {forgotten.node}: {where}"
