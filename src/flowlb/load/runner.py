"""``flowlb load``: run ``loadtests/flow.py`` headless against a started target, keep Locust's reports.

The target is flowlb's cluster (a profile, or the operator's config) or a live LB: see
:mod:`flowlb.load.target`.

Locust runs as a subprocess (importing it would monkey-patch this process with gevent) in its own
process group, so ``--processes`` children die with it. Its HTML, CSV (with the full per-second
history) and JSON land in ``reports/<run>/`` beside flowlb's ``summary.json`` and ``index.html``
(throughput over time with the failover marked, latency per path). The directory appears only
when the run finished; an interrupted or failed start leaves neither a report directory nor a
container or process behind.

With ``--failover kill|hang`` one node is killed or frozen once load is flowing (HAProxy's own
counters say so) and ``timeline.json`` records when, and when HAProxy marked it DOWN.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flowlb.errors import FlowlbError
from flowlb.evidence import DOWN, FAILURE, NOTE, timeline_event
from flowlb.haproxy.operator import LABEL_PREFIX
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.interrupts import deferred_signals
from flowlb.load import report as load_report
from flowlb.load.arrivalresult import arrival_environment, fold_arrival
from flowlb.load.baseline import fold_baseline
from flowlb.load.credentials import REFUSAL_FILE_VARIABLE, LoadLogin
from flowlb.load.plan import LoadPlan
from flowlb.load.results import LoadResult, failover_summary, read_history
from flowlb.net import free_port, wait_until
from flowlb.processgroup import stop_group
from flowlb.reporting import discard, fresh_directory, publish
from flowlb.targets.base import FAILOVERS, Target, fail_node

STARTUP_MARGIN_S = 60.0  # Locust's start, spawning and its own stop, on top of --run-time
ARRIVAL_MARGIN_S = 30.0  # an arrival-rate run's Locust bound beyond its schedule: the drain, the reports, the stop


@dataclass
class Timeline:
    """Moments of a failover run (Unix time), beside Locust's per-second history."""

    load_seen: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)

    def mark(self, what: str, kind: str, **details: Any) -> None:
        self.events.append(timeline_event(time.time(), what, kind, **details))


def locust_command(plan: LoadPlan, target: Target, prefix: Path) -> list[str]:
    """The Locust command line for a headless run against ``target`` writing ``prefix``.{html,json,_*.csv}."""
    https = target.endpoints.server_tls
    if plan.search is not None:  # the shape sets the users and ends the run; failures end a step, not the run
        load = ["--exit-code-on-error", "0"]
    elif plan.arrival_rate:  # one generator per process; it ends the run itself once every generator reported
        generators = str(max(1, plan.processes))
        load = ["--users", generators, "--spawn-rate", generators,
                "--run-time", f"{math.ceil(plan.seconds() + ARRIVAL_MARGIN_S)}s"]
    else:
        load = ["--users", str(plan.users), "--spawn-rate", str(plan.spawn_rate), "--run-time", plan.run_time]
    command = [
        sys.executable, "-m", "locust", "-f", str(plan.locustfile), "--headless",
        "--host", f"https://{https.host}:{https.port}", *load,
        "--stop-timeout", "5",
        "--html", f"{prefix}.html", "--csv", str(prefix), "--csv-full-history", "--json-file", str(prefix),
        "--only-summary",
    ]
    if plan.processes:
        command += ["--processes", str(plan.processes), *loopback_master(plan.extra)]
    if plan.failover:
        # failures are the point of a failover run: the SLO gate (--slo-failure-ratio) judges them
        command += ["--exit-code-on-error", "0"]
    return command + plan.extra


MASTER_FLAGS = ("--master-bind-host", "--master-bind-port", "--master-host", "--master-port", "--master", "--worker")
MASTER_VARIABLES = ("LOCUST_MASTER_BIND_HOST", "LOCUST_MASTER_BIND_PORT", "LOCUST_MASTER_NODE_HOST",
                    "LOCUST_MASTER_NODE_PORT", "LOCUST_MODE_MASTER", "LOCUST_MODE_WORKER")


