"""Security: a stats listener or exporter outside the five Flow ports is private or asks for a password.

Operators add `listen stats` on :1936 or :8404, or a Prometheus exporter, next to the Flow ports.
On an address clients reach, with no `stats auth` (or `http-request auth`), it shows anyone the
servers, their addresses, states and traffic, and with `stats admin` lets them take Flow servers
out. Each such bind of the config under test is mapped to a loopback port and asked for the stats
page (its own `stats uri` and the usual ones), the CSV and the metrics. A bind to loopback, or to
an address in `--management-networks`, passes without a probe. Fails when a listener on any other
address answers with the stats page, its CSV or HAProxy's metrics without credentials.
"""

from __future__ import annotations

import ipaddress
import ssl

import pytest
import urllib3

from flowlb.haproxy.config import HAProxyConfig, parse_address
from flowlb.haproxy.remap import ExtraListener
from flowlb.targets.base import Target

USUAL_URIS = ["/", "/stats", "/haproxy?stats", "/haproxy-stats", "/metrics", "/;csv", "/stats;csv"]
MARKERS = (b"Statistics Report for HAProxy", b"# pxname,", b"# HELP haproxy_")


def _private(listener: ExtraListener, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    address = parse_address(listener.original)
    if address is None or address.is_socket or address.is_loopback:
        return True
    try:
        ip = ipaddress.ip_address(address.host)
    except ValueError:
        return False  # a wildcard or a name: every address of the LB
    return any(ip in network for network in networks)


def _uris(lb: Target, listener: ExtraListener) -> list[str]:
    section = HAProxyConfig.parse(lb.config_text).section_at(listener.line)
    own = [line.value(2) for line in section.own("stats", "uri")] if section is not None else []
    return own + [uri for uri in USUAL_URIS if uri not in own]


def test_management_listeners_are_private_or_need_a_password(
    lb: Target, extra_listeners: list[ExtraListener],
    management_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> None:
    if not extra_listeners:
        pytest.skip("the config binds no port outside the five Flow LB ports")
    exposed: list[str] = []
    for listener in extra_listeners:
        if _private(listener, management_networks):
            continue
        endpoint = lb.extra_endpoints[listener.port]
        pool: urllib3.HTTPConnectionPool
        if listener.tls:
            context = ssl.create_default_context(cafile=str(lb.ca_file))
            pool = urllib3.HTTPSConnectionPool(endpoint.host, endpoint.port, ssl_context=context,
                                               server_hostname=lb.endpoints.server_name, retries=False, timeout=5.0)
        else:
            pool = urllib3.HTTPConnectionPool(endpoint.host, endpoint.port, retries=False, timeout=5.0)
        with pool:
            for uri in _uris(lb, listener):
                try:
                    reply = pool.request("GET", uri, redirect=False, preload_content=True)
                except urllib3.exceptions.HTTPError:
                    continue
                body = reply.data[:8192]
                if reply.status == 200 and any(marker in body for marker in MARKERS):
                    exposed.append(f"{listener.section} bound to {listener.original} (line {listener.line}) serves "
                                   f"{uri} without a password")
                    break
    assert not exposed, (
        "; ".join(exposed) + ": anyone who reaches that address reads the Flow servers' names, addresses, states "
        "and traffic. Fix: bind it to 127.0.0.1 or a management address, or add `stats auth USER:PASSWORD`."
    )
