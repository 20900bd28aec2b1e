"""Check `redirect/redirect_drops_port_80`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import urllib3

from flowlb.targets.base import Target


def test_redirect_does_not_leak_port_80(lb: Target, http: Callable[..., urllib3.HTTPConnectionPool]) -> None:
    host = lb.endpoints.server_name
    reply = http("http").request("GET", "/flow/", headers={"Host": f"{host}:80"}, redirect=False)
    location = reply.headers.get("Location", "")
    port = urlsplit(location).port
    assert port in (None, 443), (
        f"`Host: {host}:80` is redirected to {location!r}: https on port {port} fails in the browser. "
        "Fix: build the Location without the port, e.g. "
        "`http-request redirect code 301 location https://%[req.hdr(host),field(1,:)]%[capture.req.uri]`."
    )
