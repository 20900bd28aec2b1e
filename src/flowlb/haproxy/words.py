"""HAProxy's own split of a config line into words, so that no keyword can hide from flowlb.

This follows ``parse_line()`` in HAProxy's ``src/tools.c`` (the same in 2.6, 3.0 and 3.2, and what
section 2.2 of configuration.txt describes), with the options the config parser passes it:

* blanks (space, tab, vertical tab, form feed) separate words; a CR, LF or NUL ends the line;
* ``"..."`` and ``'...'`` group, and may sit in the middle of a word (``se"rv"er`` is ``server``);
* outside single quotes, ``\\\\``, ``\\ ``, ``\\#``, ``\\'``, ``\\"``, ``\\t``, ``\\n``, ``\\r`` and
  ``\\xHH`` are decoded, ``\\$`` only inside double quotes; any other backslash stays as written;
* inside double quotes ``$NAME``, ``${NAME}``, ``${NAME-default}`` and ``${NAME[*]}`` (one word per
  blank-separated part) take the value of an environment variable; outside them ``$`` is a letter;
* an unquoted ``#`` ends the line, even in the middle of a word.

Each word keeps the span of the line it came from, so a rewrite replaces exactly that text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

BLANKS = " \t\v\f"
_LINE_ENDS = "\r\n\0"
_ESCAPES = {" ": " ", "\\": "\\", "t": "\t", "n": "\n", "r": "\r", "#": "#", "'": "'", '"': '"'}
_HEX = "0123456789abcdefABCDEF"


@dataclass(frozen=True)
class Token:
    """One word of a line: its offsets in the line and its value (quotes, escapes and variables resolved).

    ``from_environment`` is true when part of the value came from an environment variable.
    """

    start: int
    end: int
    value: str
    from_environment: bool = False


class _Word:
    """The word being read: its bytes (HAProxy decodes ``\\xHH`` to a byte), where it started, whether it exists."""

    def __init__(self) -> None:
        self.chars: list[bytes] = []
        self.start = -1
        self.from_environment = False

    def begin(self, at: int) -> None:
        if self.start < 0:
            self.start = at

    def add(self, text: str | bytes, at: int) -> None:
        self.begin(at)
        self.chars.append(_bytes(text))

    @property
    def value(self) -> str:
        return b"".join(self.chars).decode("utf-8", "surrogateescape")


def _bytes(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")


def tokenize(body: str, environ: Mapping[str, str] | None = None, line_number: int = 0) -> list[Token]:
    """The words HAProxy reads in ``body`` (one line without its end of line).

    ``environ`` is the environment HAProxy expands ``"$NAME"`` from (none: every variable is unset).
    A line HAProxy refuses (an unmatched quote, a bad ``\\x`` sequence) still gives its words so far.
    """
    env = environ or {}
    tokens: list[Token] = []
    word = _Word()
    quote = ""
    i, n = 0, len(body)

    def finish(end: int) -> None:
        nonlocal word
        if word.start >= 0:
            tokens.append(Token(word.start, end, word.value, word.from_environment))
        word = _Word()

    if body.lstrip(BLANKS).startswith("["):
        return []  # a scope line (3.x), not a directive
    while i < n:
        char = body[i]
        if char in _LINE_ENDS:
            break
        if char == "#" and not quote:
            break
        if char == '"' and quote != "'":
            word.begin(i)
            quote = "" if quote else '"'
            i += 1
        elif char == "'" and quote != '"':
            word.begin(i)
            quote = "" if quote else "'"
            i += 1
        elif char == "\\" and quote != "'":
            i = _escape(body, i, quote, word)
        elif char in BLANKS and not quote:
            finish(i)
            while i < n and body[i] in BLANKS:
                i += 1
        elif char == "$" and quote == '"':
            i = _variable(body, i, env, line_number, word, tokens)
        else:
            word.add(char, i)
            i += 1
    finish(i)
    return tokens


def _escape(body: str, i: int, quote: str, word: _Word) -> int:
    """Decode the backslash at ``i`` into ``word``; the index after the sequence."""
    following = body[i + 1] if i + 1 < len(body) else ""
    if following and following in _ESCAPES:
        word.add(_ESCAPES[following], i)
        return i + 2
    if following == "$" and quote == '"':
        word.add("$", i)
        return i + 2
    if following == "x":
        digits = body[i + 2 : i + 4]
        if len(digits) == 2 and all(d in _HEX for d in digits):
            word.add(bytes([int(digits, 16)]), i)
            return i + 4
    word.add("\\", i)  # not an escape sequence (``\\1``, or a bad ``\\x`` HAProxy refuses): as written
    return i + 1


def _variable(body: str, i: int, env: Mapping[str, str], line_number: int, word: _Word,
              tokens: list[Token]) -> int:
    """Expand the ``$`` at ``i`` (inside double quotes) into ``word``; the index after the reference."""
    start, i = i, i + 1
    braced = i < len(body) and body[i] == "{"
    if braced:
        i += 1
    name_start = i
    if i < len(body) and body[i] == ".":
        i += 1
    while i < len(body) and (body[i].isalnum() or body[i] == "_") and body[i].isascii():
        i += 1
    name = body[name_start:i]
    value: str | None = str(line_number) if name == ".LINE" else env.get(name)
    expand = False
    if braced and body.startswith("[*]", i):
        expand, i = True, i + 3
    if braced:
        if i < len(body) and body[i] == "-":
            close = body.find("}", i)
            close = len(body) if close < 0 else close
            if value is None:
                value = body[i + 1 : close]
            i = close
        i += 1  # the closing brace
    word.begin(start)
    word.from_environment = True
    if not value:
        return i
    if not expand:
        word.chars.append(_bytes(value))
        return i
    parts = value.split()
    for index, part in enumerate(parts):
        if index:  # each blank-separated part is a word of its own, all spanning the reference
            tokens.append(Token(word.start, i, word.value, True))
            word.chars, word.start = [], start
        word.chars.append(_bytes(part))
    return i
