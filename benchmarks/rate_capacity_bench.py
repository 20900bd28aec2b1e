"""``--find-capacity --arrival-rate`` against a manual step search at finer steps, on one local cluster.

1. the rate search (``flowlb.load.ratesearch``): from ``--start`` by ``--step`` req/s, ``--processes`` Locust
   processes, the Flow API on 8443 only, until a plateau or an SLO break; its knee is the highest offered rate
   that throughput still followed (achieved >= 95 %) within the SLO;
2. a manual step search: one fixed-rate open-model Locust run per rate, from a step below the search's knee
   upwards by a quarter of its step, same processes, seconds and warm-up, until one falls behind or breaks the SLO.

Goal (exit code 1 when missed): the search's knee within ±10 % of the manual one.

    python benchmarks/rate_capacity_bench.py [--start 400] [--step 400] [--max-rate 6000] [--step-seconds 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from flowlb.load import ratesteps
from flowlb.load.arrivalresult import arrival_environment, read
from flowlb.load.capacity import DEFAULT_P95_MS
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
    print(f"$ manual step at {rate:g} req/s", flush=True)
    subprocess.run([*locust_command(plan, target, step_dir / "locust"), "--loglevel", "ERROR"], env=env,
                   timeout=seconds + 90, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    args = parser.parse_args()
    limits = dict.fromkeys(PATHS, DEFAULT_P95_MS)
    target = start_target("local", load_spec(None), "hardened")
    try:
        with tempfile.TemporaryDirectory(prefix="rate-capacity-bench-") as work:
            plan = LoadPlan(mix=MIX, processes=args.processes, arrival_rate=args.start, rate_step=args.step,
                            max_rate=args.max_rate, search=CapacitySearch(step_seconds=args.step_seconds))
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
    manual_knee = good[-1].offered if good else 0.0
    print(f"\nsearch knee (capacity at SLO) {knee:g} req/s in steps of {args.step:g}; manual {manual_knee:g} req/s in "
          f"steps of {args.step / 4:g}; difference {abs(knee - manual_knee) / max(manual_knee, 1e-9):.0%}")
    if not manual_knee or abs(knee - manual_knee) > 0.10 * manual_knee:
        print("MISSED: the search's knee is not within 10 % of the manual step search's")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
