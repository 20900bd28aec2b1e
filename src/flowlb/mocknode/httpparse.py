"""An incremental HTTP/1.x request parser: bytes in, complete requests out.

Small and strict on framing (request line, header syntax, Content-Length, chunked bodies), so
that a load balancer that mangles requests shows up as a 400 instead of being papered over.

Example::

    parser = RequestParser()
    parser.feed(b"GET /echo HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    request = parser.next_request()   # HttpRequest(method="GET", path="/echo", ...)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024
UPLOAD_PATH = "/flowlb/upload"
"""A request with a Content-Length body to this path is digested as it arrives, never kept: large uploads."""
MAX_UPLOAD_BYTES = 16 * 1024**3
MAX_CHUNK_LINE = 4096

_REQUEST_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^\x00-\x20\x7f]+) HTTP/(\d)\.(\d)")
_HEADER_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\x00\r\n]*?)[ \t]*")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")
_DIGITS = re.compile(r"[0-9]{1,18}")


class HttpParseError(Exception):
    """The request cannot be parsed; answer with ``status`` and close the connection."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class HttpRequest:
    """One complete request as it arrived."""

    method: str
    target: str
    path: str
    query: str
    http_version: str
    headers: list[tuple[str, str]]
    body: bytes
    keep_alive: bool
    """False when the connection must be closed after the response."""
    body_size: int = -1
    """For an upload (``UPLOAD_PATH``): how many body bytes arrived; its ``body`` stays empty."""
    body_sha256: str = ""
    """For an upload: the sha256 of the body bytes, as they arrived."""

    @property
    def request_line(self) -> str:
        """The request line as sent, e.g. ``GET /commanderRequest/health HTTP/1.1``."""
        return f"{self.method} {self.target} {self.http_version}"

    def header(self, name: str) -> str | None:
        """The first value of the header ``name`` (any case), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


@dataclass(slots=True)
class _Head:
    """A parsed request line and header block whose body is still arriving."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    keep_alive: bool
    content_length: int
    chunked: bool
    expects_continue: bool
    """``Expect: 100-continue`` was sent and no interim response has been asked for yet."""


