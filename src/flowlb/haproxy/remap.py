"""Run an operator's own ``haproxy.cfg`` against the test cluster.

The config is read once into the :mod:`~flowlb.haproxy.config` model, sized into a
:class:`~flowlb.haproxy.plan.ClusterPlan` (one mock node per distinct Flow host) and mapped onto a
:class:`~flowlb.haproxy.layout.Layout`:

* ``bind`` addresses: the five LB ports to the layout's LB addresses, every other port (stats
  listeners, exporters, ``monitor-uri``) to a loopback port of its own, UNIX sockets into the run's
  directory; ``crt``/``crt-list`` to the test certificate, a missing ``ca-file`` to the test CA;
* ``server`` addresses to their node (web, Flow server or STOMP port by the port they name), a
  ``port``/``addr`` check target likewise; ports no node serves, and servers that are not Flow
  nodes, to a loopback port where nothing listens (what a wrong ``check port`` meets in production);
* anything that would send traffic off this machine to loopback or out: ``log`` in every section,
  nameservers, peers, mailers, ring servers, ``dispatch``, ``agent-addr``, the ACME directory;
  ``socks4``, ``source``, ``namespace``, check ``connect addr`` dropped; ``option http_proxy``,
  ``option transparent``, ``set-dst``, SPOE and OCSP updates commented out; a loopback
  ``resolvers default`` added for a config that may resolve names;
* every line that runs code here (:mod:`~flowlb.haproxy.sandbox`) commented out; ``stats socket``
  to the harness's runtime API, and what stops HAProxy running as a test process (``daemon``,
  ``chroot``, ``user``, ``pidfile``, files that are not here) commented out.

Keywords are matched on HAProxy's own reading of each word (:mod:`~flowlb.haproxy.words`). The lines
kept from running code or reaching out are :attr:`RemapResult.disarmed`, named in every run's report.

Every other byte stays as written, and no line moves: a missing ``stats socket`` goes into a
``global`` section appended at the end, so HAProxy's "line N" is the operator's line N::

    result = remap_config(parsed(Path("haproxy.cfg").read_text()), spec, layout)
    result.text                      # what HAProxy runs
    print(result.relevant_lines())   # each rewritten line next to what it was
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from flowlb.errors import FlowlbError
from flowlb.haproxy.config import HAProxyConfig, Line, Server, looks_like_address, model_of, parse_address
from flowlb.haproxy.layout import Layout, ServerAddress
from flowlb.haproxy.plan import ClusterPlan
from flowlb.haproxy.sandbox import COMMENT_OUT, code_lines
from flowlb.haproxy.words import Token
from flowlb.inputs import read_input
from flowlb.spec import ClusterSpec

HARNESS_COMMENT = "# flowlb harness: runtime API for evidence"
RESOLVERS_COMMENT = "# flowlb harness: HAProxy's automatic `default` resolvers, kept on loopback"
PROXIES = ("defaults", "frontend", "backend", "listen")

# global keywords a test process cannot honour, and why
_NEUTRALISED = {
    "daemon": "a test process stays in the foreground",
    "chroot": "a test process does not chroot",
    "user": "a test process does not switch user",
    "group": "a test process does not switch group",
    "uid": "a test process does not switch user",
    "gid": "a test process does not switch group",
    "pidfile": "a test process writes no pidfile",
    "unix-bind": "the run's UNIX sockets stay in its own directory",
}
# bind options that name this machine's interfaces or namespaces, which the test cluster does not have
_BIND_MACHINE_OPTIONS = ("interface", "namespace")
_LOG_OPTIONS = ("len", "format", "sample")
_FACILITIES = frozenset(
    {
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2", "ftp", "ntp",
        "audit", "alert", "cron2", *(f"local{n}" for n in range(8)),
    }
)  # fmt: skip
_NEEDS_QUOTES = re.compile(r"[\s#'\"\\$]")
_FILE_OPTIONS = ("ca-file", "crl-file", "ca-verify-file")
_RULES = ("http-request", "http-response", "http-after-response", "tcp-request", "tcp-response")
_DESTINATION_ACTIONS = frozenset({"set-dst", "set-dst-port"})


@dataclass(frozen=True)
class Change:
    """One rewritten line: its number (the same in the original and the output), before, after, why.

    An added line has ``original == ""``.
    """

    line: int
    original: str
    new: str
    why: str


@dataclass(frozen=True)
class RemapResult:
    """The rewritten config, every line that differs from the operator's, and the extra listeners."""

    text: str
    changes: tuple[Change, ...]
    extra_listeners: tuple[ExtraListener, ...] = ()
    unavailable: tuple[str, ...] = ()
    after_start: tuple[str, ...] = ()  # runtime API commands the harness sends once HAProxy answers
    disarmed: tuple[Change, ...] = ()  # lines changed because they would run code here or reach off the machine
    health_checks_changed: str = ""  # why servers are not checked as the config says (empty: they are)

    def relevant_lines(self) -> str:
        """The rewritten lines as ``NN: new   (was: old)``, to print next to a failed check."""
        width = max((len(str(c.line)) for c in self.changes), default=1)
        return "\n".join(
            f"{c.line:>{width}}: {c.new.strip()}   " + (f"(was: {c.original.strip()})" if c.original else "(added)")
            for c in self.changes
        )

    def disarmed_lines(self) -> list[str]:
        """``line N: `text`: why`` per line changed so that it runs no code and reaches nothing off this machine."""
        return [f"line {change.line}: `{change.original.strip()}`: {change.why}" for change in self.disarmed]


