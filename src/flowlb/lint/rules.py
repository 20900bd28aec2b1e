"""The Flow-specific rules: every defect in docs/findings.md and every mutant class visible in the text.

Each rule is a function from the parsed config (and the cluster spec, for the LB ports, node ports
and health path) to findings; each finding says where, what is wrong, why it matters for Flow and
the fix. The rule ids are stable (``FLOW###``) so that CI can allow-list one knowingly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from flowlb import policy
from flowlb.haproxy.config import HAProxyConfig as Config
from flowlb.haproxy.config import Line, Section, Server, looks_like_address, parse_time_s
from flowlb.haproxy.reload import server_state_file
from flowlb.haproxy.sandbox import code_lines
from flowlb.haproxy.timing import check_fall, check_interval_s, detection_limit_s
from flowlb.spec import ClusterSpec

TLS_ORDER = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")


@dataclass(frozen=True)
class Finding:
    """One problem: the rule, the line, what is wrong, why it matters for Flow, and the fix."""

    rule: str
    line: int
    what: str
    why: str
    fix: str


Rule = Callable[[Config, ClusterSpec], Iterator[Finding]]
RULES: list[Rule] = []


def rule(function: Rule) -> Rule:
    RULES.append(function)
    return function


def _where(section: Section) -> str:
    return f"{section.kind} {section.name}".strip()


def _ports(spec: ClusterSpec) -> dict[str, int]:
    return spec.lb.ports.by_role()


@rule
def anonymous_acl_without_spaces(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """article 1: ``!{ssl_fc}`` does not parse; HAProxy refuses the whole file."""
    for section in config.sections:
        for line in section.lines:
            if re.search(r"\{\S", line.text) and re.search(r"(?:if|unless)\s+!?\{\S", line.text):
                yield Finding("FLOW001", line.number, "anonymous ACL without spaces inside the braces",
                              "HAProxy reads `{ssl_fc}` as an ACL name and refuses to start: the LB never comes up",
                              "write `!{ ssl_fc }` (spaces inside the braces)")


@rule
def stats_page_public(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """article 2, mutants 11-12: the stats page on a port clients reach."""
    public = set(_ports(spec).values())
    reachable: list[Section] = _union(_web_backends(config, spec), _server_backends(config, spec))
    for port in public:
        reachable = _union(reachable, config.backends_behind(port), config.listeners(port))
    for section in reachable:
        if section.mode() != "http":
            continue
        for line in section.own("stats", "enable") + section.own("stats", "uri"):
            if section.own("stats", "auth") or section.own("stats", "http-request"):
                continue
            yield Finding("FLOW002", line.number, f"`{line.text}` in {_where(section)}, reachable on a public LB port",
                          "anyone who reaches the LB reads the stats page (server names, states, traffic) and, "
                          "with `stats admin`, can change them",
                          "remove it; read HAProxy's state from a `stats socket` (runtime API) or a stats "
                          "listener bound to a management address with `stats auth`")


def _union(*groups: list[Section]) -> list[Section]:
    found: list[Section] = []
    for group in groups:
        found += [section for section in group if section not in found]
    return found


def _serving(config: Config, node_port: int) -> list[Section]:
    """Backends whose servers listen on ``node_port``: their role even when no ``bind`` says it (the article)."""
    return [b for b in config.of_kind("backend", "listen") if any(s.port == node_port for s in b.servers())]


def _stomp_backends(config: Config, spec: ClusterSpec) -> list[Section]:
    return _union(config.backends_behind(_ports(spec)["stomp"]), _serving(config, spec.node_ports.stomp))


def _server_backends(config: Config, spec: ClusterSpec) -> list[Section]:
    ports = _ports(spec)
    return _union(config.backends_behind(ports["server"]), config.backends_behind(ports["server_tls"]),
                  _serving(config, spec.node_ports.server))


def _flow_backends(config: Config, spec: ClusterSpec) -> list[Section]:
    """The backends of the Flow server port and of STOMP: the ones checked with the health URL."""
    return _union(_server_backends(config, spec), _stomp_backends(config, spec))


def _web_backends(config: Config, spec: ClusterSpec) -> list[Section]:
    return _union(config.backends_behind(_ports(spec)["https"]), _serving(config, spec.node_ports.web))


def _tls_frontends(config: Config, backends: list[Section], port: int) -> list[Section]:
    """Frontends on ``port``, or with an ``ssl`` bind sending to one of ``backends``."""
    names = {b.name for b in backends}
    inferred = [f for f in config.of_kind("frontend") if set(f.backends()) & names
                and any("ssl" in line.words for line in f.own("bind"))]
    return _union(config.listeners(port), inferred)


def _http_involved(config: Config, front: Section) -> bool:
    backends = [config.proxy(name) for name in front.backends()]
    return front.mode() == "http" or any(b is not None and b.mode() == "http" for b in backends)


@rule
def health_check_is_tcp_only(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """article 3, mutants 16 and 23: a bare TCP check cannot see bootstrap mode (503)."""
    for backend in _flow_backends(config, spec):
        checked = [s.line for s in backend.servers() if s.checked]
        if checked and not backend.effective("option", "httpchk"):
            yield Finding("FLOW003", checked[0].number,
                          f"{_where(backend)} checks its Flow servers with a bare TCP connect",
                          "a Flow server in bootstrap mode answers 503 but still accepts TCP: it keeps receiving "
                          "requests and STOMP sessions it cannot serve",
                          f"`option httpchk GET {spec.health.path}` and `http-check expect status 200` "
                          "(they work in a `mode tcp` backend too)")


@rule
def health_check_wrong_path(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """Mutant 15: a check on another URL says nothing about the Flow server's health."""
    for backend in _flow_backends(config, spec):
        for line, path in _health_requests(backend):
            if path.split("?")[0] != spec.health.path:
                yield Finding("FLOW004", line.number, f"{_where(backend)} checks `{path}`, not {spec.health.path}",
                              "only the health URL turns 503 in bootstrap mode; another URL stays 200 while the "
                              "server serves nothing",
                              f"`option httpchk GET {spec.health.path}`")


