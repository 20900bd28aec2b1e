"""STOMP 1.0/1.1/1.2 frames: encoding, and incremental decoding of a byte stream.

A frame is a command line, ``name:value`` header lines, a blank line and a body ended by NUL; with
a ``content-length`` header the body is exactly that many bytes (it may contain NUL) and then NUL.
Lines may end in LF or CRLF. An EOL between frames is a heart-beat. From 1.1 on, header names and
values escape ``\\r \\n : \\`` as ``\\\\r \\\\n \\\\c \\\\\\\\``, except in CONNECT, STOMP and CONNECTED.

Example::

    decoder = FrameDecoder()
    decoder.feed(encode_frame("SEND", [("destination", "/queue/a")], b"hi"))
    frame = decoder.next_item()   # Frame(command="SEND", headers=[("destination", "/queue/a")], body=b"hi")
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_FRAME_BYTES = 16 * 1024 * 1024
UNESCAPED_COMMANDS = frozenset({"CONNECT", "STOMP", "CONNECTED"})
"""Commands whose headers are never escaped, whatever the protocol version."""

_ESCAPES = {"\\": "\\\\", "\r": "\\r", "\n": "\\n", ":": "\\c"}
_UNESCAPES = {"\\\\": "\\", "\\r": "\r", "\\n": "\n", "\\c": ":"}
_NEEDS_ESCAPE = re.compile(r"[\\\r\n:]")
_ESCAPE_SEQUENCE = re.compile(r"\\.?", re.DOTALL)
_COMMAND = re.compile(r"[A-Za-z]+")


class FrameError(Exception):
    """The byte stream is not valid STOMP; the session should send ERROR and close."""


class Heartbeat(enum.Enum):
    """An EOL received between frames."""

    EOL = "EOL"


HEARTBEAT = Heartbeat.EOL


@dataclass(slots=True)
class Frame:
    """One STOMP frame. Headers keep their order; for repeated names the first one counts."""

    command: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The value of the first header called ``name``, or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_map(self) -> dict[str, str]:
        """All headers as a dict, the first occurrence of a repeated name winning."""
        result: dict[str, str] = {}
        for name, value in self.headers:
            result.setdefault(name, value)
        return result

    def encode(self, escape: bool = True) -> bytes:
        """The frame on the wire; ``escape`` for protocol 1.1 and 1.2."""
        return encode_frame(self.command, self.headers, self.body, escape)


def escape_header(text: str) -> str:
    """Escapes a header name or value for STOMP 1.1/1.2."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return "".join(_ESCAPES.get(char, char) for char in text)


def unescape_header(text: str) -> str:
    """Undoes :func:`escape_header`; raises FrameError on an undefined escape such as ``\\t``."""
    if "\\" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        sequence = match.group(0)
        plain = _UNESCAPES.get(sequence)
        if plain is None:
            raise FrameError(f"undefined escape sequence {sequence!r} in header")
        return plain

    return _ESCAPE_SEQUENCE.sub(replace, text)


def encode_frame(command: str, headers: Iterable[tuple[str, str]], body: bytes = b"", escape: bool = True) -> bytes:
    """Encodes one frame; headers are escaped when ``escape`` and the command allows it."""
    if escape and command not in UNESCAPED_COMMANDS:
        lines = [f"{escape_header(name)}:{escape_header(value)}\n" for name, value in headers]
    else:
        lines = [f"{name}:{value}\n" for name, value in headers]
    return b"".join((command.encode(), b"\n", "".join(lines).encode(), b"\n", body, b"\x00"))


