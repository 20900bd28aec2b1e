"""``--stats-url``: HAProxy's stats page as read-only evidence (CSV over HTTP with basic auth)."""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator

import pytest

from flowlb.errors import TargetError
from flowlb.haproxy.runtime import StatsPage

CSV = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,status,check_status,check_code,lastchg,check_rise,check_fall\n"
    "commander-server-backend,node1,0,0,1,3,,120,UP,L7OK,200,30,2,3\n"
    "commander-server-backend,node2,0,0,0,3,,118,DOWN,L7STS,503,4,2,3\n"
    "commander-server-backend,BACKEND,0,0,1,3,,238,UP,,,30,,\n"
)


class _Stats(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
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
def stats_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stats)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/stats"
    finally:
        server.shutdown()
        server.server_close()


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
