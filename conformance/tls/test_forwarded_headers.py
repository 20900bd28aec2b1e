"""TLS termination: the node learns the original scheme and client (X-Forwarded-Proto / -For) on 443, 8443.

Behind a TLS-terminating LB, Flow sees every request as plain HTTP from the LB's address. Without
`X-Forwarded-Proto: https` it builds http:// links and redirects. Without `X-Forwarded-For` its audit
log names the LB instead of the user. Fails when either header is missing, when XFP is not `https`,
or when XFF is not the client's address as the LB saw it.
"""

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