class FrameDecoder:
    """Splits a byte stream into frames and heart-beats, one item per :meth:`next_item` call.

    Set :attr:`unescape` once the session has negotiated 1.1 or 1.2; it applies from the next
    frame on, which is why items come out one at a time.
    """

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self.unescape = False
        self._max = max_frame_bytes
        self._buffer = bytearray()
        self._start = 0
        self._scan = 0
        self._head: tuple[str, list[tuple[str, str]], int, int | None] | None = None

    def feed(self, data: bytes) -> None:
        """Adds bytes received from the peer."""
        if self._start:
            del self._buffer[: self._start]
            self._scan -= self._start
            if self._head is not None:
                command, headers, body_start, length = self._head
                self._head = (command, headers, body_start - self._start, length)
            self._start = 0
        self._buffer += data

    def next_item(self) -> Frame | Heartbeat | None:
        """The next frame or heart-beat, or None until more bytes arrive.

        Raises:
            FrameError: the stream is not valid STOMP, or a frame is larger than the limit.
        """
        if self._head is None:
            eol = self._eol_length()
            if eol > 0:
                self._consumed(self._start + eol)
                return HEARTBEAT
            if eol < 0:
                return None
            self._head = self._parse_head()
            if self._head is None:
                return None
        return self._take_body(*self._head)

    def _eol_length(self) -> int:
        """1 or 2 for an LF or CRLF heart-beat at the start, 0 for a frame, -1 until more bytes arrive."""
        buffer = self._buffer
        start = self._start
        if start >= len(buffer):
            return -1
        first = buffer[start]
        if first == 0x0A:
            return 1
        if first != 0x0D:
            return 0
        if start + 1 >= len(buffer):
            return -1
        if buffer[start + 1] != 0x0A:
            raise FrameError("carriage return not followed by line feed")
        return 2

    def _take_body(
        self, command: str, headers: list[tuple[str, str]], body_start: int, length: int | None
    ) -> Frame | None:
        """The frame once its body and NUL have arrived, else None."""
        buffer = self._buffer
        if length is not None:
            end = body_start + length
            if len(buffer) <= end:
                return None
            if buffer[end] != 0:
                raise FrameError(f"{command} body is not followed by NUL after content-length {length} bytes")
        else:
            end = buffer.find(b"\x00", max(self._scan, body_start))
            if end < 0:
                self._scan = len(buffer)
                end = len(buffer)
            if end - self._start > self._max:
                raise FrameError(f"{command} frame larger than {self._max} bytes")
            if end == len(buffer):
                return None
        frame = Frame(command, headers, bytes(buffer[body_start:end]))
        self._head = None
        self._consumed(end + 1)
        return frame

    def _consumed(self, position: int) -> None:
        self._start = position
        self._scan = position
        if position == len(self._buffer):
            self._buffer.clear()
            self._start = self._scan = 0

    def _parse_head(self) -> tuple[str, list[tuple[str, str]], int, int | None] | None:
        """Parses command and headers once the blank line after them has arrived."""
        buffer = self._buffer
        start = self._start
        scan_from = max(self._scan - 2, start)
        lf = buffer.find(b"\n\n", scan_from)
        crlf = buffer.find(b"\n\r\n", scan_from)
        if lf < 0 and crlf < 0:
            self._scan = len(buffer)
            if len(buffer) - start > self._max:
                raise FrameError(f"frame header larger than {self._max} bytes")
            return None
        if lf >= 0 and (crlf < 0 or lf < crlf):
            end, body_start = lf, lf + 2
        else:
            end, body_start = crlf, crlf + 3
        self._scan = body_start
        try:
            lines = bytes(buffer[start:end]).decode("utf-8").split("\n")
        except UnicodeDecodeError:
            raise FrameError("frame command or headers are not UTF-8") from None
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        command = lines[0]
        if _COMMAND.fullmatch(command) is None:
            raise FrameError(f"malformed command line {command[:40]!r}")
        unescape = self.unescape and command not in UNESCAPED_COMMANDS
        headers: list[tuple[str, str]] = []
        length: int | None = None
        for line in lines[1:]:
            colon = line.find(":")
            if colon <= 0:
                raise FrameError(f"malformed header line {line[:80]!r} in {command}")
            name = line[:colon]
            value = line[colon + 1 :]
            if unescape:
                name = unescape_header(name)
                value = unescape_header(value)
            if name == "content-length" and length is None:
                if not (value.isascii() and value.isdigit()):
                    raise FrameError(f"bad content-length {value[:40]!r} in {command}")
                length = int(value)
                if length + (body_start - start) > self._max:
                    raise FrameError(f"{command} frame larger than {self._max} bytes")
            headers.append((name, value))
        return command, headers, body_start, length
