"""Interrupts at random moments, once, twice or three times: no hang, no leftover, no published verdict, no MAINT.

A few randomized trials of the harness in ``tests/support/interrupts.py`` (``benchmarks/interrupt_harness.py``
runs 50); the seed is printed so that a failing trial can be replayed.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from tests.conftest import require
from tests.external.foreign_cluster import foreign_cluster
from tests.support.interrupts import Scenario, destructive_on_live_lb, load_on_local, run_harness, suite_on_local

TRIALS = 6


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
