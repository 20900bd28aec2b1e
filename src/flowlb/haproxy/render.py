"""Render ``haproxy.cfg`` for a cluster in one of two profiles.

* ``kb``: KBEC-00281's topology as faithfully as HAProxy 2.x loads it; every difference from the
  article is listed at the top of the output. Its real defects are kept: the suite must catch them.
* ``hardened``: the same topology with every defect in ``docs/findings.md`` fixed.

Usage::

    text = render(spec, "hardened", Layout.for_spec(spec))
"""

from __future__ import annotations

from collections.abc import Iterable

from flowlb.haproxy.layout import Layout
from flowlb.spec import ClusterSpec

WEB_BACKEND = "commander-web-backend"
SERVER_BACKEND = "commander-server-backend"
STOMP_BACKEND = "commander-stomp-backend"

# Mozilla's "intermediate" TLS 1.2 ciphers; TLS 1.3 suites are OpenSSL's defaults.
_TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)


def render(spec: ClusterSpec, profile: str, layout: Layout) -> str:
    """The whole ``haproxy.cfg`` text for ``profile`` (``kb`` or ``hardened``)."""
    if profile == "kb":
        return _join(_kb(spec, layout))
    if profile == "hardened":
        return _join(_hardened(spec, layout))
    raise ValueError(f"unknown profile {profile!r}")


def _join(lines: Iterable[str]) -> str:
    return "\n".join(lines) + "\n"


def _kb(spec: ClusterSpec, layout: Layout) -> list[str]:
    b, h = layout.binds, spec.health
    lines = [
        '# flowlb profile "kb": the configuration of KBEC-00281 "Configuring Load Balancers in',
        "# ElectricFlow Clusters" + '", as HAProxy 2.x loads it. Generated from ' + f"{spec.source}.",
        "# It keeps the article's defects on purpose so that the conformance suite can show them: DO NOT DEPLOY.",
        "#",
        "# Differences from the article, and why:",
        "#  1. `redirect scheme https if !{ssl_fc}` is written `!{ ssl_fc }`: HAProxy 1.5 and 2.x refuse the",
        "#     article's spelling (\"no such ACL : '{ssl_fc}'\"), so the article's config never starts.",
        "#  2. The article gives no address to bind: its frontends for 80 and 8000 have no `bind` line at all and",
        "#     the TLS ones read `bind ssl crt`. Each frontend here binds the port the spec gives it.",
        "#  3. The article's `server` lines have no host (`server node1 :80 check`): each gets its node's host.",
        f"#  4. The certificate path `/home//server.pem` (the user name lost) is {layout.cert_path}.",
        '#  5. The article\'s "comment out" list (log, chroot, ssl-relay, errorfile lines) targets a stock',
        "#     haproxy.cfg that is not shown; nothing of it is reproduced.",
    ]
    if layout.runtime_socket:
        lines += [
            "#  6. A `global` section with a runtime API socket that only the test harness uses to read HAProxy's",
            "#     own evidence (server states, session counters). It changes no behaviour under test.",
            "",
            "global",
            f"  stats socket {layout.runtime_socket} mode 600 level admin",
        ]
    lines += [
        "",
        "# redirect port 80 to port 443",
        "frontend commander-web-frontend-insecure",
        "  mode http",
        f"  bind {b['http']}",
        "  redirect scheme https if !{ ssl_fc }",
        "# load balance port 443 across web servers, with HAProxy acting as the SSL endpoint",
        "frontend commander-web-frontend-secure",
        "  mode tcp",
        f"  bind {b['https']} ssl crt {layout.cert_path}",
        f"  default_backend {WEB_BACKEND}",
        f"backend {WEB_BACKEND}",
        "  mode http",
        *(f"  server {name} {a.host}:{a.web_port} check" for name, a in layout.servers.items()),
        "  stats enable",
        "# load balance ports 8000 and 8443 across Flow servers, with HAProxy acting as the SSL endpoint for port 8443",
        "frontend commander-server-frontend-insecure",
        "  mode http",
        f"  bind {b['server']}",
        f"  default_backend {SERVER_BACKEND}",
        "frontend commander-server-frontend-secure",
        "  mode tcp",
        f"  bind {b['server_tls']} ssl crt {layout.cert_path}",
        f"  default_backend {SERVER_BACKEND}",
        f"backend {SERVER_BACKEND}",
        "  mode http",
        *(f"  server {name} {a.host}:{a.server_port} check" for name, a in layout.servers.items()),
        "  stats enable",
        f"  option httpchk GET {h.path}",
        "# load balance port 61613 across Flow servers, with HAProxy acting as the SSL endpoint",
        "frontend commander-stomp-frontend",
        "  mode tcp",
        f"  bind {b['stomp']} ssl crt {layout.cert_path}",
        f"  default_backend {STOMP_BACKEND}",
        "  option tcplog",
        "  log global",
        f"backend {STOMP_BACKEND}",
        "  mode tcp",
        *(f"  server {name} {a.host}:{a.stomp_port} check port {a.server_port}" for name, a in layout.servers.items()),
        "  option tcplog",
        "  log global",
    ]
    return lines


