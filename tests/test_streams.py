"""HAProxy's stream timers, read from real ``show sess all`` dumps of 2.6, 3.0 and 3.2.

Each dump was taken from the hardened profile carrying two Flow API calls waiting for their node
(8000 and 8443, `timeout server 4000s`) and one silent STOMP session (`timeout tunnel 1h`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flowlb.haproxy.streams import find_stream, human_seconds, parse_streams

DUMPS = Path(__file__).parent / "golden" / "show-sess"
PORTS = {"2.6": {"server": 46143, "server_tls": 40883, "stomp": 38467},  # the local target's free ports
         "3.0": {"server": 8000, "server_tls": 8443, "stomp": 61613},
         "3.2": {"server": 8000, "server_tls": 8443, "stomp": 61613}}


@pytest.mark.parametrize(("text", "seconds"), [
    ("1h6m", 3960.0), ("59m57s", 3597.0), ("27s", 27.0), ("0s", 0.0), ("2d3h", 183600.0), ("<NEVER>", None),
    ("?", 0.0), ("garbage", None),
])
def test_human_seconds(text: str, seconds: float | None) -> None:
    assert human_seconds(text) == seconds


@pytest.mark.parametrize("version", sorted(PORTS))
def test_long_calls_wait_for_timeout_server(version: str) -> None:
    dump = (DUMPS / f"show-sess-all-{version}.txt").read_text()
    for role in ("server", "server_tls"):
        stream = find_stream(dump, PORTS[version][role], http=True)
        assert stream is not None
        assert stream.awaiting_response and stream.connected
        assert stream.next_cut_s == 3960.0  # 4000 s, printed by HAProxy as "1h6m"
        assert stream.next_cut_name.endswith(".rex")


@pytest.mark.parametrize("version", sorted(PORTS))
def test_silent_stomp_session_waits_for_timeout_tunnel(version: str) -> None:
    dump = (DUMPS / f"show-sess-all-{version}.txt").read_text()
    stream = find_stream(dump, PORTS[version]["stomp"], http=False)
    assert stream is not None
    assert stream.frontend == "commander-stomp-frontend"
    assert stream.next_cut_s == 3597.0  # 1 h, 3 s into the session


@pytest.mark.parametrize("version", sorted(PORTS))
def test_the_cli_stream_and_stale_task_timers_are_left_out(version: str) -> None:
    dump = (DUMPS / f"show-sess-all-{version}.txt").read_text()
    streams = parse_streams(dump)
    assert len(streams) == 4
    cli = [s for s in streams if s.frontend == "GLOBAL"]
    assert cli and cli[0].listener_port is None and not cli[0].connected
    assert all("stream.exp" not in s.timers for s in streams)  # the task's "exp=2s" wake-up is not a cut


def test_no_stream_on_a_port_nobody_uses() -> None:
    assert find_stream((DUMPS / "show-sess-all-3.2.txt").read_text(), 9999, http=False) is None


def test_a_request_not_yet_sent_is_not_awaiting_its_answer() -> None:
    dump = (DUMPS / "show-sess-all-3.0.txt").read_text().replace("req.st=MSG_DONE", "req.st=MSG_BODY")
    assert find_stream(dump, 8443, http=True) is None
    assert find_stream(dump, 8443, http=False) is not None
