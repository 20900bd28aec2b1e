"""Routing: 443 reaches the nodes' web servers (port 80); 8000 and 8443 reach the Flow server port.

"A 200" is not enough: the web server and the Flow server answer different APIs, so a frontend
wired to the wrong backend breaks the UI or every client. Each node says which of its ports
answered. Fails when any request on a port lands on the wrong node port.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import urllib3

from flowlb.lbclient import echo
from flowlb.targets.base import Target

ROUTES = [("https", "web"), ("server", "server"), ("server_tls", "server")]


@pytest.mark.usefixtures("node_echo")
@pytest.mark.parametrize(("role", "node_port"), ROUTES, ids=["443-web", "8000-server", "8443-server"])
def test_port_reaches_the_right_node_port(
    lb: Target, http: Callable[..., urllib3.HTTPConnectionPool], role: str, node_port: str
) -> None:
    pool = http(role)
    wrong = []
    for index in range(3 * len(lb.node_names())):
        seen = echo(pool.request("GET", f"/flowlb/route?i={index}"))
        if seen["port"] != node_port:
            wrong.append(f"{seen['node']}:{seen['port']}")
    assert not wrong, (
        f"requests to the {role} port reached the wrong port on the nodes ({', '.join(wrong)}), "
        f"not the {node_port} port. Fix: the frontend's default_backend and the backend's server ports."
    )
