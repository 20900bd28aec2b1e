"""The closed model at a chosen mean rate, for ``benchmarks/arrival_bench.py``: flow.py's ``FlowApiUser``, each user
paced to ``BENCH_USER_RPS`` requests per second (Locust's ``constant_throughput``), so that with N users the mean rate
matches the open model's while every user still waits for its answer before sending again."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from locust import constant_throughput

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "loadtests"))
import flow  # the module, not its users: Locust runs only the users named in this file


class PacedApiUser(flow.FlowApiUser):  # type: ignore[misc]
    """A Flow API client on 8443 that sends at most ``BENCH_USER_RPS`` requests a second, waiting for each answer."""

    wait_time = constant_throughput(float(os.environ.get("BENCH_USER_RPS", "1")))
