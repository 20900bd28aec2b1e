"""Security: the LB's stats or status page (HAProxy's stats, nginx's stub_status) is not public.

The article puts `stats enable` in the web and server backends. That publishes HAProxy's stats page
(server names, addresses, states, and in admin mode the power to disable servers) at
`/haproxy?stats` on 443, 8000 and 8443, with no password (docs/findings.md, article 2); nginx's
`stub_status` in a public server block shows its connection counts the same way. Fails when any
usual status URI, or one the config sets with `stats uri`, on any public HTTP port answers with an
LB's status page without credentials.
"""

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
