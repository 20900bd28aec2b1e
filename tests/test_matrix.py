"""The side-by-side report of ``flowlb matrix``: differences first, every version's outcome, names escaped.

Fails when a check whose outcome differs between versions is not listed first, when a version's
outcome is missing, or when a hostile check name reaches the page unescaped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flowlb.matrix import matrix_rows, suite_command
from flowlb.reporting import TEMPLATES
from tests.support.suite import REPO


def summary(version: str, outcomes: dict[str, str]) -> dict[str, Any]:
    checks = [{"nodeid": nodeid, "check_id": nodeid.split("::")[0], "outcome": outcome, "message": f"{outcome} msg"}
              for nodeid, outcome in outcomes.items()]
    counts = {o: sum(c["outcome"] == o for c in checks) for o in ("passed", "failed", "skipped")}
    return {"run": {"haproxy": version + ".1", "openssl": "OpenSSL 3"}, "counts": counts,
            "verdict": "fail" if counts["failed"] else "pass", "checks": checks}


def test_differences_come_first() -> None:
    summaries = {
        "2.6": summary("2.6", {"a::x": "passed", "b::y": "passed"}),
        "3.2": summary("3.2", {"a::x": "passed", "b::y": "failed"}),
    }
    rows = matrix_rows(summaries)
    assert [row["nodeid"] for row in rows] == ["b::y", "a::x"]
    assert rows[0]["differs"] and not rows[1]["differs"]
    assert rows[0]["outcomes"] == {"2.6": "passed", "3.2": "failed"}


def test_page_escapes_names_and_links_each_version() -> None:
    hostile = "<script>alert(1)</script>"
    summaries = {"2.6": summary("2.6", {f"{hostile}::x": "failed"}), "3.0": summary("3.0", {f"{hostile}::x": "passed"})}
    page = TEMPLATES.get_template("matrix.html.j2").render(versions=["2.6", "3.0"], rows=matrix_rows(summaries),
                                                           summaries=summaries, config=hostile)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "1 of 1</b> results differ between versions" in page
    assert 'href="2.6/latest/index.html"' in page and 'href="3.0/latest/index.html"' in page


def test_the_child_suite_gets_the_callers_paths_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    command = suite_command("3.2", Path("my.cfg"), Path("reports/matrix-1/3.2"), ["--spec", "spec.toml"])
    assert command[command.index("--haproxy-cfg") + 1] == str(tmp_path / "my.cfg")
    assert command[command.index("--report-dir") + 1] == str(tmp_path / "reports/matrix-1/3.2")
    assert command[-2:] == ["--spec", "spec.toml"]  # the child runs in the caller's directory, where this is


def test_matrix_runs_from_any_directory_with_relative_paths(tmp_path: Path) -> None:
    """From outside the checkout, with a relative --report-dir and --haproxy-cfg: a passing run publishes its
    matrix where the caller meant. It ended in "did not finish (exit 0)" with a .partial left in the checkout.

    The checkout is a stand-in (``FLOWLB_HOME``) whose suite is one quick check, so no container starts.
    """
    home = tmp_path / "checkout"
    (home / "conformance" / "loads").mkdir(parents=True)
    shutil.copy(REPO / "conformance" / "conftest.py", home / "conformance" / "conftest.py")
    (home / "conformance" / "loads" / "test_config_loads.py").write_text("def test_it():\n    pass\n")
    caller = tmp_path / "elsewhere"
    caller.mkdir()
    (caller / "my.cfg").write_text("# the operator's config; the stand-in suite never starts it\n")
    result = subprocess.run(
        [sys.executable, "-m", "flowlb.cli", "matrix", "--versions", "3.2", "--haproxy-cfg", "my.cfg",
         "--report-dir", "reports"],
        capture_output=True, text=True, cwd=caller, env={**os.environ, "FLOWLB_HOME": str(home)}, check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [matrix] = [p for p in (caller / "reports").glob("matrix-*") if not p.is_symlink()]
    summary = json.loads((matrix / "matrix.json").read_text())
    assert [row["outcomes"] for row in summary["checks"]] == [{"3.2": "passed"}]
    assert summary["runs"]["3.2"]["config"] == "operator:my.cfg"
    assert not list(home.rglob("*.partial")) and not (home / "reports").exists()
