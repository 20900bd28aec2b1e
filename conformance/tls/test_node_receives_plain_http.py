"""TLS termination: on 443 and 8443 TLS ends at the LB and the node receives plain HTTP.

The Flow web and server ports behind the LB speak plain HTTP, as the article's config assumes.
Fails when the LB passes TLS through to the node (the node cannot parse it, so there is no answer) or
changes the request on the way (method, path, query or body).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import urllib3

from flowlb.lbclient import echo
from flowlb.targets.base import Target


@pytest.mark.usefixtures("node_echo")
@pytest.mark.parametrize("role", ["https", "server_tls"], ids=["443", "8443"])
def test_node_receives_the_request_in_plain_http(
    lb: Target, http: Callable[..., urllib3.HTTPConnectionPool], role: str
) -> None:
    reply = http(role).request("POST", "/commanderRequest/api?request=getVersions", body=b'{"a": 1}')
    assert reply.status == 200, f"port for {role} answered {reply.status}; the node never got a plain HTTP request"
    seen = echo(reply)
    assert (seen["method"], seen["path"], seen["query"]) == ("POST", "/commanderRequest/api", "request=getVersions")
    assert seen["body_length"] == 8, f"the body changed on the way: {seen['body_length']} bytes arrived, 8 were sent"
