"""A run's verdict by level: what failed at core, what is only a warning, what the operator waived.

A core failure fails the run; a core check that was skipped (or never ran) makes it ``partial``, unless it
does not apply to the config (:mod:`flowlb.checks.applies`: nothing of its kind to verify); a
recommended failure is a warning. A failure the policy file waives (``[[waiver]]``, not yet expired)
counts for nothing but is listed with its reason; an expired waiver fails the run, naming it; a run
where no check passed verified nothing: it is at best ``partial`` (as before, such a run exits 0 unless
``--fail-on partial``)::

    judgement = judge(results, policy_file.waivers, date.today())
    judgement.verdict, judgement.warnings, judgement.line()
    judgement.exit_code({"core", "recommended"})
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from flowlb import levels
from flowlb.checks.applies import not_applicable
from flowlb.policyfile import LINT_RULE, Waiver

if TYPE_CHECKING:
    from flowlb.reporting import CheckResult

OUTCOMES = ("passed", "failed", "skipped", "waived", "not_applicable")


@dataclass
class Judgement:
    """The verdict and what it rests on, as ``summary.json`` and the terminal show it."""

    verdict: str
    reasons: list[str] = field(default_factory=list)
    core_failures: list[dict[str, str]] = field(default_factory=list)
    core_skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    waived: list[dict[str, str]] = field(default_factory=list)
    unused_waivers: list[dict[str, str]] = field(default_factory=list)
    expired_waivers: list[dict[str, str]] = field(default_factory=list)
    levels: dict[str, dict[str, int]] = field(default_factory=dict)

    def exit_code(self, fail_on: Iterable[str]) -> int:
        """1 when ``--fail-on`` says this run fails (a core failure always does), else 0."""
        return levels.exit_code(self.verdict, len(self.warnings), fail_on)

    def line(self) -> str:
        """The run in one line: verdict, then checks (not their cases) core failed, warned, waived, core skipped."""
        return (f"flowlb verdict: {self.verdict.upper()}: {_checks(self.core_failures)} core failed, "
                f"{_checks(self.warnings)} warnings (recommended failed), {_checks(self.waived)} waived, "
                f"{_checks(self.core_skipped)} core skipped")


def _checks(entries: Sequence[dict[str, str]]) -> int:
    """How many checks ``entries`` name: a check's failed cases (8443 and 443) count once."""
    return len({entry["id"] for entry in entries})


def _waiver(waiver: Waiver) -> dict[str, str]:
    return {"id": waiver.id, "reason": waiver.reason, "expires": waiver.expires.isoformat()}


def judge(
    results: Sequence[CheckResult], waivers: Sequence[Waiver] = (), today: date | None = None,
    not_run: Sequence[tuple[str, str]] = (),
) -> Judgement:
    """Weigh ``results`` by their level (``CheckResult.level``); a waived failure gets the waiver's reason in
    ``CheckResult.waived``. ``not_run`` are the (nodeid, level) of checks a cut-short run never ran.

    Waivers of lint rules (``FLOWnnn``) are ``flowlb lint``'s: here they only count when expired."""
    today = today or date.today()
    active = {w.id: w for w in waivers if not w.expired(today)}
    judgement = Judgement(levels.PASS, levels={level: dict.fromkeys(OUTCOMES, 0) for level in levels.LEVELS})
    used: set[str] = set()
    for result in results:
        ident = result.check_id or result.nodeid
        level = result.level if result.level in levels.LEVELS else levels.CORE
        outcome = result.outcome
        entry = {"id": ident, "nodeid": result.nodeid, "title": result.title}
        waiver = active.get(ident) if outcome == "failed" else None
        if waiver is not None:
            used.add(waiver.id)
            result.waived = waiver.reason
            outcome = "waived"
            judgement.waived.append({**entry, "level": level, **_waiver(waiver), "message": result.message})
        elif outcome == "failed":
            failure = {**entry, "fix": result.fix, "message": result.message}
            (judgement.core_failures if level == levels.CORE else judgement.warnings).append(failure)
        elif outcome == "skipped" and not_applicable(result.message):
            outcome = "not_applicable"
        elif outcome == "skipped" and level == levels.CORE:
            judgement.core_skipped.append({**entry, "reason": result.message})
        judgement.levels[level][outcome] += 1
    for nodeid, level in not_run:
        judgement.levels[level]["skipped"] += 1
        if level == levels.CORE:
            judgement.core_skipped.append({"id": nodeid, "nodeid": nodeid, "title": "",
                                           "reason": "not run: the run was cut short"})
    judgement.unused_waivers = [_waiver(w) for w in active.values() if w.id not in used and not LINT_RULE.match(w.id)]
    judgement.expired_waivers = [_waiver(w) for w in waivers if w.expired(today)]
    _decide(judgement, passed=sum(r.outcome == "passed" for r in results))
    return judgement


def _decide(judgement: Judgement, passed: int) -> None:
    """The verdict and the reasons for it."""
    judgement.verdict = levels.run_verdict(len(judgement.core_failures), len(judgement.core_skipped))
    reasons = judgement.reasons
    if judgement.core_failures:
        reasons.append(f"{_checks(judgement.core_failures)} core check(s) failed: "
                       + ", ".join(sorted({f['id'] for f in judgement.core_failures})))
    for waiver in judgement.expired_waivers:
        reasons.append(f"the waiver for {waiver['id']} expired on {waiver['expires']} ({waiver['reason']}): "
                       "fix the failure, or renew the waiver with a new date")
    if judgement.expired_waivers:
        judgement.verdict = levels.FAIL
    if not passed:
        reasons.append("no check passed: the run verified nothing")
        if judgement.verdict == levels.PASS:
            judgement.verdict = levels.PARTIAL
    if judgement.verdict == levels.PARTIAL and judgement.core_skipped:
        reasons.append(f"{_checks(judgement.core_skipped)} core check(s) skipped: "
                       + ", ".join(sorted({s['id'] for s in judgement.core_skipped})))


def summary_fields(judgement: Judgement) -> dict[str, Any]:
    """The judgement's part of ``summary.json``."""
    return {
        "verdict": judgement.verdict, "verdict_reasons": judgement.reasons, "levels": judgement.levels,
        "core_failures": judgement.core_failures, "core_skipped": judgement.core_skipped,
        "warnings": judgement.warnings, "waived": judgement.waived,
        "unused_waivers": judgement.unused_waivers, "expired_waivers": judgement.expired_waivers,
    }
