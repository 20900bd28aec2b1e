"""A haproxy.cfg read for linting: sections, their lines (numbered, split into words) and the Flow topology.

Only what the rules need: which proxy binds which LB port (and with ``ssl``), which backend a
frontend sends to, the servers and ports of a backend, and settings inherited from ``defaults``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PROXY_KINDS = ("frontend", "backend", "listen")
SECTION_KINDS = ("global", "defaults", *PROXY_KINDS, "userlist", "peers", "resolvers", "cache", "program",
                 "http-errors", "ring", "mailers")


@dataclass(frozen=True)
class Line:
    """One directive: its line number, the words (comment removed, quotes kept as one word) and the text."""

    number: int
    words: tuple[str, ...]
    text: str

    def starts(self, *words: str) -> bool:
        return self.words[: len(words)] == words


@dataclass
class Section:
    """``global``, ``defaults`` or a proxy, with its directives and the ``defaults`` it inherits from."""

    kind: str
    name: str
    number: int
    lines: list[Line] = field(default_factory=list)
    defaults: Section | None = None

    def own(self, *words: str) -> list[Line]:
        return [line for line in self.lines if line.starts(*words)]

    def effective(self, *words: str) -> list[Line]:
        """Directives starting with ``words`` here, else in the inherited ``defaults``."""
        mine = self.own(*words)
        if mine or self.defaults is None:
            return mine
        return self.defaults.own(*words)

    def disabled(self, *words: str) -> bool:
        """``no option x`` here."""
        return bool(self.own("no", *words))

    def mode(self) -> str:
        lines = self.effective("mode")
        return lines[-1].words[1] if lines and len(lines[-1].words) > 1 else "tcp"

    def timeout(self, name: str) -> Line | None:
        lines = self.effective("timeout", name)
        return lines[-1] if lines else None

    def binds(self) -> list[tuple[int, Line]]:
        """``(port, line)`` per address of every ``bind`` line."""
        found = []
        for line in self.own("bind"):
            for address in line.words[1].split(",") if len(line.words) > 1 else []:
                match = re.search(r":(\d+)$", address)
                if match:
                    found.append((int(match.group(1)), line))
        return found

    def servers(self) -> list[tuple[str, int | None, Line]]:
        """``(name, port, line)`` per ``server`` line (port ``None`` when the address has none)."""
        found = []
        for line in self.own("server"):
            if len(line.words) < 3:
                continue
            match = re.search(r":(\d+)$", line.words[2])
            found.append((line.words[1], int(match.group(1)) if match else None, line))
        return found

    def backends(self) -> list[str]:
        """Backends this frontend may send to (``default_backend`` and ``use_backend``)."""
        names = [line.words[1] for line in self.own("default_backend") if len(line.words) > 1]
        names += [line.words[1] for line in self.own("use_backend") if len(line.words) > 1]
        return names


def _words(text: str) -> tuple[str, ...]:
    words: list[str] = []
    current, quote, escaped, pending = "", "", False, False
    for char in text:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            current, escaped = current + char, True
        elif quote:
            current += char
            if char == quote:
                quote = ""
        elif char in "\"'":
            current, quote, pending = current + char, char, True
        elif char == "#":
            break
        elif char.isspace():
            if current or pending:
                words.append(current)
            current, pending = "", False
        else:
            current += char
    if current or pending:
        words.append(current)
    return tuple(words)


@dataclass
class Config:
    """All sections of one file, in order."""

    text: str
    sections: list[Section]

    @classmethod
    def parse(cls, text: str) -> Config:
        sections: list[Section] = []
        current: Section | None = None
        last_defaults: Section | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            words = _words(raw)
            if not words:
                continue
            if words[0] in SECTION_KINDS:
                current = Section(words[0], words[1] if len(words) > 1 else "", number)
                if current.kind == "defaults":
                    last_defaults = current
                elif current.kind in PROXY_KINDS:
                    current.defaults = last_defaults
                sections.append(current)
            elif current is not None:
                current.lines.append(Line(number, words, raw.strip()))
        return cls(text, sections)

    def of_kind(self, *kinds: str) -> list[Section]:
        return [section for section in self.sections if section.kind in kinds]

    def proxy(self, name: str) -> Section | None:
        for section in self.of_kind("backend", "listen"):
            if section.name == name:
                return section
        return None

    def global_section(self) -> Section | None:
        found = self.of_kind("global")
        return found[0] if found else None

    def listeners(self, port: int) -> list[Section]:
        """Frontends and listens binding ``port``."""
        return [s for s in self.of_kind("frontend", "listen") if any(p == port for p, _ in s.binds())]

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
