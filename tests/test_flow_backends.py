"""The cluster's Flow nodes are the union over the Flow backends: a node one Flow backend serves and another lacks
is named, and the legitimate differences are not.

Fails when a primary Flow server forgotten in one Flow backend goes unnamed (the spread checks cannot see it), when
a backup-only or maintenance-only node, a node a backend holds as backup, or a web-only server is called missing,
or when a web backend counts as a Flow backend. The live proof is the mutant
``fixtures/mutants/37-flow-server-missing-from-8000.toml`` and ``fixtures/operator-configs/26-stomp-missing-node.cfg``.
"""

from __future__ import annotations

from flowlb.checks.topology import FlowServer, flow_servers, forgotten_servers, node_finder
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.runtime import RuntimeAPI, ServerStat
from flowlb.spec import load_spec

SPEC = load_spec()


def _servers(*rows: tuple[str, str, str]) -> list[FlowServer]:
    """``(backend, node, flags)``: flags holds ``b`` for backup, ``m`` for maintenance."""
    return [FlowServer(backend, node, node, backup="b" in flags, maintenance="m" in flags)
            for backend, node, flags in rows]


def test_a_primary_missing_from_one_flow_backend_is_named_with_where_it_serves() -> None:
    servers = _servers(("flow", "f1", ""), ("flow", "f2", ""), ("stomp", "f1", ""), ("stomp", "f2", ""),
                       ("stomp", "f3", ""))
    [missing] = forgotten_servers(servers)
    assert (missing.backend, missing.node) == ("flow", "f3")
    assert [s.backend for s in missing.elsewhere] == ["stomp"]


def test_backups_maintenance_and_a_node_held_as_backup_are_no_false_alarm() -> None:
    servers = _servers(
        ("flow", "f1", ""), ("flow", "f2", ""), ("flow", "f3", "b"), ("flow", "f4", "m"),
        ("stomp", "f1", ""), ("stomp", "f2", ""),  # f3 a standby for 8000 only, f4 drained and not in STOMP
        ("stomp", "f5", "b"), ("stomp", "f6", "m"),  # the same the other way round
    )
    assert forgotten_servers(servers) == []
    held = _servers(("flow", "f1", ""), ("flow", "f2", "b"), ("stomp", "f1", ""), ("stomp", "f2", ""))
    assert forgotten_servers(held) == []  # f2 primary in STOMP, backup in flow: present in both


ADDRESSES = {
    "web": {"w1": ("10.0.0.9", 80), "a": ("10.0.0.1", 80)},
    "flow": {"a": ("10.0.0.1", 8000), "b": ("10.0.0.2", 8000)},
    "stomp": {"a": ("10.0.0.1", 61613), "b": ("10.0.0.2", 61613), "c": ("10.0.0.3", 61613)},
    "app": {"x": ("10.0.0.7", 5001)},
}
"""HAProxy's servers: web (a web-only server), flow (8000), stomp (61613) and an app on no Flow node port."""


class _Runtime(RuntimeAPI):
    """HAProxy's answers for :data:`ADDRESSES`, all UP."""

    def __init__(self) -> None:
        super().__init__("/nonexistent")

    def stats(self) -> list[ServerStat]:
        return [ServerStat(backend, server, "UP", 0, 0, "L7OK", "200", 0)
                for backend, servers in ADDRESSES.items() for server in servers]

    def server_addresses(self, backend: str) -> dict[str, tuple[str, int]]:
        return ADDRESSES[backend]


def test_flow_backends_are_read_from_haproxy_by_node_port_and_a_host_is_a_node_on_a_live_lb() -> None:
    servers = flow_servers(_Runtime(), node_finder(None, SPEC))
    assert {s.backend for s in servers} == {"flow", "stomp"}  # web and a non-Flow app backend are left out
    [missing] = forgotten_servers(servers)
    assert (missing.backend, missing.node) == ("flow", "10.0.0.3")


def test_the_harness_layout_names_the_node() -> None:
    layout = Layout.for_spec(SPEC)
    finder = node_finder(layout, SPEC)
    node = SPEC.nodes[0]
    assert finder(node.host, SPEC.node_ports.stomp) == (node.name, "stomp")
    assert finder(node.host, 9) is None


def test_a_live_lb_whose_nodes_listen_on_other_ports_has_no_known_flow_backend() -> None:
    """The check skips then (nginx and RabbitMQ of tests/external on free ports): no false alarm, no guess."""

    class Elsewhere(_Runtime):
        def server_addresses(self, backend: str) -> dict[str, tuple[str, int]]:
            return {name: ("127.0.0.1", 40000 + index) for index, name in enumerate(ADDRESSES[backend])}

    assert flow_servers(Elsewhere(), node_finder(None, SPEC)) == []
