"""Check `tls/forwarded_headers`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import urllib3

from flowlb.lbclient import echo, header
from flowlb.targets.base import Target


@pytest.mark.usefixtures("node_echo")
@pytest.mark.parametrize("role", ["https", "server_tls"], ids=["443", "8443"])
def test_forwarded_proto_and_for_reach_the_node(
    lb: Target, http: Callable[..., urllib3.HTTPConnectionPool], role: str
) -> None:
    seen = echo(http(role).request("GET", "/flowlb/forwarded"))
    proto = header(seen, "X-Forwarded-Proto")
    assert proto == ["https"], (
        f"the node got X-Forwarded-Proto {proto or 'nothing'} on the {role} port: Flow builds http:// links. "
        "Fix: `http-request set-header X-Forwarded-Proto https` in the TLS frontends (mode http; nginx: "
        "`proxy_set_header X-Forwarded-Proto $scheme;`)."
    )
    forwarded_for = header(seen, "X-Forwarded-For")
    assert forwarded_for, (
        f"the node got no X-Forwarded-For on the {role} port: Flow logs the LB as every client. "
        "Fix: `option forwardfor` in the frontend (mode http; nginx: `proxy_set_header X-Forwarded-For "
        "$proxy_add_x_forwarded_for;`)."
    )
    expected = lb.client_address()
    if expected is not None:
        assert forwarded_for[-1].split(",")[-1].strip() == expected, (
            f"X-Forwarded-For is {forwarded_for}, not the client address {expected}"
        )
