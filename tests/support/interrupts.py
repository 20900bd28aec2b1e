"""The interrupt harness: runs flowlb as a user does, sends it one, two or three signals at a random moment, and
says what the interrupt left behind.

Each trial starts one scenario (the conformance suite on the local target, ``flowlb load``, or the
suite with ``--destructive`` against a live LB that the harness runs itself), waits a random time,
sends 1-3 SIGINT/SIGTERM at random spacing, and then judges the aftermath (a run that ended before
the first signal may publish its report):

- **hang**: the run did not end within ``EXIT_LIMIT_S`` of the first signal;
- **leftover**: a process of the run, a ``.partial`` directory or any other file in its report root;
- **published**: a report directory or ``latest`` from the interrupted run;
- **maint**: a server of the live LB left in MAINT (the destructive checks drain one and must restore it).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.targets.ownership import RUN_ID_ENV
from tests.support.suite import REPO, flowlb_containers, flowlb_processes, new_run_id

EXIT_LIMIT_S = 60.0


@dataclass
class Trial:
    """One interrupted run and what it left."""

    scenario: str
    delay_s: float
    signals: list[str]
    exit_code: int | None = None
    signalled: bool = False  # the run was still going when the first signal went out
    signalled_at: float = 0.0  # Unix time of the first signal
    handled: bool = True  # flowlb's handler (or its ignoring) was in place for the first signal
    problems: list[str] = field(default_factory=list)
    stderr_tail: str = ""  # the run's last words, kept when it was not clean

    def __str__(self) -> str:
        verdict = "; ".join(self.problems) or "clean"
        if self.problems and self.stderr_tail:
            verdict += "\n      | " + "\n      | ".join(self.stderr_tail.splitlines())
        when = f"after {self.delay_s:.1f} s" if self.signalled else f"after {self.delay_s:.1f} s, once it had ended"
        if self.signalled and not self.handled:
            when += ", before flowlb's handler (Python's start)"
        return f"{self.scenario}: {'+'.join(self.signals)} {when} -> exit {self.exit_code}: {verdict}"


@dataclass(frozen=True)
class Scenario:
    """A command to interrupt, and how to judge the live LB afterwards (``None``: no live LB)."""

    name: str
    command: Callable[[Path], list[str]]
    runtime: RuntimeAPI | None = None
    longest_s: float = 12.0  # the signals come at a random moment up to this far into the run
    containers: bool = False  # it starts containers: none of the run's may be left
    first: tuple[str, ...] = ("INT",)  # the first signal: a terminal's Ctrl-C; a service manager sends TERM


def matrix_on_containers(report: Path) -> list[str]:
    """``flowlb matrix`` on one version, smoke checks only: a child suite with a containers cluster of its own."""
    return [sys.executable, "-m", "flowlb", "matrix", "--versions", "3.2", "--report-dir", str(report), "--",
            "-m", "smoke"]


def load_with_processes(report: Path) -> list[str]:
    """``flowlb load --processes 2``: a Locust master and forked workers in a process group of their own."""
    return [*load_on_local(report), "--processes", "2"]


def lint_a_config(report: Path) -> list[str]:
    """``flowlb lint`` of a config long enough (an operator's, plus 8,000 ACLs) that the signals land in its
    work (a temporary directory and ``haproxy -c``, about a second) rather than in Python's start."""
    config = report.parent / "long.cfg"
    if not config.exists():
        text = (REPO / "fixtures" / "operator-configs" / "02-centos-sample-stats.cfg").read_text()
        start = text.index("\n", text.index("\nfrontend ") + 1) + 1
        acls = "".join(f"    acl flowlb_path_{n} path_beg /p{n}\n" for n in range(8000))
        config.write_text(text[:start] + acls + text[start:])
    return [sys.executable, "-m", "flowlb", "lint", str(config)]


EXTRA_SCENARIOS = (
    Scenario("flowlb matrix on containers", matrix_on_containers, longest_s=25.0, containers=True),
    Scenario("flowlb load --processes 2", load_with_processes, longest_s=15.0),
    Scenario("flowlb lint", lint_a_config, longest_s=1.5, first=("INT", "TERM")),
)


def suite_on_local(report: Path) -> list[str]:
    return [sys.executable, "-m", "pytest", "conformance/", "-q", "-p", "no:cacheprovider", "--target", "local",
            "--report-dir", str(report)]


def load_on_local(report: Path) -> list[str]:
    return [sys.executable, "-m", "flowlb", "load", "--target", "local", "--run-time", "20s", "--users", "6",
            "--spawn-rate", "6", "--report-dir", str(report)]


def run_trial(scenario: Scenario, work: Path, rng: random.Random) -> Trial:
    """Start the scenario, interrupt it at a random moment with 1-3 signals, judge what it left."""
    report = work / f"reports-{rng.randrange(1 << 30)}"
    trial = Trial(scenario.name, rng.uniform(0.3, scenario.longest_s),
                  [rng.choice(("INT", "TERM")) if n else rng.choice(scenario.first) for n in range(rng.randint(1, 3))])
    errors = work / f"{report.name}.stderr"
    run_id = new_run_id()  # what this trial's run starts, and only that, is judged for leftovers
    temp = work / f"{report.name}.tmp"  # and its temporary files
    temp.mkdir(mode=0o711)
    with errors.open("w") as stderr:
        run = subprocess.Popen(scenario.command(report), cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr,
                               env={**os.environ, RUN_ID_ENV: run_id, "TMPDIR": str(temp)})
    try:
        time.sleep(trial.delay_s)  # the pacing IS the harness: a random moment of the run
        trial.handled = _handles_sigterm(run.pid)
        trial.signalled, trial.signalled_at = run.poll() is None, time.time()
        for name in trial.signals:
            if run.poll() is None:
                os.kill(run.pid, getattr(signal, f"SIG{name}"))
            time.sleep(rng.uniform(0.0, 0.6))
        try:
            trial.exit_code = run.wait(timeout=EXIT_LIMIT_S)
        except subprocess.TimeoutExpired:
            trial.problems.append(f"hang (no exit within {EXIT_LIMIT_S:g} s)")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    _judge(trial, report, scenario.runtime, run_id)
    _judge_leftovers(trial, scenario, run_id, temp)
    stderr = errors.read_text(errors="replace")
    _judge_exit(trial, stderr)
    if trial.problems:
        trial.stderr_tail = "\n".join(stderr.splitlines()[-25:])
    errors.unlink()
    return trial


def _judge_leftovers(trial: Trial, scenario: Scenario, run_id: str, temp: Path) -> None:
    """Every process that carries the run's id is gone, and so are its containers and temporary files."""
    deadline = time.monotonic() + 10.0  # a child may take a moment to be reaped, a container to go
    while time.monotonic() < deadline and _leftovers(scenario, run_id, temp):
        time.sleep(0.2)
    trial.problems += _leftovers(scenario, run_id, temp)
    shutil.rmtree(temp, ignore_errors=True)


def _leftovers(scenario: Scenario, run_id: str, temp: Path) -> list[str]:
    found = []
    if processes := flowlb_processes(run_id, any_process=True):
        found.append(f"leftover processes: {processes[:3]}")
    if scenario.containers and (containers := flowlb_containers(run_id)):
        found.append(f"leftover containers: {containers[:3]}")
    if files := sorted(path.name for path in temp.iterdir()):
        found.append(f"leftover temporary files: {files[:3]}")
    return found


def _ended_before(run: Path, moment: float) -> bool:
    """Whether the run in ``run`` was published (renamed from ``.partial``, which sets its ctime) before
    ``moment``: then the signal came while the process exited, after an honest verdict."""
    try:
        return run.stat().st_ctime <= moment
    except OSError:
        return False


def _handles_sigterm(pid: int) -> bool:
    """Whether the process catches or ignores SIGTERM (its ``/proc`` status): flowlb's handler is in place.

    Before it is, the process is still in Python's start (the interpreter and pytest importing,
    a few tenths of a second): Python's defaults rule there, a signal kills it or raises a
    KeyboardInterrupt with its traceback, and nothing has been started that could be left behind.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True  # it has ended: nothing to excuse
    masks = dict(line.split(":\t", 1) for line in status.splitlines() if line.startswith(("SigCgt", "SigIgn")))
    bit = 1 << (signal.SIGTERM - 1)
    return any(int(masks.get(name, "0"), 16) & bit for name in ("SigCgt", "SigIgn"))


def _judge_exit(trial: Trial, stderr: str) -> None:
    """An interrupted run ends by its own exit code and without a traceback: a death by the signal or a
    traceback means a handler ran where it should not (a greenlet, a thread, a finally that raised).

    A signal before flowlb's handler was in place (see :func:`_handles_sigterm`) meets Python's defaults,
    as any program's start does; and Python's own ``KeyboardInterrupt`` (bare; flowlb's says ``signal N``)
    with exit 130 is a child's (flowlb matrix's suite, interrupted as it started), and flowlb said so.
    """
    if not trial.handled:
        return  # Python's start, before any flowlb code: its defaults decide how the run ends (leftovers are judged)
    last = _raised(stderr)
    if last == "KeyboardInterrupt" and trial.exit_code == 130:
        return
    if trial.exit_code is not None and trial.exit_code < 0:
        trial.problems.append(f"death by signal {-trial.exit_code} (no exit code of its own)")
    if last:
        trial.problems.append(f"traceback {last[:160]}")


def _raised(stderr: str) -> str:
    """The exception line of the last traceback in ``stderr`` (what follows it, such as flowlb's own last word
    after a child's traceback, is not part of it); "" when there is none."""
    marker = "Traceback (most recent call last)"
    if marker not in stderr:
        return ""
    lines = stderr.rsplit(marker, maxsplit=1)[-1].splitlines()[1:]
    return next((line for line in lines if line.strip() and not line.startswith(" ")), lines[-1] if lines else "")


def _judge(trial: Trial, report: Path, runtime: RuntimeAPI | None, run_id: str) -> None:
    entries = sorted(p.name for p in report.iterdir()) if report.exists() else []
    finished = not trial.signalled  # the run had ended before the first signal: a report is its right
    if entries and not finished:
        partial = [e for e in entries if e.endswith(".partial")]
        if partial:
            trial.problems.append(f"leftover {partial}")
        published = [e for e in entries if not e.endswith(".partial") and e != "latest"
                     and not _ended_before(report / e, trial.signalled_at)]
        if published:
            trial.problems.append(f"published {published} from an interrupted run")
    if runtime is not None:
        down = [f"{s.backend}/{s.server}" for s in runtime.stats() if "MAINT" in s.status]
        if down:
            trial.problems.append(f"left in MAINT: {down}")
            for name in down:
                backend, _, server = name.partition("/")
                runtime.set_state(backend, server, "ready")  # so that the next trial starts clean


def destructive_on_live_lb(cluster: object) -> Scenario:
    """The suite with ``--destructive`` against a live LB run by the harness (tests.external.foreign_cluster)."""
    lb: Any = cluster

    def command(report: Path) -> list[str]:
        return [sys.executable, "-m", "pytest", "conformance/", "-q", "-p", "no:cacheprovider", "--report-dir",
                str(report), "--target", "external", "--lb-host", "127.0.0.1", "--lb-ports", lb.lb_ports_option(),
                "--lb-name", lb.server_name, "--ca-file", str(lb.ca_file), "--runtime-api", str(lb.runtime_socket),
                "--stomp-vhost", "/", "--stomp-idle-seconds", "5", "--destructive"]

    # the whole run takes about 6 s here (most checks need node control, which a live LB does not give)
    return Scenario("destructive suite on a live LB", command, RuntimeAPI(lb.runtime_socket), longest_s=5.0)


def run_harness(scenarios: list[Scenario], runs: int, seed: int, work: Path) -> list[Trial]:
    """``runs`` trials over ``scenarios`` (chosen at random with ``seed``), printed as they end.

    The runs get SIGINT as a terminal gives it: a harness started in the background (``nohup … &``) has
    SIGINT ignored, its runs would inherit that, and every INT-only trial would run on to a report.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    rng = random.Random(seed)
    trials = []
    for number in range(1, runs + 1):
        trial = run_trial(rng.choice(scenarios), work, rng)
        print(f"{number:3d}. {trial}", flush=True)
        trials.append(trial)
    return trials
