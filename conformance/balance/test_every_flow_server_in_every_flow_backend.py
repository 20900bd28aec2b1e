"""Check `balance/every_flow_server_in_every_flow_backend`: its text is its entry in flowlb/checks/catalogue.toml."""

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
        servers = flow_servers(runtime, node_finder(lb.layout, flowlb_spec))
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
