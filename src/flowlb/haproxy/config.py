"""One model of an HAProxy config: what remap, lint, timing and the checks all read.

HAProxy's words are split the way HAProxy splits them (:mod:`~flowlb.haproxy.words`: blanks separate,
quotes group, ``\\`` escapes, ``"$VAR"`` expands, an unquoted ``#`` starts a comment), every word
keeps its byte offsets in the line so that a rewrite touches nothing else, and every line keeps its
number so that HAProxy's "line N" is the operator's line N. Sections know the ``defaults`` they inherit from::

    config = parsed(Path("haproxy.cfg").read_text())       # parsed once per text; the model is immutable
    backend = config.proxy("commander-server-backend")
    backend.effective("option", "httpchk")      # lines here, else in its defaults
    parse_time_s(backend.timeout("server").value(2))
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from flowlb.haproxy.words import Token, tokenize

PROXY_KINDS = ("frontend", "backend", "listen")
SECTION_KINDS = frozenset(
    {
        "global", "defaults", *PROXY_KINDS,
        # sections whose lines no Flow rule reads; nothing in them is rewritten but `errorfile`
        "resolvers", "peers", "userlist", "program", "cache", "ring", "http-errors", "mailers",
        "log-forward", "crt-store", "traces", "acme", "fcgi-app", "log-profile", "namespace_list", "healthcheck",
    }
)  # fmt: skip
_TCP_PREFIXES = ("ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@")
_MICROSECONDS = {"us": 1, "ms": 1000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000}
_TIME = re.compile(r"^(\d+)(us|ms|s|m|h|d)?$")


def parse_time_s(text: str) -> float | None:
    """HAProxy's time format (``2000``, ``2s``, ``500ms``, ``1m``; bare numbers are ms) in seconds, else ``None``."""
    match = _TIME.match(text.strip())
    if not match:
        return None
    return int(match[1]) * _MICROSECONDS[match[2] or "ms"] / 1_000_000


@dataclass(frozen=True)
class Address:
    """A ``bind`` or ``server`` address: host (may be empty or ``*``) and port (``None`` when it has none).

    ``path`` is set instead for a UNIX socket (``/run/x.sock``, ``unix@x``, ``abns@x``).
    """

    host: str
    port: int | None
    path: str = ""

    @property
    def is_socket(self) -> bool:
        return bool(self.path)

    @property
    def is_wildcard(self) -> bool:
        return self.host in ("", "*", "0.0.0.0", "::")

    @property
    def is_loopback(self) -> bool:
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_address(text: str) -> Address | None:
    """``:443``, ``10.0.0.1:443``, ``[::]:443``, ``:::443``, ``ipv6@:443``, ``/run/s.sock``; ``None`` if not one.

    A port range or an environment variable gives ``port=None``.
    """
    lowered = text.lower()
    for prefix in _TCP_PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix) :]
            break
    else:
        if text.startswith("/") or lowered.startswith(("unix@", "abns@", "abnsz@", "fd@", "sockpair@")):
            return Address("", None, path=text)
        if "@" in text:
            return None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
    else:
        host, port_text = text, ""
    port = int(port_text) if port_text.isdigit() and 0 < int(port_text) < 65536 else None
    return Address(host, port)


def looks_like_address(word: str) -> bool:
    """True for ``:443``, ``10.0.0.1:443``, ``ipv4@...``, ``/socket``; false for ``ssl`` in ``bind ssl crt``."""
    return any(c in word for c in ":@$") or word.startswith("/")


@dataclass(frozen=True)
class Line:
    """One line of the file: number, text without its end of line, words, and the section it is in."""

    number: int
    body: str
    eol: str
    tokens: tuple[Token, ...]
    section: str = ""
    section_name: str = ""

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(token.value for token in self.tokens)

    @property
    def keyword(self) -> str:
        return self.tokens[0].value if self.tokens else ""

    @property
    def text(self) -> str:
        """The directive as written, without indentation."""
        return self.body.strip()

    def value(self, index: int) -> str:
        return self.tokens[index].value if index < len(self.tokens) else ""

    def starts(self, *words: str) -> bool:
        return self.words[: len(words)] == words

    def after(self, keyword: str, first: int = 1) -> str | None:
        """The word after ``keyword`` (searched from word ``first``), e.g. ``inter`` on a server line."""
        words = self.words
        for index in range(first, len(words) - 1):
            if words[index] == keyword:
                return words[index + 1]
        return None

    def raw(self, first: int, last: int | None = None) -> str:
        """The original text of words ``first`` to ``last`` (inclusive; default: the last word)."""
        end = self.tokens[-1 if last is None else last].end
        return self.body[self.tokens[first].start : end]


@dataclass(frozen=True)
class Server:
    """A ``server`` line (or one server of a ``server-template``) with what it inherits from ``default-server``."""

    name: str
    address: Address | None
    line: Line
    proxy: Section
    backup: bool
    checked: bool
    check_port: int | None
    template: bool = False

    @property
    def port(self) -> int | None:
        return self.address.port if self.address else None