def loopback_master(extra: list[str]) -> list[str]:
    """Where ``--processes``' master listens for its workers: 127.0.0.1 on a free port, so that nobody on the
    network can join the run as a worker and two runs at once do not collide on Locust's 5557. A user who
    names the master's address or a mode (master/worker across machines) keeps their own."""
    own = [word for word in extra if word.split("=", 1)[0] in MASTER_FLAGS]
    if own or any(os.environ.get(name) for name in MASTER_VARIABLES):
        return []
    port = str(free_port())
    return ["--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--master-host", "127.0.0.1",
            "--master-port", port]


def locust_environment(target: Target, mix: str = "", login: LoadLogin | None = None) -> dict[str, str]:
    """The Flow options for ``target`` as environment variables, so Locust's workers see them as well
    (writes on for flowlb's own cluster: :func:`flowlb.load.credentials.writes_allowed`)."""
    env = dict(os.environ)
    env.update({
        "FLOWLB_CA_FILE": str(target.ca_file),
        "FLOWLB_STOMP_HOST": target.endpoints.stomp.host,
        "FLOWLB_STOMP_PORT": str(target.endpoints.stomp.port),
        "FLOWLB_LB_NAME": target.endpoints.server_name,  # the certificate's name, whatever address is dialled
        **(login or LoadLogin()).variables(target.kind),
    })
    if mix:
        env["FLOWLB_MIX"] = mix
    return env


def _sessions_so_far(runtime: RuntimeAPI) -> int:
    return sum(stat.total_sessions for stat in runtime.stats())


def inject_failover(plan: LoadPlan, target: Target, timeline: Timeline, deadline: float) -> None:
    """Once HAProxy counts load, wait the chosen time, kill or freeze the first node, watch it go DOWN."""
    runtime, nodes = target.evidence(), target.nodes()
    if runtime is None or nodes is None:
        raise FlowlbError(f"--failover needs node control and HAProxy's runtime API, which {target.kind} lacks")
    baseline = _sessions_so_far(runtime)
    wait_until(lambda: _sessions_so_far(runtime) > baseline + 10, max(1.0, deadline - time.monotonic()),
               "load reaching HAProxy")
    timeline.load_seen = time.time()
    after = plan.failover_after if plan.failover_after is not None else plan.seconds() / 3
    wait_until(lambda: time.time() >= timeline.load_seen + after, after + 1.0, "the failover moment")
    victim = target.node_names()[0]
    fail_node(nodes, plan.failover, victim)
    timeline.mark(f"{'killed' if plan.failover == 'kill' else 'froze'} {victim}", FAILURE, node=victim,
                  action=plan.failover)
    rows = [s for s in runtime.stats() if s.server == victim]
    pending = {s.backend for s in rows}

    def marked_down() -> bool:
        for stat in runtime.stats():
            if stat.server == victim and stat.backend in pending and stat.is_down:
                pending.discard(stat.backend)
                timeline.mark(f"HAProxy marked {victim} DOWN in {stat.backend}", DOWN, node=victim,
                              backend=stat.backend)
        return not pending

    try:
        wait_until(marked_down, max(1.0, deadline - time.monotonic()), f"HAProxy marking {victim} DOWN")
    except TimeoutError as exc:
        timeline.mark(str(exc), NOTE, node=victim)


