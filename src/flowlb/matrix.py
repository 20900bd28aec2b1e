"""``flowlb matrix``: the conformance suite on each HAProxy line, and one side-by-side report.

Each version runs the whole suite on the containers target (``--haproxy-version``) with its own
normal report under ``<report-dir>/matrix-<time>/<version>/``; then ``index.html`` and
``matrix.json`` put every check against every version, the differences first::

    directory = run_matrix(["2.6", "3.0", "3.2"], config=Path("my.cfg"), report_root=Path("reports"))
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from flowlb import paths
from flowlb.errors import FlowlbError
from flowlb.interrupts import deferred_signals
from flowlb.processgroup import stop_group
from flowlb.reporting import TEMPLATES, discard, fresh_directory, publish


def run_matrix(versions: list[str], config: Path | None, report_root: Path, extra: list[str]) -> Path:
    """Run the suite once per version; write and publish the side-by-side report; return its directory.

    Relative paths (``config``, ``report_root``, any in ``extra``) mean what they mean in the caller's
    directory, wherever the checkout is: the suite runs from there too (see :func:`suite_command`).
    """
    config = config.absolute() if config is not None else None
    directory = fresh_directory(report_root.absolute(), f"matrix-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        summaries: dict[str, dict[str, Any]] = {}
        for version in versions:
            print(f"flowlb matrix: HAProxy {version} ...", flush=True)
            summaries[version] = _run_one(version, config, directory / version, extra)
        rows = matrix_rows(summaries)
        (directory / "matrix.json").write_text(json.dumps({"versions": versions, "checks": rows,
                                                           "runs": {v: s["run"] for v, s in summaries.items()}},
                                                          indent=2))
        template = TEMPLATES.get_template("matrix.html.j2")
        (directory / "index.html").write_text(template.render(versions=versions, rows=rows, summaries=summaries,
                                                              config=str(config) if config else "hardened profile"))
    except BaseException:
        discard(directory)
        raise
    return publish(directory)


def suite_command(version: str, config: Path | None, report_dir: Path, extra: list[str]) -> list[str]:
    """The suite run for one version, to be run from the caller's directory: the suite's folder, the config
    and the report directory are absolute, so the checkout may be anywhere; ``extra`` is passed as given."""
    command = [sys.executable, "-m", "pytest", str(paths.folder("conformance")), "--target", "containers",
               "--haproxy-version", version, "--report-dir", str(report_dir.absolute()), "-q",
               "-p", "no:cacheprovider"]
    if config is not None:
        command += ["--haproxy-cfg", str(config.absolute())]
    return [*command, *extra]


CHILD_TEARDOWN_S = 120.0  # an interrupted suite tears its cluster down within this, or its group is killed


def _run_one(version: str, config: Path | None, report_dir: Path, extra: list[str]) -> dict[str, Any]:
    code = run_child(suite_command(version, config, report_dir, extra))
    summary_path = report_dir / "latest" / "summary.json"
    if code not in (0, 1) or not summary_path.is_file():
        raise FlowlbError(f"the suite on HAProxy {version} did not finish (exit {code})")
    summary: dict[str, Any] = json.loads(summary_path.read_text())
    return summary


def run_child(command: list[str]) -> int:
    """Run a suite in a process group of its own; return its exit code.

    A terminal's Ctrl-C reaches only flowlb then, which passes one SIGINT on (SIGTERM too becomes one) and
    waits, bounded, while the suite removes its cluster and its partial report; further signals wait for
    that too. ``subprocess.run`` would have SIGKILLed the suite a quarter of a second into its teardown.
    """
    child = subprocess.Popen(command, process_group=0)
    try:
        return child.wait()
    except BaseException:
        with deferred_signals():
            stop_group(child, ((signal.SIGINT, CHILD_TEARDOWN_S), (signal.SIGKILL, 5.0)))
        raise


def matrix_rows(summaries: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per check: its outcome (and message) on each version; rows whose outcomes differ first."""
    rows: dict[str, dict[str, Any]] = {}
    for version, summary in summaries.items():
        for check in summary["checks"]:
            row = rows.setdefault(check["nodeid"], {"check": check.get("check_id") or check["nodeid"],
                                                    "nodeid": check["nodeid"], "outcomes": {}, "messages": {}})
            row["outcomes"][version] = check["outcome"]
            row["messages"][version] = check.get("message", "")
    for row in rows.values():
        row["differs"] = len(set(row["outcomes"].values())) > 1 or len(row["outcomes"]) < len(summaries)
    return sorted(rows.values(), key=lambda r: (not r["differs"], r["nodeid"]))
