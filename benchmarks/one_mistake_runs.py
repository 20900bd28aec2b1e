"""The one-mistake configs, run for real: does each report open with the changed line as its cause?

Runs the conformance suite on the local target once per careful base config and once per mutation in
``fixtures/one-mistake/mutations.toml`` (about a minute each), and prints one Markdown row per run:
the first cause (rule and line) against the line the mutation changed, whether that cause explains
every failed check the base itself passes, the verdict, the exit code and the run's wall time (a broken
config should be judged no slower than its careful base). ``--record`` keeps each
run's outcomes as ``fixtures/one-mistake/recorded/<name>.json`` for the unit tests. Exit code 1 when
a base does not exit 0 or a mutation's first cause is not its changed line::

    python benchmarks/one_mistake_runs.py [--only hardened] [--record] [--report-root /tmp/mistakes]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from tests.support.one_mistake import FOLDER, Mistake, mistakes, record  # noqa: E402


def run_suite(name: str, text: str, root: Path) -> tuple[dict[str, Any] | None, int, Path, float]:
    """One suite run on a config written from ``text``: its summary.json (``None`` if it wrote none), exit code,
    summary path and wall time in seconds."""
    config = root / f"{name}.cfg"
    config.write_text(text, encoding="utf-8")
    report = root / name
    began = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "conformance/", "-q", "-p", "no:cacheprovider", "--target", "local",
         "--haproxy-cfg", str(config), "--report-dir", str(report)],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    summary = report / "latest" / "summary.json"
    seconds = time.monotonic() - began
    return (json.loads(summary.read_text()) if summary.is_file() else None), run.returncode, summary, seconds


def failed_checks(summary: dict[str, Any]) -> set[str]:
    return {row["check_id"] for row in summary["checks"] if row["outcome"] in ("failed", "error")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="only the mutations (and bases) whose name contains this")
    parser.add_argument("--record", action="store_true", help="write recorded/<name>.json for each run")
    parser.add_argument("--report-root", type=Path, help="keep configs and reports here (default: temporary)")
    args = parser.parse_args()
    chosen = [mistake for mistake in mistakes() if args.only in mistake.name]
    bases: dict[str, Mistake] = {}
    for mistake in chosen:
        bases.setdefault(mistake.name.split("-", 1)[0], mistake)
    print("| run | first cause | changed line | explains all new failures | other causes | verdict | exit | seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    bad = 0
    base_failures: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory(prefix="flowlb-mistakes-") as temporary:
        root = args.report_root or Path(temporary)
        root.mkdir(parents=True, exist_ok=True)
        for prefix, mistake in bases.items():
            summary, code, path, seconds = run_suite(f"{prefix}-base", mistake.base_text(), root)
            if summary is None:
                print(f"| {prefix}-base | no report (exit {code}) | | | | | {code} | {seconds:.0f} |", flush=True)
                bad += 1
                continue
            base_failures[prefix] = failed_checks(summary)
            bad += code != 0
            if args.record:
                record(path, f"{prefix}-base")
            causes = "; ".join(f"{c['rule']} line {c['line']}" for c in summary["causes"]) or "-"
            print(f"| {prefix}-base ({Path(mistake.base).name}) | {causes} | - | - | - | {summary['verdict']} "
                  f"| {code} | {seconds:.0f} |", flush=True)
        for mistake in chosen:
            text, line = mistake.apply()
            summary, code, path, seconds = run_suite(mistake.name, text, root)
            if summary is None:
                print(f"| {mistake.name} | no report (exit {code}) | line {line} | | | | {code} | {seconds:.0f} |",
                      flush=True)
                bad += 1
                continue
            if args.record:
                record(path, mistake.name)
            causes = summary["causes"]
            first = causes[0] if causes else None
            new = failed_checks(summary) - base_failures.get(mistake.name.split("-", 1)[0], set())
            explained = set(first["explains"]) if first else set()
            right = bool(first) and first["line"] == line
            bad += not right
            others = "; ".join(f"{c['rule']} line {c['line']}" for c in causes[1:]) or "-"
            missing = sorted(new - explained)
            print(f"| {mistake.name} | {first['rule'] + ' line ' + str(first['line']) if first else '-'} "
                  f"| line {line} | {'yes' if not missing else 'no: ' + ', '.join(missing)} ({len(new)} checks) "
                  f"| {others} | {summary['verdict']} | {code} | {seconds:.0f} |", flush=True)
    print(f"\n{len(chosen)} mutations, {len(bases)} bases, {bad} wrong; recorded in {FOLDER / 'recorded'}"
          if args.record else f"\n{len(chosen)} mutations, {len(bases)} bases, {bad} wrong")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
