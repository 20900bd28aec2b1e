"""Interrupts at random moments, once, twice or three times: no hang, no leftover, no published verdict, no MAINT.

A few randomized trials of the harness in ``tests/support/interrupts.py`` (``benchmarks/interrupt_harness.py``
runs 50); the seed is printed so that a failing trial can be replayed.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowlb.interrupts import within
from flowlb.lbclient import lb_pool
from flowlb.net import Endpoint
from tests.conftest import REPO, require
from tests.external.foreign_cluster import foreign_cluster
from tests.support.interrupts import (
    EXTRA_SCENARIOS,
    Scenario,
    destructive_on_live_lb,
    load_on_local,
    run_harness,
    suite_on_local,
)
from tests.support.suite import flowlb_containers

TRIALS = 4  # and two of each scenario below: benchmarks/interrupt_harness.py runs 50


@pytest.mark.timeout(600)
def test_random_interrupts_leave_nothing_behind(haproxy_bin: str, tmp_path: Path) -> None:
    require(shutil.which("nginx") is not None, "nginx (apt-get install nginx-light)")
    require(Path("/usr/lib/rabbitmq/bin/rabbitmq-server").is_file(), "RabbitMQ (apt-get install rabbitmq-server)")
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    (tmp_path / "live-lb").mkdir()
    with foreign_cluster(tmp_path / "live-lb") as live:
        scenarios = [Scenario("suite on local", suite_on_local, longest_s=30.0),
                     Scenario("flowlb load on local", load_on_local, longest_s=20.0), destructive_on_live_lb(live)]
        trials = run_harness(scenarios, TRIALS, seed, tmp_path)
    bad = [str(trial) for trial in trials if trial.problems]
    assert not bad, f"seed {seed}:\n" + "\n".join(bad)


@pytest.mark.timeout(400)
@pytest.mark.parametrize("scenario", EXTRA_SCENARIOS, ids=lambda s: s.name)
def test_matrix_load_with_workers_and_lint_leave_nothing_behind(
    scenario: Scenario, haproxy_bin: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Ctrl-C or SIGTERM, once to three times: ``flowlb matrix`` left containers, a network and the test key
    (its suite SIGKILLed 0.25 s into the teardown), ``flowlb load --processes`` left Locust workers and a
    ``.partial`` report, SIGTERM to ``flowlb lint`` its temporary files and ``haproxy -c``."""
    if scenario.containers:
        request.getfixturevalue("docker_engine")
    seed = random.randrange(1 << 30)
    trials = run_harness([scenario], 2, seed, tmp_path)
    bad = [str(trial) for trial in trials if trial.problems]
    assert not bad, f"seed {seed}:\n" + "\n".join(bad)


def test_a_pool_an_interrupt_left_locked_does_not_hang_the_teardown(capfd: pytest.CaptureFixture[str]) -> None:
    """An interrupt between a pool's lock and its release leaves the lock held; closing the pool waits for it
    forever (it hung the ``http`` fixture's teardown once, after two SIGINTs). ``within`` bounds that wait."""
    pool = lb_pool(Endpoint("127.0.0.1", 9), tls=False)
    queue = pool.pool
    assert queue is not None
    queue.mutex.acquire()  # what the interrupted request left behind
    started = time.monotonic()
    assert within(0.5, pool.close, "closing the connections to the LB") is False
    assert time.monotonic() - started < 2
    assert "closing the connections to the LB did not end within 0.5 s" in capfd.readouterr().err
    queue.mutex.release()  # the cleanup thread ends


def test_a_cleanup_that_ends_in_time_is_waited_for() -> None:
    done: list[bool] = []
    assert within(5.0, lambda: done.append(True), "a quick cleanup") is True
    assert done == [True]


@pytest.mark.parametrize("interrupted", [True, False])
def test_after_the_cleanup_of_an_interrupted_run_later_signals_are_ignored(interrupted: bool) -> None:
    """Python resets its handlers to the system's default while it finalizes (about 0.1 s): a late second Ctrl-C
    then killed an interrupted ``flowlb load`` by SIGINT (exit -2) after its cleanup, instead of exit 130."""
    probe = ("import os, signal, sys\n"
             "from flowlb.interrupts import cleanup_done, interrupt_once\n"
             "interrupt_once()\n"
             f"if {interrupted}:\n"
             "    try:\n"
             "        os.kill(os.getpid(), signal.SIGINT)\n"
             "        signal.pause()\n"
             "    except KeyboardInterrupt:\n"
             "        pass\n"
             "cleanup_done()\n"
             "print(*(signal.getsignal(n) is signal.SIG_IGN for n in (signal.SIGINT, signal.SIGTERM)))\n"
             f"if {interrupted}:\n"
             "    os.kill(os.getpid(), signal.SIGINT)\n"
             "    os.kill(os.getpid(), signal.SIGTERM)\n"
             "sys.exit(130)\n")
    result = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=30)
    assert result.returncode == 130, result.stderr
    assert result.stdout.split() == ([str(interrupted)] * 2), result.stdout


INTERRUPT_WHILE_DESCRIBED = """
import flowlb.plugin.start

def _interrupted(*args, **kwargs):
    raise KeyboardInterrupt("signal 2")

flowlb.plugin.start._describe_run = _interrupted
"""


def test_an_interrupt_once_the_cluster_runs_but_before_the_checks_tears_it_down(
    docker_engine: None, tmp_path: Path, own_run: str
) -> None:
    """Between the cluster's start and the fixture's ``try`` the run is described (``haproxy -vv`` in the LB's
    container) and the long waits' twin cluster starts, seconds each: an interrupt there left the containers
    running (a local target's processes die with the suite; containers do not)."""
    (tmp_path / "interrupt_while_described.py").write_text(INTERRUPT_WHILE_DESCRIBED)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "conformance/smoke", "-q", "-p", "no:cacheprovider", "-p",
         "interrupt_while_described", "--target", "containers", "--report-dir", str(tmp_path / "reports")],
        cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))},
    )  # fmt: skip
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert flowlb_containers(own_run) == []
    assert not list((tmp_path / "reports").glob("*")), "a report of an interrupted run"
