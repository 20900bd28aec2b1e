"""The suite's long waits: started once the cluster is up, on a quiet twin of it, judged at the end.

A silent STOMP session (``--stomp-idle-seconds``), Flow API calls that take over a minute
(``--long-request-seconds``) and a client that dribbles its headers (`flowlb.checks.slowheaders`)
would add their sum to the suite's wall time if each waited in turn, and a destructive check that
kills a node or restarts HAProxy under them would cut them for the wrong reason. So
they all start at once, while the other checks run, on a second cluster started from the same
config (on a live LB: on the LB itself, which the suite changes only with ``--destructive``). Each
check then reads its outcome, which names what failed and why.

On the twin, which carries nothing but these waits, HAProxy's own timers for each wait's stream
(``show sess all``, see `flowlb.haproxy.streams`) say within a second when HAProxy would cut it: a
timer that outlasts the policy (the call's ``--long-request-seconds``, a silent session's 600 s)
passes, one that fires within the policy's ``observe_cut_max_s`` is waited for and observed, and a later one
fails on HAProxy's word. Where the timers cannot be read (a live LB, which carries other traffic),
the whole wait is observed: ``--long-request-seconds`` for a call, ``--stomp-idle-seconds`` of silence.
That decision is :func:`timer_verdict` (:func:`idle_verdict`, :func:`long_request_verdict`), a pure function of
the timer and the policy, tested from golden dumps in ``tests/checks/test_longwaits.py``::

    waits = LongWaits(lambda: start_target(...), idle_option_s=45, long_request_s=75, vhost=None)
    waits.outcome("long_request[8443]")   # blocks until that wait has ended
    waits.close()
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import urllib3

from flowlb import policy
from flowlb.checks.settings import backend_of, idle_cut_s, section_for_role
from flowlb.checks.slowheaders import slow_client
from flowlb.errors import TargetError
from flowlb.haproxy.config import parsed
from flowlb.haproxy.streams import StreamTimers, find_stream
from flowlb.lbclient import echo, lb_pool
from flowlb.net import wait_until
from flowlb.stompclient import StompError, StompSession, open_session
from flowlb.targets.base import Target

IDLE_FIX = "Fix: `timeout tunnel 1h` (or longer than the longest silence) in the STOMP backend or defaults."
LONG_FIX = ("Fix: `timeout server` in the Flow server backend (or defaults) longer than the longest Flow API call "
            "(CloudBees' own ingress waits 4000 s).")
LONG_REQUEST_GRACE_S = 10.0  # how much later than asked the answer may come through the LB
LONG_REQUEST_ROLES = {"server_tls": "8443", "server": "8000"}
STREAM_FIND_S = 5.0  # how long HAProxy may take to show a wait's stream connected to a server
NAMES = ("stomp_idle", "slow_headers", *(f"long_request[{port}]" for port in LONG_REQUEST_ROLES.values()))


@dataclass
class WaitOutcome:
    """How one long wait ended: a failure in an operator's words, a reason it could not apply, or neither."""

    failure: str | None = None
    skipped: str | None = None
    figures: dict[str, object] = field(default_factory=dict)


Verdict = Literal["pass", "observe", "fail"]
"""What HAProxy's timer for a wait's stream decides: the wait passes, the cut is observed, or the wait fails."""


def timer_verdict(cut_s: float | None, needed_s: float, rules: policy.Policy) -> Verdict:
    """Judge a wait that needs ``needed_s`` more seconds by HAProxy's nearest timer for its stream (``cut_s``).

    A timer that outlasts the need (or none armed) passes; one that fires, with the policy's margin, within
    its ``observe_cut_max_s`` is close enough to be waited for and observed; a later one fails on HAProxy's word.
    """
    if cut_s is None or cut_s >= needed_s:
        return "pass"
    if cut_s + rules.margin_s <= rules.observe_cut_max_s:
        return "observe"
    return "fail"


def idle_verdict(cut_s: float | None, rules: policy.Policy) -> Verdict:
    """A silent STOMP session's verdict: its timer held against the policy's ``stomp_idle_min_s``."""
    return timer_verdict(cut_s, rules.stomp_idle_min_s, rules)


def long_request_verdict(cut_s: float | None, remaining_s: float, rules: policy.Policy) -> Verdict:
    """A waiting Flow API call's verdict: its timer held against the ``remaining_s`` until the node answers,
    plus the policy's margin."""
    return timer_verdict(cut_s, remaining_s + rules.margin_s, rules)


def timer_figure(cut_s: float | None) -> float | str:
    """A timer for the report: its seconds, or ``"never"`` when none is armed."""
    return cut_s if cut_s is not None else "never"


