"""The suite's long waits: started once the cluster is up, on a quiet twin of it, judged at the end.

A silent STOMP session (``--stomp-idle-seconds``) and Flow API calls that take over a minute
(``--long-request-seconds``) would add their sum to the suite's wall time if each waited in turn,
and a destructive check that kills the node under them would cut them for the wrong reason. So
they all start at once, while the other checks run, on a second cluster started from the same
config (on a live LB: on the LB itself, which the suite changes only with ``--destructive``). Each
check then reads its outcome, which names what failed and why::

    waits = LongWaits(lambda: start_target(...), idle_option_s=45, long_request_s=75, vhost=None)
    waits.outcome("long_request[8443]")   # blocks until that wait has ended
    waits.close()
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import urllib3

from flowlb.checks.settings import backend_of, idle_cut_s, section_for_role
from flowlb.lbclient import echo, lb_pool
from flowlb.policy import MARGIN_S, STOMP_IDLE_MIN_S
from flowlb.stompclient import StompError, open_session
from flowlb.targets.base import Target

IDLE_FIX = "Fix: `timeout tunnel 1h` (or longer than the longest silence) in the STOMP backend or defaults."
LONG_FIX = ("Fix: `timeout server` in the Flow server backend (or defaults) longer than the longest Flow API call "
            "(CloudBees' own ingress waits 4000 s).")
LONG_REQUEST_GRACE_S = 10.0  # how much later than asked the answer may come through the LB
LONG_REQUEST_ROLES = {"server_tls": "8443", "server": "8000"}
NAMES = ("stomp_idle", *(f"long_request[{port}]" for port in LONG_REQUEST_ROLES.values()))


@dataclass
class WaitOutcome:
    """How one long wait ended: a failure in an operator's words, a reason it could not apply, or neither."""

    failure: str | None = None
    skipped: str | None = None
    figures: dict[str, object] = field(default_factory=dict)


def idle_wait_s(target: Target, option_s: float) -> tuple[float, str | None]:
    """How long to stay silent (just past the config's own cut when that is short, else the option), or the
    config's own failure when it cuts too soon to be worth observing."""
    layout = getattr(target, "layout", None)
    front = section_for_role(target.config_text, layout, "stomp") if layout and target.config_text else None
    if front is None:
        return option_s, None
    cut, why = idle_cut_s(front, backend_of(target.config_text, front))
    if cut is None or cut >= STOMP_IDLE_MIN_S:
        return option_s, None
    if cut + MARGIN_S > 2 * option_s:
        return 0.0, (f"{front.where} (STOMP) cuts a silent session after {why}, less than the policy's "
                     f"{STOMP_IDLE_MIN_S:g} s: long commands such as waitForJob lose their session. {IDLE_FIX}")
    return cut + MARGIN_S, None


class LongWaits:
    """Every long wait of the session, running in the background on a twin cluster (or the live LB)."""

    def __init__(
        self, start: Callable[[], Target], idle_option_s: float, long_request_s: float, vhost: str | None,
        owns_target: bool = True,
    ) -> None:
        self.idle_option_s = idle_option_s
        self.long_request_s = long_request_s
        self.vhost = vhost
        self._owns_target = owns_target
        self._pool = ThreadPoolExecutor(max_workers=1 + len(NAMES), thread_name_prefix="flowlb-longwait")
        self._target: Future[Target] = self._pool.submit(start)
        self._jobs: dict[str, Future[WaitOutcome]] = {"stomp_idle": self._pool.submit(self._guarded, self._idle)}
        for role, port in LONG_REQUEST_ROLES.items():
            self._jobs[f"long_request[{port}]"] = self._pool.submit(self._guarded, self._long_request, role, port)

    def outcome(self, name: str) -> WaitOutcome:
        """The outcome of wait ``name`` (one of :data:`NAMES`), once it has ended."""
        return self._jobs[name].result()

    def close(self) -> None:
        """Stop the twin cluster (which ends any wait still on it) and the threads; safe to call twice."""
        with contextlib.suppress(BaseException):
            target = self._target.result(timeout=0) if self._target.done() else None
            if target is None:
                self._target.cancel()
            elif self._owns_target:
                target.close()
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._owns_target and self._target.done() and not self._target.cancelled():
            with contextlib.suppress(BaseException):
                self._target.result(timeout=0).close()  # started while we were shutting down

    # -- the waits ------------------------------------------------------------------------------

    def _guarded(self, wait: Callable[..., WaitOutcome], *args: str) -> WaitOutcome:
        try:
            target = self._target.result()
        except Exception as exc:  # noqa: BLE001 - whatever stopped it, the checks report it
            return WaitOutcome(failure=f"the quiet twin of the cluster for the long waits did not start: {exc}")
        try:
            return wait(target, *args)
        except (OSError, StompError, urllib3.exceptions.HTTPError) as exc:
            return WaitOutcome(failure=f"the wait broke off: {type(exc).__name__}: {exc}")

    def _idle(self, target: Target) -> WaitOutcome:
        idle_s, failure = idle_wait_s(target, self.idle_option_s)
        if failure is not None:
            return WaitOutcome(failure=failure)
        session = open_session(target.endpoints.stomp, target.ca_file, heartbeats=(0, 0),
                               socket_timeout=idle_s + 30, vhost=self.vhost)
        try:
            if session.wait_for_disconnect(idle_s):
                return WaitOutcome(failure=f"the LB cut a silent STOMP session before {idle_s:g} s: long commands "
                                           f"such as waitForJob lose their session. {IDLE_FIX}",
                                   figures={"stomp_idle_s": idle_s})
            session.send_with_receipt("/queue/flowlb.idle", b"after the silence")
        finally:
            session.close()
        return WaitOutcome(figures={"stomp_idle_s": idle_s})

    def _long_request(self, target: Target, role: str, port: str) -> WaitOutcome:
        if not target.echoes():
            return WaitOutcome(skipped="needs nodes that answer late on request (flowlb's mock nodes); this LB fronts "
                                       "real Flow servers")
        delay_ms = int(self.long_request_s * 1000)
        pool = lb_pool(target.endpoints.by_role()[role], tls=role == "server_tls", ca_file=target.ca_file,
                       server_name=target.endpoints.server_name,
                       timeout=urllib3.Timeout(connect=5.0, read=self.long_request_s + LONG_REQUEST_GRACE_S))
        started = time.monotonic()
        try:
            with pool:
                reply = pool.request("GET", f"/flowlb/long-request?delay_ms={delay_ms}")
        except urllib3.exceptions.ReadTimeoutError:
            return WaitOutcome(failure=f"a Flow API call on {port} whose server answers after "
                                       f"{self.long_request_s:g} s got no answer at all within "
                                       f"{self.long_request_s + LONG_REQUEST_GRACE_S:g} s: the LB cut it and (with "
                                       "`retry-on response-timeout`) sent it again to other servers, each cut in turn. "
                                       f"{LONG_FIX}")
        took = time.monotonic() - started
        figures: dict[str, object] = {f"long_request_{port}_s": round(took, 1), f"long_request_{port}_status":
                                      reply.status}
        if reply.status != 200:
            return WaitOutcome(failure=f"a Flow API call on {port} whose server answers after "
                                       f"{self.long_request_s:g} s got {reply.status} from the LB after {took:.1f} s "
                                       f"instead of its answer. {LONG_FIX}", figures=figures)
        figures[f"long_request_{port}_node"] = echo(reply)["node"]
        return WaitOutcome(figures=figures)
