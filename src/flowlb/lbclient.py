"""HTTP(S) to the load balancer the way a Flow client does it, verifying the LB by its name.

Clients connect to a loopback endpoint but send the LB's name as SNI and check the certificate
against it and the run's CA, so the name check is real even though the address is 127.0.0.1::

    pool = lb_pool(target.endpoints.server_tls, tls=True, ca_file=target.ca_file,
                   server_name=target.endpoints.server_name)
    reply = pool.request("GET", "/commanderRequest/health")
"""

from __future__ import annotations

import json
from typing import Any, cast

import urllib3

from flowlb.net import Endpoint
from flowlb.node_contract import Echo

DEFAULT_TIMEOUT = urllib3.Timeout(connect=5.0, read=10.0)


def lb_pool(
    endpoint: Endpoint,
    tls: bool,
    ca_file: Any = None,
    server_name: str | None = None,
    maxsize: int = 1,
    timeout: urllib3.Timeout = DEFAULT_TIMEOUT,
) -> urllib3.HTTPConnectionPool:
    """A keep-alive pool to one LB port; TLS pools verify ``server_name`` against ``ca_file``."""
    if not tls:
        return urllib3.HTTPConnectionPool(endpoint.host, endpoint.port, maxsize=maxsize, timeout=timeout, retries=False)
    return urllib3.HTTPSConnectionPool(
        endpoint.host,
        endpoint.port,
        maxsize=maxsize,
        timeout=timeout,
        retries=False,
        cert_reqs="CERT_REQUIRED",
        ca_certs=str(ca_file),
        server_hostname=server_name,
        assert_hostname=server_name,
    )


def echo(reply: urllib3.BaseHTTPResponse) -> Echo:
    """The mock node's JSON echo of what reached it (node, port, method, path, headers...)."""
    return cast(Echo, json.loads(reply.data))


def header(echoed: Echo, name: str) -> list[str]:
    """Every value of header ``name`` that arrived at the node, in order."""
    return [value for key, value in echoed["headers"] if key.lower() == name.lower()]
