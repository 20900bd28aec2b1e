"""Check `security/stats_page_not_public`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import urllib3

from flowlb.checks.exposure import status_page
from flowlb.haproxy.config import parsed
from flowlb.targets.base import Target

STATS_URIS = ["/haproxy?stats", "/stats", "/haproxy-stats", "/haproxy?stats;csv", "/admin?stats", "/nginx_status",
              "/status", "/basic_status", "/stub_status", "/server-status"]


@pytest.mark.parametrize("role", ["http", "https", "server", "server_tls"], ids=["80", "443", "8000", "8443"])
def test_stats_page_is_not_served(lb: Target, http: Callable[..., urllib3.HTTPConnectionPool], role: str) -> None:
    pool = http(role)
    exposed = []
    configured = [line.value(2) for s in parsed(lb.config_text).sections for line in s.own("stats", "uri")]
    for uri in [*configured, *STATS_URIS]:
        reply = pool.request("GET", uri, headers={"Host": lb.endpoints.server_name}, redirect=False)
        page = status_page(reply.data)
        if page is not None:
            exposed.append(f"{uri} ({page}, {reply.status})")
    assert not exposed, (
        f"the {role} port serves the LB's status page to anyone: {', '.join(exposed)}. "
        "Fix: remove `stats enable` from public frontends/backends (HAProxy; use the runtime API socket, or a stats "
        "listener bound to a private address with `stats auth`), or `stub_status` from public server blocks "
        "(nginx; serve it on a private listen address, or `allow` the monitoring host and `deny all`)."
    )
