"""Levels and ``--fail-on``: a core failure always fails a run, recommended ones only when asked."""

from __future__ import annotations

import pytest

from flowlb.levels import exit_code, parse_fail_on, run_verdict


def test_the_verdict_weighs_core_checks_only() -> None:
    assert run_verdict(core_failed=1, core_skipped=3) == "fail"
    assert run_verdict(core_failed=0, core_skipped=2) == "partial"
    assert run_verdict(core_failed=0, core_skipped=0) == "pass"


@pytest.mark.parametrize(("verdict", "warnings", "fail_on", "code"), [
    ("fail", 0, {"core"}, 1), ("pass", 4, {"core"}, 0), ("pass", 4, {"core", "recommended"}, 1),
    ("partial", 0, {"core"}, 0), ("partial", 0, {"core", "partial"}, 1), ("pass", 0, {"core", "partial"}, 0),
])
def test_exit_code_by_fail_on(verdict: str, warnings: int, fail_on: set[str], code: int) -> None:
    assert exit_code(verdict, warnings, fail_on) == code


def test_fail_on_reads_repeats_and_comma_lists_and_names_a_wrong_word() -> None:
    assert parse_fail_on(["recommended", "partial,core"]) == {"core", "partial", "recommended"}
    assert parse_fail_on([]) == {"core"}
    with pytest.raises(ValueError, match="--fail-on 'warnings': choose from core, partial, recommended"):
        parse_fail_on(["warnings"])