def _hardened(spec: ClusterSpec, layout: Layout) -> list[str]:
    b, h, t = layout.binds, spec.health, spec.timeouts
    crt = f"ssl crt {layout.cert_path} alpn http/1.1"
    socket = layout.runtime_socket or "/run/haproxy/admin.sock"
    return [
        '# flowlb profile "hardened": the topology of KBEC-00281 with every defect in docs/findings.md fixed.',
        f"# Generated from {spec.source}.",
        "#  - the redirect parses, drops the port from Host and keeps path and query (301);",
        "#  - no stats page on any public port; HAProxy's state is read from the runtime API socket;",
        "#  - STOMP servers are checked with the health URL (503 = bootstrap mode = down), and their",
        "#    sessions are shut when a server is marked down;",
        "#  - timeouts everywhere, `timeout tunnel` for long-lived STOMP sessions, a header timeout;",
        "#  - failing and down servers checked twice as often (fastinter, downinter);",
        "#  - a server that refuses or drops a connect is marked down at once (observe layer4);",
        "#  - X-Forwarded-For / X-Forwarded-Proto, retries with redispatch, L7 retries only for safe methods;",
        "#  - TLS 1.2 floor with forward-secret ciphers.",
        "",
        "global",
        f"  log {layout.log_target} info",
        "  maxconn 4096",  # needs about 2 x maxconn file descriptors
        f"  stats socket {socket} mode 600 level admin",
        "  stats timeout 30s",
        "  # a reload keeps what servers were DOWN or drained (dump `show servers state` here first) and lets",
        "  # old workers finish long STOMP sessions for up to an hour",
        f"  server-state-file {layout.socket_dir}/server-state",
        "  hard-stop-after 1h",
        "  ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets",
        f"  ssl-default-bind-ciphers {_TLS12_CIPHERS}",
        "  tune.ssl.default-dh-param 2048",
        "",
        "defaults",
        "  log global",
        "  option dontlognull",
        "  load-server-state-from-file global",
        f"  timeout connect {t.connect_ms}ms",
        f"  timeout client {t.client_ms}ms",
        f"  timeout server {t.server_ms}ms",
        f"  timeout tunnel {t.tunnel_ms}ms",
        f"  timeout http-request {t.http_request_ms}ms",
        f"  timeout http-keep-alive {t.http_keep_alive_ms}ms",
        f"  timeout queue {t.connect_ms}ms",
        "  retries 3",
        "  option redispatch 1",
        # once a check fails (or a server is down) check twice as often: detect and restore sooner.
        # A refused or unreachable connect marks the server down at once (observe layer4): under
        # `balance leastconn` a dead node has the fewest sessions, so a redispatched reconnect would
        # otherwise pick it again and again until its health checks fail.
        f"  default-server inter {h.inter_ms}ms fastinter {max(100, h.inter_ms // 2)}ms "
        f"downinter {max(100, h.inter_ms // 2)}ms fall {h.fall} rise {h.rise} "
        "observe layer4 error-limit 1 on-error mark-down",
        "",
        "# port 80: redirect everything to https on the same host (without the port), path and query kept",
        "frontend commander-web-frontend-insecure",
        "  mode http",
        "  option httplog",
        f"  bind {b['http']}",
        "  http-request redirect code 301 location https://%[req.hdr(host),field(1,:)]%[capture.req.uri]",
        "",
        "# port 443: TLS ends here; HTTP to the web servers",
        "frontend commander-web-frontend-secure",
        "  mode http",
        "  option httplog",
        f"  bind {b['https']} {crt}",
        "  option forwardfor",
        "  http-request set-header X-Forwarded-Proto https",
        f"  default_backend {WEB_BACKEND}",
        "",
        f"backend {WEB_BACKEND}",
        "  mode http",
        "  balance roundrobin",
        "  option httpchk HEAD /",
        # a page request that met a web node dying under it (a reused connection, an empty answer) goes elsewhere
        "  retry-on conn-failure empty-response response-timeout",
        "  http-request disable-l7-retry unless METH_GET || METH_HEAD",
        *(["  # a browser stays on its web node (its UI session lives there); a new one is balanced",
           "  cookie SERVERID insert indirect nocache httponly secure"] if spec.lb.web_affinity == "cookie" else []),
        *(f"  server {name} {a.host}:{a.web_port} check" + (f" cookie {name}" if spec.lb.web_affinity == "cookie"
                                                               else "") for name, a in layout.servers.items()),
        "",
        "# ports 8000 (HTTP) and 8443 (TLS ends here): the Flow servers",
        "frontend commander-server-frontend-insecure",
        "  mode http",
        "  option httplog",
        f"  bind {b['server']}",
        "  option forwardfor",
        "  http-request set-header X-Forwarded-Proto http",
        f"  default_backend {SERVER_BACKEND}",
        "",
        "frontend commander-server-frontend-secure",
        "  mode http",
        "  option httplog",
        f"  bind {b['server_tls']} {crt}",
        "  option forwardfor",
        "  http-request set-header X-Forwarded-Proto https",
        f"  default_backend {SERVER_BACKEND}",
        "",
        f"backend {SERVER_BACKEND}",
        "  mode http",
        "  balance roundrobin",
        f"  option httpchk GET {h.path}",
        "  http-check expect status 200",
        "  retry-on conn-failure empty-response response-timeout",
        "  http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS",
        *(f"  server {name} {a.host}:{a.server_port} check" for name, a in layout.servers.items()),
        "",
        "# port 61613: STOMP over TLS, TLS ends here; long-lived sessions to the Flow servers",
        "frontend commander-stomp-frontend",
        "  mode tcp",
        "  option tcplog",
        f"  bind {b['stomp']} ssl crt {layout.cert_path}",
        f"  default_backend {STOMP_BACKEND}",
        "",
        f"backend {STOMP_BACKEND}",
        "  mode tcp",
        "  balance leastconn",
        f"  option httpchk GET {h.path}",
        "  http-check expect status 200",
        *(
            f"  server {name} {a.host}:{a.stomp_port} check port {a.server_port} on-marked-down shutdown-sessions"
            for name, a in layout.servers.items()
        ),
    ]
