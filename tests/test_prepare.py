"""What a target needs to run a config is prepared in one place, for a started cluster and for the shared one.

Fails when a profile run is labelled or sized like an operator's file (or the other way round), when rendering
for a layout changes the config or depends on an earlier rendering, when the ``server-template`` commands a
remap asks for are not sent once HAProxy answers, and when the loopback layout (the local target's and lint's)
puts anything off 127.0.0.1 or outside the run's directory.
"""

from __future__ import annotations

from pathlib import Path

from flowlb.haproxy.config import parsed
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.operator import OperatorConfig
from flowlb.haproxy.plan import ClusterPlan
from flowlb.haproxy.render import render
from flowlb.spec import load_spec
from flowlb.targets.prepare import prepare
from tests.support.suite import REPO

SPEC = load_spec()
CONFIGS = REPO / "fixtures/operator-configs"


def loopback(extra: tuple[int, ...], nodes: tuple[str, ...], run_dir: Path) -> Layout:
    ports = (31080, 31800, 31613)
    return Layout.on_loopback({role: 42000 + i for i, role in enumerate(SPEC.lb.ports.by_role())},
                              dict.fromkeys(nodes, ports), {port: 43000 + i for i, port in enumerate(extra)},
                              "/run/x/server.pem", "/run/x/ca.pem", run_dir)


def test_a_profile_is_rendered_for_the_spec(tmp_path: Path) -> None:
    prepared = prepare(SPEC, "hardened", None)
    assert (prepared.spec, prepared.profile, prepared.config_name, prepared.extra_ports) == (
        SPEC, "hardened", "haproxy.cfg", ())
    layout = loopback((), tuple(SPEC.node_names()), tmp_path)
    assert prepared.render(layout) == (render(SPEC, "hardened", layout), None)
    assert prepared.after_start(None) is None


def test_an_operator_file_runs_on_its_plan_under_its_label(tmp_path: Path) -> None:
    operator = OperatorConfig.load(CONFIGS / "19-prometheus-exporter.cfg", SPEC)
    prepared = prepare(SPEC, "hardened", operator)
    assert prepared.profile == "operator:19-prometheus-exporter.cfg" == operator.label
    assert prepared.spec == operator.spec and prepared.extra_ports == (8405,) == operator.plan.extra_ports
    layout = loopback(prepared.extra_ports, operator.plan.nodes, tmp_path)
    text, rendered = prepared.render(layout)
    assert rendered is not None and rendered.text == text and "127.0.0.1:43000" in text
    assert prepared.render(layout) == (text, rendered)  # nothing of the first rendering changed the second
    assert prepared.after_start(rendered) is None  # no server-template: nothing to send


def test_server_template_nodes_are_set_once_haproxy_answers(tmp_path: Path) -> None:
    operator = OperatorConfig.load(CONFIGS / "08-server-template.cfg", SPEC)
    prepared = prepare(SPEC, "hardened", operator)
    _, rendered = prepared.render(loopback(prepared.extra_ports, operator.plan.nodes, tmp_path))
    assert rendered is not None and rendered.after_start
    sent: list[str] = []

    class Answering:
        def command(self, command: str) -> str:
            sent.append(command)
            return ""

    send = prepared.after_start(rendered)
    assert send is not None
    send(Answering())  # type: ignore[arg-type]
    assert sent == list(rendered.after_start)


def test_the_loopback_layout_stays_on_this_machine(tmp_path: Path) -> None:
    plan = ClusterPlan.of(parsed((CONFIGS / "19-prometheus-exporter.cfg").read_text()), SPEC)
    layout = loopback(plan.extra_ports, plan.nodes, tmp_path)
    addresses = [*layout.binds.values(), *layout.extra_binds.values()]
    assert addresses and all(address.startswith("127.0.0.1:") for address in addresses)
    assert set(layout.binds) == set(SPEC.lb.ports.by_role()) and set(layout.extra_binds) == {8405}
    assert {server.host for server in layout.servers.values()} == {"127.0.0.1"}
    assert layout.runtime_socket == str(tmp_path / "admin.sock") and layout.socket_dir == str(tmp_path)
    assert layout.harness and layout.log_target.startswith("stdout")
