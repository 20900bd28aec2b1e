"""Check `security/internal_ports_not_exposed`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from flowlb import policy
from flowlb.checks.exposure import accepting, is_private, serves_stats
from flowlb.haproxy.remap import ExtraListener
from flowlb.targets.base import Target


def test_lb_answers_on_no_internal_port(
    lb: Target, extra_listeners: list[ExtraListener],
    management_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
    record_property: Callable[[str, object], None],
) -> None:
    private = {listener.port for listener in extra_listeners if is_private(listener, management_networks)}
    tls = {listener.port for listener in extra_listeners if listener.tls}
    ports = {**policy.FLOW_INTERNAL_PORTS, **policy.STATS_PORTS}
    endpoints = {port: endpoint for port in ports if port not in private
                 and (endpoint := lb.port_on_lb(port)) is not None}
    open_ports = accepting(endpoints, policy.current().scan_timeout_s)
    record_property("ports_scanned", sorted(endpoints))
    record_property("ports_open", open_ports)
    exposed = [f"{endpoints[port].host}:{port} ({ports[port]}) accepts connections" for port in open_ports
               if port in policy.FLOW_INTERNAL_PORTS]
    for port in (p for p in open_ports if p in policy.STATS_PORTS):
        served = serves_stats(endpoints[port], tls=port in tls) or (
            None if port in tls else serves_stats(endpoints[port], tls=True))
        if served is not None:
            exposed.append(f"{endpoints[port].host}:{port} ({ports[port]}) serves {served} without a password")
    assert not exposed, (
        "the LB answers where it should not: " + "; ".join(exposed) + ". Clients reach what only the cluster's "
        "machines or its operators should. Fix: remove those binds from the LB, or bind them to 127.0.0.1 or a "
        "management address (and give stats `stats auth USER:PASSWORD`)."
    )
