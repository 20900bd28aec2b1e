"""``flowlb load --processes``: Locust's master listens on loopback, on a port of the run's own.

Fails when the master binds every interface (anyone on the network could join as a worker and feed fake
figures into the SLO and capacity verdicts) or Locust's fixed 5557, where two runs at once collide.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
from tests.conftest import REPO
from tests.support.suite import flowlb_processes

from flowlb.load.runner import loopback_master

RUN_SECONDS = 6
BOUND_S = 150.0


def _listening(process: psutil.Process) -> set[tuple[str, int]]:
    try:
        return {(c.laddr.ip, c.laddr.port) for c in process.net_connections(kind="tcp")
                if c.status == psutil.CONN_LISTEN}
    except psutil.Error:
        return set()


def _master_sockets(runs: list[subprocess.Popen[str]]) -> dict[int, set[tuple[str, int]]]:
    """While the runs go on: each run's Locust master (the one with ``--processes``) and the sockets it listens on."""
    found: dict[int, set[tuple[str, int]]] = {}
    deadline = time.monotonic() + BOUND_S
    while len(found) < len(runs) and time.monotonic() < deadline and any(r.poll() is None for r in runs):
        for run in runs:
            try:
                children = psutil.Process(run.pid).children(recursive=True)
            except psutil.Error:
                continue
            for child in children:
                try:
                    argv = child.cmdline()
                except psutil.Error:
                    continue
                if "locust" in argv and "--processes" in argv and "--html" in " ".join(argv):
                    sockets = _listening(child)
                    if len(sockets) >= 1:
                        found[run.pid] = sockets
        time.sleep(0.2)
    return found


def test_two_runs_at_once_each_have_a_master_on_loopback(haproxy_bin: str, tmp_path: Path) -> None:
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "flowlb.cli", "load", "--target", "local", "--run-time", f"{RUN_SECONDS}s",
             "--users", "4", "--spawn-rate", "4", "--processes", "2", "--mix", "api=1,handshake=0,stomp=0",
             "--report-dir", str(tmp_path / f"run{index}")],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for index in (1, 2)
    ]
    try:
        sockets = _master_sockets(runs)
        outputs = [run.communicate(timeout=BOUND_S)[0] for run in runs]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    for run, output in zip(runs, outputs, strict=True):
        # Two runs at once collided on *:5557 (a ZMQ traceback, no report). Locust's own exit code 1 means
        # some request failed in this 6 s run of two clusters and four workers on two cores: not this test's
        # business, and it failed here once (the SLO of 1 % failures was met).
        assert "Traceback" not in output and "Address already in use" not in output, output[-3000:]
        assert run.returncode == 0 or "); exit code 1" in output, output[-3000:]
    assert len(sockets) == 2, sockets
    for listening in sockets.values():
        assert listening and all(ip == "127.0.0.1" for ip, _ in listening), sockets
    for index in (1, 2):
        summary = json.loads(next((tmp_path / f"run{index}").glob("*-load-local/summary.json")).read_text())
        assert summary["paths"]["https"]["requests"] > 0, summary["paths"]
    assert flowlb_processes() == []


def test_the_users_own_master_flags_win() -> None:
    assert loopback_master(["--master-bind-host", "10.0.0.5", "--master-bind-port", "6000"]) == []
    assert loopback_master(["--master-port=6000"]) == []
    ours = loopback_master(["--users", "3"])
    assert ours[:2] == ["--master-bind-host", "127.0.0.1"] and ours[3] == ours[7] != "5557", ours