def run(plan: LoadPlan, target: Target, report_root: Path, tested: dict[str, Any] | None = None) -> tuple[int, Path]:
    """Run Locust against a started ``target``; return its exit code and the published report directory.

    ``tested`` says what was loaded (the config and its sha256, the lines disarmed in it, the live LB's address),
    for ``summary.json`` and the page."""
    if plan.search is not None and plan.arrival_rate:
        from flowlb.load import ratesearch

        return ratesearch.run(plan, target, report_root)
    seconds = plan.seconds()
    if plan.failover not in ("", *FAILOVERS):
        raise FlowlbError(f"--failover {plan.failover!r}: choose kill or hang")
    if not plan.locustfile.is_file():
        raise FlowlbError(f"no locustfile at {plan.locustfile}")
    directory = fresh_directory(report_root, f"{time.strftime('%Y%m%d-%H%M%S')}-load-{run_label(target)}")
    prefix = directory / "locust"
    timeline = Timeline()
    process: subprocess.Popen[bytes] | None = None
    try:
        refusal = directory / "refused.txt"
        environment = _run_environment(plan, target, directory, seconds, refusal)
        process = subprocess.Popen(locust_command(plan, target, prefix), env=environment, start_new_session=True)
        deadline = time.monotonic() + seconds + STARTUP_MARGIN_S
        if plan.failover:
            inject_failover(plan, target, timeline, deadline)
        try:
            code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise FlowlbError(f"Locust did not finish within {seconds + STARTUP_MARGIN_S:.0f} s; stopped it") from None
        if refusal.is_file():  # the cluster refused the login: the run never ran, so no report
            raise FlowlbError(refusal.read_text().strip() or "the cluster refused the login")
        if not (directory / "locust.json").is_file():
            raise FlowlbError(f"Locust exited with {code} and wrote no results (see its output above)")
        result = LoadResult.read(directory / "locust.json")
        summary = {
            "kind": "load",
            "target": target.kind,
            "profile": target.profile,
            "tested": tested or {},
            "plan": {**asdict(plan), "locustfile": str(plan.locustfile)},
            "exit_code": code,
            "total": result.total().as_dict(),
            "paths": {name: figures.as_dict() for name, figures in result.per_path().items()},
            "entries": [figures.as_dict() for figures in result.per_entry()],
        }
        if plan.failover:
            history = read_history(directory / "locust_stats_history.csv")
            summary["failover"] = failover_summary(history, timeline.events)
        if plan.search is not None:
            summary["capacity"] = _read_capacity(directory / "capacity.json")
        code = _judge_open_model(plan, summary, directory, code)
        (directory / "summary.json").write_text(json.dumps(summary, indent=2))
        (directory / "timeline.json").write_text(json.dumps(asdict(timeline), indent=2))
        load_report.write(directory)
        with deferred_signals():
            _stop(process)  # Locust is done writing before the directory is published
            return code, publish(directory)
    except BaseException:
        with deferred_signals():  # a second Ctrl-C waits until Locust is stopped and the directory is gone
            if process is not None:
                _stop(process)  # Locust writes its files as it stops: stop it first, then remove them
            discard(directory)
        raise


def _run_environment(plan: LoadPlan, target: Target, directory: Path, seconds: float, refusal: Path) -> dict[str, str]:
    """Locust's environment for this run: the target, the mix and login, the search's or the open model's files."""
    environment = locust_environment(target, plan.mix, plan.login)
    environment[REFUSAL_FILE_VARIABLE] = str(refusal)
    if plan.search is not None:
        environment.update(plan.search.environment(directory / "capacity.json"))
    if plan.arrival_rate:
        environment.update(arrival_environment(plan.arrival_rate, seconds, directory))
    return environment


def run_label(target: Target) -> str:
    """The run directory's name after its time: the target, and the operator's config when one was loaded."""
    config = target.profile.removeprefix(LABEL_PREFIX) if target.profile.startswith(LABEL_PREFIX) else ""
    label = f"{target.kind}-{config}" if config else target.kind
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


def _judge_open_model(plan: LoadPlan, summary: dict[str, Any], directory: Path, code: int) -> int:
    """Fold ``--arrival-rate``'s figures and ``--baseline``'s comparison into ``summary``; the run's exit code."""
    if plan.arrival_rate:
        code = fold_arrival(summary, directory, code)
    if plan.baseline is not None:
        code = fold_baseline(summary, plan.baseline, code)
    summary["exit_code"] = code
    return code


def _read_capacity(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise FlowlbError("the capacity search wrote no outcome (see Locust's output above)") from None
    return data if isinstance(data, dict) else {}


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End Locust's process group, its ``--processes`` workers included: SIGTERM (Locust's graceful stop; SIGINT
    would raise KeyboardInterrupt inside a user's greenlet and print its traceback), then SIGKILL, each step
    bounded, until no worker runs any more (a master that exited is not its workers gone).

    The master gets SIGTERM first, alone: it tells its workers to quit. SIGTERM to the whole group at once
    made a worker stop its users twice, by the master's message and by the signal (Locust: "Tried to stop
    User in an unexpected state: stopping", 2 trials of 50 in the interrupt harness)."""
    stop_group(process, ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)), leader_first=10.0)
