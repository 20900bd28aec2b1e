"""Inline suppressions: ``# flowlb: ignore FLOW033 -- reason`` in the config, on the finding's line or alone
on the line above it, suppresses that rule's finding there; the finding is still listed, as suppressed
and with its reason, and no longer counts for the exit code.

Fails when a suppression hides a finding on another line or of another rule, when a suppressed finding
disappears from the output or still fails lint, when a suppression without a reason is accepted (it
must be a core finding, FLOW900, and suppress nothing), when one naming an unknown rule goes unreported
(FLOW901), or when a ``#`` inside quotes (no comment for HAProxy) is read as one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowlb.haproxy.layout import Layout
from flowlb.haproxy.render import render
from flowlb.lint.run import LintResult, lint_result
from flowlb.spec import load_spec
from tests.conftest import run_flowlb

SPEC = load_spec(None)
HARDENED = render(SPEC, "hardened", Layout.for_spec(SPEC))
SERVER_BACKEND = "\nbackend commander-server-backend\n"  # not its default_backend line
RETRY_ON = "status 200\n  retry-on conn-failure empty-response response-timeout\n  http-request"
NO_RETRY_ON = HARDENED.replace(RETRY_ON, "status 200\n  http-request", 1)  # FLOW033 on the server backend's line
STOMP_NODE1 = "server node1 node1:61613 check port 8000 on-marked-down shutdown-sessions"


def _result(text: str, tmp_path: Path) -> LintResult:
    assert text not in (HARDENED, NO_RETRY_ON), "the edit did not apply"
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    return lint_result(config, SPEC)


def _state(result: LintResult) -> tuple[list[str], list[tuple[str, str]]]:
    """The rules that count, and (rule, reason) of the suppressed ones."""
    suppressed = [(r.finding.rule, r.suppression.reason) for r in result.suppressed if r.suppression is not None]
    return [r.finding.rule for r in result.counted], suppressed


@pytest.mark.parametrize("where", ["end-of-line", "line-above", "stacked-above"])
def test_a_suppression_on_the_line_or_above_it_suppresses_that_finding(where: str, tmp_path: Path) -> None:
    comment = "# flowlb: ignore FLOW033 -- the API clients retry themselves (OPS-7)"
    text = {
        "end-of-line": NO_RETRY_ON.replace(SERVER_BACKEND, f"\nbackend commander-server-backend  {comment}\n"),
        "line-above": NO_RETRY_ON.replace(SERVER_BACKEND, f"\n{comment}{SERVER_BACKEND}"),
        "stacked-above": NO_RETRY_ON.replace(SERVER_BACKEND, f"\n{comment}\n# reviewed 2026-12{SERVER_BACKEND}"),
    }[where]
    result = _result(text, tmp_path)
    assert _state(result) == ([], [("FLOW033", "the API clients retry themselves (OPS-7)")])
    assert result.exit_code({"core", "recommended"}) == 0


def test_several_rules_in_one_suppression_and_core_ones_stop_failing(tmp_path: Path) -> None:
    text = HARDENED.replace(STOMP_NODE1, "server node1 node1:61613 check port 8000 weight 0"
                            "  # flowlb: ignore FLOW016, FLOW023 -- node1 is the standby being retired (OPS-42)")
    assert text != HARDENED
    result = _result(text, tmp_path)
    reason = "node1 is the standby being retired (OPS-42)"
    assert _state(result) == ([], [("FLOW016", reason), ("FLOW023", reason)])
    assert (result.verdict, result.exit_code()) == ("pass", 0)


def test_a_suppression_covers_only_its_rule_and_its_line(tmp_path: Path) -> None:
    other_rule = NO_RETRY_ON.replace(SERVER_BACKEND, "\n# flowlb: ignore FLOW034 -- wrong rule" + SERVER_BACKEND)
    assert _state(_result(other_rule, tmp_path)) == (["FLOW033"], [])
    blank_between = NO_RETRY_ON.replace(SERVER_BACKEND, "\n# flowlb: ignore FLOW033 -- too far\n" + SERVER_BACKEND)
    found = _result(blank_between, tmp_path)
    assert sorted(_state(found)[0]) == ["FLOW033", "FLOW901"]  # and it says it is above no directive
    assert "is above no directive" in next(r.finding.what for r in found.counted if r.finding.rule == "FLOW901")


@pytest.mark.parametrize("comment", ["# flowlb: ignore FLOW033", "# flowlb: ignore FLOW033 --",
                                     "# flowlb: ignore FLOW033 --   "])
def test_a_suppression_without_a_reason_is_a_core_finding_and_suppresses_nothing(comment: str,
                                                                                  tmp_path: Path) -> None:
    result = _result(NO_RETRY_ON.replace(SERVER_BACKEND, f"\n{comment}{SERVER_BACKEND}"), tmp_path)
    assert sorted(_state(result)[0]) == ["FLOW033", "FLOW900"] and not result.suppressed
    assert (result.verdict, result.exit_code()) == ("fail", 1)


@pytest.mark.parametrize(("rules", "complaint"), [
    ("FLOW999", "names FLOW999, which is no lint rule"),
    ("FLOW33", "names FLOW33, which is no lint rule"),
    ("", "names no rule"),
    ("FLOW900", "names FLOW900, which cannot be suppressed"),
])
def test_a_suppression_that_cannot_apply_is_reported(rules: str, complaint: str, tmp_path: Path) -> None:
    result = _result(NO_RETRY_ON.replace(SERVER_BACKEND, f"\n# flowlb: ignore {rules} -- a reason{SERVER_BACKEND}"),
                     tmp_path)
    problems = [r for r in result.counted if r.finding.rule == "FLOW901"]
    assert len(problems) == 1 and complaint in problems[0].finding.what, problems
    assert "FLOW033" in _state(result)[0]  # what it meant to hide still counts


def test_a_hash_inside_quotes_is_no_comment(tmp_path: Path) -> None:
    """HAProxy reads ``"...#..."`` as part of a word: a suppression there is no suppression."""
    quoted = '  http-request set-header X-Note "# flowlb: ignore FLOW033 -- not a comment"\n'
    result = _result(NO_RETRY_ON.replace(SERVER_BACKEND, SERVER_BACKEND + quoted), tmp_path)
    assert _state(result) == (["FLOW033"], [])


def test_text_and_json_list_suppressed_findings_with_their_reason(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(NO_RETRY_ON.replace(SERVER_BACKEND, "\n# flowlb: ignore FLOW033 -- clients retry (OPS-7)"
                                          + SERVER_BACKEND))
    number = config.read_text().splitlines().index(SERVER_BACKEND.strip()) + 1  # the backend's line
    text = run_flowlb("lint", str(config), "--fail-on", "recommended")
    assert text.returncode == 0, text.stdout
    assert (f"{config}:{number}: FLOW033 [recommended, suppressed at line {number - 1}: clients retry (OPS-7)] "
            in text.stdout), text.stdout
    summary = f"pass: 0 core, 0 recommended (warnings), 1 suppressed finding(s) in {config}"
    assert text.stdout.splitlines()[-1] == summary
    data = json.loads(run_flowlb("lint", str(config), "--format", "json").stdout)
    assert data["findings"] == [] and data["counts"]["suppressed"] == 1
    assert data["suppressed"][0]["suppression"] == {"line": number - 1, "reason": "clients retry (OPS-7)"}
