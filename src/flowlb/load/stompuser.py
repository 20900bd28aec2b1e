"""A Locust user for STOMP, in the style of Locust's ``contrib/mqtt.py``: a client wrapper + an abstract user.

:class:`StompClient` wraps one :class:`flowlb.stompclient.StompSession` and reports every operation
through ``events.request`` with its response time and size, under stable names, so Locust's stats,
CSV, HTML and distributed mode treat STOMP like any HTTP path. :class:`StompUser` opens its session
in ``on_start`` and closes it in ``on_stop``; a session the LB drops (failover) is reopened by the
next task, and the failed reconnects are counted too. CONNECT carries ``--flow-user``'s login and
passcode (:mod:`flowlb.load.credentials`); a first CONNECT refused with an ERROR frame ends the run.

stomp.py 8.2 works over TLS under gevent; 9.0 does not (docs/findings.md), hence the pin.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import gevent
from locust import User
from locust.env import Environment

from flowlb.errors import FlowlbError
from flowlb.load.credentials import FlowLogin
from flowlb.load.login import STOMP, account, refuse_run
from flowlb.load.options import StompTarget, stomp_target
from flowlb.load.paths import STOMP_REQUEST_TYPE
from flowlb.net import Endpoint
from flowlb.stompclient import StompError, StompRefused, StompSession, open_session

logging.getLogger("stomp.py").setLevel(logging.WARNING)  # one INFO line per session drowns Locust's output
RECONNECT_BACKOFF_S = 0.2  # after a failed CONNECT, so a dead LB is not hammered in a tight loop


class StompClient:
    """One STOMP session whose operations are Locust requests (request type ``STOMP``)."""

    def __init__(self, environment: Environment, target: StompTarget, timeout: float = 10.0,
                 login: FlowLogin | None = None) -> None:
        self.environment = environment
        self.target = target
        self.timeout = timeout
        self.login = login
        self.session: StompSession | None = None
        self.subscriptions: list[str] = []
        self.refusal = ""
        """Why the server refused the last CONNECT with an ERROR frame (a wrong login, say), or ``""``."""

    def _fire(self, name: str, started: float, length: int, exception: BaseException | None) -> None:
        self.environment.events.request.fire(
            request_type=STOMP_REQUEST_TYPE,
            name=name,
            response_time=(time.perf_counter() - started) * 1000.0,
            response_length=length,
            exception=exception,
            context={"node": self.session.node if self.session else ""},
        )

    def connected(self) -> bool:
        return self.session is not None and self.session.connected()

    def connect(self) -> bool:
        """Open the session (reported as ``CONNECT``) and renew the subscriptions; False on failure."""
        self.close()
        started = time.perf_counter()
        ca_file = Path(self.target.ca_file) if self.target.tls and self.target.verify and self.target.ca_file else None
        self.refusal = ""
        try:
            self.session = open_session(
                Endpoint(self.target.host, self.target.port),
                ca_file,
                timeout=self.timeout,
                unverified_tls=self.target.tls and ca_file is None,
                vhost=self.target.vhost or None,
                login=self.login.user if self.login else None,
                passcode=self.login.password if self.login else None,
                server_name=self.target.server_name or None,
            )
            for destination in self.subscriptions:
                self.session.subscribe(destination, subscription_id=destination)
        except (StompError, OSError) as exc:
            self.session = None
            if isinstance(exc, StompRefused):
                self.refusal = str(exc)
            self._fire("CONNECT", started, 0, exc)
            return False
        self._fire("CONNECT", started, 0, None)
        return True

    def subscribe(self, destination: str) -> None:
        """Subscribe now and after every reconnect."""
        self.subscriptions.append(destination)
        if self.session is not None:
            self.session.subscribe(destination, subscription_id=destination)

    def _measure(self, name: str, length: int, action: Callable[[StompSession], object]) -> None:
        if not self.connected() and not self.connect():
            gevent.sleep(RECONNECT_BACKOFF_S)
            return
        assert self.session is not None
        started = time.perf_counter()
        try:
            action(self.session)
        except (StompError, OSError, FlowlbError) as exc:
            self._fire(name, started, length, exc)
            return
        except Exception as exc:  # noqa: BLE001 - stomp.py raises its own types on a dropped socket
            self._fire(name, started, length, exc)
            return
        self._fire(name, started, length, None)

    def send_with_receipt(self, destination: str, body: bytes, name: str | None = None) -> None:
        """SEND with a ``receipt`` header and wait for the RECEIPT."""
        self._measure(name or f"SEND+RECEIPT {destination}", len(body),
                      lambda s: s.send_with_receipt(destination, body))

    def round_trip(self, destination: str, body: bytes, name: str | None = None) -> None:
        """SEND to a subscribed destination and wait for the MESSAGE to come back."""
        self._measure(name or f"SEND->MESSAGE {destination}", len(body), lambda s: s.round_trip(destination, body))

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None


class StompUser(User):
    """Abstract: a user with one STOMP session (``self.client``), opened in ``on_start``, closed in ``on_stop``.

    The endpoint comes from the Flow options (``--stomp-host``/``--stomp-port``/``--ca-file``), so the
    same user runs against the harness and a real LB.
    """

    abstract = True
    timeout: ClassVar[float] = 10.0

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        options: Any = environment.parsed_options
        self.client = StompClient(environment, stomp_target(options, environment.host or ""), self.timeout,
                                  account(environment))

    def on_start(self) -> None:
        """Connect; a server that refuses the first CONNECT outright (a wrong login) ends the run in one line."""

        def connect() -> None:
            if not self.client.connect() and self.client.refusal:
                who = f" as {self.client.login.user}" if self.client.login else " without --flow-user"
                refuse_run(self.environment, f"flowlb: STOMP login{who} refused: {self.client.refusal}")

        STOMP.first_alone(connect)  # the first CONNECT goes alone: a wrong passcode is one ERROR, not one per user

    def on_stop(self) -> None:
        self.client.close()