class RequestParser:
    """Turns a byte stream into requests; pipelined requests come out one per call."""

    def __init__(self, max_header_bytes: int = MAX_HEADER_BYTES, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._buffer = bytearray()
        self._max_header_bytes = max_header_bytes
        self._max_body_bytes = max_body_bytes
        self._head: _Head | None = None
        self._chunks = bytearray()
        self._in_trailers = False
        self._digest: _Digest | None = None
        self.continue_due = False
        """A request waits for ``100 Continue`` before sending its body; the connection clears this."""

    def feed(self, data: bytes) -> None:
        """Adds bytes received from the client."""
        self._buffer += data

    @property
    def buffered(self) -> int:
        """How many received bytes are not yet part of a returned request."""
        return len(self._buffer)

    def next_request(self) -> HttpRequest | None:
        """The next complete request, or None until more bytes arrive.

        Raises:
            HttpParseError: the bytes are not a valid request.
        """
        if self._head is None:
            self._head = self._parse_head()
            if self._head is None:
                return None
        head = self._head
        if head.target.partition("?")[0] == UPLOAD_PATH and not head.chunked:
            return self._digested(head)
        body = self._read_chunked() if head.chunked else self._read_sized(head.content_length)
        if body is None:
            if head.expects_continue:
                head.expects_continue = False
                self.continue_due = True
            return None
        self._head = None
        target = head.target
        path, _, query = target.partition("?")
        return HttpRequest(head.method, target, path, query, head.version, head.headers, body, head.keep_alive)

    def _digested(self, head: _Head) -> HttpRequest | None:
        """An upload: its body bytes go through sha256 as they arrive; the request once all are in."""
        if self._digest is None:
            self._digest = _Digest(head.content_length)
        digest = self._digest
        taken = min(digest.remaining, len(self._buffer))
        with memoryview(self._buffer) as view:
            digest.update(view[:taken])
        del self._buffer[:taken]
        if digest.remaining:
            if head.expects_continue:
                head.expects_continue = False
                self.continue_due = True
            return None
        self._head = self._digest = None
        path, _, query = head.target.partition("?")
        return HttpRequest(head.method, head.target, path, query, head.version, head.headers, b"", head.keep_alive,
                           body_size=digest.size, body_sha256=digest.sha256.hexdigest())

    def _parse_head(self) -> _Head | None:
        buffer = self._buffer
        while buffer[:2] == b"\r\n" or buffer[:1] == b"\n":  # RFC 9112 2.2: ignore leading empty lines
            del buffer[: 2 if buffer[:1] == b"\r" else 1]
        end, separator = _end_of_head(buffer)
        if end < 0 or end + separator > self._max_header_bytes:
            if len(buffer) > self._max_header_bytes or end >= 0:
                raise HttpParseError("request header block larger than 64 KiB")
            return None
        lines = bytes(buffer[:end]).split(b"\n")
        del buffer[: end + separator]
        return _head_from_lines([line[:-1] if line[-1:] == b"\r" else line for line in lines], self._max_body_bytes)

    def _read_sized(self, length: int) -> bytes | None:
        if length == 0:
            return b""
        if len(self._buffer) < length:
            return None
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        return body

    def _read_chunked(self) -> bytes | None:
        while not self._in_trailers:
            if not self._take_chunk():
                return None
        while True:
            blank = self._take_trailer_line()
            if blank is None:
                return None
            if blank:
                body = bytes(self._chunks)
                self._chunks.clear()
                self._in_trailers = False
                return body

    def _take_chunk(self) -> bool:
        """Moves one whole chunk into the body, or at the last chunk starts the trailers; False until it is here."""
        buffer = self._buffer
        newline = buffer.find(b"\n")
        if newline < 0:
            if len(buffer) > MAX_CHUNK_LINE:
                raise HttpParseError("chunk size line too long")
            return False
        size_text = bytes(buffer[:newline]).rstrip(b"\r").split(b";", 1)[0].strip(b" \t")
        if not _HEX.fullmatch(size_text):
            raise HttpParseError(f"bad chunk size {size_text[:40]!r}")
        size = int(size_text, 16)
        if size == 0:
            del buffer[: newline + 1]
            self._in_trailers = True
            return True
        if len(self._chunks) + size > self._max_body_bytes:
            raise HttpParseError("request body too large", 413)
        data_start = newline + 1
        data_end = data_start + size
        if len(buffer) <= data_end:
            return False
        if buffer[data_end] == 0x0A:  # bare LF after the data
            after = data_end + 1
        elif len(buffer) < data_end + 2:
            return False
        elif buffer[data_end] == 0x0D and buffer[data_end + 1] == 0x0A:
            after = data_end + 2
        else:
            raise HttpParseError("chunk data not followed by CRLF")
        self._chunks += buffer[data_start:data_end]
        del buffer[:after]
        return True

    def _take_trailer_line(self) -> bool | None:
        """Drops one trailer line: True for the blank line that ends the body, None until a line is here."""
        buffer = self._buffer
        newline = buffer.find(b"\n")
        if newline < 0:
            if len(buffer) > self._max_header_bytes:
                raise HttpParseError("chunked trailers too large")
            return None
        blank = newline == 0 or (newline == 1 and buffer[0] == 0x0D)
        del buffer[: newline + 1]
        return blank


class _Digest:
    """The sha256 and count of an upload's body so far, and how much of it is still to come."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.remaining = size
        self.sha256 = hashlib.sha256()

    def update(self, data: memoryview) -> None:
        self.sha256.update(data)
        self.remaining -= len(data)


def _end_of_head(buffer: bytearray) -> tuple[int, int]:
    """Where the header block ends (CRLF CRLF, or LF LF from lax clients) and the separator's length."""
    crlf = buffer.find(b"\r\n\r\n")
    lf = buffer.find(b"\n\n")
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf, 2
    return crlf, 4


def _head_from_lines(lines: list[bytes], max_body_bytes: int) -> _Head:
    """Parses the request line and header lines of one request."""
    match = _REQUEST_LINE.fullmatch(lines[0])
    if match is None:
        raise HttpParseError(f"malformed request line {lines[0][:80]!r}")
    method, target, major, minor = match.groups()
    if major != b"1":
        raise HttpParseError(f"unsupported HTTP version {major.decode()}.{minor.decode()}", 505)
    version = f"HTTP/1.{minor.decode()}"
    headers = [_header_from_line(line) for line in lines[1:]]
    if target.partition(b"?")[0] == UPLOAD_PATH.encode():
        max_body_bytes = MAX_UPLOAD_BYTES
    keep_alive, content_length, chunked = _message_framing(headers, version, max_body_bytes)
    expects_continue = version == "HTTP/1.1" and any(
        name.lower() == "expect" and value.lower() == "100-continue" for name, value in headers
    )
    return _Head(
        method.decode("ascii"),
        target.decode("latin-1"),
        version,
        headers,
        keep_alive,
        content_length,
        chunked,
        expects_continue,
    )


def _header_from_line(line: bytes) -> tuple[str, str]:
    header = _HEADER_LINE.fullmatch(line)
    if header is None:
        raise HttpParseError(f"malformed header line {line[:80]!r}")
    return header.group(1).decode("ascii"), header.group(2).decode("latin-1")


def _message_framing(headers: list[tuple[str, str]], version: str, max_body_bytes: int) -> tuple[bool, int, bool]:
    """Keep-alive, Content-Length and chunked-or-not, from the headers that decide them."""
    connection_tokens: list[str] = []
    content_lengths: set[str] = set()
    codings: list[str] = []
    for name, value in headers:
        lower = name.lower()
        if lower == "connection":
            connection_tokens.extend(token.strip().lower() for token in value.split(","))
        elif lower == "content-length":
            content_lengths.update(item.strip() for item in value.split(","))
        elif lower == "transfer-encoding":
            codings.extend(coding.strip().lower() for coding in value.split(","))
    if version == "HTTP/1.1":
        keep_alive = "close" not in connection_tokens
    else:
        keep_alive = "keep-alive" in connection_tokens and "close" not in connection_tokens
    if codings:
        if codings[-1] != "chunked" or version == "HTTP/1.0":
            raise HttpParseError(f"unsupported Transfer-Encoding {', '.join(codings)!r}")
        return keep_alive and not content_lengths, 0, True  # RFC 9112 6.1: close after a TE + CL request
    if not content_lengths:
        return keep_alive, 0, False
    (length_text,) = content_lengths if len(content_lengths) == 1 else ("",)
    if not _DIGITS.fullmatch(length_text):
        raise HttpParseError(f"bad Content-Length {sorted(content_lengths)!r}")
    if int(length_text) > max_body_bytes:
        raise HttpParseError("request body too large", 413)
    return keep_alive, int(length_text), False
