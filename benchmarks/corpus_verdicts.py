"""The operator corpus, judged as a CI gate would: per config, its causes, verdict, warnings and exit codes.

Runs the conformance suite on the local target once per config in ``fixtures/operator-configs/``
(about a minute each) and prints one Markdown row per config: the causes (rule and line), the
verdict, the recommended failures (warnings), the exit code with the default ``--fail-on core`` and
what ``--fail-on recommended`` makes of it (from the same run's summary). Exit code 1 when a row's
exit code disagrees with its verdict::

    python benchmarks/corpus_verdicts.py [--only 27] [--report-root /tmp/corpus]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from flowlb.levels import exit_code  # noqa: E402


def judge(config: Path, root: Path) -> dict[str, Any]:
    """One suite run on ``config``: what its summary.json says, and its exit code."""
    report = root / config.stem
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "conformance/", "-q", "-p", "no:cacheprovider", "--target", "local",
         "--haproxy-cfg", str(config), "--report-dir", str(report)],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    summary_path = report / "latest" / "summary.json"
    if not summary_path.is_file():
        return {"config": config.name, "error": f"exit {run.returncode}: {run.stdout.strip().splitlines()[-1:]}"}
    summary = json.loads(summary_path.read_text())
    warnings = sorted({w["id"] for w in summary["warnings"]})
    return {
        "config": config.name,
        "causes": [f"{c['rule']} line {c['line']} ({len(c['explains'])})" for c in summary["causes"]],
        "unexplained": sorted({u["check"] for u in summary["unexplained"]}),
        "verdict": summary["verdict"],
        "warnings": warnings,
        "exit": run.returncode,
        "exit_recommended": exit_code(summary["verdict"], len(warnings), {"core", "recommended"}),
        "consistent": run.returncode == exit_code(summary["verdict"], len(warnings)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="only the configs whose name contains this")
    parser.add_argument("--report-root", type=Path, help="keep the reports here (default: a temporary folder)")
    args = parser.parse_args()
    configs = sorted(p for p in (REPO / "fixtures" / "operator-configs").glob("*.cfg") if args.only in p.name)
    print("| config | causes (rule, line, checks explained) | unexplained | verdict | warnings | exit | "
          "exit with --fail-on recommended |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    bad = 0
    with tempfile.TemporaryDirectory(prefix="flowlb-corpus-") as temporary:
        root = args.report_root or Path(temporary)
        for config in configs:
            row = judge(config, root)
            if "error" in row:
                print(f"| {row['config']} | {row['error']} | | | | | |", flush=True)
                bad += 1
                continue
            bad += not row["consistent"]
            print(f"| {row['config']} | {'; '.join(row['causes']) or '-'} | {', '.join(row['unexplained']) or '-'} "
                  f"| {row['verdict']} | {len(row['warnings'])}: {', '.join(row['warnings']) or '-'} | {row['exit']} "
                  f"| {row['exit_recommended']} |", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
