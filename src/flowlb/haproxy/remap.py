"""Run an operator's own ``haproxy.cfg`` against the test cluster.

The config is mapped onto a :class:`~flowlb.haproxy.layout.Layout`: ``bind`` addresses become the
layout's LB addresses (by port: ``:443`` is the ``https`` role), ``server`` addresses become the nodes'
(by name when a server is named like a node, else by order), ``crt``/``crt-list`` become the test
certificate, ``stats socket`` and ``log`` point where the harness reads evidence, and what stops HAProxy
running as a test process (``daemon``, ``chroot``, ``user``, ``pidfile``, missing ``errorfile``) is
commented out. Every other byte stays as written, and no line moves: a missing ``stats socket`` goes
into a ``global`` section appended at the end, so HAProxy's "line N" is the operator's line N::

    result = remap_config(Path("haproxy.cfg").read_text(), spec, layout)
    result.text                      # what HAProxy runs
    print(result.relevant_lines())   # each rewritten line next to what it was

Left as written on purpose: ``ca-file``/``crl-file`` (client certificates), TLS towards the servers
(the mock nodes speak plain text: the checks will say so), ``resolvers``, ``nbproc``/``nbthread``, and
every section other than ``global``, ``defaults``, ``frontend``, ``backend`` and ``listen``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from flowlb.errors import FlowlbError
from flowlb.haproxy.layout import Layout, ServerAddress
from flowlb.spec import ClusterSpec

SECTIONS = frozenset(
    {
        "global", "defaults", "frontend", "backend", "listen",
        # opaque: nothing in them is rewritten but `errorfile`
        "resolvers", "peers", "userlist", "program", "cache", "ring", "http-errors", "mailers",
        "log-forward", "crt-store", "traces",
    }
)  # fmt: skip
PROXIES = ("defaults", "frontend", "backend", "listen")
HARNESS_COMMENT = "# flowlb harness: runtime API for evidence"
COMMENT_OUT = "# flowlb: "

# global keywords a test process cannot honour, and why
_NEUTRALISED = {
    "daemon": "a test process stays in the foreground",
    "chroot": "a test process does not chroot",
    "user": "a test process does not switch user",
    "group": "a test process does not switch group",
    "uid": "a test process does not switch user",
    "gid": "a test process does not switch group",
    "pidfile": "a test process writes no pidfile",
}
_TCP_PREFIXES = ("ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@")
_LOG_OPTIONS = ("len", "format", "sample")
_FACILITIES = frozenset(
    {
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2", "ftp", "ntp",
        "audit", "alert", "cron2", *(f"local{n}" for n in range(8)),
    }
)  # fmt: skip
_NEEDS_QUOTES = re.compile(r"[\s#'\"\\$]")


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
    """The rewritten config and every line that differs from the operator's."""

    text: str
    changes: tuple[Change, ...]

    def relevant_lines(self) -> str:
        """The rewritten lines as ``NN: new   (was: old)``, to print next to a failed check."""
        width = max((len(str(c.line)) for c in self.changes), default=1)
        return "\n".join(
            f"{c.line:>{width}}: {c.new.strip()}   " + (f"(was: {c.original.strip()})" if c.original else "(added)")
            for c in self.changes
        )


def remap_config(text: str, spec: ClusterSpec, layout: Layout, source: str = "haproxy.cfg") -> RemapResult:
    """``text`` with its addresses, certificates and process settings mapped onto ``layout``.

    Raises :class:`FlowlbError` (``"<source>:<line>: <problem>"``) for what cannot be mapped.
    """
    return _Remapper(text, spec, layout, source).run()


def config_source(path: Path, spec: ClusterSpec) -> Callable[[Layout], str]:
    """A target's config source that runs the operator's file at ``path``, remapped for each layout.

    The file is read once, and remapped once at once against the spec's own layout, so that a config
    that cannot be mapped fails here rather than after the target has started its nodes.
    """
    text = read_config_file(path)
    remap_config(text, spec, Layout.for_spec(spec), str(path))
    return lambda layout: remap_config(text, spec, layout, str(path)).text