def idle_timer_failure(cut_s: float, rules: policy.Policy, reason: str = "") -> str:
    """Why a silent session fails on HAProxy's timer (``reason``: the config's setting, :func:`idle_cut_reason`)."""
    return (f"HAProxy will cut a silent STOMP session after {cut_s:g} s (its own timer for the session, `show sess`"
            f"{reason}), less than the policy's {rules.stomp_idle_min_s:g} s: long commands such as waitForJob lose "
            f"their session. {IDLE_FIX}")


def idle_rearmed_failure(cut_s: float, rules: policy.Policy) -> str:
    """Why a silent session that outlived its short timer still fails: the timer re-arms short of the policy."""
    return (f"HAProxy kept the silent session past its timer ({cut_s:g} s) but gives it less than the policy's "
            f"{rules.stomp_idle_min_s:g} s. {IDLE_FIX}")


def long_request_timer_failure(port: str, cut_s: float, timer_name: str, long_request_s: float) -> str:
    """Why a waiting Flow API call fails on HAProxy's timer ``timer_name`` (``scb.rex``)."""
    return (f"HAProxy will cut a Flow API call on {port} after {cut_s:g} s (its own timer for the call, `show sess`: "
            f"{timer_name}), before the node's answer at {long_request_s:g} s: the client gets a 504. {LONG_FIX}")


def idle_cut_reason(target: Target) -> str:
    """Which setting of the config under test bounds a silent STOMP session (for messages), or ``""``."""
    layout = target.layout
    config = parsed(target.config_text) if layout and target.config_text else None
    front = section_for_role(config, layout, "stomp") if config is not None and layout else None
    if config is None or front is None:
        return ""
    cut, why = idle_cut_s(front, backend_of(config, front))
    return f"; {front.where}: {why}" if cut is not None else ""


class StreamWatch:
    """HAProxy's own timers for one wait's stream on a quiet test cluster (``usable`` where they can be read).

    Only a cluster that carries nothing but the long waits is read this way: there the stream that
    came in on a port is the wait's own, without guessing.
    """

    def __init__(self, target: Target, role: str) -> None:
        self.api = target.evidence()
        layout = target.layout
        address = layout.binds.get(role, "") if layout is not None else ""
        port = address.split(",")[0].rpartition(":")[2]
        self.port = int(port) if port.isdigit() else None

    @property
    def usable(self) -> bool:
        return self.api is not None and self.port is not None

    def next_cut(self, *, http: bool, give_up: Callable[[], bool]) -> StreamTimers | None:
        """The wait's stream once HAProxy carries it to a server (polled for at most ``STREAM_FIND_S``)."""
        assert self.api is not None and self.port is not None
        api, port = self.api, self.port
        found: list[StreamTimers] = []

        def seen() -> bool:
            stream = find_stream(api.command("show sess all"), port, http=http)
            if stream is not None:
                found.append(stream)
            return bool(found) or give_up()

        with contextlib.suppress(TimeoutError, OSError, TargetError):
            wait_until(seen, STREAM_FIND_S, "the wait's stream in HAProxy's `show sess`", interval=0.05)
        return found[0] if found else None


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
        self._jobs: dict[str, Future[WaitOutcome]] = {"stomp_idle": self._pool.submit(self._guarded, self._idle),
                                                      "slow_headers": self._pool.submit(self._guarded, self._slow)}
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

    def _watch(self, target: Target, role: str) -> StreamWatch | None:
        """HAProxy's timers for this wait, where the cluster is the quiet twin of the test cluster."""
        if not self._owns_target:
            return None  # a live LB carries other traffic: observe the whole wait there
        watch = StreamWatch(target, role)
        return watch if watch.usable else None

    def _idle(self, target: Target) -> WaitOutcome:
        session = open_session(target.endpoints.stomp, target.ca_file, heartbeats=(0, 0),
                               socket_timeout=self.idle_option_s + 30, vhost=self.vhost,
                               server_name=target.endpoints.server_name)
        try:
            watch = self._watch(target, "stomp")
            stream = watch.next_cut(http=False, give_up=lambda: False) if watch else None
            if stream is None:
                return self._observe_silence(session, self.idle_option_s)
            cut, rules = stream.next_cut_s, policy.current()
            figures: dict[str, object] = {"stomp_idle_haproxy_timer_s": timer_figure(cut)}
            verdict = idle_verdict(cut, rules)
            if verdict == "pass":
                session.send_with_receipt("/queue/flowlb.idle", b"after reading HAProxy's timers")
                return WaitOutcome(figures=figures)
            assert cut is not None  # only an armed timer observes or fails
            if verdict == "observe":
                outcome = self._observe_silence(session, cut + rules.margin_s)
                if outcome.failure is None:  # the timer was re-armed rather than fired: hold it to the policy
                    return WaitOutcome(failure=idle_rearmed_failure(cut, rules))
                return outcome
            return WaitOutcome(failure=idle_timer_failure(cut, rules, idle_cut_reason(target)), figures=figures)
        finally:
            session.close()

    @staticmethod
    def _slow(target: Target) -> WaitOutcome:
        took, limit, failure = slow_client(target)
        return WaitOutcome(failure=failure, figures={"slow_client_cut_after_s": round(took, 1),
                                                     "slow_client_limit_s": limit})

    @staticmethod
    def _observe_silence(session: StompSession, silence_s: float) -> WaitOutcome:
        """Stay silent for ``silence_s`` and prove the session still carries a RECEIPT."""
        if session.wait_for_disconnect(silence_s):
            return WaitOutcome(failure=f"the LB cut a silent STOMP session before {silence_s:g} s: long commands "
                                       f"such as waitForJob lose their session. {IDLE_FIX}",
                               figures={"stomp_idle_s": silence_s})
        session.send_with_receipt("/queue/flowlb.idle", b"after the silence")
        return WaitOutcome(figures={"stomp_idle_s": silence_s})

    def _long_request(self, target: Target, role: str, port: str) -> WaitOutcome:
        if not target.echoes():
            return WaitOutcome(skipped="needs nodes that answer late on request (flowlb's mock nodes); this LB fronts "
                                       "real Flow servers: run it on the local or containers target "
                                       "(with --haproxy-cfg for your own config)")
        call = _LongCall(target, role, self.long_request_s)
        watch = self._watch(target, role)
        stream = watch.next_cut(http=True, give_up=call.done.is_set) if watch else None
        if stream is None or call.done.is_set():
            return call.judge(port)
        cut, remaining, rules = stream.next_cut_s, self.long_request_s - call.elapsed(), policy.current()
        figures: dict[str, object] = {f"long_request_{port}_haproxy_timer_s": timer_figure(cut),
                                      f"long_request_{port}_node": stream.server}
        verdict = long_request_verdict(cut, remaining, rules)
        if verdict == "pass":
            return WaitOutcome(figures=figures)  # HAProxy waits for the answer longer than the call takes
        if verdict == "observe":
            return call.judge(port)  # close enough to watch it happen
        assert cut is not None  # only an armed timer fails
        return WaitOutcome(failure=long_request_timer_failure(port, cut, stream.next_cut_name, self.long_request_s),
                           figures=figures)


