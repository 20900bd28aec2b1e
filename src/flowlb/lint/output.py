"""``flowlb lint``'s outputs: text for people, JSON for scripts.

Every output shows each finding's level (core or recommended) and lists suppressed findings apart,
with their reason; the verdict and the counts come from :class:`~flowlb.lint.run.LintResult`, so that
both agree with the exit code::

    result = lint_result(Path("haproxy.cfg"), spec)
    sys.stdout.write(FORMATS["json"](result, {"core"}))
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict

from flowlb.checks import catalogue
from flowlb.levels import CORE, RECOMMENDED
from flowlb.lint.run import LintResult, Reported


def as_text(result: LintResult, fail_on: Iterable[str] = (CORE,)) -> str:
    path = result.path
    if not result.reported:
        return f"{path}: no findings\n"
    out = []
    for reported in result.counted:
        f = reported.finding
        out += [f"{path}:{f.line}: {f.rule} [{reported.level}] {f.what}", f"    why: {f.why}", f"    fix: {f.fix}"]
        shown = ", ".join(check.id for check in catalogue.checks_showing(f.rule))
        if shown:
            out.append(f"    seen live by: {shown}")
    for reported in result.suppressed:
        f, suppression = reported.finding, reported.suppression
        assert suppression is not None
        out.append(f"{path}:{f.line}: {f.rule} [{reported.level}, suppressed at line {suppression.line}: "
                   f"{suppression.reason}] {f.what}")
    out.append(f"{result.verdict}: {result.count(CORE)} core, {result.count(RECOMMENDED)} recommended (warnings), "
               f"{len(result.suppressed)} suppressed finding(s) in {path}")
    return "\n".join(out) + "\n"


def as_json(result: LintResult, fail_on: Iterable[str] = (CORE,)) -> str:
    def row(reported: Reported) -> dict[str, object]:
        found: dict[str, object] = {**asdict(reported.finding), "level": reported.level,
                                    "checks": [c.id for c in catalogue.checks_showing(reported.finding.rule)]}
        if reported.suppression is not None:
            found["suppression"] = {"line": reported.suppression.line, "reason": reported.suppression.reason}
        return found

    data = {
        "file": str(result.path),
        "verdict": result.verdict,
        "counts": {CORE: result.count(CORE), RECOMMENDED: result.count(RECOMMENDED),
                   "suppressed": len(result.suppressed)},
        "not_run": result.not_run,
        "findings": [row(r) for r in result.counted],
        "suppressed": [row(r) for r in result.suppressed],
    }
    return json.dumps(data, indent=2) + "\n"


FORMATS: dict[str, Callable[[LintResult, Iterable[str]], str]] = {
    "text": as_text, "json": as_json,
}
