"""``--arrival-rate R``: flow.py's scenarios as an open model on Locust, a gevent scheduler per scenario.

With ``--arrival-rate`` the locustfile's users are replaced by one *generator* user per Locust
user (``flowlb load`` runs one per process: ``--users`` = ``--processes``). Each generator splits
its share of R by the mix (:func:`flowlb.load.arrival.split_rate`) and runs one
:class:`~flowlb.load.arrival.Scheduler` per scenario. A request is one task of the scenario's own
user class (``FlowApiUser``'s weighted tasks, a handshake, a STOMP SEND), run on a *slot*: an
instance of that class, with its own connection or session, made on demand up to
``--arrival-connections`` and reused when free (a request that finds none free waits for one, as in
wrk2); at most ``--arrival-max-in-flight`` requests wait or run at once, further starts are dropped.
Latency counts from the intended send time into an HdrHistogram per path (:mod:`flowlb.load.hdr`);
Locust's own stats still count every request.

At its end a generator reports its counts, histograms and CPU once: to the master in a custom
message (``flowlb_arrival``), or directly on a local runner. When every generator has reported,
the master (or the local runner) writes ``arrival.json`` and the ``.hgrm`` files
(:mod:`flowlb.load.arrivalresult`) and stops Locust; an invalid run sets exit code 3.
"""

from __future__ import annotations

import inspect
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import gevent
import psutil
from gevent.lock import Semaphore
from gevent.pool import Group
from locust import User
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from flowlb.load import arrivalresult
from flowlb.load.arrival import LATE_BOUND_MS, Counts, Schedule, Scheduler, SlotPool, split_rate
from flowlb.load.options import SCENARIOS, parse_weights
from flowlb.load.validity import INVALID_EXIT_CODE, busy_percent, machine_times

log = logging.getLogger("flowlb.arrival")
MESSAGE = "flowlb_arrival"
DRAIN_S = 10.0  # after the last start, how long answers are awaited; the rest count as unfinished
OVERRUN_S = 5.0  # a generator still starting requests this long after its schedule's end stops; the rest are missed
SCENARIO_PATH = {"api": "https", "handshake": "handshake", "stomp": "stomp"}
MAX_INTERVALS = 120  # "latency over time" has at most this many points
DEFAULT_CONNECTIONS = 100  # per generator: ample for a rate at healthy latency, few enough that a stall opens no storm


def add_arguments(parser: Any) -> None:
    """The open model's options on Locust's parser, each with a ``FLOWLB_*`` variable."""
    group = parser.add_argument_group("Arrival rate", "an open model: requests start on schedule, latency from then")
    group.add_argument("--arrival-rate", env_var="FLOWLB_ARRIVAL_RATE", type=float, default=0.0,
                       help="requests per second in total, split by --flow-mix (0: Locust's closed model)")
    group.add_argument("--arrival-seconds", env_var="FLOWLB_ARRIVAL_SECONDS", type=float, default=0.0,
                       help=f"how long requests are started (default: --run-time less {DRAIN_S:g} s)")
    group.add_argument("--arrival-warmup", env_var="FLOWLB_ARRIVAL_WARMUP", type=float, default=-1.0,
                       help="seconds at the start left out of the figures (default: a fifth of the run, at most 5)")
    group.add_argument("--arrival-connections", env_var="FLOWLB_ARRIVAL_CONNECTIONS", type=int,
                       default=DEFAULT_CONNECTIONS, help="connections (STOMP sessions) per generator, split by the "
                       "mix, opened as needed and reused; a request finding none free waits, its wait in its latency")
    group.add_argument("--arrival-max-in-flight", env_var="FLOWLB_ARRIVAL_MAX_IN_FLIGHT", type=int, default=1000,
                       help="requests waiting or running per generator, split by the mix; beyond, starts are dropped")
    group.add_argument("--arrival-file", env_var="FLOWLB_ARRIVAL_FILE", default="",
                       help="where arrival.json and the .hgrm files go (default: the current directory)")
    group.add_argument("--arrival-generators", env_var="FLOWLB_ARRIVAL_GENERATORS", type=int, default=0,
                       help="generators sharing the rate (default: --users; set by the master for its workers)")