def _health_requests(backend: Section) -> list[tuple[Line, str]]:
    """The URL each HTTP check asks for: ``http-check send ... uri X`` (2.2+) wins over ``option httpchk``."""
    sends = [(line, line.after("uri", 2)) for line in backend.effective("http-check", "send")]
    found = [(line, uri) for line, uri in sends if uri is not None]
    if found:
        return found
    requests = []
    for line in backend.effective("option", "httpchk"):
        words = line.words[2:]
        path = next((w for w in words if w.startswith("/")), None)
        requests.append((line, path or "/"))
    return requests


def _status_accepted(line: Line, status: int) -> bool:
    words = line.words
    if "rstatus" in words:
        pattern = words[words.index("rstatus") + 1] if words.index("rstatus") + 1 < len(words) else ""
        return bool(re.search(pattern.strip("\"'"), str(status)))
    if "status" in words:
        codes = words[words.index("status") + 1] if words.index("status") + 1 < len(words) else ""
        for part in codes.split(","):
            low, _, high = part.partition("-")
            if low.isdigit() and int(low) <= status <= int(high if high.isdigit() else low):
                return True
    return False


@rule
def health_check_accepts_bootstrap(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """Mutant 17: an ``http-check expect`` that takes 503 (bootstrap mode) as healthy."""
    for backend in _flow_backends(config, spec):
        for line in backend.effective("http-check", "expect"):
            if _status_accepted(line, 503):
                yield Finding("FLOW005", line.number, f"`{line.text}` counts 503 as healthy",
                              "a server in bootstrap mode (503) stays in the pool and answers every request "
                              "routed to it with an error", "`http-check expect status 200`")


@rule
def check_timeout_too_long(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """Mutant 18: check timing that leaves a hung server in the pool longer than the policy allows."""
    for backend in _flow_backends(config, spec):
        timeout = backend.timeout_s("check")
        for server in (s for s in backend.servers() if s.checked):
            inter, fall = check_interval_s(config, backend.name, server.name), check_fall(config, backend.name,
                                                                                          server.name)
            limit = detection_limit_s(inter, fall, timeout, hangs=True, tolerance_s=0)
            if limit <= policy.current().hung_detection_max_s:
                continue
            line = backend.timeout("check") or server.line
            yield Finding("FLOW006", line.number, f"{_where(backend)}: a server that hangs stays UP up to "
                          f"{limit:g} s (inter {inter:g} s, fall {fall}, timeout check {timeout or inter:g} s)",
                          f"a Flow server that accepts and never answers keeps getting requests that long while "
                          f"clients wait on it (the policy allows {policy.current().hung_detection_max_s:g} s)",
                          "drop `timeout check` (a check then times out after `inter`) or keep it near `inter`, and "
                          "keep `inter x fall` short")
            break


@rule
def missing_timeouts(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """article 5: no client/server/connect timeouts at all."""
    for section in config.of_kind("frontend", "backend", "listen"):
        wanted = {"frontend": ["client"], "backend": ["connect", "server"]}.get(section.kind,
                                                                                 ["client", "connect", "server"])
        missing = [f"`timeout {name}`" for name in wanted if section.timeout(name) is None]
        if missing:
            yield Finding("FLOW007", section.number, f"{_where(section)} has no {', '.join(missing)}",
                          "without timeouts dead clients and servers hold connections for ever, until HAProxy "
                          "runs out of them (it also warns at start)",
                          "in `defaults`: `timeout connect 5s`, `timeout client 30s`, `timeout server 30s`")


@rule
def stomp_without_tunnel_timeout(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """article 5, mutant 24: idle STOMP sessions cut after ``timeout client/server``."""
    for backend in _stomp_backends(config, spec):
        if backend.timeout("tunnel") is None:
            yield Finding("FLOW008", backend.number, f"{_where(backend)} (STOMP) has no `timeout tunnel`",
                          "STOMP sessions are long-lived and quiet (waitForJob, log transfer): HAProxy cuts them "
                          "after `timeout client`/`timeout server` of silence",
                          "`timeout tunnel 1h` in the STOMP backend or `defaults`")


@rule
def no_header_timeout(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """Mutant 20: slow-header clients hold connections (slowloris) longer than the policy allows."""
    ports = _ports(spec)
    for port in (ports["https"], ports["server"], ports["server_tls"]):
        for front in config.listeners(port):
            if not _http_involved(config, front):
                continue
            line = front.timeout("http-request") or front.timeout("client")
            seconds = parse_time_s(line.value(2)) if line is not None else None
            if seconds is not None and seconds <= policy.current().header_timeout_max_s:
                continue
            setting = f"`{line.text}`" if line is not None else "no `timeout http-request` or `timeout client`"
            yield Finding("FLOW009", line.number if line is not None else front.number,
                          f"{_where(front)} (port {port}) gives a client {setting} to send its headers",
                          "a client that sends its headers slowly keeps a connection that long (the policy allows "
                          f"{policy.current().header_timeout_max_s:g} s); a few hundred of them starve the Flow UI "
                          "and API",
                          "`timeout http-request 10s`")


@rule
def redirect_problems(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """article 7, mutants 01-03: the 80 -> 443 redirect keeps :80, is missing, or drops the path."""
    for front in config.listeners(_ports(spec)["http"]):
        if not [line for line in front.lines if "redirect" in line.words[:2]]:
            yield Finding("FLOW010", front.number, f"{_where(front)} (port 80) does not redirect to https",
                          "browsers and API clients that start on http:// talk to Flow in plain text",
                          "`http-request redirect scheme https code 301` plus dropping the port from Host "
                          "(see FLOW011)")
    for front in config.of_kind("frontend", "listen"):
        for line in (line for line in front.lines if "redirect" in line.words[:2]):
            if "scheme" in line.words:
                yield Finding("FLOW011", line.number, f"`{line.text}` keeps the Host header's port",
                              "a client that sent `Host: lb:80` is sent to https://lb:80/, which is not TLS",
                              "`http-request redirect code 301 location "
                              "https://%[req.hdr(host),field(1,:)]%[capture.req.uri]`")
            elif "location" in line.words and "capture.req.uri" not in line.text and "%[url]" not in line.text:
                yield Finding("FLOW012", line.number, f"`{line.text}` drops the path and query",
                              "a link to a Flow job or pipeline lands on the home page instead",
                              "end the location with `%[capture.req.uri]`")


@rule
def forwarded_headers(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """article 8, mutants 09-10: the Flow server cannot see the client or the scheme."""
    ports = _ports(spec)
    for port, backends in ((ports["https"], _web_backends(config, spec)),
                           (ports["server_tls"], _server_backends(config, spec))):
        for front in _tls_frontends(config, backends, port):
            if not _http_involved(config, front):
                continue
            behind = [b for b in (config.proxy(name) for name in front.backends()) if b is not None]
            if not any(s.effective("option", "forwardfor") and not s.disabled("option", "forwardfor")
                       for s in [front, *behind]):
                yield Finding("FLOW013", front.number, f"{_where(front)} (port {port}) sends no X-Forwarded-For",
                              "Flow logs and audits every request as coming from the LB",
                              "`option forwardfor`")
            if not any("X-Forwarded-Proto" in line.text for s in [front, *behind] for line in s.lines):
                yield Finding("FLOW014", front.number, f"{_where(front)} (port {port}) sends no X-Forwarded-Proto",
                              "Flow builds http:// links and redirects for a client that came in on https",
                              "`http-request set-header X-Forwarded-Proto https`")


@rule
def retries_and_redispatch(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """article 8, mutant 19: a dead server's connections fail instead of moving to a healthy one."""
    for backend in _flow_backends(config, spec):
        if not backend.effective("option", "redispatch") or backend.disabled("option", "redispatch"):
            yield Finding("FLOW015", backend.number, f"{_where(backend)} has no `option redispatch`",
                          "a request or STOMP session sent to a server that just died fails instead of being "
                          "retried on another node", "`retries 3` and `option redispatch 1`")


@rule
def stomp_sessions_outlive_a_down_server(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """article 8, mutant 25: STOMP sessions stay on a server HAProxy marked DOWN."""
    for backend in _stomp_backends(config, spec):
        defaults = backend.default_servers()
        for server in backend.servers():
            line = server.line
            if "shutdown-sessions" not in line.text and not any("shutdown-sessions" in d.text for d in defaults):
                yield Finding("FLOW016", line.number, f"STOMP server `{server.name}` keeps its sessions when "
                              "marked DOWN", "agents and waitForJob clients wait on a dead or bootstrapping server "
                              "for ever instead of reconnecting", "add `on-marked-down shutdown-sessions`")


def _tls_options(config: Config) -> list[Line]:
    lines = []
    glob = config.global_section()
    if glob is not None:
        lines += glob.own("ssl-default-bind-options")
    for front in config.of_kind("frontend", "listen"):
        lines += [line for line in front.own("bind") if "ssl" in line.words]
    return lines


@rule
def tls_versions(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """article 8, mutants 06-08: no TLS 1.2 floor, TLS 1.2 refused, or TLS 1.3 refused."""
    lines = _tls_options(config)
    floors = [(line, line.words[line.words.index("ssl-min-ver") + 1]) for line in lines
              if "ssl-min-ver" in line.words[:-1]]
    ceilings = [(line, line.words[line.words.index("ssl-max-ver") + 1]) for line in lines
                if "ssl-max-ver" in line.words[:-1]]
    if not floors and lines:
        yield Finding("FLOW017", lines[0].number, "no TLS floor (`ssl-min-ver`)",
                      "TLS 1.0/1.1 stay possible wherever the OpenSSL build allows them",
                      "`ssl-default-bind-options ssl-min-ver TLSv1.2` in `global`")
    for line, version in floors:
        if version in TLS_ORDER and TLS_ORDER.index(version) < TLS_ORDER.index("TLSv1.2"):
            yield Finding("FLOW017", line.number, f"TLS floor {version}, below TLS 1.2",
                          "clients can be talked down to a protocol with known weaknesses",
                          "`ssl-min-ver TLSv1.2`")
        if version == "TLSv1.3":
            yield Finding("FLOW018", line.number, "TLS 1.3 only: TLS 1.2 refused",
                          "Flow agents and tools on older Java runtimes speak TLS 1.2 only and cannot connect",
                          "`ssl-min-ver TLSv1.2`")
    for line, version in ceilings:
        if version in TLS_ORDER and TLS_ORDER.index(version) < TLS_ORDER.index("TLSv1.3"):
            yield Finding("FLOW019", line.number, f"TLS capped at {version}",
                          "clients that can do TLS 1.3 are held to an older, slower handshake",
                          "drop `ssl-max-ver`")


@rule
def tls_ports_without_tls(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """Mutants 05, 26: 443, 8443 or 61613 bound without ``ssl``."""
    ports = _ports(spec)
    for role in ("https", "server_tls", "stomp"):
        for front in config.listeners(ports[role]):
            for port, line in front.bind_ports():
                if port == ports[role] and "ssl" not in line.words:
                    yield Finding("FLOW020", line.number, f"port {port} is bound without `ssl`",
                                  "clients configured for TLS fail the handshake, and anything sent is plain text",
                                  f"`bind :{port} ssl crt /path/to/lb.pem`")


@rule
def wrong_backend_for_port(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """Mutant 04: 443 sent to the server port (or 8000/8443 to the web port)."""
    ports, nodes = _ports(spec), spec.node_ports
    expected = {ports["https"]: nodes.web, ports["server"]: nodes.server, ports["server_tls"]: nodes.server,
                ports["stomp"]: nodes.stomp}
    for lb_port, node_port in expected.items():
        for backend in _default_backends(config, lb_port):
            for server in backend.servers():
                name, port, line = server.name, server.port, server.line
                if port is not None and port != node_port:
                    yield Finding("FLOW021", line.number, f"LB port {lb_port} reaches `{name}` on port {port}, "
                                  f"not {node_port}", "clients get the wrong Flow service (web UI vs server API)",
                                  f"send port {lb_port} to a backend whose servers listen on :{node_port}")


def _default_backends(config: Config, port: int) -> list[Section]:
    """Where a plain request on ``port`` goes: the listen section or the frontend's ``default_backend``.

    ``use_backend`` rules are the operator's routing (``/commanderRequest`` on 443 to the Flow servers is
    a deliberate choice), so they are no evidence of a port wired to the wrong service.
    """
    found: list[Section] = []
    for front in config.listeners(port):
        if front.kind == "listen":
            found.append(front)
        for line in front.effective("default_backend"):
            backend = config.proxy(line.value(1))
            if backend is not None and backend not in found:
                found.append(backend)
    return found


@rule
def uneven_balancing(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """Mutants 13-14: ``balance source`` or a server with ``weight 0``."""
    for backend in config.of_kind("backend", "listen"):
        for line in backend.effective("balance"):
            method = line.value(1)
            if method == "source" or (method in ("hdr", "uri") and backend.mode() == "http"):
                yield Finding("FLOW022", line.number, f"{_where(backend)} balances by `{line.words[1]}`",
                              "clients behind one NAT or proxy (or one busy tool) all land on one Flow server",
                              "`balance roundrobin` (HTTP) or `balance leastconn` (STOMP)")
        for server in backend.servers():
            if server.line.after("weight", 2) == "0":
                yield Finding("FLOW023", server.line.number, f"server `{server.name}` has weight 0",
                              "that node never receives traffic, though it is healthy", "remove `weight 0`")


@rule
def lenient_http_parsing(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """Mutants 21-22: HAProxy's request checks relaxed, or oversized headers let through."""
    for section in config.sections:
        for line in section.lines:
            if line.starts("option", "accept-invalid-http-request"):
                yield Finding("FLOW024", line.number, "`option accept-invalid-http-request`",
                              "malformed requests (a smuggling vector) reach the Flow server",
                              "remove it")
            if line.starts("tune.bufsize") and len(line.words) > 1 and line.words[1].isdigit() \
                    and int(line.words[1]) > policy.current().header_buffer_max:
                yield Finding("FLOW025", line.number, f"`tune.bufsize {line.words[1]}`",
                              "oversized headers reach the Flow server instead of a 4xx at the LB, and every "
                              "connection costs more memory", "keep the default (16384)")


@rule
def ignored_directives(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """article 2 and 4: directives HAProxy ignores with a warning (they do nothing)."""
    for backend in config.of_kind("backend"):
        for line in backend.own("option", "tcplog") + backend.own("option", "httplog"):
            yield Finding("FLOW026", line.number, f"`{line.text}` in a backend is ignored",
                          "logging is decided by the frontend; this line only hides the real log format",
                          "move it to the frontend")
        if backend.mode() == "tcp":
            for line in backend.own("stats", "enable"):
                yield Finding("FLOW026", line.number, f"`{line.text}` in a TCP backend is ignored",
                              "no stats page exists here; the line only misleads", "remove it")


@rule
def listens_nowhere(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """The article as printed: frontends without a ``bind`` line, or ``bind`` lines without an address."""
    for front in config.of_kind("frontend", "listen"):
        binds = front.own("bind")
        if not binds:
            yield Finding("FLOW027", front.number, f"{_where(front)} has no `bind` line",
                          "it listens on no port: the clients of this Flow service reach nothing",
                          "`bind :PORT` (80, 443, 8000, 8443 or 61613; `ssl crt ...` on the TLS ports)")
        for line in binds:
            if len(line.words) < 2 or not looks_like_address(line.words[1]):
                yield Finding("FLOW027", line.number, f"`{line.text}` has no address:port",
                              "HAProxy cannot tell which port to listen on and refuses the file",
                              "`bind :PORT ssl crt /path/to/lb.pem`")


@rule
def check_port_nothing_serves(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """Mutant 28: ``check port`` on a port the Flow node does not serve: the server is never UP."""
    served = {spec.node_ports.web, spec.node_ports.server, spec.node_ports.stomp}
    for backend in _union(_flow_backends(config, spec), _web_backends(config, spec)):
        for server in backend.servers():
            name, line = server.name, server.line
            if server.checked and server.check_port is not None and server.check_port not in served:
                yield Finding("FLOW028", line.number, f"server `{name}` is checked on port {server.check_port}, "
                              f"which a Flow node does not serve ({', '.join(map(str, sorted(served)))})",
                              "the check never succeeds: HAProxy keeps the server DOWN and routes nothing to it",
                              f"`check port {spec.node_ports.server}` (the Flow server port with the health URL)")


@rule
def pinned_to_one_server(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """Mutant 29: ``use-server`` rules (worse with ``force-persist``) pin traffic to one node."""
    for backend in config.of_kind("backend", "listen"):
        for line in backend.own("use-server"):
            forced = " even in maintenance (`force-persist`)" if backend.own("force-persist") else ""
            yield Finding("FLOW029", line.number, f"`{line.text}` pins matching requests to one server{forced}",
                          "that Flow node takes the load alone, and draining it for patching does not move its "
                          "traffic away", "remove `use-server` / `force-persist`; let `balance` spread requests")


@rule
def health_body_match(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """Mutant 28: matching the health URL's body, which Flow does not document."""
    for backend in _flow_backends(config, spec):
        for line in backend.effective("http-check", "expect"):
            if {"string", "rstring", "!string", "!rstring"} & set(line.words):
                yield Finding("FLOW030", line.number, f"`{line.text}` matches the health URL's body",
                              "the body of /commanderRequest/health is not documented: a guessed string keeps "
                              "healthy servers DOWN (or breaks on the next Flow release)",
                              "`http-check expect status 200` (bootstrap mode answers 503)")


def _host(server: Server) -> str:
    address = server.address
    if address is None or address.is_wildcard:
        return server.name
    return address.host.lower()


@rule
def flow_server_missing_from_a_backend(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """A Flow server in one Flow backend (8000/8443 or STOMP) but left out of another."""
    backends = [b for b in _flow_backends(config, spec) if b.servers()]
    everywhere: dict[str, str] = {}
    for backend in backends:
        for server in backend.servers():
            everywhere.setdefault(_host(server), server.name)
    for backend in backends:
        hosts = {_host(server) for server in backend.servers()}
        for host, name in everywhere.items():
            if host not in hosts:
                yield Finding("FLOW031", backend.number, f"{_where(backend)} lacks the Flow server `{name}` ({host}) "
                              "that another Flow backend has",
                              "that node takes no share of this port's traffic, and when the others fail it is not "
                              "there to take over", f"add a `server` line for {host} to {_where(backend)}")


_AUTH = (("stats", "auth"), ("stats", "http-request", "auth"), ("http-request", "auth"))


@rule
def management_listener_public(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """A stats page or metrics on a port outside the five roles, on a public address, without authentication."""
    lb_ports = set(_ports(spec).values())
    for section in config.of_kind("frontend", "listen"):
        public = [(a, line) for a, line in section.binds() if a.port is not None and a.port not in lb_ports
                  and not a.is_loopback and not a.is_socket]
        serves = section.own("stats", "enable") + section.own("stats", "uri") + [
            line for line in section.own("http-request", "use-service") if "prometheus-exporter" in line.words]
        if not public or not serves or section.mode() != "http":
            continue
        if any(section.own(*words) for words in _AUTH):
            continue
        address, line = public[0]
        yield Finding("FLOW032", line.number, f"{_where(section)} serves HAProxy's stats or metrics on "
                      f"{address.host or '*'}:{address.port} without authentication",
                      "anyone who reaches that address reads server names, addresses, states and traffic (and, with "
                      "`stats admin`, can take Flow servers out)",
                      "bind it to 127.0.0.1 or a management address, or add `stats auth USER:PASSWORD`")


@rule
def in_flight_requests_not_retried(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """A request already sent to a server that dies fails: ``retries`` alone re-tries only the connect."""
    for backend in _server_backends(config, spec):
        if backend.mode() != "http":
            continue
        retry_on = backend.effective("retry-on")
        words = set(retry_on[-1].words[1:]) if retry_on else set()
        if not words & {"empty-response", "all-retryable-errors"}:
            line = retry_on[-1].number if retry_on else backend.number
            yield Finding("FLOW033", line, f"{_where(backend)} does not retry a request whose server died under it",
                          "when a Flow server is killed or restarted, the API calls in flight on it fail with a 502 or "
                          "a reset connection although they could have gone to another node",
                          "`retry-on conn-failure empty-response response-timeout` with `retries 3` and "
                          "`option redispatch 1`")


def _cookie_affinity(backend: Section) -> bool:
    """A ``cookie`` the servers carry values for, or a stick rule keyed on a request or response cookie."""
    if backend.effective("cookie") and all("cookie" in s.line.words[3:] for s in backend.servers() if not s.backup):
        return True
    return any(".cook(" in " ".join(line.words) for line in backend.own("stick") + backend.own("stick-store-request"))


@rule
def web_sessions_not_sticky(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """The spec asks for cookie affinity on 443 and the web backend balances every request anew."""
    if spec.lb.web_affinity != "cookie":
        return
    for backend in _web_backends(config, spec):
        primaries = [s for s in backend.servers() if not s.backup]
        if backend.mode() != "http" or len(primaries) < 2 or _cookie_affinity(backend):
            continue
        cookie = backend.effective("cookie")
        number = cookie[-1].number if cookie else backend.number
        yield Finding("FLOW034", number, f"{_where(backend)} holds no browser to its web node",
                      "a user's UI session lives on the web node that started it; balanced anew, the next request "
                      "lands on another node (CloudBees' own ingress sets cookie affinity)",
                      "`cookie SERVERID insert indirect nocache httponly secure` and `cookie <name>` on each server")


@rule
def internal_port_on_the_lb(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """A bind on one of a Flow cluster's own ports (ZooKeeper, agents, repository, analytics), on a public address."""
    for section in config.of_kind("frontend", "listen"):
        for address, line in section.binds():
            if address.port in policy.FLOW_INTERNAL_PORTS and not address.is_loopback and not address.is_socket:
                yield Finding("FLOW035", line.number, f"{_where(section)} listens on {address.host or '*'}:"
                              f"{address.port}, {policy.FLOW_INTERNAL_PORTS[address.port]}",
                              "that is a Flow cluster's own service: through the LB, clients reach what only the "
                              "cluster's machines should",
                              "remove the bind from the LB, or bind it to 127.0.0.1 or a management address")


@rule
def long_requests_cut(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """The Flow server backend cuts an API call that runs longer than ``policy.current().long_request_s``."""
    for backend in _server_backends(config, spec):
        if backend.mode() != "http":
            continue
        server_s = backend.timeout_s("server")
        if server_s is not None and server_s < policy.current().long_request_s:
            lines = backend.effective("timeout", "server")
            yield Finding("FLOW036", lines[-1].number if lines else backend.number,
                          f"{_where(backend)} answers 504 to a Flow API call that takes over {server_s:g} s",
                          f"Flow API calls can run long (CloudBees' own ingress waits 4000 s); this one is cut "
                          f"before {policy.current().long_request_s:g} s",
                          "`timeout server 4000s` (or longer than your longest API call) in that backend or defaults")


_BODY_SIZE = re.compile(r"(req\.body_size|req\.body_len|hdr_val\(content-length\))\s*(?:gt|ge)\s+(\d+)", re.IGNORECASE)


@rule
def large_uploads_denied(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """A deny on request body size below what Flow uploads need (CloudBees' ingress allows 10 GB)."""
    for section in config.of_kind("frontend", "listen", "backend"):
        for line in section.own("http-request", "deny") + section.own("http-request", "return"):
            match = _BODY_SIZE.search(" ".join(line.words))
            if match and int(match.group(2)) < policy.current().upload_max_bytes:
                yield Finding("FLOW037", line.number, f"{_where(section)} refuses request bodies over "
                              f"{int(match.group(2)):,} bytes",
                              "Flow takes artifacts and plugin uploads through its API; CloudBees' own ingress "
                              "allows request bodies up to 10 GB",
                              "drop the deny, or raise its limit above your largest upload")


@rule
def reload_cuts_sessions(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """``hard-stop-after`` shorter than the policy's ``reload_sessions_min_s``: each reload cuts the STOMP sessions."""
    for section in config.of_kind("global"):
        for line in section.own("hard-stop-after"):
            seconds = parse_time_s(line.value(1))
            if seconds is not None and seconds < policy.current().reload_sessions_min_s:
                yield Finding("FLOW038", line.number, f"`hard-stop-after {line.value(1)}` ends old workers "
                              f"{seconds:g} s after each reload",
                              "their STOMP sessions (waitForJob, log transfers) are cut in every change window",
                              "`hard-stop-after 1h`, or longer than your longest session")


@rule
def reload_forgets_server_state(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """No server state kept across reloads: drained and DOWN Flow servers come back UP at each reload."""
    if not _server_backends(config, spec) or server_state_file(config) is not None:
        return
    lines = [line for section in config.of_kind("global") for line in section.own("server-state-file")]
    number = lines[-1].number if lines else (config.of_kind("global") or [config.sections[0]])[0].number
    yield Finding("FLOW039", number, "server state is not kept across reloads",
                  "a reload brings drained and DOWN Flow servers back UP: a node in bootstrap mode gets requests "
                  "again until its checks fail once more",
                  "`server-state-file /var/lib/haproxy/server-state` in global, `load-server-state-from-file "
                  "global` in defaults, and dump `show servers state` into that file before each reload")


@rule
def serves_no_lb_port(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """An empty file, or one whose binds are none of the LB's ports: the LB serves Flow nothing."""
    ports = _ports(spec)
    bound = {port for front in config.of_kind("frontend", "listen") for port, _ in front.bind_ports()}
    if bound & set(ports.values()):
        return
    listed = ", ".join(str(port) for port in ports.values())
    what = "the file has no frontend or listen section" if not config.of_kind("frontend", "listen") else (
        "no `bind` line is on one of the LB's ports")
    yield Finding("FLOW044", 1 if config.sections else 0, f"{what} ({listed})",
                  "clients of Flow (browsers, ectool, agents) reach nothing through this LB",
                  f"a frontend per Flow port: `bind :{ports['https']} ssl crt ...` and so on, each sending to its "
                  "backend")


def _mode_line(section: Section) -> Line | None:
    """The line that sets ``section``'s effective mode: its own last ``mode`` line, else its defaults' (none: tcp)."""
    lines = section.effective("mode")
    return lines[-1] if lines else None


def _mode_source(section: Section) -> str:
    """Where ``section``'s mode comes from, in words: ``line 12`` or ``line 3 (defaults web)``."""
    line = _mode_line(section)
    if line is None:
        return "no `mode` line (tcp)"
    inherited = "" if line in section.lines else f" in {line.section} {line.section_name}".rstrip()
    return f"`{line.text}` at line {line.number}{inherited}"


@rule
def stomp_in_http_mode(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """STOMP frontends and backends effectively in ``mode http`` (their own last ``mode`` line, or their defaults')."""
    stomp_port = _ports(spec)["stomp"]
    fronts = config.listeners(stomp_port)
    for section in _union(fronts, _stomp_backends(config, spec)):
        line = _mode_line(section)
        if section.mode() != "http" or line is None:
            continue
        own = line in section.lines
        yield Finding("FLOW045", line.number if own else section.number,
                      f"{_where(section)} carries STOMP ({stomp_port}) in `mode http`, set by {_mode_source(section)}",
                      "STOMP is not HTTP: HAProxy refuses the agents' CONNECT frame as a bad request (400)",
                      f"`mode tcp` in {_where(section)}" + ("" if own else " (it overrides the defaults)") +
                      ", and `timeout tunnel` for the long sessions")


def _routes(front: Section) -> list[tuple[Line, str]]:
    """``(line, backend name)`` for each ``default_backend`` (here or inherited) and ``use_backend`` line."""
    lines = front.effective("default_backend") + front.own("use_backend")
    return [(line, line.value(1)) for line in lines if len(line.tokens) > 1]


_HTTP_ONLY = (("http-request",), ("http-response",), ("http-after-response",), ("redirect",),
              ("option", "forwardfor"), ("option", "httplog"))
"""What HAProxy 2.6 warns it ignores in a ``mode tcp`` frontend ("ignored ... as they require HTTP mode")."""


@rule
def http_frontend_to_tcp_backend(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """An HTTP frontend that sends to a TCP backend: HAProxy refuses the file (every version flowlb knows)."""
    for front in config.of_kind("frontend", "listen"):
        if front.mode() != "http":
            continue
        for line, name in _routes(front):
            backend = config.proxy(name)
            if backend is None or backend is front or backend.mode() == "http":
                continue
            yield Finding("FLOW046", line.number, f"{_where(front)} (mode http, {_mode_source(front)}) sends to "
                          f"{_where(backend)}, which is in mode tcp ({_mode_source(backend)})",
                          "HAProxy refuses the file (\"tries to use incompatible tcp backend\"): the LB does not start",
                          "make the modes agree: `mode http` in the backend, or `mode tcp` in the frontend "
                          "(without its HTTP rules)")


@rule
def tcp_frontend_to_http_backend(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """A TCP frontend that sends to an HTTP backend: HAProxy upgrades the connection, the frontend's HTTP rules
    do nothing (HAProxy only warns)."""
    for front in config.of_kind("frontend", "listen"):
        if front.mode() != "tcp":
            continue
        ignored = [line for words in _HTTP_ONLY for line in front.own(*words)]
        for line, name in _routes(front):
            backend = config.proxy(name)
            if backend is None or backend is front or backend.mode() != "http":
                continue
            lost = (f"; its HTTP lines do nothing: {', '.join(f'`{i.text}` (line {i.number})' for i in ignored)}"
                    if ignored else "")
            yield Finding("FLOW047", line.number, f"{_where(front)} (mode tcp, {_mode_source(front)}) sends to "
                          f"{_where(backend)}, which is in mode http{lost}",
                          "HAProxy upgrades each connection to HTTP only in the backend: the frontend cannot add "
                          "headers, redirect or log HTTP for Flow's clients (HAProxy ignores such lines there, with "
                          "a warning)",
                          "`mode http` in the frontend too (TLS still ends there), with its HTTP rules")


@rule
def runs_code_on_the_lb(config: Config, spec: ClusterSpec) -> Iterator[Finding]:
    """Lines that make HAProxy run code (Lua, programs, check scripts, shared objects): review them."""
    for code in code_lines(config):
        yield Finding("FLOW043", code.line.number, f"`{code.line.text}` {code.what}: it runs code on the LB",
                      "whoever can change this file runs code as HAProxy on the LB; flowlb runs none of it, so the "
                      "suite tests the config without it",
                      "review it: keep it only if it must be there and its code is reviewed with the config")