@dataclass(frozen=True)
class Section:
    """``global``, ``defaults``, a proxy or another section, with its directives and inherited ``defaults``."""

    kind: str
    name: str
    number: int
    lines: tuple[Line, ...] = ()
    defaults: Section | None = None

    @property
    def where(self) -> str:
        return f"{self.kind} {self.name}".strip()

    def own(self, *words: str) -> list[Line]:
        return [line for line in self.lines if line.starts(*words)]

    def effective(self, *words: str) -> list[Line]:
        """Directives starting with ``words`` here, else in the inherited ``defaults``."""
        mine = self.own(*words)
        if mine or self.defaults is None:
            return mine
        return self.defaults.effective(*words)

    def disabled(self, *words: str) -> bool:
        """``no option x`` here."""
        return bool(self.own("no", *words))

    def mode(self) -> str:
        lines = self.effective("mode")
        return lines[-1].value(1) if lines and len(lines[-1].tokens) > 1 else "tcp"

    def timeout(self, name: str) -> Line | None:
        lines = self.effective("timeout", name)
        return lines[-1] if lines else None

    def timeout_s(self, name: str) -> float | None:
        """``timeout NAME`` in seconds, here or inherited; ``None`` when not set."""
        line = self.timeout(name)
        return parse_time_s(line.value(2)) if line is not None else None

    def binds(self) -> list[tuple[Address, Line]]:
        """``(address, line)`` per address of every ``bind`` line."""
        found = []
        for line in self.own("bind"):
            if len(line.tokens) < 2 or not looks_like_address(line.value(1)):
                continue
            for text in line.value(1).split(","):
                address = parse_address(text)
                if address is not None:
                    found.append((address, line))
        return found

    def bind_ports(self) -> list[tuple[int, Line]]:
        return [(a.port, line) for a, line in self.binds() if a.port is not None]

    def default_servers(self) -> list[Line]:
        """``default-server`` lines that apply here: the ``defaults`` ones first, then this section's."""
        inherited = self.defaults.default_servers() if self.defaults is not None else []
        return inherited + self.own("default-server")

    def servers(self) -> list[Server]:
        """Every server of this backend, ``server-template`` expanded (``web1``..``webN``)."""
        defaults = self.default_servers()
        found: list[Server] = []
        for line in self.lines:
            if line.keyword == "server" and len(line.tokens) >= 2:
                found.append(self._server(line.value(1), line.value(2), line, defaults, 3))
            elif line.keyword == "server-template" and len(line.tokens) >= 4:
                for name in _template_names(line.value(1), line.value(2)):
                    found.append(self._server(name, line.value(3), line, defaults, 4, template=True))
        return found

    def _server(self, name: str, address: str, line: Line, defaults: list[Line], first: int,
                template: bool = False) -> Server:
        words = [w for d in defaults for w in d.words[1:]] + list(line.words[first:])
        check_port = None
        for index, word in enumerate(words[:-1]):
            if word == "port" and words[index + 1].isdigit():
                check_port = int(words[index + 1])
        checked = _last_flag(words, "check", "no-check")
        backup = _last_flag(words, "backup", "no-backup")
        return Server(name, parse_address(address) if looks_like_address(address) or address else None,
                      line, self, backup, checked, check_port, template)

    def backends(self) -> list[str]:
        """Backends this frontend may send to (``default_backend`` and ``use_backend``)."""
        names = [line.value(1) for line in self.effective("default_backend") if len(line.tokens) > 1]
        names += [line.value(1) for line in self.own("use_backend") if len(line.tokens) > 1]
        return names


def _last_flag(words: list[str], on: str, off: str) -> bool:
    state = False
    for word in words:
        if word == on:
            state = True
        elif word == off:
            state = False
    return state


def _template_names(prefix: str, count: str) -> list[str]:
    low, _, high = count.partition("-")
    if not low.isdigit() or (high and not high.isdigit()):
        return []
    first, last = (int(low), int(high)) if high else (1, int(low))
    return [f"{prefix}{n}" for n in range(first, min(last, first + 63) + 1)]


