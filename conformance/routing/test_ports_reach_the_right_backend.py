"""Check `routing/ports_reach_the_right_backend`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import urllib3

from flowlb.checks.routing import Burst, backend_kinds
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.lbclient import echo
from flowlb.spec import ClusterSpec
from flowlb.targets.base import Target

ROUTES = [("https", "web"), ("server", "server"), ("server_tls", "server")]
FIX = "Fix: the frontend's default_backend (or use_backend) and the backend's server ports."


@pytest.mark.parametrize(("role", "node_port"), ROUTES, ids=["443-web", "8000-server", "8443-server"])
def test_port_reaches_the_right_node_port(
    lb: Target, http: Callable[..., urllib3.HTTPConnectionPool], role: str, node_port: str,
    request: pytest.FixtureRequest, flowlb_spec: ClusterSpec,
) -> None:
    if not lb.echoes():
        runtime: RuntimeAPI = request.getfixturevalue("runtime")  # skips, naming the options, without evidence
        _judge_by_counters(runtime, http, role, node_port, flowlb_spec)
        return
    pool = http(role)
    wrong = []
    for index in range(3 * len(lb.node_names())):
        seen = echo(pool.request("GET", f"/flowlb/route?i={index}"))
        if seen["port"] != node_port:
            wrong.append(f"{seen['node']}:{seen['port']}")
    assert not wrong, (
        f"requests to the {role} port reached the wrong port on the nodes ({', '.join(wrong)}), "
        f"not the {node_port} port. {FIX}"
    )


BURST_PER_NODE = 10


def _burst(runtime: RuntimeAPI, http: Callable[..., urllib3.HTTPConnectionPool], role: str, count: int) -> Burst:
    pool = http(role)
    return Burst.send(runtime, lambda i: pool.request("GET", f"/flowlb/route?i={i}"), count)


def _judge_by_counters(
    runtime: RuntimeAPI, http: Callable[..., urllib3.HTTPConnectionPool], role: str, node_port: str,
    spec: ClusterSpec,
) -> None:
    count = BURST_PER_NODE * len(spec.node_names())
    burst = _burst(runtime, http, role, count)
    carriers = burst.carriers()
    assert carriers, (
        f"HAProxy counted the {count} requests sent to the {role} port on no backend ({burst.describe()}): the "
        f"port is routed to no backend with servers. {FIX}"
    )
    kinds = {backend: backend_kinds(runtime, backend, spec) for backend in carriers}
    if any(found is None for found in kinds.values()):
        _judge_by_sharing(runtime, http, role, carriers, count)
        return
    right = [backend for backend, found in kinds.items() if found and node_port in found]
    wrong = {backend: found for backend, found in kinds.items() if found and node_port not in found}
    wanted = getattr(spec.node_ports, node_port)
    if right and wrong:
        pytest.skip(f"inconclusive on a busy LB: {', '.join(right + sorted(wrong))} each grew by {count} or more "
                    f"while {count} requests went to the {role} port ({burst.describe()}); other clients' traffic "
                    "hides which one took them. Run it when the LB is quieter.")
    if not right and all(all(kind.startswith("port ") for kind in (found or {})) for found in wrong.values()):
        ports = sorted({port for found in wrong.values() for port in (found or {}).values()})
        pytest.skip(f"{', '.join(sorted(wrong))} (behind {role}) sends to node ports {ports}, none of the spec's "
                    f"node_ports: give --spec with your nodes' web, server and STOMP ports")
    assert not wrong, (
        f"the {count} requests sent to the {role} port were counted on {', '.join(sorted(wrong))} "
        f"({burst.describe()}; other clients' traffic can only add to these), whose servers are on node ports "
        f"{'; '.join(', '.join(f'{k} {p}' for k, p in (found or {}).items()) for found in wrong.values())}, not the "
        f"{node_port} port {wanted}. {FIX}"
    )


def _judge_by_sharing(
    runtime: RuntimeAPI, http: Callable[..., urllib3.HTTPConnectionPool], role: str, carriers: list[str], count: int
) -> None:
    """Without server addresses: the web port and the Flow server ports must not share a backend."""
    others = ["server", "server_tls"] if role == "https" else ["https"]
    bursts = {role: carriers, **{other: _burst(runtime, http, other, count).carriers() for other in others}}
    busy = {port: backends for port, backends in bursts.items() if len(backends) > 1}
    if busy:
        listed = "; ".join(f"{port}: {' '.join(found)}" for port, found in busy.items())
        pytest.skip(f"inconclusive on a busy LB: bursts of {count} requests each made several backends grow by as "
                    f"much ({listed}); other "
                    "clients' traffic hides which one took them. Run it when the LB is quieter.")
    shared = {other: sorted(set(carriers) & set(bursts[other])) for other in others}
    shared = {other: backends for other, backends in shared.items() if backends}
    assert not shared, (
        "; ".join(f"bursts of {count} requests to the {role} and the {other} port were both counted on "
                  f"{', '.join(backends)}" for other, backends in shared.items())
        + ": the web port (443) and the Flow server ports (8000, 8443) reach the same servers, yet the UI's web "
        "servers and the Flow servers answer different APIs, so one of them is routed wrong (HAProxy gives no server "
        f"addresses here to tell which: `stats show-legends` or --runtime-api would). {FIX}"
    )
