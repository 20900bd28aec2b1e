"""``--find-capacity`` against a manual step search and wrk's ceiling, in one run on one local cluster.

1. wrk on 8443 (keep-alive TLS through HAProxy): the ceiling of the LB itself;
2. the capacity search (``loadtests/capacity.py``) with ``--processes 2``;
3. a manual step search with the same users, mix, SLO and processes: one fixed-users Locust run per
   step, measured on the same window after the same settling, up to the first step that breaks the SLO;
4. the capacity search with one process, which must say "generator-bound" when one Locust process
   cannot reach what two reached.

Goals (exit code 1 when one is missed): the search's capacity within ±10 % of the manual one, and the
one-process search reporting generator-bound. Everything stays on 127.0.0.1, every run is bounded::

    python benchmarks/capacity_bench.py [--step-users 20] [--max-users 120] [--step-seconds 10] [--slo-p95-ms ...]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import mocknode_bench  # noqa: E402

from flowlb.load import capacity  # noqa: E402
from flowlb.load.runner import locust_environment  # noqa: E402
from flowlb.spec import load_spec  # noqa: E402
from flowlb.targets.base import Target  # noqa: E402
from flowlb.targets.select import start_target  # noqa: E402

LOADTESTS = REPO / "loadtests"
SETTLE_S = 3  # a manual step's users start, then this long before its window opens (the search's ramp + settle)


def locust(target: Target, args: list[str], env: dict[str, str], timeout: float) -> None:
    https = target.endpoints.server_tls
    command = [sys.executable, "-m", "locust", "--headless", "--host", f"https://{https.host}:{https.port}",
               "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "2", *args]
    print("$", " ".join(command[2:]), flush=True)
    subprocess.run(command, env=env, timeout=timeout, check=False, stdout=subprocess.DEVNULL)


def search(target: Target, args: argparse.Namespace, processes: int, work: Path) -> dict:
    """The capacity search's outcome (``--capacity-file``)."""
    output = work / f"capacity-{processes}.json"
    env = {**locust_environment(target, args.mix), "FLOWLB_CAPACITY_FILE": str(output),
           "FLOWLB_CAPACITY_STEP_USERS": str(args.step_users), "FLOWLB_CAPACITY_STEP_SECONDS": str(args.step_seconds),
           "FLOWLB_CAPACITY_MAX_USERS": str(args.max_users), "FLOWLB_SLO_P95_MS": args.slo_p95_ms}
    steps = args.max_users // args.step_users
    extra = ["--processes", str(processes)] if processes > 1 else []
    locust(target, ["-f", str(LOADTESTS / "capacity.py"), *extra], env, steps * (args.step_seconds + 20) + 60)
    return json.loads(output.read_text())


@dataclass
class _Entry:
    """A Locust ``--json-file`` entry as the search reads a live one."""

    method: str
    name: str
    response_times: dict[int, int]
    num_reqs_per_sec: dict[int, int]
    num_fail_per_sec: dict[int, int]

    @classmethod
    def of(cls, entry: dict) -> _Entry:
        def ints(data: dict) -> dict[int, int]:
            return {int(float(k)): int(v) for k, v in (data or {}).items()}
        return cls(entry["method"], entry["name"], ints(entry["response_times"]), ints(entry["num_reqs_per_sec"]),
                   ints(entry["num_fail_per_sec"]))