@dataclass(frozen=True)
class HAProxyConfig:
    """Every line and every section of one file, in order; immutable, so one model serves every reader."""

    text: str
    lines: tuple[Line, ...]
    sections: tuple[Section, ...]

    @classmethod
    def parse(cls, text: str, environ: Mapping[str, str] | None = None) -> HAProxyConfig:
        """The model of ``text``; ``"$VAR"`` expands from ``environ`` (default: this process's environment,
        which HAProxy inherits) as changed by the file's own ``setenv``-family lines, in order.

        Readers of a config call :func:`parsed` instead, which parses each text once."""
        env = dict(os.environ if environ is None else environ)
        lines: list[Line] = []
        drafts: list[_Draft] = []
        current: _Draft | None = None
        named_defaults: dict[str, int] = {}
        last_defaults: int | None = None
        parts = text.split("\n")
        for index, part in enumerate(parts):
            eol = "\n" if index < len(parts) - 1 else ""
            body = part
            if body.endswith("\r"):
                body, eol = body[:-1], "\r" + eol
            tokens = tuple(tokenize(body, env, index + 1))
            keyword = tokens[0].value if tokens else ""
            if current is not None and current.kind == "global" and keyword not in SECTION_KINDS:
                _apply_setenv(env, [token.value for token in tokens])
            if keyword in SECTION_KINDS:
                name = tokens[1].value if len(tokens) > 1 and tokens[1].value != "from" else ""
                current = _Draft(keyword, name, index + 1)
                parent = _from(tokens, named_defaults)
                if parent is None and keyword != "defaults":
                    parent = last_defaults
                if keyword == "defaults":
                    current.defaults = parent
                    last_defaults = len(drafts)
                    if name:
                        named_defaults[name] = len(drafts)
                elif keyword in PROXY_KINDS:
                    current.defaults = parent
                drafts.append(current)
            line = Line(index + 1, body, eol, tokens, current.kind if current else "", current.name if current else "")
            lines.append(line)
            if current is not None and tokens and keyword not in SECTION_KINDS:
                current.lines.append(line)
        return cls(text, tuple(lines), _sections(drafts))

    def of_kind(self, *kinds: str) -> list[Section]:
        return [section for section in self.sections if section.kind in kinds]

    def proxy(self, name: str) -> Section | None:
        """The backend (or listen section) called ``name``."""
        for section in self.of_kind("backend", "listen"):
            if section.name == name:
                return section
        return None

    def section_at(self, number: int) -> Section | None:
        """The section that line ``number`` belongs to."""
        found = None
        for section in self.sections:
            if section.number <= number:
                found = section
        return found

    def global_section(self) -> Section | None:
        found = self.of_kind("global")
        return found[0] if found else None

    def listeners(self, port: int) -> list[Section]:
        """Frontends and listens binding ``port``."""
        return [s for s in self.of_kind("frontend", "listen") if any(p == port for p, _ in s.bind_ports())]

    def backends_behind(self, port: int) -> list[Section]:
        """Backends (or listens) that traffic arriving on ``port`` reaches."""
        found: list[Section] = []
        for front in self.listeners(port):
            if front.kind == "listen":
                found.append(front)
            for name in front.backends():
                backend = self.proxy(name)
                if backend is not None and backend not in found:
                    found.append(backend)
        return found

    def servers(self) -> list[Server]:
        return [server for proxy in self.of_kind("backend", "listen") for server in proxy.servers()]


def _apply_setenv(env: dict[str, str], words: list[str]) -> None:
    """What ``setenv``, ``presetenv``, ``unsetenv`` and ``resetenv`` in ``global`` do to the environment at once."""
    keyword, args = (words[0], words[1:]) if words else ("", [])
    if keyword == "setenv" and len(args) >= 2:
        env[args[0]] = args[1]
    elif keyword == "presetenv" and len(args) >= 2:
        env.setdefault(args[0], args[1])
    elif keyword == "unsetenv":
        for name in args:
            env.pop(name, None)
    elif keyword == "resetenv":
        for name in [name for name in env if name not in args]:
            del env[name]


def parsed(text: str) -> HAProxyConfig:
    """The model of ``text`` under this process's environment, parsed once for every reader of the same text (the
    remap, the checks, the causes): the model is immutable, so one copy serves them all. The variables whose names
    occur in the text are part of the key (``"$VAR"``); the others, which change under pytest, are not."""
    return _parsed(text, tuple(sorted((name, value) for name, value in os.environ.items() if name in text)))


def model_of(config: HAProxyConfig | str) -> HAProxyConfig:
    """``config`` itself when it is a model already, else the model of its text (:func:`parsed`)."""
    return parsed(config) if isinstance(config, str) else config


@functools.lru_cache(maxsize=16)
def _parsed(text: str, environment: tuple[tuple[str, str], ...]) -> HAProxyConfig:
    return HAProxyConfig.parse(text, dict(environment))


@dataclass
class _Draft:
    """A section while its lines are read; ``defaults`` is the index of the draft it inherits from."""

    kind: str
    name: str
    number: int
    lines: list[Line] = field(default_factory=list)
    defaults: int | None = None


def _sections(drafts: list[_Draft]) -> tuple[Section, ...]:
    """The drafts frozen in order: a section's ``defaults`` always comes before it."""
    done: list[Section] = []
    for draft in drafts:
        parent = done[draft.defaults] if draft.defaults is not None else None
        done.append(Section(draft.kind, draft.name, draft.number, tuple(draft.lines), parent))
    return tuple(done)


def _from(tokens: tuple[Token, ...], named: dict[str, int]) -> int | None:
    """The named ``defaults`` a section inherits with ``from NAME`` (HAProxy 2.4+), as its draft's index."""
    words = [t.value for t in tokens]
    if "from" in words[1:-1]:
        return named.get(words[words.index("from", 1) + 1])
    return None