@dataclass(frozen=True)
class ExtraListener:
    """A bind on a port outside the five LB roles: where it was, what section, and its test port."""

    port: int
    original: str
    section: str
    line: int
    tls: bool


def remap_config(config: HAProxyConfig | str, spec: ClusterSpec, layout: Layout,
                 source: str = "haproxy.cfg") -> RemapResult:
    """``config`` (its model, or its text) with its addresses, certificates and process settings mapped onto
    ``layout``; a pure function of its arguments.

    ``spec`` gives the LB and node ports; the layout's servers are the plan's nodes
    (:meth:`ClusterPlan.of`). Raises :class:`FlowlbError` (``"<source>:<line>: <problem>"``) for
    what cannot be mapped.
    """
    return _Remapper(model_of(config), spec, layout, source).run()


def read_config_file(path: Path) -> str:
    """An operator's config file as text; a one-line :class:`FlowlbError` when it cannot be read (see
    :func:`flowlb.inputs.read_input`: a regular file of bounded size)."""
    return read_input(path, "config")


def _host_and_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _quoted(word: str) -> str:
    if not _NEEDS_QUOTES.search(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


@dataclass
class _Edits:
    """The pending edits of one line, applied right to left so offsets stay valid."""

    line: Line
    edits: list[tuple[int, int, str]] = field(default_factory=list)
    whys: list[str] = field(default_factory=list)

    def edit(self, start: int, end: int, text: str, why: str = "") -> None:
        self.edits.append((start, end, text))
        if why:
            self.whys.append(why)

    def replace(self, token: Token, text: str, why: str) -> None:
        self.edit(token.start, token.end, text, why)

    def drop(self, first: int, last: int, why: str) -> None:
        """Remove words ``first``..``last`` and the blank before them."""
        tokens = self.line.tokens
        self.edit(tokens[first - 1].end, tokens[last].end, "", why)

    def append(self, text: str, why: str) -> None:
        end = self.line.tokens[-1].end
        self.edit(end, end, " " + text, why)

    def rewrite(self, content: str, why: str) -> None:
        """Replace everything from the keyword to the last word; indentation and comment stay."""
        self.edit(self.line.tokens[0].start, self.line.tokens[-1].end, content, why)

    def comment_out(self, why: str) -> None:
        start = self.line.tokens[0].start
        self.edit(start, start, COMMENT_OUT, why)

    def rewritten(self) -> str:
        body = self.line.body
        for start, end, text in sorted(self.edits, key=lambda e: (e[0], e[1]), reverse=True):
            body = body[:start] + text + body[end:]
        return body


class _Remapper:
    """One remapping: the config's lines, the rules applied to them, the errors they raise."""

    def __init__(self, config: HAProxyConfig, spec: ClusterSpec, layout: Layout, source: str) -> None:
        self.config, self.layout, self.source = config, layout, source
        try:
            self.plan = ClusterPlan.of(config, spec)
        except FlowlbError as exc:
            raise FlowlbError(f"{source}: {exc}") from None
        missing = [node for node in self.plan.nodes if node not in layout.servers]
        if missing:
            raise FlowlbError(f"{source}: the test cluster has no node for {', '.join(missing)}")
        self.lb_ports = spec.lb.ports.by_role()
        self.role_of_port = {port: role for role, port in self.lb_ports.items()}
        self.node_ports = {"web": spec.node_ports.web, "server": spec.node_ports.server, "stomp": spec.node_ports.stomp}
        self.kind_of_port: dict[int, str] = {}
        for kind, port in self.node_ports.items():
            self.kind_of_port.setdefault(port, kind)
        self.edits = {line.number: _Edits(line) for line in config.lines}
        self.extra: list[ExtraListener] = []
        self.unavailable: list[str] = []
        self.disarmed: set[int] = set()
        self.health_checks_changed = ""
        self.commands: list[str] = []
        self.spare = iter(layout.spare_ports)
        glob = config.global_section()
        base = glob.own("ca-base") if glob else []
        self.ca_base = Path(base[-1].value(1)) if base else None

    def fail(self, line: Line, problem: str) -> NoReturn:
        raise FlowlbError(f"{self.source}:{line.number}: {problem}")

    def run(self) -> RemapResult:
        bind_roles = self.plan_binds()
        servers = {(s.line.number, s.name): s for s in self.config.servers()}
        code = self.disarm()
        sockets = 0
        for line in self.config.lines:
            if not line.tokens or line.number in code:
                continue
            edits = self.edits[line.number]
            if line.keyword in ("log", "log-stderr"):
                self.contain(line, self.log)
            elif line.number in bind_roles:
                self.bind(line, bind_roles[line.number])
            elif line.keyword == "server" and line.section in ("backend", "listen"):
                server = servers.get((line.number, line.value(1)))
                if server is not None:
                    self.server(server)
            elif line.keyword == "server-template" and line.section in ("backend", "listen"):
                self.template(line, [s for (n, _), s in servers.items() if n == line.number])
            elif line.section == "global":
                sockets += self.global_line(line, sockets)
            elif line.section in PROXIES:
                self.proxy_line(line)
            elif line.section in ("resolvers", "peers", "mailers", "ring", "log-forward", "acme", "crt-store"):
                self.contain(line, self.off_box)
            if line.section in (*PROXIES, "healthcheck", "global"):
                self.contain(line, self.outbound)
            if line.keyword == "errorfile":
                self.missing_file(line, 2, "errorfile")
            self.file_options(line, edits)
        return self.result(add_socket=sockets == 0 and self.layout.runtime_socket is not None)

    def contain(self, line: Line, rule: Callable[[Line], None]) -> None:
        """Apply ``rule`` to ``line``; a line it changes is one kept from reaching off this machine (reported)."""
        before = len(self.edits[line.number].edits)
        rule(line)
        if len(self.edits[line.number].edits) > before:
            self.disarmed.add(line.number)

    def disarm(self) -> set[int]:
        """Comment out every line that would run code here (:mod:`~flowlb.haproxy.sandbox`); their numbers."""
        numbers: set[int] = set()
        for code in code_lines(self.config):
            self.edits[code.line.number].comment_out(code.why)
            numbers.add(code.line.number)
            self.disarmed.add(code.line.number)
            if code.others_may_need_it:
                self.unavailable.append(f"line {code.line.number} `{code.line.text}` {code.what}, and flowlb runs "
                                        "no code from the config under test")
            if code.changes_health_checks and not self.health_checks_changed:
                self.health_checks_changed = (f"line {code.line.number} `{code.line.text}` makes health checks run "
                                              "a program, which flowlb does not run: servers are not checked as "
                                              "the config says")
        return numbers

    def result(self, add_socket: bool) -> RemapResult:
        changes: list[Change] = []
        appended = self.default_resolvers()
        out: list[str] = []
        for line in self.config.lines:
            edits = self.edits[line.number]
            new = edits.rewritten()
            if new != line.body:
                changes.append(Change(line.number, line.body, new, "; ".join(edits.whys)))
            out.append(new + line.eol)
        text = "".join(out)
        if add_socket:
            eol = "\r\n" if self.config.lines[0].eol == "\r\n" else "\n"
            if text and not text.endswith("\n"):
                text += eol
            first = text.count("\n") + 1
            added = [HARNESS_COMMENT, "global", f"  stats socket {self.socket_words()}"]
            why = "no `stats socket`: the harness reads evidence there"
            changes += [Change(first + i, "", new, why) for i, new in enumerate(added)]
            text += "".join(new + eol for new in added)
        if appended:
            eol = "\r\n" if self.config.lines[0].eol == "\r\n" else "\n"
            if text and not text.endswith("\n"):
                text += eol
            first = text.count("\n") + 1
            why = ("no `resolvers default`: HAProxy would make one from this machine's /etc/resolv.conf for "
                   "`do-resolve` and its HTTP client, and query real nameservers")
            changes += [Change(first + i, "", new, why) for i, new in enumerate(appended)]
            text += "".join(new + eol for new in appended)
        disarmed = tuple(c for c in changes if c.line in self.disarmed and c.original)
        return RemapResult(text, tuple(changes), tuple(self.extra), tuple(self.unavailable), tuple(self.commands),
                           disarmed, self.health_checks_changed)

    def default_resolvers(self) -> list[str]:
        """The lines of a loopback-only ``resolvers default``, for a config that may query HAProxy's automatic one
        (made from this machine's /etc/resolv.conf) and does not define its own."""
        if not self.layout.harness or any(s.name == "default" for s in self.config.of_kind("resolvers")):
            return []
        if not any(_may_resolve(line.words) for line in self.config.lines):
            return []
        return [RESOLVERS_COMMENT, "resolvers default", f"  nameserver flowlb-nowhere {self.nowhere()}"]

    def socket_words(self) -> str:
        return f"{_quoted(self.layout.runtime_socket or '')} mode 600 level admin"

    def spare_port(self, line: Line) -> int:
        port = next(self.spare, None)
        if port is None:
            self.fail(line, f"more than {len(self.layout.spare_ports)} loopback addresses needed")
        return port

    def nowhere(self) -> str:
        """A loopback address where nothing listens."""
        return f"127.0.0.1:{self.layout.dead_port}"

    # -- bind ------------------------------------------------------------------------------------

    def plan_binds(self) -> dict[int, list[str]]:
        """The LB role(s) (or ``extra:PORT``) each ``bind`` line in a frontend or listen section takes."""
        binds = [ln for ln in self.config.lines if ln.keyword == "bind" and ln.section in ("frontend", "listen")]
        roles = {ln.number: self.bind_roles(ln) for ln in binds if looks_like_address(ln.value(1))}
        taken = {role for line_roles in roles.values() for role in line_roles}
        for line in binds:
            if line.number in roles:
                continue
            free = [role for role in self.lb_ports if role not in taken]
            if len(free) != 1:
                example = " ".join(["bind", ":443", line.raw(1)] if len(line.tokens) > 1 else ["bind", ":443"])
                self.fail(line, f"bind without an address: cannot tell which LB port it is; write e.g. `{example}`")
            roles[line.number] = free
            taken.add(free[0])
        self.one_section_per_role(binds, roles)
        return roles

    def bind_roles(self, line: Line) -> list[str]:
        roles: list[str] = []
        for text in line.value(1).split(","):
            address = parse_address(text)
            if address is None:
                self.fail(line, f"bind address {text} is not one flowlb can map onto the test cluster")
            if address.is_socket:
                role = "socket"
            elif address.port is None:
                self.fail(line, f"bind address {text!r} has no single port (a range or a variable)")
            else:
                role = self.role_of_port.get(address.port, f"extra:{address.port}")
            if role not in roles:
                roles.append(role)
        return roles

    def one_section_per_role(self, binds: list[Line], roles: dict[int, list[str]]) -> None:
        """Two sections on one LB port would share one test address: refuse rather than split traffic."""
        owner: dict[str, Line] = {}
        for line in binds:
            for role in roles[line.number]:
                if role == "socket":
                    continue
                first = owner.setdefault(role, line)
                if (first.section, first.section_name) != (line.section, line.section_name):
                    port = self.lb_ports.get(role) or role.removeprefix("extra:")
                    self.fail(
                        line,
                        f"port {port} is also bound by {first.section} {first.section_name} (line {first.number}); "
                        "the test cluster has one address per port",
                    )

    def bind(self, line: Line, roles: list[str]) -> None:
        edits = self.edits[line.number]
        if looks_like_address(line.value(1)):
            new = [self.bind_address(line, text) for text in line.value(1).split(",")]
            edits.replace(line.tokens[1], ",".join(new), f"bind {line.value(1)} -> test address {','.join(new)}")
            options = 2
        else:
            new_address = self.layout.binds[roles[0]]
            why = f"bind without an address -> test port for role {roles[0]} (the one LB port no other bind takes)"
            edits.edit(line.tokens[0].end, line.tokens[0].end, " " + new_address, why)
            options = 1
        self.bind_options(line, options)
        self.certificates(line, options)

    def bind_address(self, line: Line, text: str) -> str:
        address = parse_address(text)
        assert address is not None  # plan_binds refused the others
        if address.is_socket:
            if text.lower().startswith(("abns@", "abnsz@", "fd@", "sockpair@")):
                return text
            return f"{self.layout.socket_dir}/bind-{line.number}.sock"
        assert address.port is not None
        role = self.role_of_port.get(address.port)
        if role is not None:
            return self.layout.binds[role]
        new = self.layout.extra_binds.get(address.port)
        if new is None:
            self.fail(line, f"bind port {address.port} has no test address (the plan did not list it)")
        self.extra.append(ExtraListener(address.port, text, f"{line.section} {line.section_name}", line.number,
                                        "ssl" in line.words))
        return new

    def bind_options(self, line: Line, first: int) -> None:
        """Options naming this machine's interfaces, namespaces or address family go: the test bind is IPv4."""
        edits, words, i = self.edits[line.number], line.words, first
        while i < len(words):
            if words[i] in _BIND_MACHINE_OPTIONS and i + 1 < len(words):
                edits.drop(i, i + 1, f"`{words[i]} {words[i + 1]}` names a production interface")
                i += 2
                continue
            if words[i] in ("v4v6", "v6only"):
                edits.drop(i, i, f"`{words[i]}`: the test address is IPv4")
            i += 1

    def certificates(self, line: Line, first: int) -> None:
        """``crt X`` -> the test certificate; ``crt-list X`` -> ``crt <it>``; further ones dropped."""
        cert = _quoted(self.layout.cert_path)
        edits, replaced, i = self.edits[line.number], False, first
        while i + 1 < len(line.tokens):
            keyword, path = line.tokens[i], line.tokens[i + 1]
            if keyword.value not in ("crt", "crt-list"):
                i += 1
                continue
            if replaced:
                edits.edit(line.tokens[i - 1].end, path.end, "", f"second certificate {path.value} dropped")
            else:
                why = f"{keyword.value} {path.value} -> the test certificate"
                edits.edit(keyword.start, path.end, f"crt {cert}", why)
                replaced = True
            i += 2

    def file_options(self, line: Line, edits: _Edits) -> None:
        """``ca-file``/``crl-file`` that do not exist here: the test CA, or no CRL."""
        words = line.words
        for index in range(1, len(words) - 1):
            if words[index] not in _FILE_OPTIONS or self.exists(words[index + 1], self.ca_base):
                continue
            if words[index] == "crl-file":
                edits.drop(index, index + 1, f"crl-file {words[index + 1]} does not exist here")
            else:
                edits.replace(line.tokens[index + 1], _quoted(self.layout.ca_path),
                              f"{words[index]} {words[index + 1]} -> the test CA")

    @staticmethod
    def exists(path: str, base: Path | None) -> bool:
        candidate = Path(path)
        if not candidate.is_absolute() and base is not None:
            candidate = base / candidate
        return candidate.exists()

    # -- server ----------------------------------------------------------------------------------

    def server(self, server: Server) -> None:
        line, edits = server.line, self.edits[server.line.number]
        at = 3 if server.template else 2
        if len(line.tokens) <= at:
            self.fail(line, f"server {server.name} has no address")
        node = self.plan.node_of.get((server.proxy.name, server.name))
        address = line.tokens[at]
        if node is None:
            edits.replace(address, self.nowhere(), f"server {server.name} {address.value} is no Flow node port -> "
                          "a loopback port where nothing listens")
            self.check_target(server, None)
            return
        kind = self.plan.kind_of[(server.proxy.name, server.name)]
        node_address = self.layout.servers[node]
        new = _host_and_port(node_address.host, self.node_port(node_address, kind))
        edits.replace(address, new, f"server {server.name} {address.value} -> node {node}'s {kind} port")
        self.check_target(server, node_address)

    def template(self, line: Line, servers: list[Server]) -> None:
        """``server-template``: the line goes to the first server's node; the others are moved to their own
        nodes through the runtime API once HAProxy runs, as DNS would give each its own address."""
        if not servers:
            self.fail(line, "server-template needs a name prefix, a count and an address")
        self.server(servers[0])
        for server in servers[1:]:
            node = self.plan.node_of.get((server.proxy.name, server.name))
            if node is None:
                continue
            address = self.layout.servers[node]
            port = self.node_port(address, self.plan.kind_of[(server.proxy.name, server.name)])
            where = f"{server.proxy.name}/{server.name}"
            self.commands.append(f"set server {where} addr {address.host} port {port}")
            inherited = _connect_port(server) or server.check_port
            if inherited is not None:
                self.commands.append(f"set server {where} check-port {self.check_port(line, str(inherited), address)}")

    def check_target(self, server: Server, node: ServerAddress | None) -> None:
        """``port``/``addr`` on the line, or inherited from ``default-server``: explicit, and mapped."""
        line, edits, words = server.line, self.edits[server.line.number], server.line.words
        own_port = False
        first = 4 if server.template else 3
        self.contain(line, lambda ln: self.server_options(ln, first))
        for index in range(first, len(words) - 1):
            if words[index] == "port":
                own_port = True
                new = self.check_port(line, words[index + 1], node)
                edits.replace(line.tokens[index + 1], new, f"port {words[index + 1]} -> {new}")
            elif words[index] == "addr":
                host = _quoted(node.host) if node is not None else "127.0.0.1"
                edits.replace(line.tokens[index + 1], host, f"addr {words[index + 1]} -> {host}")
        inherited = _connect_port(server) or server.check_port
        if not own_port and inherited is not None:
            new = self.check_port(line, str(inherited), node)
            edits.append(f"port {new}", f"inherited check port {inherited} -> {new} on this server")

    def check_port(self, line: Line, word: str, node: ServerAddress | None) -> str:
        if not word.isdigit():
            self.fail(line, f"{word!r} is not a port number")
        kind = self.kind_of_port.get(int(word))
        if node is None or kind is None:
            return str(self.layout.dead_port)
        return str(self.node_port(node, kind))

    @staticmethod
    def node_port(address: ServerAddress, kind: str) -> int:
        return {"web": address.web_port, "server": address.server_port, "stomp": address.stomp_port}[kind]

    # -- global, defaults, proxies and the sections that talk to other machines ------------------

    def global_line(self, line: Line, sockets: int) -> int:
        """Apply the ``global`` rules to ``line``; 1 when it is a ``stats socket``."""
        edits = self.edits[line.number]
        if line.keyword == "stats" and line.value(1) == "socket":
            if self.layout.runtime_socket is None:
                return 1
            if sockets == 0:
                self.stats_socket(line, self.layout.runtime_socket, "the harness's runtime API socket")
            else:
                path = f"{self.layout.socket_dir}/stats-{line.number}.sock"
                self.stats_socket(line, path, "a socket in the run's directory")
            return 1
        if line.keyword in _NEUTRALISED:
            edits.comment_out(f"{line.keyword}: {_NEUTRALISED[line.keyword]}")
        elif line.keyword == "ssl-dh-param-file" and not self.exists(line.value(1), None):
            edits.comment_out(f"{line.value(1)} does not exist here")
        elif line.keyword in ("maxconn", "ulimit-n") and line.value(1).isdigit():
            self.file_limit(line)
        elif line.keyword.endswith("-ciphers") and line.value(1).startswith("PROFILE="):
            edits.comment_out(f"{line.value(1)} is a crypto-policies profile only Fedora/RHEL's OpenSSL knows; "
                              "the test LB uses OpenSSL's defaults")
        elif line.keyword == "server-state-file" and line.value(1):
            self.edits[line.number].replace(line.tokens[1], _quoted(f"{self.layout.socket_dir}/server-state"),
                                            "server state goes to the run's directory, where reloads read it")
        elif line.keyword == "server-state-base" and line.value(1):
            self.edits[line.number].replace(line.tokens[1], _quoted(self.layout.socket_dir),
                                            "server state goes to the run's directory, where reloads read it")
        return 0

    def file_limit(self, line: Line) -> None:
        """A global ``maxconn``/``ulimit-n`` this machine cannot give (HAProxy needs about 2 files a connection)."""
        limit = self.layout.max_open_files
        value = int(line.value(1))
        needed = 2 * value + 100 if line.keyword == "maxconn" else value
        if limit is None or needed <= limit:
            return
        fits = (limit - 100) // 2 if line.keyword == "maxconn" else limit
        self.edits[line.number].replace(line.tokens[1], str(fits), f"{line.keyword} {value} needs more open files "
                                        f"than this machine allows ({limit}); the test LB never needs that many")

    def stats_socket(self, line: Line, path: str, what: str) -> None:
        """The address goes to ``path``, the level to admin (the harness drains and restores servers)."""
        edits = self.edits[line.number]
        edits.replace(line.tokens[2], _quoted(path), f"stats socket -> {what}")
        words = line.words
        if "level" in words[3:-1]:
            index = words.index("level", 3)
            if words[index + 1] != "admin":
                edits.replace(line.tokens[index + 1], "admin", "level admin: the harness changes server states")
        else:
            edits.append("level admin", "level admin: the harness changes server states")

    def proxy_line(self, line: Line) -> None:
        edits = self.edits[line.number]
        if line.keyword == "source" and len(line.tokens) > 1:
            edits.comment_out(f"source {line.value(1)}: a production address this machine does not have")
        elif line.keyword == "default-server":
            for index in range(1, len(line.tokens) - 1):
                if line.value(index) in ("port", "addr"):
                    edits.drop(index, index + 1, f"default-server {line.value(index)}: set on each server instead")
        elif line.keyword in ("http-check", "tcp-check") and line.value(1) == "connect":
            for index in range(2, len(line.tokens) - 1):
                if line.value(index) == "port":
                    edits.drop(index, index + 1, f"{line.keyword} connect port {line.value(index + 1)}: "
                               "set on each server instead (each test node has its own ports)")

    def off_box(self, line: Line) -> None:
        """Nameservers, peers, mailers, ring servers, ACME: loopback, so nothing leaves this machine."""
        edits = self.edits[line.number]
        if line.keyword in ("nameserver", "peer", "mailer", "server") and len(line.tokens) > 2:
            target = line.tokens[2]
            new = f"127.0.0.1:{self.spare_port(line)}" if line.keyword == "peer" else self.nowhere()
            edits.replace(target, new, f"{line.keyword} {target.value} -> {new} (nothing leaves this machine)")
            if line.keyword == "server":
                self.server_options(line, 3)
        elif line.keyword == "parse-resolv-conf":
            edits.rewrite(f"nameserver flowlb-resolv-conf {self.nowhere()}",
                          "parse-resolv-conf: this machine's nameservers are off the machine; one on loopback instead")
        elif line.keyword in ("bind", "dgram-bind") and len(line.tokens) > 1:
            edits.replace(line.tokens[1], f"127.0.0.1:{self.spare_port(line)}", f"{line.keyword} -> loopback")
        elif line.keyword == "directory" and line.section == "acme" and len(line.tokens) > 1:
            new = f"https://{self.nowhere()}/directory"
            edits.replace(line.tokens[1], new, f"ACME directory {line.value(1)} -> {new} (nothing leaves this machine)")
        elif line.keyword == "backing-file" and line.section == "ring":
            edits.comment_out(f"backing-file {line.value(1)}: the test LB writes no file outside its run")
        elif line.keyword == "load" and line.section == "crt-store":
            self.drop_option(line, "ocsp-update", 1, "HAProxy would fetch OCSP responses from off this machine")

    def outbound(self, line: Line) -> None:
        """What in a proxy makes HAProxy connect somewhere other than its servers: disabled or moved to loopback."""
        edits, words = self.edits[line.number], line.words
        if line.section == "global":
            if line.keyword in ("ocsp-update.mode", "ocsp-update.httpproxy"):
                edits.comment_out(f"{line.keyword}: HAProxy would fetch OCSP responses from the certificates' "
                                  "responders, off this machine")
        elif line.keyword == "ssl-f-use":
            self.drop_option(line, "ocsp-update", 1, "HAProxy would fetch OCSP responses from off this machine")
        elif line.keyword == "dispatch" and len(line.tokens) > 1:
            edits.replace(line.tokens[1], self.nowhere(), f"dispatch {line.value(1)} -> {self.nowhere()} (nothing "
                          "leaves this machine)")
        elif line.starts("option", "http_proxy") or line.starts("option", "transparent"):
            edits.comment_out(f"option {line.value(1)}: HAProxy would connect wherever the client asks, not to the "
                              "test cluster")
        elif line.keyword in _RULES and _DESTINATION_ACTIONS & set(words[1:3]):
            action = next(word for word in words[1:3] if word in _DESTINATION_ACTIONS)
            edits.comment_out(f"{action} chooses where HAProxy connects: it would leave the test cluster")
        elif line.starts("filter", "spoe") or (line.keyword in _RULES and "send-spoe-group" in words[1:3]):
            edits.comment_out("SPOE talks to agents set in another file (with their own `log` targets), which flowlb "
                              "does not remap")
        elif line.keyword == "default-server":
            self.server_options(line, 1)
        elif line.keyword in ("http-check", "tcp-check") and line.value(1) == "connect":
            self.drop_option(line, "addr", 2, "the check goes to each server's test address instead")
            self.drop_flag(line, "via-socks4", 2, "no SOCKS4 proxy is reached from the test cluster")

    def server_options(self, line: Line, first: int) -> None:
        """``socks4``, ``source``, ``namespace``, ``agent-addr``/``agent-port`` on a server or default-server line."""
        edits, words, i = self.edits[line.number], line.words, first
        while i < len(words):
            word, value = words[i], words[i + 1] if i + 1 < len(words) else ""
            if word in ("socks4", "namespace") and value:
                edits.drop(i, i + 1, f"{word} {value}: nothing leaves this machine")
                i += 2
            elif word == "check-via-socks4":
                edits.drop(i, i, "check-via-socks4: the server's SOCKS4 proxy is dropped")
                i += 1
            elif word == "source" and value:
                last = _source_end(words, i)
                edits.drop(i, last, f"{' '.join(words[i : last + 1])}: a production address this machine lacks")
                i = last + 1
            elif word == "agent-addr" and value:
                edits.replace(line.tokens[i + 1], "127.0.0.1", f"agent-addr {value} -> 127.0.0.1")
                i += 2
            elif word == "agent-port" and value:
                new = str(self.layout.dead_port)
                edits.replace(line.tokens[i + 1], new, f"agent-port {value} -> {new}, where nothing listens")
                i += 2
            else:
                i += 1

    def drop_option(self, line: Line, option: str, first: int, why: str) -> None:
        """Remove ``option VALUE`` (words from ``first`` on) from ``line``."""
        words = line.words
        for index in range(first, len(words) - 1):
            if words[index] == option:
                self.edits[line.number].drop(index, index + 1, f"{option} {words[index + 1]}: {why}")

    def drop_flag(self, line: Line, flag: str, first: int, why: str) -> None:
        for index in range(first, len(line.words)):
            if line.words[index] == flag:
                self.edits[line.number].drop(index, index, f"{flag}: {why}")

    def log(self, line: Line) -> None:
        """``log ADDRESS [len N] [format F] [sample S] FACILITY [LEVEL...]`` -> the layout's target, in every
        section (``log-stderr`` of a ``fcgi-app`` likewise)."""
        if len(line.tokens) < 2 or line.value(1) == "global":
            return
        target = self.layout.log_target.split()
        facility = target.pop() if len(target) > 1 and target[-1] in _FACILITIES else ""
        words, i = [line.keyword, *target], 2
        while i + 1 < len(line.tokens) and line.value(i) in _LOG_OPTIONS:
            if not (line.value(i) == "format" and "format" in target):
                words.append(line.raw(i, i + 1))
            i += 2
        words.append(line.raw(i) if i < len(line.tokens) else facility)
        self.edits[line.number].rewrite(" ".join(w for w in words if w), f"log {line.value(1)} -> the harness's log")

    def missing_file(self, line: Line, index: int, what: str) -> None:
        path = line.value(index)
        if path and not self.exists(path, None):
            self.edits[line.number].comment_out(f"{what} {path} does not exist here")


def _may_resolve(words: tuple[str, ...]) -> bool:
    """A line that may send DNS queries through a resolvers section (``do-resolve``, ``resolvers X``)."""
    return any(word.startswith("do-resolve") or word in ("resolvers", "httpclient.resolvers.id") for word in words)


def _source_end(words: tuple[str, ...], index: int) -> int:
    """The last word of ``source ADDR [usesrc X] [interface Y]`` starting at ``index``."""
    last = index + 1
    while last + 2 < len(words) and words[last + 1] in ("usesrc", "interface"):
        last += 2
    return min(last, len(words) - 1)


def _connect_port(server: Server) -> int | None:
    """The port of the proxy's (or its defaults') ``http-check connect port N`` / ``tcp-check connect port N``."""
    for keyword in ("http-check", "tcp-check"):
        for line in server.proxy.effective(keyword, "connect"):
            port = line.after("port", 2)
            if port is not None and port.isdigit():
                return int(port)
    return None