def read_config_file(path: Path) -> str:
    """An operator's config file as text; a one-line :class:`FlowlbError` when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FlowlbError(f"{path}: no such file") from None
    except OSError as exc:
        raise FlowlbError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise FlowlbError(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}") from None


# -- reading the config ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    value: str  # without quotes and escapes


@dataclass
class _Line:
    number: int
    body: str
    eol: str
    tokens: list[_Token]
    section: str = ""
    section_name: str = ""
    edits: list[tuple[int, int, str]] = field(default_factory=list)
    whys: list[str] = field(default_factory=list)

    @property
    def keyword(self) -> str:
        return self.tokens[0].value if self.tokens else ""

    def value(self, index: int) -> str:
        return self.tokens[index].value if index < len(self.tokens) else ""

    def raw(self, first: int, last: int | None = None) -> str:
        """The original text of tokens ``first`` to ``last`` (inclusive; default: the last token)."""
        end = self.tokens[-1 if last is None else last].end
        return self.body[self.tokens[first].start : end]

    def edit(self, start: int, end: int, text: str, why: str = "") -> None:
        self.edits.append((start, end, text))
        if why:
            self.whys.append(why)

    def rewrite(self, content: str, why: str) -> None:
        """Replace everything from the keyword to the last word; indentation and comment stay."""
        self.edit(self.tokens[0].start, self.tokens[-1].end, content, why)

    def comment_out(self, why: str) -> None:
        self.edit(self.tokens[0].start, self.tokens[0].start, COMMENT_OUT, why)

    def rewritten(self) -> str:
        body = self.body
        for start, end, text in sorted(self.edits, reverse=True):
            body = body[:start] + text + body[end:]
        return body


def _tokens(body: str) -> list[_Token]:
    """HAProxy's words: blanks separate, ``\\`` escapes, quotes group, an unquoted ``#`` ends the line."""
    tokens: list[_Token] = []
    i, n = 0, len(body)
    while True:
        while i < n and body[i] in " \t":
            i += 1
        if i >= n or body[i] == "#":
            return tokens
        start, quote = i, ""
        value: list[str] = []
        while i < n and (quote or body[i] not in " \t#"):
            char = body[i]
            if char == quote:
                quote = ""
            elif not quote and char in "'\"":
                quote = char
            elif char == "\\" and quote != "'" and i + 1 < n:
                i += 1
                value.append(body[i])
            else:
                value.append(char)
            i += 1
        tokens.append(_Token(start, i, "".join(value)))


def _parse(text: str) -> list[_Line]:
    lines: list[_Line] = []
    section, name = "", ""
    parts = text.split("\n")
    for index, part in enumerate(parts):
        eol = "\n" if index < len(parts) - 1 else ""
        body = part
        if body.endswith("\r"):
            body, eol = body[:-1], "\r" + eol
        line = _Line(index + 1, body, eol, _tokens(body))
        if line.keyword in SECTIONS:
            section, name = line.keyword, line.value(1)
        line.section, line.section_name = section, name
        lines.append(line)
    return lines


# -- addresses -----------------------------------------------------------------------------------


def _host_port(address: str) -> tuple[str, str] | None:
    """The host and port text of a TCP address; ``None`` for a socket path or another family."""
    for prefix in _TCP_PREFIXES:
        if address.lower().startswith(prefix):
            address = address[len(prefix) :]
            break
    else:
        if "@" in address or address.startswith("/"):
            return None
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        return host, rest.removeprefix(":")
    host, _, port = address.rpartition(":") if ":" in address else (address, "", "")
    return host, port


def _looks_like_address(word: str) -> bool:
    """True for ``:443``, ``10.0.0.1:443``, ``ipv4@...``, ``/socket``; false for ``ssl`` in ``bind ssl crt``."""
    return any(c in word for c in ":@$") or word.startswith("/")


