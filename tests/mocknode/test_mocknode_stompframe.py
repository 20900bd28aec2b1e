"""The STOMP frame codec, on bytes alone.

Fails if header escaping is wrong or applied to CONNECT/CONNECTED, if a content-length body
containing NUL is cut short, if EOLs between frames are not reported as heart-beats, if a frame
split across reads is lost or duplicated, or if malformed input is accepted.
"""

from __future__ import annotations

import pytest

from flowlb.mocknode.stompframe import (
    HEARTBEAT,
    Frame,
    FrameDecoder,
    FrameError,
    encode_frame,
    escape_header,
    unescape_header,
)


def decode_all(data: bytes, unescape: bool = True, max_frame_bytes: int = 1 << 24) -> list[object]:
    decoder = FrameDecoder(max_frame_bytes)
    decoder.unescape = unescape
    decoder.feed(data)
    items: list[object] = []
    while (item := decoder.next_item()) is not None:
        items.append(item)
    return items


def test_escaping_round_trips_every_special_character() -> None:
    text = "a:b\\c\nd\re"
    assert escape_header(text) == "a\\cb\\\\c\\nd\\re"
    assert unescape_header(escape_header(text)) == text


def test_undefined_escape_is_an_error() -> None:
    with pytest.raises(FrameError, match="escape"):
        unescape_header("tab\\there")


def test_send_headers_are_escaped_and_unescaped() -> None:
    wire = encode_frame("SEND", [("destination", "/queue/a:b"), ("x-note", "line1\nline2")], b"hi")
    assert b"destination:/queue/a\\cb\n" in wire
    (frame,) = decode_all(wire)
    assert frame == Frame("SEND", [("destination", "/queue/a:b"), ("x-note", "line1\nline2")], b"hi")


def test_connect_and_connected_headers_are_never_escaped() -> None:
    wire = encode_frame("CONNECTED", [("server", "a:b")])
    assert wire == b"CONNECTED\nserver:a:b\n\n\x00"
    (frame,) = decode_all(b"CONNECT\nlogin:x\\y\n\n\x00")
    assert frame == Frame("CONNECT", [("login", "x\\y")])


def test_stomp_10_headers_are_not_unescaped() -> None:
    (frame,) = decode_all(b"SEND\ndestination:/q\\n\n\n\x00", unescape=False)
    assert frame.header("destination") == "/q\\n"


def test_content_length_body_may_contain_nul() -> None:
    body = b"\x00binary\x00\xff\x00"
    wire = encode_frame("SEND", [("destination", "/q"), ("content-length", str(len(body)))], body)
    (frame,) = decode_all(wire)
    assert frame.body == body


def test_body_without_content_length_ends_at_first_nul() -> None:
    assert decode_all(b"SEND\ndestination:/q\n\nabc\x00") == [Frame("SEND", [("destination", "/q")], b"abc")]


def test_eols_between_frames_are_heartbeats_and_crlf_is_tolerated() -> None:
    items = decode_all(b"\n\r\nSEND\r\ndestination:/q\r\n\r\nx\x00\n\n")
    assert items == [HEARTBEAT, HEARTBEAT, Frame("SEND", [("destination", "/q")], b"x"), HEARTBEAT, HEARTBEAT]


def test_repeated_header_first_value_wins() -> None:
    (frame,) = decode_all(b"SEND\nfoo:1\nfoo:2\n\n\x00")
    assert frame.header("foo") == "1"
    assert frame.header_map() == {"foo": "1"}
    assert frame.headers == [("foo", "1"), ("foo", "2")]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64])
def test_frames_split_across_reads_come_out_whole(chunk_size: int) -> None:
    body = b"x\x00y" * 50
    wire = (
        encode_frame("SEND", [("destination", "/q"), ("content-length", str(len(body)))], body)
        + b"\r\n"
        + encode_frame("SEND", [("destination", "/r")], b"plain")
    )
    decoder = FrameDecoder()
    decoder.unescape = True
    items: list[object] = []
    for start in range(0, len(wire), chunk_size):
        decoder.feed(wire[start : start + chunk_size])
        while (item := decoder.next_item()) is not None:
            items.append(item)
    assert items == [
        Frame("SEND", [("destination", "/q"), ("content-length", str(len(body)))], body),
        HEARTBEAT,
        Frame("SEND", [("destination", "/r")], b"plain"),
    ]


@pytest.mark.parametrize(
    "wire, problem",
    [
        (b"SEND\nno-colon-here\n\n\x00", "malformed header"),
        (b"SEND\n:empty-name\n\n\x00", "malformed header"),
        (b"SE ND\n\n\x00", "malformed command"),
        (b"SEND\ncontent-length:abc\n\n\x00", "content-length"),
        (b"SEND\ncontent-length:2\n\nabc\x00", "not followed by NUL"),
        (b"\rSEND\n\n\x00", "carriage return"),
        (b"SEND\nx:\xff\n\n\x00", "UTF-8"),
    ],
)
def test_malformed_frames_are_errors(wire: bytes, problem: str) -> None:
    with pytest.raises(FrameError, match=problem):
        decode_all(wire)


def test_frames_over_the_size_limit_are_errors() -> None:
    with pytest.raises(FrameError, match="larger than"):
        decode_all(b"SEND\ncontent-length:2000\n\n", max_frame_bytes=1000)
    with pytest.raises(FrameError, match="larger than"):
        decode_all(b"SEND\n\n" + b"x" * 2000, max_frame_bytes=1000)
    with pytest.raises(FrameError, match="larger than"):
        decode_all(b"SEND\n" + b"h:v\n" * 500, max_frame_bytes=1000)
