"""How much of the suite runs on a live HAProxy: cases passed, failed and skipped against the foreign cluster,
without HAProxy's evidence, with its runtime API, and with its stats page only.

    python -m tests.external.live_coverage [--checkout DIR] [--destructive] [--show-skips]

``--checkout`` runs another checkout's suite (its ``conformance/`` and ``src/``) against the same cluster, to
compare two versions of flowlb. The cluster (nginx nodes, RabbitMQ, HAProxy's hardened profile with a stats
listener) is this checkout's ``tests/external/foreign_cluster.py``; everything is stopped at the end.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.external.foreign_cluster import ForeignCluster, foreign_cluster
from tests.external.test_external_target import RELOAD_PROCEDURE, outcomes

RUN_TIMEOUT_S = 900


def evidence_options(cluster: ForeignCluster) -> dict[str, list[str]]:
    """The three ways an operator runs the suite against a live HAProxy."""
    return {
        "no evidence": [],
        "--runtime-api": ["--runtime-api", str(cluster.runtime_socket)],
        "--stats-url": ["--stats-url", cluster.stats_url, "--stats-auth", cluster.stats_auth],
    }


def run_suite(checkout: Path, cluster: ForeignCluster, junit: Path, extra: list[str]) -> float:
    """The checkout's conformance suite against the cluster; the seconds it took."""
    command = [sys.executable, "-m", "pytest", "conformance/", "-q", "-p", "no:cacheprovider", "--report-dir", "none",
               "--junitxml", str(junit), "--target", "external", "--lb-host", cluster.host,
               "--lb-ports", cluster.lb_ports_option(), "--lb-name", cluster.server_name,
               "--ca-file", str(cluster.ca_file), "--spec", str(cluster.spec_file),
               "--stomp-vhost", "/", "--stomp-idle-seconds", "5", *extra]
    env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    started = time.monotonic()
    subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, check=False,
                   timeout=RUN_TIMEOUT_S)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=Path.cwd(), help="the flowlb checkout whose suite runs")
    parser.add_argument("--destructive", action="store_true",
                        help="also give --destructive (and with --runtime-api, a --reload-command that keeps server "
                             "state) when evidence is given")
    parser.add_argument("--show-skips", action="store_true", help="list every skipped case with its reason")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    if not (checkout / "conformance").is_dir():
        print(f"live_coverage: {checkout} has no conformance/ folder", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="flowlb-live-coverage-") as scratch, \
            foreign_cluster(Path(scratch)) as cluster:
        for name, options in evidence_options(cluster).items():
            extra = [*options, "--destructive"] if args.destructive and options else options
            if args.destructive and "--runtime-api" in options:
                script = Path(scratch) / "reload.py"
                script.write_text(RELOAD_PROCEDURE.format(runtime=cluster.runtime_socket, master=cluster.master_socket,
                                                          state=cluster.runtime_socket.parent / "server-state"))
                extra += ["--reload-command", f"{sys.executable} {script}"]
            junit = Path(scratch) / f"junit-{len(rows)}.xml"
            took = run_suite(checkout, cluster, junit, extra)
            seen = outcomes(junit) if junit.is_file() else {}
            counts = collections.Counter(outcome.split(":")[0] for outcome in seen.values())
            rows.append((" ".join(option for option in extra if option.startswith("--")) or name, counts, took))
            if args.show_skips:
                for case, outcome in sorted(seen.items()):
                    if outcome != "passed":
                        print(f"  [{name}] {case}: {outcome}")
    print(f"| {checkout.name} | cases | passed | failed | skipped | seconds |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, counts, took in rows:
        print(f"| {name} | {sum(counts.values())} | {counts['passed']} | {counts['failed']} | {counts['skipped']} "
              f"| {took:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
