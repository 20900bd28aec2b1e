"""Check `redirect/redirect_to_https`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import urllib3

from flowlb.targets.base import Target

REDIRECT_CODES = (301, 302, 307, 308)


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_port_80_redirects_to_https_on_the_same_host(
    lb: Target, http: Callable[..., urllib3.HTTPConnectionPool], method: str
) -> None:
    host = lb.endpoints.server_name
    body = b"{}" if method == "POST" else None
    reply = http("http").request(method, "/commander/link/projects", body=body, headers={"Host": host}, redirect=False)
    assert reply.status in REDIRECT_CODES, (
        f"port 80 answers {method} with {reply.status}, not a redirect to https: browsers and API clients "
        "stay on plain HTTP. Fix: `http-request redirect scheme https` in the port 80 frontend (nginx: `return 301 "
        "https://$host$request_uri;`)."
    )
    assert "X-Flow-Node" not in reply.headers, "port 80 forwarded the request to a Flow node instead of redirecting"
    location = urlsplit(reply.headers.get("Location", ""))
    assert location.scheme == "https", f"port 80 redirects to {reply.headers.get('Location')!r}, not to https"
    assert location.hostname == host, f"the redirect goes to host {location.hostname!r}, not back to {host!r}"
