"""Exposure: the LB answers on none of Flow's internal ports, and its usual stats ports are private.

Flow servers talk among themselves on ZooKeeper (2181, 2888, 3888), with agents (7800), the
repository (8200) and analytics (9200, 9500). An LB that answers on one of them lets clients reach
what only the cluster's machines should. The usual stats ports (1936, 8404, 9000, 9101) may answer
only behind a password. The LB's address is connect-scanned on those ports, every port at once,
each bounded by the policy's ``scan_timeout_s``: the live LB's address (``--target external``, nothing is
changed), the HAProxy container's own address, or on the local target the config's binds on those
ports. A bind the config puts on loopback or on a ``--management-networks`` address is not counted.
Fails when an internal port accepts a connection, or a stats port serves HAProxy's stats page, CSV
or metrics without credentials.
"""

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
