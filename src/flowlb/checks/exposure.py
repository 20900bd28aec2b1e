"""What an LB shows: which ports beyond Flow's five accept, and whether a port serves a status page.

Used by the management-listener check (the config's own extra binds) and the exposure check (a
bounded connect scan of the LB's address)::

    open_ports = accepting({2181: Endpoint("172.18.0.2", 2181)}, timeout=2.0)   # -> [2181] or []
    stats_uri = serves_stats(Endpoint("127.0.0.1", 1936), tls=False)            # "/stats" or None
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import urllib3

from flowlb.haproxy.config import parse_address
from flowlb.haproxy.remap import ExtraListener
from flowlb.net import Endpoint

USUAL_URIS = ["/", "/stats", "/haproxy?stats", "/haproxy-stats", "/metrics", "/;csv", "/stats;csv", "/nginx_status",
              "/status", "/server-status"]
STATUS_PAGES = {
    "HAProxy's stats page": (b"Statistics Report for HAProxy",),
    "HAProxy's stats CSV": (b"# pxname,",),
    "HAProxy's metrics": (b"# HELP haproxy_",),
    "nginx's stub_status": (b"Active connections:", b"server accepts handled requests"),
    "nginx's metrics": (b"# HELP nginx_",),
    "Apache's server-status": (b"Apache Server Status for",),
}
"""Each LB's status page by what its body says (every marker of an entry)."""


def status_page(body: bytes) -> str | None:
    """Which LB status page ``body`` (its start) is, ``None`` when it is none of them."""
    head = body[:8192]
    for name, markers in STATUS_PAGES.items():
        if all(marker in head for marker in markers):
            return name
    return None

Networks = list[ipaddress.IPv4Network | ipaddress.IPv6Network]


def is_private(listener: ExtraListener, networks: Networks) -> bool:
    """True when the config binds this listener to loopback, a socket, or an address in ``networks``."""
    address = parse_address(listener.original)
    if address is None or address.is_socket or address.is_loopback:
        return True
    try:
        ip = ipaddress.ip_address(address.host)
    except ValueError:
        return False  # a wildcard or a name: every address of the LB
    return any(ip in network for network in networks)


def accepting(endpoints: dict[int, Endpoint], timeout: float) -> list[int]:
    """The ports whose endpoint accepts a TCP connection within ``timeout`` (all tried at once)."""

    def accepts(endpoint: Endpoint) -> bool:
        try:
            with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout):
                return True
        except OSError:
            return False

    if not endpoints:
        return []
    with ThreadPoolExecutor(max_workers=len(endpoints)) as pool:
        answers = dict(zip(endpoints, pool.map(accepts, endpoints.values()), strict=True))
    return sorted(port for port, accepted in answers.items() if accepted)


def serves_stats(
    endpoint: Endpoint, tls: bool, uris: list[str] | None = None, ca_file: Path | None = None,
    server_name: str | None = None, timeout: float = 5.0,
) -> str | None:
    """The first URI at which ``endpoint`` answers an LB's status page (HAProxy's stats page, CSV or metrics,
    nginx's stub_status, ...) without credentials.

    With ``tls`` and no ``ca_file`` the certificate is not verified: what is served matters, not to whom.
    """
    pool: urllib3.HTTPConnectionPool
    if tls:
        context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else ssl._create_unverified_context()  # noqa: S323
        pool = urllib3.HTTPSConnectionPool(endpoint.host, endpoint.port, ssl_context=context,
                                           server_hostname=server_name, retries=False, timeout=timeout,
                                           assert_hostname=False if ca_file is None else None)
    else:
        pool = urllib3.HTTPConnectionPool(endpoint.host, endpoint.port, retries=False, timeout=timeout)
    with pool:
        for uri in uris or USUAL_URIS:
            try:
                reply = pool.request("GET", uri, redirect=False, preload_content=True)
            except urllib3.exceptions.HTTPError:
                continue
            if reply.status == 200 and status_page(reply.data) is not None:
                return uri
    return None
