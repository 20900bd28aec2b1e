"""Coordinated omission made visible, and the validity rules on real runs.

Part 1, on one local cluster (hardened profile), the Flow API on 8443 (keep-alive TLS) only:

- **open model**: ``--arrival-rate R`` for ``--seconds`` (60); once load reaches HAProxy and ``--freeze-after``
  (20 s) have passed, node1 is frozen (SIGSTOP) for ``--freeze-seconds`` (5) and then thawed (SIGCONT); the rest
  of the outage is whatever HAProxy's detection does. p99 on 8443 from the intended send time (HdrHistogram).
- **closed model** at the same mean rate: ``--users`` users of flow.py's ``FlowApiUser``, each paced to R/users
  requests a second (``benchmarks/paced_locustfile.py``), the same freeze at the same moment. p99 as Locust measures
  it (from the actual send), and the rate it really sent.

Goal: the open model's p99 is at least 2 s and above the closed model's.

Part 2, ``flowlb load`` on its own clusters: an unreachable rate on one process (``--unreachable``)
must be marked invalid and exit 3 (10000 req/s; 3000 was within one process's reach on a quiet moment, though
late); a normal rate (``--normal``, 20 req/s) must not (it can still be invalid when
other work keeps the machine over 90 % busy: the run says so, and the benchmark prints it).

    python benchmarks/arrival_bench.py [--rate 50] [--seconds 60] [--users 10] [--skip-freeze] [--skip-validity]

Everything stays on 127.0.0.1 and every run is bounded. Exit code 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

from flowlb.load.arrivalresult import arrival_environment  # noqa: E402
from flowlb.load.results import LoadResult  # noqa: E402
from flowlb.load.runner import locust_environment  # noqa: E402
from flowlb.net import wait_until  # noqa: E402
from flowlb.spec import load_spec  # noqa: E402
from flowlb.targets.base import Target  # noqa: E402
from flowlb.targets.select import start_target  # noqa: E402

MIX = "api=1,handshake=0,stomp=0"


def sessions(target: Target) -> int:
    runtime = target.evidence()
    assert runtime is not None
    return sum(stat.total_sessions for stat in runtime.stats())


def freeze_during(target: Target, after: float, seconds: float, log: list[str]) -> threading.Thread:
    """Once HAProxy counts load, wait ``after`` s, freeze node1 for ``seconds`` s, thaw it (in a thread)."""
    nodes = target.nodes()
    assert nodes is not None

    def run() -> None:
        base = sessions(target)
        wait_until(lambda: sessions(target) > base + 10, 60.0, "load reaching HAProxy")
        time.sleep(after)
        nodes.hang("node1")
        log.append(f"froze node1 at {time.time():.1f}")
        time.sleep(seconds)
        nodes.restart("node1")
        log.append(f"thawed node1 at {time.time():.1f}")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def locust(target: Target, locustfile: Path, args: list[str], env: dict[str, str], timeout: float) -> int:
    https = target.endpoints.server_tls
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
               "--host", f"https://{https.host}:{https.port}", "--only-summary", "--loglevel", "WARNING",
               "--stop-timeout", "2", *args]
    print("$", " ".join(command[2:]), flush=True)
    return subprocess.run(command, env=env, timeout=timeout, check=False, stdout=subprocess.DEVNULL).returncode


def open_model(target: Target, args: argparse.Namespace, work: Path) -> dict:
    env = {**locust_environment(target, MIX), **arrival_environment(args.rate, args.seconds, work)}
    log: list[str] = []
    thread = freeze_during(target, args.freeze_after, args.freeze_seconds, log) if not args.skip_freeze else None
    code = locust(target, REPO / "loadtests" / "flow.py",
                  ["--users", "1", "--spawn-rate", "1", "--run-time", f"{int(args.seconds + 30)}s",
                   "--json-file", str(work / "open")], env, args.seconds + 120)
    if thread is not None:
        thread.join(timeout=30)
    result = json.loads((work / "arrival.json").read_text())
    locust_p99 = LoadResult.read(work / "open.json").per_path()["https"].p99_ms
    return {"exit_code": code, "latency": result["latency_ms"]["https"], "rate": result["rate"],
            "validity": result["validity"], "locust_p99_ms": locust_p99, "events": log}


def closed_model(target: Target, args: argparse.Namespace, work: Path) -> dict:
    env = {**locust_environment(target, MIX), "BENCH_USER_RPS": str(args.rate / args.users)}
    log: list[str] = []
    thread = freeze_during(target, args.freeze_after, args.freeze_seconds, log) if not args.skip_freeze else None
    code = locust(target, HERE / "paced_locustfile.py",
                  ["--users", str(args.users), "--spawn-rate", str(args.users), "--run-time", f"{int(args.seconds)}s",
                   "--json-file", str(work / "closed"), "--exit-code-on-error", "0"], env, args.seconds + 120)
    if thread is not None:
        thread.join(timeout=30)
    https = LoadResult.read(work / "closed.json").per_path()["https"]
    return {"exit_code": code, "p99_ms": https.p99_ms, "p50_ms": https.p50_ms, "requests": https.requests,
            "rate": round(https.requests / args.seconds, 1), "failures": https.failures, "events": log}


def flowlb_load(*extra: str) -> tuple[int, dict]:
    with tempfile.TemporaryDirectory(prefix="arrival-bench-") as reports:
        command = [sys.executable, "-m", "flowlb.cli", "load", "--target", "local", "--report-dir", reports, *extra]
        print("$ flowlb load", " ".join(extra), flush=True)
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
        summary = json.loads((Path(reports) / "latest" / "summary.json").read_text())
    return done.returncode, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second on 8443 (50)")
    parser.add_argument("--seconds", type=float, default=60.0, help="each run's length (60)")
    parser.add_argument("--users", type=int, default=10, help="the closed model's users (10)")
    parser.add_argument("--freeze-after", type=float, default=20.0, help="seconds of load before the freeze (20)")
    parser.add_argument("--freeze-seconds", type=float, default=5.0, help="how long node1 stays frozen (5)")
    parser.add_argument("--unreachable", type=float, default=10000.0, help="a rate one process cannot send (10000)")
    parser.add_argument("--normal", type=float, default=20.0, help="a rate one process sends easily (20)")
    parser.add_argument("--skip-freeze", action="store_true", help="only part 2")
    parser.add_argument("--skip-validity", action="store_true", help="only part 1")
    args = parser.parse_args()
    missed = []
    if not args.skip_freeze:
        target = start_target("local", load_spec(None), "hardened")
        try:
            with tempfile.TemporaryDirectory(prefix="arrival-bench-") as work:
                opened = open_model(target, args, Path(work))
                closed = closed_model(target, args, Path(work))
        finally:
            target.close()
        print(f"\nnode1 frozen {args.freeze_seconds:g} s after {args.freeze_after:g} s of a {args.seconds:g} s run, "
              f"8443 API only, {args.rate:g} req/s")
        latency, rate = opened["latency"], opened["rate"]
        print(f"open model   : p50 {latency['p50']:g} ms, p99 {latency['p99']:g} ms, p99.9 {latency['p99.9']:g} ms, "
              f"max {latency['max']:g} ms (from the intended send time); Locust's own p99 {opened['locust_p99_ms']:g} "
              f"ms; offered {rate['offered']:g} req/s, achieved {rate['achieved']:g}, late {rate['late']}, dropped "
              f"{rate['dropped']}, unfinished {rate['unfinished']}; valid {opened['validity']['valid']} "
              f"{opened['validity']['reasons']}")
        print(f"closed model : p50 {closed['p50_ms']:g} ms, p99 {closed['p99_ms']:g} ms (Locust, from the actual "
              f"send); {closed['requests']} requests = {closed['rate']:g} req/s for {args.users} users paced to "
              f"{args.rate:g} req/s; {closed['failures']} failures")
        if not latency["p99"] >= 2000:
            missed.append(f"the open model's p99 {latency['p99']:g} ms is under 2 s")
        if not closed["p99_ms"] < latency["p99"]:
            missed.append("the closed model's p99 is not lower than the open model's")
    if not args.skip_validity:
        code, summary = flowlb_load("--run-time", "15s", "--arrival-rate", f"{args.unreachable:g}", "--mix", MIX)
        rate = summary["rate"]
        validity = summary["validity"]
        print(f"\nunreachable {args.unreachable:g} req/s on one process: exit code {code}; offered "
              f"{rate['offered']:g}, achieved {rate['achieved']:g}, late {rate['late']}, dropped {rate['dropped']}, "
              f"missed {rate['missed']}; generator CPU {validity['generator_cpu']} %, "
              f"machine {validity['machine_cpu']} %")
        for reason in summary["validity"]["reasons"]:
            print(f"  invalid: {reason}")
        if code != 3:
            missed.append(f"the unreachable rate exited {code}, not 3")
        code, summary = flowlb_load("--run-time", "15s", "--arrival-rate", f"{args.normal:g}", "--mix", MIX)
        rate = summary["rate"]
        print(f"normal {args.normal:g} req/s on one process: exit code {code}; offered {rate['offered']:g}, "
              f"achieved {rate['achieved']:g}, late {rate['late']} (worst {rate['worst_late_ms']:g} ms), dropped "
              f"{rate['dropped']}; generator CPU {summary['validity']['generator_cpu']} %, machine "
              f"{summary['validity']['machine_cpu']} %")
        for reason in summary["validity"]["reasons"]:
            print(f"  invalid: {reason}")
        if code != 0:
            missed.append(f"the normal rate exited {code}, not 0 (see the reasons: a busy machine is one)")
    for line in missed:
        print(f"MISSED: {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
