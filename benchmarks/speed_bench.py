"""How fast flowlb is, in one run: the conformance suite per area on both targets, the capacity search, make test.

1. ``pytest conformance/`` on the local and the containers target (hardened profile, warm images):
   wall time, and the time of each area (``conformance/<area>/``) from the suite's own JUnit report;
2. ``benchmarks/capacity_bench.py``: the capacity found by ``--find-capacity`` against a manual step
   search and against wrk's ceiling on the same cluster;
3. with ``--mutants``, the mutant sweep (``pytest tests/test_mutants.py -n 3``) on one shared cluster per
   worker, each mutant loaded by a reload, and with a cluster started per mutant (FLOWLB_SWEEP_FRESH=1);
4. with ``--make-test``, the wall time of ``make test`` (the whole project's tests, about 10 minutes).

Goals (exit code 1 when one is missed): the suite within 60 s on containers and 45 s on local, the
sweep within 3 minutes and every mutant caught, make test within 10 minutes when measured, and
capacity_bench's own goals::

    python benchmarks/speed_bench.py [--targets local,containers] [--no-capacity] [--mutants] [--make-test]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GOALS_S = {"containers": 60.0, "local": 45.0}
MAKE_TEST_GOAL_S = 600.0
SWEEP_GOAL_S = 180.0


def suite(target: str, work: Path) -> tuple[float, dict[str, float], str]:
    """Wall time, seconds per area and pytest's last line for one run of the suite on ``target``."""
    junit = work / f"{target}.xml"
    command = [sys.executable, "-m", "pytest", "conformance/", "--target", target, "--profile", "hardened", "-q",
               "-p", "no:cacheprovider", "--report-dir", "none", f"--junitxml={junit}"]
    print("$", " ".join(command[2:]), flush=True)
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    took = time.monotonic() - started
    areas: dict[str, float] = defaultdict(float)
    if junit.is_file():
        for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314 - our own pytest wrote it
            parts = case.attrib.get("classname", "").split(".")
            areas[parts[1] if len(parts) > 2 else "?"] += float(case.attrib.get("time", 0))
    last = (result.stdout.strip().splitlines() or ["no output"])[-1]
    return took, dict(areas), last


def sweep(fresh: bool) -> tuple[float, str]:
    """Wall time and the mutation score line of one mutant sweep; ``fresh``: a cluster per mutant."""
    command = [sys.executable, "-m", "pytest", "tests/test_mutants.py", "-n", "3", "--dist", "worksteal", "-q",
               "-p", "no:cacheprovider"]
    print(("FLOWLB_SWEEP_FRESH=1 " if fresh else "") + "$ " + " ".join(command[2:]), flush=True)
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
                            env={**os.environ, "FLOWLB_SWEEP_FRESH": "1" if fresh else "0"})
    took = time.monotonic() - started
    score = next((line for line in result.stdout.splitlines() if line.startswith("mutation score")), "no score")
    return took, score if result.returncode == 0 else f"{score}; pytest exit {result.returncode}"


def make_test() -> float:
    print("$ make test", flush=True)
    started = time.monotonic()
    subprocess.run(["make", "test"], cwd=REPO, timeout=3600, check=False, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="local,containers")
    parser.add_argument("--no-capacity", action="store_true", help="leave out capacity_bench.py")
    parser.add_argument("--mutants", action="store_true", help="also time the mutant sweep, shared and fresh")
    parser.add_argument("--make-test", action="store_true", help="also time make test (about 10 minutes)")
    args = parser.parse_args()
    goals: list[tuple[str, bool]] = []
    with tempfile.TemporaryDirectory(prefix="flowlb-speed-bench-") as work:
        runs = {target: suite(target, Path(work)) for target in args.targets.split(",")}
    areas = sorted({area for _, per_area, _ in runs.values() for area in per_area})
    print()
    print("| area | " + " | ".join(f"{t} (s)" for t in runs) + " |")
    print("| --- | " + " | ".join("---:" for _ in runs) + " |")
    for area in areas:
        print(f"| {area} | " + " | ".join(f"{per_area.get(area, 0):.1f}" for _, per_area, _ in runs.values()) + " |")
    print("| **wall time** | " + " | ".join(f"**{took:.1f}**" for took, _, _ in runs.values()) + " |")
    for target, (took, _, last) in runs.items():
        print(f"{target}: {last}")
        goals.append((f"suite on {target} within {GOALS_S[target]:.0f} s ({took:.1f} s)", took <= GOALS_S[target]))
        goals.append((f"suite on {target} passes", " failed" not in last and "error" not in last))
    code = 0
    if not args.no_capacity:
        print()
        code = subprocess.run([sys.executable, str(HERE / "capacity_bench.py")], cwd=REPO, check=False).returncode
    if args.mutants:
        print()
        for fresh in (False, True):
            took, score = sweep(fresh)
            how = "a cluster per mutant" if fresh else "one shared cluster per worker, a reload per mutant"
            print(f"mutant sweep, {how}: {took:.1f} s; {score}")
            if not fresh:
                goals.append((f"mutant sweep within {SWEEP_GOAL_S:.0f} s ({took:.1f} s)", took <= SWEEP_GOAL_S))
                goals.append((f"every mutant caught ({score})", "(100%)" in score and "pytest exit" not in score))
    if args.make_test:
        took = make_test()
        goals.append((f"make test within {MAKE_TEST_GOAL_S / 60:.0f} min ({took / 60:.1f} min)",
                      took <= MAKE_TEST_GOAL_S))
    print()
    for what, met in goals:
        print(f"{'met' if met else 'MISSED':>6}: {what}")
    return 1 if code or not all(met for _, met in goals) else 0


if __name__ == "__main__":
    sys.exit(main())
