"""Two runs at once, as two CI jobs or an operator and a cron job would start them: neither touches the other's files.

Two conformance runs and two ``flowlb load`` runs, each pair started together into one report
directory, must each publish a whole report of its own under its own name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.suite import REPO, flowlb_processes


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _finish(runs: list[subprocess.Popen[str]], timeout: float) -> list[tuple[int, str]]:
    results = []
    for run in runs:
        try:
            output, _ = run.communicate(timeout=timeout)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        results.append((run.returncode, output))
    return results


def _published(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())


def test_two_conformance_runs_at_once_publish_two_whole_reports(haproxy_bin: str, tmp_path: Path) -> None:
    command = ["pytest", "conformance/", "-m", "smoke", "-q", "-p", "no:cacheprovider", "--target", "local",
               "--report-dir", str(tmp_path)]
    for code, output in _finish([_start(command), _start(command)], 180):
        assert code == 0, output[-2000:]
    runs = _published(tmp_path)
    assert len(runs) == 2 and not any(r.name.endswith(".partial") for r in runs), runs
    for run in runs:
        summary = json.loads((run / "summary.json").read_text())
        assert summary["verdict"] == "pass" and summary["counts"]["passed"] == 5, summary["counts"]
    assert (tmp_path / "latest").resolve() in {r.resolve() for r in runs}
    assert flowlb_processes() == []


def test_two_load_runs_at_once_keep_their_own_locust_files(haproxy_bin: str, tmp_path: Path) -> None:
    def command(users: str) -> list[str]:
        return ["flowlb.cli", "load", "--target", "local", "--run-time", "4s", "--users", users, "--spawn-rate", users,
                "--mix", "api=1,handshake=0,stomp=0", "--report-dir", str(tmp_path)]

    for code, output in _finish([_start(command("3")), _start(command("5"))], 180):
        assert code == 0, output[-2000:]
    runs = _published(tmp_path)
    assert len(runs) == 2, runs
    users = sorted(json.loads((run / "summary.json").read_text())["plan"]["users"] for run in runs)
    assert users == [3, 5]
    for run in runs:
        rows = (run / "locust_stats_history.csv").read_text().splitlines()[1:]
        counts = {line.split(",")[1] for line in rows if line}
        expected = json.loads((run / "summary.json").read_text())["plan"]["users"]
        assert counts <= {"0", str(expected), *map(str, range(expected + 1))}, (run.name, counts)
    assert flowlb_processes() == []