@dataclass(frozen=True)
class ArrivalPlan:
    """The open model's settings, read from Locust's options."""

    rate: float
    seconds: float
    warmup_s: float
    max_in_flight: int
    directory: Path
    generators: int
    connections: int = DEFAULT_CONNECTIONS

    @classmethod
    def from_options(cls, options: Any) -> ArrivalPlan:
        """Bad values raise ``ValueError`` with one line naming the option."""
        rate = float(options.arrival_rate)
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"--arrival-rate {rate!r}: give requests per second, a positive number")
        seconds = float(options.arrival_seconds or 0.0)
        if seconds <= 0:
            run_time = getattr(options, "run_time", None)
            if not run_time:
                raise ValueError("--arrival-rate needs --arrival-seconds or Locust's --run-time")
            seconds = max(1.0, float(run_time) - DRAIN_S)
        warmup = float(options.arrival_warmup)
        warmup = min(5.0, seconds / 5) if warmup < 0 else warmup
        if not (0 <= warmup < seconds and math.isfinite(seconds)):
            raise ValueError(f"--arrival-warmup {warmup:g} must be shorter than the run's {seconds:g} s")
        if not 1 <= int(options.arrival_max_in_flight) <= 100_000:
            raise ValueError(f"--arrival-max-in-flight {options.arrival_max_in_flight}: give 1 to 100000")
        connections = int(getattr(options, "arrival_connections", DEFAULT_CONNECTIONS))
        if not 1 <= connections <= 100_000:
            raise ValueError(f"--arrival-connections {connections}: give 1 to 100000")
        connections = min(connections, int(options.arrival_max_in_flight))  # no more can be busy at once
        file = Path(options.arrival_file) if options.arrival_file else Path(arrivalresult.FILE)
        generators = int(options.arrival_generators or getattr(options, "num_users", None) or 1)
        return cls(rate, seconds, warmup, int(options.arrival_max_in_flight), file.parent, max(1, generators),
                   connections)

    @property
    def interval_s(self) -> float:
        return max(1.0, math.ceil(self.seconds / MAX_INTERVALS))


@dataclass
class _Slot:
    """One concurrent request's home: an instance of the scenario's user class, made and started on first use
    (in the request's greenlet, so a failure to connect is that request's failure)."""

    cls: type[User]
    user: Any = None
    started: bool = False

    def prepare(self, environment: Any) -> Any:
        if self.user is None:
            if not self.cls.host and environment.host:
                self.cls.host = environment.host  # Locust sets it on the classes it runs; these it does not
            self.user = self.cls(environment)
        if not self.started:
            self.started = True
            self.user.on_start()
        return self.user


