"""Check `tls/node_receives_plain_http`: its text is its entry in flowlb/checks/catalogue.toml."""

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
