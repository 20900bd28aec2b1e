"""Interrupt flowlb at random moments, once, twice or three times, and count what was left behind.

Scenarios: the conformance suite on the local target, ``flowlb load``, and the suite with
``--destructive`` against a live LB on loopback (HAProxy + nginx + RabbitMQ, started here; needs
Debian's nginx-light and rabbitmq-server). Prints one line per trial and the counts: hangs,
leftovers (processes, ``.partial`` directories), reports published by an interrupted run, servers
left in MAINT. Exit code 1 when any trial was not clean::

    python benchmarks/interrupt_harness.py [--runs 50] [--seed N] [--no-live-lb]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.external.foreign_cluster import foreign_cluster  # noqa: E402
from tests.support.interrupts import (  # noqa: E402
    EXTRA_SCENARIOS,
    Scenario,
    destructive_on_live_lb,
    load_on_local,
    run_harness,
    suite_on_local,
)

from flowlb.targets.dockerenv import docker_answers  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    parser.add_argument("--no-live-lb", action="store_true", help="leave out the --destructive live-LB scenario")
    parser.add_argument("--only", default="", help="only the scenarios whose name contains this, e.g. destructive")
    args = parser.parse_args()
    print(f"seed {args.seed}", flush=True)
    scenarios = [Scenario("suite on local", suite_on_local, longest_s=30.0),
                 Scenario("flowlb load on local", load_on_local, longest_s=20.0),
                 *(s for s in EXTRA_SCENARIOS if not s.containers or docker_answers())]
    with tempfile.TemporaryDirectory(prefix="flowlb-interrupts-") as temporary, contextlib.ExitStack() as stack:
        work = Path(temporary)
        if not args.no_live_lb and shutil.which("nginx"):
            (work / "live-lb").mkdir()
            scenarios.append(destructive_on_live_lb(stack.enter_context(foreign_cluster(work / "live-lb"))))
        chosen = [s for s in scenarios if args.only in s.name]
        if not chosen:
            raise SystemExit(f"--only {args.only!r}: no scenario is named so ({', '.join(s.name for s in scenarios)})")
        trials = run_harness(chosen, args.runs, args.seed, work)
    kinds: Counter[str] = Counter()
    for trial in trials:
        for problem in trial.problems:
            kinds[problem.split(" ")[0]] += 1
    signals = Counter(len(t.signals) for t in trials)
    clean = sum(not t.problems for t in trials)
    early = sum(t.signalled and not t.handled for t in trials)
    print(f"\n{clean} of {len(trials)} trials clean (signals per trial: "
          + ", ".join(f"{n}: {c}" for n, c in sorted(signals.items()))
          + f"; {early} signalled in Python's start, before flowlb's handler); problems: "
          + (", ".join(f"{k} {v}" for k, v in kinds.items()) or "none"))
    return 0 if clean == len(trials) else 1


if __name__ == "__main__":
    sys.exit(main())