class Generation:
    """One generator's run: a scheduler per scenario, the requests they start, and its report at the end."""

    def __init__(self, environment: Any, plan: ArrivalPlan, classes: dict[str, type[User]],
                 rates: dict[str, float]) -> None:
        self.environment = environment
        self.plan = plan
        self.classes = classes
        self.rates = rates
        self.requests = Group()
        self.failures: dict[Any, bool] = {}  # request greenlet -> whether a Locust request in it failed
        self.pools: dict[str, SlotPool[_Slot]] = {}
        self.free: dict[str, Semaphore] = {}  # per scenario: a free connection, or a wait for one
        self.in_flight: dict[str, int] = {}
        self.bounds: dict[str, int] = {}  # per scenario: the most requests waiting or running

    def _on_request(self, exception: Any = None, **_: Any) -> None:
        current = gevent.getcurrent()
        if exception is not None and current in self.failures:
            self.failures[current] = True

    def run(self) -> dict[str, Any]:
        """Start every scheduled request, await the answers (bounded), and return the report."""
        from flowlb.load.hdr import PathLatency  # only an arrival-rate run needs hdrhistogram

        now = time.monotonic()
        start = now + 0.05
        wall_start = time.time() + (start - now)
        schedulers: dict[str, Scheduler] = {}
        latencies: dict[str, PathLatency] = {}
        share = sum(self.rates.values())
        for scenario, rate in self.rates.items():
            cls = self.classes[scenario]
            size = max(1, math.ceil(self.plan.connections * rate / share))
            pool: SlotPool[_Slot] = SlotPool(size, partial(_Slot, cls))
            self.pools[scenario] = pool
            self.free[scenario] = Semaphore(size)
            self.in_flight[scenario] = 0
            self.bounds[scenario] = max(size, math.ceil(self.plan.max_in_flight * rate / share))
            latency = latencies.setdefault(SCENARIO_PATH.get(scenario, scenario), PathLatency(self.plan.interval_s))
            scheduler = Scheduler(Schedule(start, rate, self.plan.seconds, self.plan.warmup_s), time.monotonic,
                                  gevent.sleep, partial(self._start, scenario, pool, latency))
            schedulers[scenario] = scheduler
        self.schedulers = schedulers
        cpu = _CpuWindow()
        sampler = gevent.spawn_later(max(0.0, start + self.plan.warmup_s - time.monotonic()), cpu.begin)
        self.environment.events.request.add_listener(self._on_request)
        loops = Group()
        try:
            overrun = start + self.plan.seconds + OVERRUN_S
            for scheduler in schedulers.values():
                loops.spawn(scheduler.run, lambda: time.monotonic() > overrun)
            loops.join()
            sampler.join(timeout=1.0)
            cpu.end()
            self.requests.join(timeout=DRAIN_S)
            self.requests.kill(block=True, timeout=5.0)  # the unanswered ones record their latency so far
        finally:
            loops.kill(block=False)
            self.requests.kill(block=False)
            self.environment.events.request.remove_listener(self._on_request)
            self._close_slots()
        counts: dict[str, Counts] = {}
        for scenario, scheduler in schedulers.items():
            counts.setdefault(SCENARIO_PATH.get(scenario, scenario), Counts()).add(scheduler.counts)
        return {
            "start": wall_start,
            "seconds": self.plan.seconds,
            "warmup_s": self.plan.warmup_s,
            "interval_s": self.plan.interval_s,
            "counts": {path: c.as_dict() for path, c in counts.items()},
            "latency": {path: latency.encoded() for path, latency in latencies.items()},
            "sending_seconds": max((s.sending_seconds() for s in schedulers.values()), default=0.0),
            "generator_cpu": cpu.process_percent(),
            "machine_cpu": cpu.machine_percent(),
        }

    def _start(self, scenario: str, pool: SlotPool[_Slot], latency: Any, index: int, intended: float) -> bool:
        if self.in_flight[scenario] >= self.bounds[scenario]:
            return False
        self.in_flight[scenario] += 1
        self.requests.spawn(self._request, scenario, pool, latency, index, intended)
        return True

    def _request(self, scenario: str, pool: SlotPool[_Slot], latency: Any, index: int, intended: float) -> None:
        scheduler = self.schedulers[scenario]
        me = gevent.getcurrent()
        self.failures[me] = False
        finished = False
        failed = True
        try:
            asked = time.monotonic()
            with self.free[scenario]:
                if time.monotonic() - asked > LATE_BOUND_MS / 1000.0:
                    scheduler.waited(index)
                slot = pool.acquire()
                assert slot is not None, "the semaphore admits no more requests than the pool has slots"
                try:
                    user = slot.prepare(self.environment)
                    random.choice(slot.cls.tasks)(user)
                    failed = self.failures.get(me, False)
                    finished = True
                finally:
                    pool.release(slot)
        except gevent.GreenletExit:
            raise
        except Exception as exc:  # noqa: BLE001 - a task may raise anything; it is a failed request
            finished = True
            log.debug("%s request failed: %s: %s", scenario, type(exc).__name__, exc)
        finally:
            self.in_flight[scenario] -= 1
            self.failures.pop(me, None)
            milliseconds = (time.monotonic() - intended) * 1000.0
            latency.record(intended - scheduler.schedule.start, milliseconds, scheduler.schedule.measured(index))
            scheduler.done(index, failed, finished)

    def _close_slots(self) -> None:
        for pool in self.pools.values():
            for slot in pool.made:
                if not slot.started or slot.user is None:
                    continue
                try:
                    with gevent.Timeout(2.0):
                        slot.user.on_stop()
                except (Exception, gevent.Timeout) as exc:  # noqa: BLE001 - closing is best effort, bounded
                    log.debug("closing a %s slot: %s", slot.cls.__name__, exc)