class _LongCall:
    """One Flow API call on a role whose node answers after ``seconds``, running in its own thread."""

    def __init__(self, target: Target, role: str, seconds: float) -> None:
        self.seconds = seconds
        self.done = threading.Event()
        self.started = time.monotonic()
        self._reply: urllib3.BaseHTTPResponse | None = None
        self._error: BaseException | None = None
        self._pool = lb_pool(target.endpoints.by_role()[role], tls=role == "server_tls", ca_file=target.ca_file,
                             server_name=target.endpoints.server_name,
                             timeout=urllib3.Timeout(connect=5.0, read=seconds + LONG_REQUEST_GRACE_S))
        threading.Thread(target=self._run, name=f"flowlb-long-call-{role}", daemon=True).start()

    def _run(self) -> None:
        try:
            with self._pool:
                self._reply = self._pool.request("GET", f"/flowlb/long-request?delay_ms={int(self.seconds * 1000)}")
        except BaseException as exc:  # noqa: BLE001 - judged by the waiting thread
            self._error = exc
        finally:
            self.done.set()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def judge(self, port: str) -> WaitOutcome:
        """Wait for the call's end and say whether the LB passed the node's late answer on."""
        self.done.wait(self.seconds + LONG_REQUEST_GRACE_S + 10)
        if isinstance(self._error, urllib3.exceptions.ReadTimeoutError) or not self.done.is_set():
            return WaitOutcome(failure=f"a Flow API call on {port} whose server answers after "
                                       f"{self.seconds:g} s got no answer at all within "
                                       f"{self.seconds + LONG_REQUEST_GRACE_S:g} s: the LB cut it and (with "
                                       "`retry-on response-timeout`) sent it again to other servers, each cut in turn. "
                                       f"{LONG_FIX}")
        if self._error is not None:
            raise self._error
        took = time.monotonic() - self.started
        assert self._reply is not None
        figures: dict[str, object] = {f"long_request_{port}_s": round(took, 1), f"long_request_{port}_status":
                                      self._reply.status}
        if self._reply.status != 200:
            return WaitOutcome(failure=f"a Flow API call on {port} whose server answers after "
                                       f"{self.seconds:g} s got {self._reply.status} from the LB after {took:.1f} s "
                                       f"instead of its answer. {LONG_FIX}", figures=figures)
        figures[f"long_request_{port}_node"] = echo(self._reply)["node"]
        return WaitOutcome(figures=figures)