def manual_step(target: Target, args: argparse.Namespace, users: int, work: Path) -> capacity.Step:
    """One fixed-users run, judged like a search step: the window after settling, by the requests' own seconds."""
    prefix = work / f"manual-{users}"
    seconds = SETTLE_S + args.step_seconds
    locust(target, ["-f", str(LOADTESTS / "flow.py"), "-u", str(users), "-r", str(users), "-t", f"{seconds}s",
                    "--processes", "2", "--json-file", str(prefix), "--exit-code-on-error", "0"],
           {**locust_environment(target, args.mix), "FLOWLB_SLO_P95_MS": ""}, seconds + 90)
    raw = json.loads(prefix.with_suffix(".json").read_text())
    entries = [_Entry.of(e) for e in raw]
    first = min(t for e in entries for t in e.num_reqs_per_sec)
    start = first + SETTLE_S
    rates = capacity.per_second(entries, start, start + args.step_seconds)
    paths = capacity.path_steps({}, capacity.counts(entries), rates, float(args.step_seconds))
    return capacity.Step(users, float(args.step_seconds), paths, 0.0, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step-users", type=int, default=20)
    parser.add_argument("--max-users", type=int, default=120)
    parser.add_argument("--step-seconds", type=int, default=10)
    # tight enough that two cores (LB, nodes and Locust together) break it within --max-users
    parser.add_argument("--slo-p95-ms", default="https=25,handshake=60,stomp=25")
    parser.add_argument("--mix", default="api=4,handshake=1,stomp=2")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (scripts/setup.sh installs it)")
    policy = capacity.Policy(capacity.SearchPlan.from_options(argparse.Namespace(
        capacity_step_users=args.step_users, capacity_step_seconds=args.step_seconds,
        capacity_max_users=args.max_users, slo_p95_ms=args.slo_p95_ms, slo_failure_ratio=0.01,
        capacity_file="")).policy.p95_ms, 0.01)
    work = Path(tempfile.mkdtemp(prefix="flowlb-capacity-bench-"))
    target = start_target("local", load_spec(None), "hardened")
    try:
        https = target.endpoints.server_tls
        ceiling = mocknode_bench.run_wrk_url(f"https://{https.host}:{https.port}/commanderRequest/health", 8, 50)
        found = search(target, args, 2, work)
        manual: list[capacity.Step] = []
        for users in range(args.step_users, args.max_users + 1, args.step_users):
            manual.append(manual_step(target, args, users, work))
            if capacity.judge(manual[-1], policy):
                break
        single = search(target, args, 1, work)
    finally:
        target.close()
        shutil.rmtree(work, ignore_errors=True)
    by_hand = capacity.verdict(manual, policy, "manual")
    print()
    print(f"one local cluster (HAProxy hardened, 3 mock nodes), {os.cpu_count()} cores, mix {args.mix}, "
          f"SLO p95 {args.slo_p95_ms}, steps of {args.step_users} users, {args.step_seconds} s each")
    print("| users | search req/s | search p95 https/handshake/stomp ms | manual req/s | manual p95 ms | "
          "busiest Locust process |")
    print("| ---: | ---: | --- | ---: | --- | ---: |")
    manual_at = {s.users: s for s in manual}
    for step in found["steps"]:
        mine = manual_at.get(step["users"])
        p95 = "/".join(f"{step['paths'].get(p, {}).get('p95_ms', 0):g}" for p in ("https", "handshake", "stomp"))
        theirs = "/".join(f"{mine.paths[p].p95_ms:g}" if mine and p in mine.paths else "-"
                          for p in ("https", "handshake", "stomp"))
        print(f"| {step['users']} | {step['rps']:,.0f} | {p95} | {f'{mine.rps:,.0f}' if mine else '-'} | {theirs} "
              f"| {step['generator_cpu']:g} % |")
    print()
    for line in capacity.summary_lines(found):
        print(f"search, 2 processes: {line}")
    for line in capacity.summary_lines(by_hand)[1:2]:
        print(f"manual, 2 processes: {line}")
    print("search, 1 process, steps: " + ", ".join(
        f"{step['users']} users {step['rps']:,.0f} req/s at {step['generator_cpu']:g} % CPU"
        for step in single["steps"]))
    for line in capacity.summary_lines(single):
        print(f"search, 1 process: {line}")
    print(f"wrk -t1 -c50 on 8443 (the LB's ceiling on one path): {ceiling:,.0f} req/s")
    mine_rps = (found.get("capacity") or {}).get("rps", 0.0)
    theirs_rps = (by_hand.get("capacity") or {}).get("rps", 0.0)
    ratio = mine_rps / theirs_rps if theirs_rps else math.inf
    goals = [
        (f"search within ±10 % of the manual step search ({mine_rps:,.0f} vs {theirs_rps:,.0f} req/s)",
         abs(ratio - 1) <= 0.10),
        ("the one-process search says generator-bound", bool(single.get("generator_bound"))),
    ]
    print(f"capacity found / wrk ceiling: {mine_rps / ceiling:.0%}")
    for what, met in goals:
        print(f"{'met' if met else 'MISSED':>6}: {what}")
    return 0 if all(met for _, met in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
