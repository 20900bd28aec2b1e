"""``flowlb compare BEFORE AFTER``: what a change window changed, from two runs' report folders.

Fails when a check that passed and now fails is not a regression with exit code 1, when a fix, a skip, a new
or a gone check, a new or gone cause, or a figure that moved beyond the thresholds is not listed (or one
that stayed within them is), when a report root's ``latest`` is not followed, when compare.json and
compare.md are not written beside AFTER, or when bad input (a missing folder, a folder that is no report,
a summary that is not JSON or not a conformance run's) is not one line and exit code 2 with nothing written.
The real pair runs the forgotten-server check on a careful operator config and on the same config with one
Flow server left out of its 8000 backend.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from flowlb.compare import compare, load_run
from tests.conftest import REPO, run_flowlb
from tests.support.suite import run_pytest

SHA_BEFORE, SHA_AFTER = "a" * 64, "b" * 64


def check(nodeid: str, outcome: str, message: str = "", **figures: object) -> dict[str, Any]:
    """One check of summary.json, in a real run's shape."""
    file = nodeid.partition("::")[0].removeprefix("conformance/")
    return {"nodeid": nodeid, "area": file.split("/", 1)[0], "title": "t", "guards": "g",
            "check_id": file.replace("/test_", "/").removesuffix(".py"),
            "fix": "", "outcome": outcome, "message": message, "seconds": 0.5, "figures": figures}


def report(root: Path, name: str, checks: list[dict[str, Any]], sha: str = SHA_BEFORE, haproxy: str = "2.6.12",
           causes: list[dict[str, Any]] | None = None) -> Path:
    """A published run directory under ``root`` (``latest`` pointing at it), as flowlb.reporting writes one."""
    directory = root / name
    directory.mkdir(parents=True)
    counts = {o: sum(c["outcome"] == o for c in checks) for o in ("passed", "failed", "skipped")}
    summary: dict[str, Any] = {
        "run": {"target": "local", "config": "operator:x.cfg", "haproxy": haproxy, "config_path": "/etc/x.cfg",
                "config_sha256": sha, "cut_short": "", "not_run": []},
        "counts": counts, "verdict": "fail" if counts["failed"] else "pass", "areas": {}, "skipped": [],
        "checks": checks,
    }
    if causes is not None:
        summary["causes"] = causes
    (directory / "summary.json").write_text(json.dumps(summary))
    (root / "latest").unlink(missing_ok=True)
    (root / "latest").symlink_to(name)
    return directory


KILL = "conformance/failover/test_killed_node_under_load.py::test_no_request_lost_when_a_node_is_killed"
SPREAD = "conformance/balance/test_requests_spread_over_all_nodes.py::test_requests_spread_evenly[8000]"
REDIRECT = "conformance/redirect/test_redirect_drops_port_80.py::test_redirect_does_not_leak_port_80"
BACKUP = "conformance/failover/test_backup_takes_over.py::test_backup_serves_only_when_every_primary_is_out"
STATS = "conformance/security/test_stats_page_not_public.py::test_stats_page_is_not_served[80]"
GONE = "conformance/stomp/test_heartbeats.py::test_session_lives_on_heartbeats"
NEW = ("conformance/balance/test_every_flow_server_in_every_flow_backend.py"
       "::test_every_flow_server_is_in_every_flow_backend")
CAUSE_31 = {"rule": "FLOW031", "line": 78, "text": "backend be_flow", "why": "w", "fix": "f",
            "explains": ["balance/every_flow_server_in_every_flow_backend"]}
CAUSE_11 = {"rule": "FLOW011", "line": 40, "text": "redirect scheme https", "why": "w", "fix": "f", "explains": []}


