"""Load on the critical Flow paths through the LB: the API on 8443, TLS handshakes on 8443, STOMP on 61613.

    locust -f loadtests/flow.py --host https://LB:8443 --ca-file ca.pem          # web UI on :8089
    locust -f loadtests/flow.py --host https://LB:8443 --ca-file ca.pem --headless -u 50 -r 50 -t 1m
    flowlb load --target local --run-time 30s                                     # own cluster + reports/

``--flow-mix api=4,handshake=1,stomp=2`` weighs the users (0 leaves one out); ``--slo-p95-ms``
and ``--slo-failure-ratio`` set the exit code; all options are in ``flowlb/load/options.py``.
On a real CloudBees CD cluster, ``--flow-user NAME`` (password in ``$FLOWLB_FLOW_PASSWORD`` or
``--flow-password-file``) logs every user in once; the API mix is read-only unless
``--allow-writes`` (``flowlb load`` allows them on its own mock cluster): ``flowlb/load/credentials.py``.
Only the users live here; their plumbing is in ``flowlb.load``.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from locust import events, task

from flowlb.load import hooks
from flowlb.load.credentials import writes
from flowlb.load.https import FlowHttpsUser, commander_request, job_request
from flowlb.load.login import open_session, renew_session
from flowlb.load.paths import HANDSHAKE_PREFIX
from flowlb.load.stompuser import StompUser

PROJECTS = [f"flowlb-project-{n}" for n in range(20)]


@events.init_command_line_parser.add_listener
def _flow_options(parser: Any) -> None:
    hooks.add_options(parser)


@events.init.add_listener
def _flow_init(environment: Any, **_: Any) -> None:
    hooks.init(environment, {"api": FlowApiUser, "handshake": TlsHandshakeUser, "stomp": FlowStompUser})


class FlowApiUser(FlowHttpsUser):
    """A Flow client on 8443: keep-alive HTTPS in one login session, mostly small GETs, and (where writes are
    allowed) some POSTs with bodies."""

    weight = 4

    def on_start(self) -> None:
        self.job_body = job_request(self.message_size)
        self.xml_body = commander_request(self.message_size)
        self.session = open_session(self)  # headers that carry the session, if the cookie jar does not

    @task(3)
    def health(self) -> None:
        self.client.get("/commanderRequest/health")

    def api(self, method: str, path: str, name: str | None = None, headers: dict[str, str] | None = None,
            data: str | None = None) -> None:
        """One call within the user's session; a 401 (the session expired) renews it for the next calls."""
        response = self.client.request(method, path, name=name, data=data, headers={**(headers or {}), **self.session})
        if response.status_code == 401:
            self.session = renew_session(self, self.session)

    @task(5)
    def get_project(self) -> None:
        self.api("GET", f"/rest/v1.0/projects/{random.choice(PROJECTS)}", name="/rest/v1.0/projects/[name]")

    @task(1)
    def list_projects(self) -> None:
        self.api("GET", "/rest/v1.0/projects")

    @task(1)
    def server_info(self) -> None:
        self.api("GET", "/rest/v1.0/server/info")

    @task(3)
    def list_jobs(self) -> None:
        self.api("GET", "/rest/v1.0/jobs?maxResults=10&sortKey=finish", name="/rest/v1.0/jobs")

    @task(2)
    @writes
    def run_procedure(self) -> None:
        self.api("POST", "/rest/v1.0/jobs?request=runProcedure", data=self.job_body,
                 headers={"Content-Type": "application/json"}, name="/rest/v1.0/jobs (runProcedure)")

    @task(1)
    @writes  # a POST: the XML API's getProperty reads, but other requests in it write, and the LB cannot tell
    def commander_request(self) -> None:
        self.api("POST", "/commanderRequest", data=self.xml_body, headers={"Content-Type": "text/xml"},
                 name="/commanderRequest")


class TlsHandshakeUser(FlowHttpsUser):
    """A client that opens a new TLS connection for every request: the handshake rate the LB sustains."""

    weight = 1

    @task
    def new_connection(self) -> None:
        self.client.get("/commanderRequest/health", headers={"Connection": "close"},
                        name=f"{HANDSHAKE_PREFIX}/commanderRequest/health")


class FlowStompUser(StompUser):
    """An agent-like STOMP client on 61613: SENDs acknowledged by RECEIPT, and a message round trip."""

    weight = 2

    def on_start(self) -> None:
        parsed: Any = self.environment.parsed_options
        self.destination = parsed.stomp_destination
        self.inbox = f"{self.destination}.{uuid.uuid4().hex[:8]}"
        self.body = b"x" * int(parsed.message_size)
        self.client.subscribe(self.inbox)
        super().on_start()

    @task(3)
    def send(self) -> None:
        self.client.send_with_receipt(self.destination, self.body, name=f"SEND+RECEIPT {self.destination}")

    @task(1)
    def round_trip(self) -> None:
        self.client.round_trip(self.inbox, self.body, name=f"SEND->MESSAGE {self.destination}.[user]")