class _CpuWindow:
    """This process's CPU (% of one core) and the machine's (% of all cores, steal counted) over the window."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.began: tuple[float, float, Any] | None = None
        self.ended: tuple[float, float, Any] | None = None

    def _now(self) -> tuple[float, float, Any]:
        times = self.process.cpu_times()
        return time.monotonic(), times.user + times.system, machine_times()

    def begin(self) -> None:
        self.began = self._now()

    def end(self) -> None:
        if self.began is None:
            self.begin()
        self.ended = self._now()

    def process_percent(self) -> float:
        if self.began is None or self.ended is None or self.ended[0] <= self.began[0]:
            return 0.0
        return round(100.0 * (self.ended[1] - self.began[1]) / (self.ended[0] - self.began[0]), 1)

    def machine_percent(self) -> float | None:
        if self.began is None or self.ended is None:
            return None
        return busy_percent(self.began[2], self.ended[2])


class Controller:
    """One per Locust process: makes the generator user, gathers the generators' reports, writes the outcome.

    Its settings are read from the options when a generator starts, not when Locust starts: a remote
    worker learns ``--arrival-rate`` and the rest only from the master's spawn message."""

    def __init__(self, environment: Any, users: dict[str, type[User]]) -> None:
        self.environment = environment
        self.users = users
        self.reports: list[dict[str, Any]] = []
        self.result: dict[str, Any] | None = None
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            runner.register_message(MESSAGE, self._on_message)
        if not isinstance(runner, WorkerRunner):
            environment.events.quitting.add_listener(self._quitting)

    @property
    def plan(self) -> ArrivalPlan:
        return ArrivalPlan.from_options(self.environment.parsed_options)

    def scenarios(self) -> tuple[dict[str, type[User]], dict[str, float]]:
        """The scenarios that run (weight above 0, by ``--flow-mix`` or the class's weight) and their rates here."""
        options = self.environment.parsed_options
        given = parse_weights(str(getattr(options, "flow_mix", "") or ""), SCENARIOS, "--flow-mix")
        weights = {name: given.get(name, float(getattr(cls, "weight", 1))) for name, cls in self.users.items()}
        classes = {name: cls for name, cls in self.users.items() if weights[name] > 0}
        for name, cls in classes.items():
            if not all(inspect.isfunction(t) for t in cls.tasks):
                raise ValueError(f"--arrival-rate runs each {name} request as one task: {cls.__name__} has a TaskSet")
        plan = self.plan
        return classes, split_rate(plan.rate, weights, plan.generators)

    def user_class(self) -> type[User]:
        controller = self

        def generate(user: User) -> None:
            classes, rates = controller.scenarios()
            report = Generation(controller.environment, controller.plan, classes, rates).run()
            controller.generator_done(report)
            raise StopUser()

        class ArrivalGenerator(User):
            """Runs one generator's schedule once, reports, and stops."""

            tasks: ClassVar[list[Callable[[User], None]]] = [generate]

        return ArrivalGenerator

    def generator_done(self, report: dict[str, Any]) -> None:
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner):
            runner.send_message(MESSAGE, report)
        else:
            self._collect(report)

    def _on_message(self, environment: Any, msg: Any, **_: Any) -> None:
        self._collect(dict(msg.data))

    def _collect(self, report: dict[str, Any]) -> None:
        self.reports.append(report)
        if len(self.reports) >= self.plan.generators and self.result is None:
            self._finish()
            gevent.spawn(self.environment.runner.quit)  # the run is over: every generator has reported

    def _finish(self) -> None:
        result, windows = arrivalresult.outcome(self.reports, self.plan.generators)
        self.plan.directory.mkdir(parents=True, exist_ok=True)
        arrivalresult.write(self.plan.directory, result, windows)
        self.result = result

    def _quitting(self, environment: Any, **_: Any) -> None:
        if self.result is None:
            self._finish()
        assert self.result is not None
        rate = self.result.get("rate", {})
        if rate:
            log.info("arrival rate: offered %g req/s, achieved %g, %d late, %d waited, %d dropped, %d missed",
                     rate["offered"], rate["achieved"], rate["late"], rate["waited"], rate["dropped"], rate["missed"])
        for path, figures in self.result.get("latency_ms", {}).items():
            log.info("latency from the intended send time on %s: p50 %g ms, p99 %g ms, p99.9 %g ms, max %g ms",
                     path, figures["p50"], figures["p99"], figures["p99.9"], figures["max"])
        validity = self.result["validity"]
        for reason in validity["reasons"]:
            log.error("invalid run: %s", reason)
        if not validity["valid"]:
            environment.process_exit_code = INVALID_EXIT_CODE


def install(environment: Any, users: dict[str, type[User]]) -> bool:
    """With ``--arrival-rate``, replace the users by the generator and return True.

    Without it a remote worker still offers the generator (it learns the rate only when its master spawns
    one), beside the locustfile's users; the master or a local runner changes nothing."""
    options = environment.parsed_options
    worker = isinstance(environment.runner, WorkerRunner)
    if options is None or not (getattr(options, "arrival_rate", 0) or worker):
        return False
    controller = Controller(environment, users)
    if not options.arrival_rate:
        environment.user_classes.append(controller.user_class())
        return False
    plan = controller.plan  # bad values raise ValueError before any user starts
    if not worker:
        options.arrival_generators = plan.generators  # the workers learn it from the spawn message
        if not options.arrival_seconds:
            options.arrival_seconds = plan.seconds
        if options.arrival_warmup < 0:
            options.arrival_warmup = plan.warmup_s
    _, rates = controller.scenarios()
    environment.user_classes[:] = [controller.user_class()]
    log.info("arrival rate %g req/s over %d generator(s): %s per generator", plan.rate, plan.generators,
             ", ".join(f"{name} {rate:g}/s" for name, rate in rates.items()))
    return True