def change_window(tmp_path: Path) -> tuple[Path, Path]:
    """Two runs of one LB: a pass that fails, a fix, a skip that runs and one that stops, a check new and one gone,
    figures that moved and one within the thresholds, a cause new, one gone and one whose line moved."""
    before = report(tmp_path / "before", "20260101-100000-local-x", [
        check(KILL, "passed", kill_detection_s=0.06, kill_failed_requests=0, kill_requests=6202),
        check(SPREAD, "passed", requests_per_node={"flow1": 20, "flow2": 20, "flow3": 20}),
        check(REDIRECT, "failed", "Location keeps :80. Fix: ..."),
        check(BACKUP, "skipped", "no backup server"),
        check(STATS, "passed"),
        check(GONE, "passed"),
    ], causes=[CAUSE_11, {**CAUSE_31, "line": 70}])
    after = report(tmp_path / "after", "20260101-120000-local-x", [
        check(KILL, "failed", "12 of 6000 requests failed\nmore", kill_detection_s=0.4, kill_failed_requests=12,
              kill_requests=6000),
        check(SPREAD, "passed", requests_per_node={"flow1": 30, "flow2": 30, "flow3": 0}),
        check(REDIRECT, "passed"),
        check(BACKUP, "passed"),
        check(STATS, "skipped", "no stats"),
        check(NEW, "failed", "backend be_flow lacks flow3"),
    ], sha=SHA_AFTER, haproxy="3.2.0", causes=[CAUSE_31, {**CAUSE_11, "rule": "FLOW002", "text": "stats enable"}])
    return before, after


def test_a_change_window_is_listed_by_kind(tmp_path: Path) -> None:
    before, after = change_window(tmp_path)
    comparison = compare(load_run(before), load_run(after))
    kinds = {kind: [row["nodeid"] for row in comparison[kind]]
             for kind in ("regressions", "fixed", "now_run", "now_skipped", "new", "removed")}
    assert kinds == {"regressions": [KILL], "fixed": [REDIRECT], "now_run": [BACKUP], "now_skipped": [STATS],
                     "new": [NEW], "removed": [GONE]}
    assert comparison["regressions"][0]["message"].startswith("12 of 6000")
    assert comparison["identity"]["config_sha256"] == {"before": SHA_BEFORE, "after": SHA_AFTER}
    assert comparison["identity"]["haproxy"] == {"before": "2.6.12", "after": "3.2.0"}
    assert [c["rule"] for c in comparison["new_causes"]] == ["FLOW002"]  # FLOW031 only moved from line 70 to 78
    assert [c["rule"] for c in comparison["gone_causes"]] == ["FLOW011"]
    moved = {(row["nodeid"], row["figure"]): (row["before"], row["after"]) for row in comparison["figures"]}
    # 0.06 -> 0.4 s and 6202 -> 6000 requests stay within 0.5 and 25 %; a lost request and a starved node do not
    assert moved == {(KILL, "kill_failed_requests"): (0, 12), (SPREAD, "requests_per_node.flow1"): (20, 30),
                     (SPREAD, "requests_per_node.flow2"): (20, 30), (SPREAD, "requests_per_node.flow3"): (20, 0)}


def test_the_command_exits_1_on_a_regression_and_writes_beside_after(tmp_path: Path) -> None:
    before, after = change_window(tmp_path)
    result = run_flowlb("compare", str(before.parent), str(after.parent))  # report roots: their `latest`
    assert result.returncode == 1, result.stderr
    out = after.parent / f"compare-{before.name}--{after.name}"
    assert sorted(p.name for p in out.iterdir()) == ["compare.json", "compare.md"]  # no temporary file stays
    text = (out / "compare.md").read_text()
    assert result.stdout.startswith(text)
    assert f"## Passed before, fail now (1)\n\n- `{KILL}`: passed -> failed: 12 of 6000 requests failed\n" in text
    assert "- config_sha256: aaaaaaaaaaaaaaaa -> bbbbbbbbbbbbbbbb" in text and "- verdict: fail (unchanged)" in text
    assert "FLOW002 line 40: `stats enable`" in text
    assert json.loads((out / "compare.json").read_text())["after"]["name"] == after.name


