"""``--stats-url``: HAProxy's stats page as read-only evidence (CSV over HTTP with basic auth)."""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest

from flowlb.errors import TargetError
from flowlb.haproxy.runtime import RuntimeAPI, StatsPage

CSV = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,status,check_status,check_code,lastchg,check_rise,check_fall\n"
    "commander-server-backend,node1,0,0,1,3,,120,UP,L7OK,200,30,2,3\n"
    "commander-server-backend,node2,0,0,0,3,,118,DOWN,L7STS,503,4,2,3\n"
    "commander-server-backend,BACKEND,0,0,1,3,,238,UP,,,30,,\n"
)


class _Stats(http.server.BaseHTTPRequestHandler):
    asked: ClassVar[list[str]] = []  # the paths asked for, newest last

    def do_GET(self) -> None:
        self.asked.append(self.path)
        wanted = "Basic " + base64.b64encode(b"ops:secret").decode()
        if self.headers.get("Authorization") != wanted:
            self.send_response(401)
            self.end_headers()
            return
        body = CSV.encode() if self.path.endswith(";csv") else b"<html>stats</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stats_server() -> Iterator[str]:
    """``http://127.0.0.1:PORT``: a stats page on every path (as HAProxy's ``stats uri /`` is)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stats)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Stats.asked.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def stats_url(stats_server: str) -> str:
    return f"{stats_server}/stats"


@pytest.mark.parametrize(("path", "csv"), [("", "/;csv"), ("/", "/;csv"), ("/stats", "/stats;csv"),
                                           ("/haproxy?stats", "/haproxy?stats;csv")])
def test_the_csv_is_asked_for_after_the_stats_uri_even_without_a_path(path: str, csv: str, stats_server: str) -> None:
    """``http://lb:8404/`` (``stats uri /``) or no path at all was read from ``lb:8404;csv``: a ValueError per check."""
    servers = StatsPage(stats_server + path, "ops:secret").servers("commander-server-backend")
    assert set(servers) == {"node1", "node2"}
    assert _Stats.asked == [csv]


def test_server_rows_from_the_stats_csv(stats_url: str) -> None:
    page = StatsPage(stats_url, "ops:secret")
    assert page.answers()
    servers = page.servers("commander-server-backend")
    assert set(servers) == {"node1", "node2"}
    assert servers["node1"].is_up and servers["node1"].total_sessions == 120
    assert servers["node2"].is_down and servers["node2"].check_code == "503"


def test_wrong_credentials_and_writes_are_clear_errors(stats_url: str) -> None:
    assert not StatsPage(stats_url, "ops:wrong").answers()
    with pytest.raises(TargetError, match="needs HAProxy's runtime API"):
        StatsPage(stats_url, "ops:secret").set_state("commander-server-backend", "node1", "maint")
    with pytest.raises(TargetError, match="not an http"):
        StatsPage("file:///etc/passwd").command("show stat")


class _CannedAPI(RuntimeAPI):
    """``show stat`` as HAProxy gives it while a health check is running on node3."""

    def command(self, command: str) -> str:
        return ("# pxname,svname,status,scur,stot,check_status,check_code,lastchg\n"
                "flow,node1,UP,0,5,L7OK,200,10\nflow,node3,UP,0,5,* L7OK,200,10\nflow,BACKEND,UP,0,10,,,10\n")


def test_a_check_in_progress_reads_as_its_last_result() -> None:
    """HAProxy prefixes the check status with "* " while the next check runs: read as a failed check, a healthy
    server under an HTTP check looked unchecked (seen in CI under load)."""
    statuses = {stat.server: stat.check_status for stat in _CannedAPI("unused").stats()}
    assert statuses == {"node1": "L7OK", "node3": "L7OK"}


class _CannedPage(StatsPage):
    """A stats page whose CSV is given: with ``stats show-legends`` HAProxy fills the ``addr`` column."""

    def __init__(self, csv: str) -> None:
        super().__init__("http://lb.test/stats")
        self.csv = csv

    def command(self, command: str) -> str:
        return self.csv


def test_server_addresses_from_a_stats_page_with_legends() -> None:
    page = _CannedPage("# pxname,svname,stot,status,addr\n"
                       "commander-server-backend,node1,5,UP,10.0.0.1:8000\n"
                       "commander-server-backend,node2,5,UP,[fd00::2]:8000\n"
                       "commander-server-backend,BACKEND,10,UP,\n")
    assert page.server_addresses("commander-server-backend") == {"node1": ("10.0.0.1", 8000),
                                                                 "node2": ("fd00::2", 8000)}


def test_a_stats_page_without_addresses_says_what_would_give_them() -> None:
    with pytest.raises(TargetError, match="add `stats show-legends` to its listener, or give --runtime-api"):
        _CannedPage(CSV).server_addresses("commander-server-backend")
