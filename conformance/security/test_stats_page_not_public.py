"""Security: HAProxy's stats page is not reachable on any public port without credentials.

The article puts `stats enable` in the web and server backends. That publishes HAProxy's stats page
(server names, addresses, states, and in admin mode the power to disable servers) at
`/haproxy?stats` on 443, 8000 and 8443, with no password (docs/findings.md, article 2). Fails when any
usual stats URI, or one the config sets with `stats uri`, on any public HTTP port answers with the stats report.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import urllib3

from flowlb.haproxy.config import HAProxyConfig
from flowlb.targets.base import Target

STATS_URIS = ["/haproxy?stats", "/stats", "/haproxy-stats", "/haproxy?stats;csv", "/admin?stats"]


@pytest.mark.parametrize("role", ["http", "https", "server", "server_tls"], ids=["80", "443", "8000", "8443"])
def test_stats_page_is_not_served(lb: Target, http: Callable[..., urllib3.HTTPConnectionPool], role: str) -> None:
    pool = http(role)
    exposed = []
    configured = [line.value(2) for s in HAProxyConfig.parse(lb.config_text).sections for line in s.own("stats", "uri")]
    for uri in [*configured, *STATS_URIS]:
        reply = pool.request("GET", uri, headers={"Host": lb.endpoints.server_name}, redirect=False)
        body = reply.data[:4096]
        if b"Statistics Report for HAProxy" in body or body.startswith(b"# pxname,"):
            exposed.append(f"{uri} ({reply.status})")
    assert not exposed, (
        f"the {role} port serves HAProxy's stats page to anyone: {', '.join(exposed)}. "
        "Fix: remove `stats enable` from public frontends/backends; use the runtime API socket, or a stats "
        "listener bound to a private address with `stats auth`."
    )
