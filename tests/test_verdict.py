"""A run's verdict by level: core failures fail it, recommended ones are warnings, waivers excuse until a date.

Fails when a recommended failure fails the run, a skipped core check passes for a whole pass, a waived failure
still counts, an expired waiver is honoured, a waiver that matched nothing goes unreported, or a run where
nothing passed is called a pass (it is partial: nothing found wrong, nothing verified).
"""

from __future__ import annotations

from datetime import date

from flowlb.policyfile import Waiver
from flowlb.reporting import CheckResult
from flowlb.verdict import judge

TODAY = date(2026, 6, 1)


def result(check_id: str, outcome: str, level: str = "core") -> CheckResult:
    return CheckResult(nodeid=f"{check_id}.py::test", area=check_id.partition("/")[0], title=f"{check_id} title",
                       guards="", check_id=check_id, fix=f"fix {check_id}", level=level, outcome=outcome,
                       message=f"{outcome} message")


def test_a_recommended_failure_is_a_warning_not_a_failure() -> None:
    judgement = judge([result("a/core", "passed"), result("b/rec", "failed", "recommended")], today=TODAY)
    assert judgement.verdict == "pass"
    assert judgement.warnings == [{"id": "b/rec", "nodeid": "b/rec.py::test", "title": "b/rec title",
                                   "fix": "fix b/rec", "message": "failed message"}]
    assert judgement.exit_code({"core"}) == 0 and judgement.exit_code({"core", "recommended"}) == 1
    assert judgement.levels["recommended"] == {"passed": 0, "failed": 1, "skipped": 0, "waived": 0,
                                               "not_applicable": 0}


def test_a_core_failure_fails_and_a_skipped_core_check_is_partial() -> None:
    assert judge([result("a/core", "passed"), result("b/core", "failed")], today=TODAY).verdict == "fail"
    partial = judge([result("a/core", "passed"), result("b/core", "skipped")], today=TODAY)
    assert partial.verdict == "partial" and [s["id"] for s in partial.core_skipped] == ["b/core"]
    assert partial.exit_code({"core"}) == 0 and partial.exit_code({"core", "partial"}) == 1
    assert judge([result("a/core", "passed"), result("b/rec", "skipped", "recommended")], today=TODAY).verdict == "pass"


def test_a_core_check_that_does_not_apply_to_the_config_is_no_gap() -> None:
    """The hardened profile has no backup server: the backup check has nothing to verify, and the run is whole."""
    nothing = result("f/backup", "skipped")
    nothing.message = "does not apply: commander-server-backend (behind 8443) has no backup server"
    judgement = judge([result("a/core", "passed"), nothing], today=TODAY)
    assert judgement.verdict == "pass" and not judgement.core_skipped
    assert judgement.levels["core"]["not_applicable"] == 1 and judgement.levels["core"]["skipped"] == 0


def test_core_checks_a_cut_short_run_never_ran_make_it_partial() -> None:
    judgement = judge([result("a/core", "passed")], today=TODAY, not_run=[("c/core.py::test", "core")])
    assert judgement.verdict == "partial" and judgement.core_skipped[0]["reason"] == "not run: the run was cut short"


def test_a_run_where_nothing_passed_is_not_a_pass() -> None:
    judgement = judge([result("a/core", "skipped", "recommended")], today=TODAY)
    assert judgement.verdict == "partial" and "no check passed: the run verified nothing" in judgement.reasons
    assert judge([result("a/core", "failed")], today=TODAY).verdict == "fail"


def test_a_waived_failure_does_not_fail_the_run_and_says_why() -> None:
    failed = result("b/core", "failed")
    waiver = Waiver("b/core", "CHG-1: fixed next window", date(2026, 6, 30))
    judgement = judge([result("a/core", "passed"), failed], [waiver], today=TODAY)
    assert judgement.verdict == "pass" and not judgement.core_failures
    [waived] = judgement.waived
    assert waived["reason"] == "CHG-1: fixed next window" and waived["expires"] == "2026-06-30"
    assert failed.waived == "CHG-1: fixed next window"
    assert judgement.levels["core"]["waived"] == 1 and judgement.levels["core"]["failed"] == 0


def test_an_expired_waiver_fails_the_run_naming_it() -> None:
    waiver = Waiver("b/core", "CHG-1", date(2026, 5, 31))
    judgement = judge([result("a/core", "passed"), result("b/core", "failed")], [waiver], today=TODAY)
    assert judgement.verdict == "fail" and not judgement.waived and judgement.core_failures
    assert any(reason.startswith("the waiver for b/core expired on 2026-05-31 (CHG-1)") for reason in judgement.reasons)
    only_expired = judge([result("a/core", "passed")], [waiver], today=TODAY)
    assert only_expired.verdict == "fail" and only_expired.expired_waivers[0]["id"] == "b/core"


def test_a_waiver_that_matches_no_failure_is_reported_unused() -> None:
    waivers = [Waiver("a/core", "r", date(2027, 1, 1)), Waiver("FLOW011", "lint's", date(2027, 1, 1))]
    judgement = judge([result("a/core", "passed")], waivers, today=TODAY)
    assert judgement.verdict == "pass"
    assert judgement.unused_waivers == [{"id": "a/core", "reason": "r", "expires": "2027-01-01"}]  # FLOW011: lint's


def test_the_line_names_every_count() -> None:
    judgement = judge([result("a/core", "failed"), result("b/rec", "failed", "recommended")], today=TODAY)
    assert judgement.line() == ("flowlb verdict: FAIL: 1 core failed, 1 warnings (recommended failed), 0 waived, "
                                "0 core skipped")


def test_a_checks_failed_cases_count_once() -> None:
    """The 8443 case and the 443 case of one check are one failed check: the line said 14 core failed and named 13."""
    cases = [result("a/core", "failed"), result("a/core", "failed"), result("b/core", "failed")]
    cases[1].nodeid = "a/core.py::test[8443]"
    judgement = judge(cases, today=TODAY)
    assert judgement.line().startswith("flowlb verdict: FAIL: 2 core failed,")
    assert judgement.reasons[0] == "2 core check(s) failed: a/core, b/core"
