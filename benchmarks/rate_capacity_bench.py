"""``--find-capacity --arrival-rate`` against a manual step search at finer steps, on one local cluster.

1. the rate search (``flowlb.load.ratesearch``): from ``--start`` by ``--step`` req/s, ``--processes`` Locust
   processes, the Flow API on 8443 only, until a plateau or an SLO break; its knee is the highest offered rate
   that throughput still followed (achieved >= 95 %) within the SLO;
2. a manual step search: one fixed-rate open-model Locust run per rate, from a step below the search's knee
   upwards by a quarter of its step, same processes, seconds and warm-up, until one falls behind or breaks the SLO;
   each starts, as the search's steps do, once the last one's sessions have drained from the LB.

Both judge each step by the same SLO: by default a p95 of ``--slo-p95-ms`` 30000 ms on 8443, which no step
breaks before its throughput stops following the offered rate, so the plateau decides (on 2 cores the p95 near
the knee swings between milliseconds and seconds from one run to the next; give ``--slo-p95-ms 200`` to compare
the capacity at a latency SLO instead).

Goal (exit code 1 when missed): the search's knee within ±10 % of the manual one.

    python benchmarks/rate_capacity_bench.py [--start 400] [--step 400] [--max-rate 6000] [--step-seconds 5]
        [--slo-p95-ms 30000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from flowlb.load import haproxysteps, ratesteps
from flowlb.load.arrivalresult import arrival_environment, read
from flowlb.load.paths import PATHS
from flowlb.load.plan import CapacitySearch, LoadPlan
from flowlb.load.ratesearch import FAILURE_RATIO, WARMUP_S
from flowlb.load.ratesearch import run as search
from flowlb.load.runner import locust_command, locust_environment
from flowlb.spec import load_spec
from flowlb.targets.base import Target
from flowlb.targets.select import start_target

MIX = "api=1,handshake=0,stomp=0"


def manual_step(target: Target, rate: float, args: argparse.Namespace, work: Path) -> ratesteps.RateStep:
    step_dir = work / f"manual-{rate:g}"
    step_dir.mkdir()
    seconds = args.step_seconds + WARMUP_S
    plan = LoadPlan(run_time=f"{int(seconds)}s", mix=MIX, processes=args.processes, arrival_rate=rate)
    env = {**locust_environment(target, MIX), **arrival_environment(rate, seconds, step_dir),
           "FLOWLB_ARRIVAL_WARMUP": str(WARMUP_S)}
    haproxysteps.settle(target.evidence())  # as the search does: the last step's sessions drained first
    print(f"$ manual step at {rate:g} req/s", flush=True)
    # a session of its own, as flowlb load and the search start Locust: where Linux groups CPU time by session
    # (autogroup), a generator in the cluster's session got a share the search's never gets, and held 5800 req/s
    # where the search plateaued at 4800
    subprocess.run([*locust_command(plan, target, step_dir / "locust"), "--loglevel", "ERROR"], env=env,
                   timeout=seconds + 90, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   start_new_session=True)
    arrival = read(step_dir)
    assert arrival is not None, f"the manual step at {rate:g} wrote no arrival.json"
    return ratesteps.RateStep.of(arrival)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=float, default=400.0)
    parser.add_argument("--step", type=float, default=400.0)
    parser.add_argument("--max-rate", type=float, default=6000.0)
    parser.add_argument("--step-seconds", type=int, default=5)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--slo-p95-ms", type=float, default=30000.0, help="every path's p95 limit (30000)")
    args = parser.parse_args()
    limits = dict.fromkeys(PATHS, args.slo_p95_ms)
    target = start_target("local", load_spec(None), "hardened")
    try:
        with tempfile.TemporaryDirectory(prefix="rate-capacity-bench-") as work:
            plan = LoadPlan(mix=MIX, processes=args.processes, arrival_rate=args.start, rate_step=args.step,
                            max_rate=args.max_rate, search=CapacitySearch(step_seconds=args.step_seconds,
                                                  slo_p95_ms=",".join(f"{p}={v:g}" for p, v in limits.items())))
            _, directory = search(plan, target, Path(work) / "search")
            outcome = json.loads((directory / "summary.json").read_text())["rate_capacity"]
            for line in ratesteps.summary_lines(outcome):
                print(f"search: {line}")
            knee = (outcome.get("capacity") or {}).get("offered") or args.start
            manual: list[ratesteps.RateStep] = []
            rate = max(args.step / 4, knee - args.step)
            while rate <= args.max_rate:
                step = manual_step(target, rate, args, Path(work))
                manual.append(step)
                print(f"manual: {rate:g} req/s offered, {step.achieved:g} achieved, p95 {step.p95_ms}", flush=True)
                if ratesteps.stop_reason(step, limits, FAILURE_RATIO):
                    break
                rate += args.step / 4
    finally:
        target.close()
    good = [s for s in manual if not ratesteps.stop_reason(s, limits, FAILURE_RATIO)]
    if not good:
        print(f"\nMISSED: no manual step held, from {manual[0].offered:g} req/s up (the search's capacity at SLO: "
              f"{knee:g} req/s)" if manual else "\nMISSED: no manual step ran")
        return 1
    manual_knee = good[-1].offered
    print(f"\nsearch knee (capacity at SLO) {knee:g} req/s in steps of {args.step:g}; manual {manual_knee:g} req/s in "
          f"steps of {args.step / 4:g}; difference {abs(knee - manual_knee) / manual_knee:.0%}")
    if abs(knee - manual_knee) > 0.10 * manual_knee:
        print("MISSED: the search's knee is not within 10 % of the manual step search's")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