def _host_and_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _quoted(word: str) -> str:
    if not _NEEDS_QUOTES.search(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


# -- the rules -----------------------------------------------------------------------------------


class _Remapper:
    """One remapping: the config's lines, the rules applied to them, the errors they raise."""

    def __init__(self, text: str, spec: ClusterSpec, layout: Layout, source: str) -> None:
        self.layout, self.source = layout, source
        self.lines = _parse(text)
        self.lb_ports = spec.lb.ports.by_role()
        self.role_of_port = {port: role for role, port in self.lb_ports.items()}
        self.node_ports = {"web": spec.node_ports.web, "server": spec.node_ports.server, "stomp": spec.node_ports.stomp}
        self.kind_of_port: dict[int, str] = {}
        for kind, port in self.node_ports.items():
            self.kind_of_port.setdefault(port, kind)
        self.nodes = list(layout.servers)

    def fail(self, line: _Line, problem: str) -> NoReturn:
        raise FlowlbError(f"{self.source}:{line.number}: {problem}")

    def run(self) -> RemapResult:
        bind_roles = self.plan_binds()
        server_nodes = self.plan_servers()
        has_socket = False
        for line in self.lines:
            if not line.tokens:
                continue
            if line.number in bind_roles:
                self.bind(line, bind_roles[line.number])
            elif line.number in server_nodes:
                self.server(line, *server_nodes[line.number])
            elif line.section == "global":
                has_socket |= self.global_line(line)
            elif line.section in PROXIES:
                self.proxy_line(line)
            if line.keyword == "errorfile":
                self.errorfile(line)
        return self.result(add_socket=not has_socket and self.layout.runtime_socket is not None)

    def result(self, add_socket: bool) -> RemapResult:
        changes: list[Change] = []
        out: list[str] = []
        for line in self.lines:
            new = line.rewritten()
            if new != line.body:
                changes.append(Change(line.number, line.body, new, "; ".join(line.whys)))
            out.append(new + line.eol)
        text = "".join(out)
        if add_socket:
            eol = "\r\n" if self.lines[0].eol == "\r\n" else "\n"
            if text and not text.endswith("\n"):
                text += eol
            first = text.count("\n") + 1
            added = [HARNESS_COMMENT, "global", f"  stats socket {self.socket_words()}"]
            why = "no `stats socket`: the harness reads evidence there"
            changes += [Change(first + i, "", new, why) for i, new in enumerate(added)]
            text += "".join(new + eol for new in added)
        return RemapResult(text, tuple(changes))

    def socket_words(self) -> str:
        return f"{_quoted(self.layout.runtime_socket or '')} mode 600 level admin"

    # -- bind ------------------------------------------------------------------------------------

    def plan_binds(self) -> dict[int, list[str]]:
        """The LB role(s) each ``bind`` line in a frontend or listen section takes."""
        binds = [ln for ln in self.lines if ln.keyword == "bind" and ln.section in ("frontend", "listen")]
        roles = {ln.number: self.bind_roles(ln) for ln in binds if _looks_like_address(ln.value(1))}
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

    def bind_roles(self, line: _Line) -> list[str]:
        roles: list[str] = []
        for address in line.value(1).split(","):
            port = self.port(line, address, "bind")
            role = self.role_of_port.get(port)
            if role is None:
                known = ", ".join(f"{r}={p}" for r, p in self.lb_ports.items())
                self.fail(line, f"bind port {port} is not one of the cluster's LB ports ({known})")
            if role not in roles:
                roles.append(role)
        return roles

    def one_section_per_role(self, binds: list[_Line], roles: dict[int, list[str]]) -> None:
        """Two sections on one LB port would share one test address: refuse rather than split traffic."""
        owner: dict[str, _Line] = {}
        for line in binds:
            for role in roles[line.number]:
                first = owner.setdefault(role, line)
                if (first.section, first.section_name) != (line.section, line.section_name):
                    self.fail(
                        line,
                        f"LB port {self.lb_ports[role]} ({role}) is also bound by {first.section} "
                        f"{first.section_name} (line {first.number}); the test cluster has one address per LB port",
                    )

    def port(self, line: _Line, address: str, what: str) -> int:
        parts = _host_port(address)
        if parts is None:
            self.fail(line, f"{what} address {address} is not a TCP address; only TCP ports map onto the test cluster")
        if not parts[1]:
            self.fail(line, f"{what} address {address!r} has no port")
        if not parts[1].isdigit() or not 0 < int(parts[1]) < 65536:
            self.fail(line, f"{what} address {address!r}: {parts[1]!r} is not one port number")
        return int(parts[1])

    def bind(self, line: _Line, roles: list[str]) -> None:
        new_address = ",".join(self.layout.binds[role] for role in roles)
        if _looks_like_address(line.value(1)):
            address = line.tokens[1]
            why = f"bind {address.value} -> test port for role {', '.join(roles)}"
            line.edit(address.start, address.end, new_address, why)
            options = 2
        else:
            why = f"bind without an address -> test port for role {roles[0]} (the one LB port no other bind takes)"
            line.edit(line.tokens[0].end, line.tokens[0].end, " " + new_address, why)
            options = 1
        self.certificates(line, options)

    def certificates(self, line: _Line, first: int) -> None:
        """``crt X`` -> the test certificate; ``crt-list X`` -> ``crt <it>``; further ones dropped."""
        cert = _quoted(self.layout.cert_path)
        replaced, i = False, first
        while i + 1 < len(line.tokens):
            keyword, path = line.tokens[i], line.tokens[i + 1]
            if keyword.value not in ("crt", "crt-list"):
                i += 1
                continue
            if replaced:
                line.edit(line.tokens[i - 1].end, path.end, "", f"second certificate {path.value} dropped")
            else:
                why = f"{keyword.value} {path.value} -> the test certificate"
                line.edit(keyword.start, path.end, f"crt {cert}", why)
                replaced = True
            i += 2

    # -- server ----------------------------------------------------------------------------------

    def plan_servers(self) -> dict[int, tuple[str, str]]:
        """The node (and "by name" or "by order") each ``server`` line in a backend or listen section gets."""
        plan: dict[int, tuple[str, str]] = {}
        sections: dict[int, list[_Line]] = {}
        current = 0
        for line in self.lines:
            if line.keyword in SECTIONS:
                current = line.number
            if line.section in ("backend", "listen") and line.keyword in ("server", "server-template"):
                if line.keyword == "server-template":
                    self.fail(line, "server-template is not supported yet: write one `server` line per node")
                sections.setdefault(current, []).append(line)
        for servers in sections.values():
            if len(servers) > len(self.nodes):
                proxy = f"{servers[0].section} {servers[0].section_name}"
                self.fail(
                    servers[len(self.nodes)],
                    f"{proxy} has {len(servers)} servers but the test cluster has {len(self.nodes)} nodes",
                )
            by_name = {s.value(1): s for s in servers if s.value(1) in self.nodes}
            free = iter(node for node in self.nodes if node not in by_name)
            for server in servers:
                matched = by_name.get(server.value(1)) is server
                plan[server.number] = (server.value(1), "by name") if matched else (next(free), "by order")
        return plan

    def server(self, line: _Line, node: str, how: str) -> None:
        name = line.value(1)
        if len(line.tokens) < 3:
            self.fail(line, f"server {name} has no address")
        address = line.tokens[2]
        node_address = self.layout.servers[node]
        kind = self.node_kind(line, self.port(line, address.value, f"server {name}"), f"server {name}")
        new = _host_and_port(node_address.host, self.node_port(node_address, kind))
        why = f"server {name} {address.value} -> node {node}'s {kind} port ({how})"
        line.edit(address.start, address.end, new, why)
        i = 3
        while i + 1 < len(line.tokens):
            keyword, value = line.tokens[i].value, line.tokens[i + 1]
            if keyword == "port":
                port = self.node_port(node_address, self.node_kind(line, self.number(line, value.value), "check"))
                line.edit(value.start, value.end, str(port), f"port {value.value} -> node {node}'s port {port}")
            elif keyword == "addr":
                host = _quoted(node_address.host)
                line.edit(value.start, value.end, host, f"addr {value.value} -> node {node}'s host")
            else:
                i += 1
                continue
            i += 2

    def node_kind(self, line: _Line, port: int, what: str) -> str:
        kind = self.kind_of_port.get(port)
        if kind is None:
            known = ", ".join(f"{k}={p}" for k, p in self.node_ports.items())
            self.fail(line, f"{what} port {port} is not one of the cluster's node ports ({known})")
        return kind

    def number(self, line: _Line, word: str) -> int:
        if not word.isdigit():
            self.fail(line, f"{word!r} is not a port number")
        return int(word)

    @staticmethod
    def node_port(address: ServerAddress, kind: str) -> int:
        return {"web": address.web_port, "server": address.server_port, "stomp": address.stomp_port}[kind]

    # -- global, defaults and proxies ----------------------------------------------------------

    def global_line(self, line: _Line) -> bool:
        """Apply the ``global`` rules to ``line``; True when it is a ``stats socket``."""
        if line.keyword == "stats" and line.value(1) == "socket":
            if self.layout.runtime_socket is not None:
                line.rewrite(f"stats socket {self.socket_words()}", "stats socket -> the harness's runtime API socket")
            return True
        if line.keyword in _NEUTRALISED:
            line.comment_out(f"{line.keyword}: {_NEUTRALISED[line.keyword]}")
        elif line.keyword == "ssl-dh-param-file" and not Path(line.value(1)).exists():
            line.comment_out(f"{line.value(1)} does not exist here (HAProxy then uses its built-in DH group)")
        elif line.keyword == "log":
            self.log(line)
        return False

    def proxy_line(self, line: _Line) -> None:
        if line.keyword == "log":
            self.log(line)
        elif line.keyword == "default-server":
            for token in line.tokens[1:]:
                if token.value in ("port", "addr"):
                    self.fail(
                        line,
                        f"default-server sets `{token.value}`, which cannot be mapped per node: "
                        f"move `{token.value}` onto the server lines",
                    )

    def log(self, line: _Line) -> None:
        """``log ADDRESS [len N] [format F] [sample S] FACILITY [LEVEL...]`` -> the layout's target."""
        if len(line.tokens) < 2 or line.value(1) == "global":
            return
        target = self.layout.log_target.split()
        facility = target.pop() if len(target) > 1 and target[-1] in _FACILITIES else ""
        words, i = ["log", *target], 2
        while i + 1 < len(line.tokens) and line.value(i) in _LOG_OPTIONS:
            if not (line.value(i) == "format" and "format" in target):
                words.append(line.raw(i, i + 1))
            i += 2
        words.append(line.raw(i) if i < len(line.tokens) else facility)
        line.rewrite(" ".join(w for w in words if w), f"log {line.value(1)} -> the harness's log target")

    def errorfile(self, line: _Line) -> None:
        path = line.value(2)
        if path and not Path(path).exists():
            line.comment_out(f"errorfile {path} does not exist here")