def test_no_regression_exits_0_and_out_is_honoured(tmp_path: Path) -> None:
    before = report(tmp_path / "r1", "run1", [check(REDIRECT, "failed"), check(KILL, "passed", kill_failed_requests=0)])
    after = report(tmp_path / "r2", "run2", [check(REDIRECT, "passed"), check(KILL, "passed", kill_failed_requests=0)])
    out = tmp_path / "cmp"
    result = run_flowlb("compare", str(before), str(after / "summary.json"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    comparison = json.loads((out / "compare.json").read_text())
    assert [row["nodeid"] for row in comparison["fixed"]] == [REDIRECT] and not comparison["figures"]
    assert comparison["new_causes"] == comparison["gone_causes"] == []  # neither run has causes
    assert "- config_sha256: aaaaaaaaaaaaaaaa (same config)" in result.stdout


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = report(tmp_path / "good", "run", [check(KILL, "passed")])
    empty = tmp_path / "empty"
    empty.mkdir()
    garbled = tmp_path / "garbled"
    garbled.mkdir()
    (garbled / "summary.json").write_text('{"run": {}, "checks": [')
    load = tmp_path / "load"
    load.mkdir()
    (load / "summary.json").write_text(json.dumps({"run": {}, "paths": {}}))
    dangling = tmp_path / "dangling"
    dangling.mkdir()
    (dangling / "latest").symlink_to("gone")
    return {
        "missing": (tmp_path / "nowhere", "no such report folder"),
        "no report": (empty, "not a flowlb report (no summary.json, no `latest` run)"),
        "not JSON": (garbled, "not JSON (Expecting value, line 1)"),
        "a load report": (load, "not a conformance run's summary"),
        "dangling latest": (dangling, "not a flowlb report"),
        "good": (good, ""),
    }


@pytest.mark.parametrize("case", ["missing", "no report", "not JSON", "a load report", "dangling latest"])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, case: str) -> None:
    inputs = _bad_inputs(tmp_path)
    bad, expected = inputs[case]
    good = inputs["good"][0]
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    for args in ((str(bad), str(good)), (str(good), str(bad))):
        result = run_flowlb("compare", *args)
        assert result.returncode == 2, result.stdout
        assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
        assert result.stdout == ""
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


@pytest.mark.local
@pytest.mark.usefixtures("haproxy_bin")
def test_a_real_pair_a_careful_config_and_a_forgotten_flow_server(tmp_path: Path) -> None:
    careful = REPO / "fixtures" / "operator-configs" / "03-stats-8404-auth.cfg"
    forgotten = tmp_path / "forgotten.cfg"
    line = "    server flow3 10.30.0.23:8000 check\n"
    text = careful.read_text(encoding="utf-8")
    assert text.count(line) == 1
    forgotten.write_text(text.replace(line, ""), encoding="utf-8")
    checks = ["conformance/balance/test_every_flow_server_in_every_flow_backend.py",
              "conformance/health/test_flow_servers_up.py"]
    roots = []
    for name, config in (("before", careful), ("after", forgotten)):
        root = tmp_path / name
        result = run_pytest(*checks, "--target", "local", "--haproxy-cfg", str(config), "--report-dir", str(root),
                            "-q", "-p", "no:cacheprovider", timeout=180)
        assert result.returncode in (0, 1), result.stdout[-3000:]
        roots.append(root)
    result = run_flowlb("compare", *map(str, roots), "--out", str(tmp_path / "cmp"))
    assert result.returncode == 1, result.stdout + result.stderr
    comparison = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [row["check"] for row in comparison["regressions"]] == ["balance/every_flow_server_in_every_flow_backend"]
    assert "lacks the Flow server flow3" in comparison["regressions"][0]["message"]
    assert comparison["identity"]["config_sha256"]["before"] != comparison["identity"]["config_sha256"]["after"]
    assert os.path.realpath(roots[1] / "latest") == comparison["after"]["directory"]
