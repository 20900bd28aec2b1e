"""``flowlb lint``'s outputs: text for people, JSON for scripts, SARIF for code scanning, JUnit XML for CI.

Every output shows each finding's level (core or recommended) and lists suppressed findings apart,
with their reason; the verdict and the counts come from :class:`~flowlb.lint.run.LintResult`, so that
all four agree with the exit code::

    result = lint_result(Path("haproxy.cfg"), spec)
    sys.stdout.write(FORMATS["sarif"](result, {"core"}))

SARIF (2.1.0): one run, every rule declared with its default level (core is ``error``, recommended is
``warning``), one result per finding with the file as given (relative stays relative) and its line. A
finding about the file as a whole (line 0: an empty file, a refusal HAProxy gives no line for) has no
``region``. A suppressed finding is a result with an ``inSource`` suppression whose justification is
the comment's reason. JUnit: one test case per rule (class name: the file), failed by its core
findings, or its recommended ones with ``--fail-on recommended``, and skipped when it could not run.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from urllib.parse import quote

from flowlb import __version__
from flowlb.checks import catalogue
from flowlb.levels import CORE, RECOMMENDED
from flowlb.lint import ruleset
from flowlb.lint.run import LintResult, Reported

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_LEVEL = {CORE: "error", RECOMMENDED: "warning"}
JUNIT_SUITE = "flowlb lint"


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
        out.append(f"{path}:{f.line}: {f.rule} [{reported.level}, {suppression.describe()}: "
                   f"{suppression.reason}] {f.what}")
    out += [f"the waiver for {w.id} expired on {w.expires} ({w.reason}): it fails the lint" for w in result.expired]
    out += [f"unused waiver: {w.id} ({w.reason}, until {w.expires}) matched no finding" for w in result.unused]
    out.append(f"{result.verdict}: {result.count(CORE)} core, {result.count(RECOMMENDED)} recommended (warnings), "
               f"{len(result.suppressed)} suppressed finding(s) in {path}")
    return "\n".join(out) + "\n"


def as_json(result: LintResult, fail_on: Iterable[str] = (CORE,)) -> str:
    def row(reported: Reported) -> dict[str, object]:
        found: dict[str, object] = {**asdict(reported.finding), "level": reported.level,
                                    "checks": [c.id for c in catalogue.checks_showing(reported.finding.rule)]}
        if reported.suppression is not None:
            where: dict[str, object] = {"line": reported.suppression.line, "reason": reported.suppression.reason}
            if reported.suppression.waiver:  # the policy file's, not a comment in the config
                where["waiver"] = reported.suppression.waiver
            found["suppression"] = where
        return found

    data = {
        "file": str(result.path),
        "verdict": result.verdict,
        "counts": {CORE: result.count(CORE), RECOMMENDED: result.count(RECOMMENDED),
                   "suppressed": len(result.suppressed)},
        "not_run": result.not_run,
        "findings": [row(r) for r in result.counted],
        "suppressed": [row(r) for r in result.suppressed],
        "expired_waivers": [{"id": w.id, "reason": w.reason, "expires": w.expires.isoformat()} for w in result.expired],
        "unused_waivers": [{"id": w.id, "reason": w.reason, "expires": w.expires.isoformat()} for w in result.unused],
    }
    return json.dumps(data, indent=2) + "\n"


def as_sarif(result: LintResult, fail_on: Iterable[str] = (CORE,)) -> str:
    rules = ruleset.rules()
    index = {entry.id: number for number, entry in enumerate(rules)}
    uri = _uri(result.path)
    results = []
    for reported in result.reported:
        f = reported.finding
        location: dict[str, object] = {"artifactLocation": {"uri": uri}}
        if f.line >= 1:
            location["region"] = {"startLine": f.line}
        entry: dict[str, object] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": SARIF_LEVEL[reported.level],
            "message": {"text": f"{f.what}. Why: {f.why}. Fix: {f.fix}"},
            "locations": [{"physicalLocation": location}],
            "properties": {"level": reported.level, "why": f.why, "fix": f.fix},
        }
        if reported.suppression is not None and reported.suppression.waiver:
            entry["suppressions"] = [{"kind": "external", "justification": reported.suppression.reason,
                                      "properties": {"waiver": reported.suppression.waiver}}]
        elif reported.suppression is not None:
            entry["suppressions"] = [{
                "kind": "inSource",
                "justification": reported.suppression.reason,
                "location": {"physicalLocation": {"artifactLocation": {"uri": uri},
                                                  "region": {"startLine": reported.suppression.line}}},
            }]
        results.append(entry)
    driver = {
        "name": "flowlb",
        "version": __version__,
        "rules": [{
            "id": entry.id,
            "name": entry.name,
            "shortDescription": {"text": entry.title},
            "fullDescription": {"text": f"{entry.title} Level {entry.level}: {entry.level_reason}"},
            "help": {"text": entry.help},
            "defaultConfiguration": {"level": SARIF_LEVEL[entry.level]},
            "properties": {"level": entry.level, "level_reason": entry.level_reason, "tags": [entry.level]},
        } for entry in rules],
    }
    notes = [{"level": "note", "message": {"text": f"{rule} did not run: {why}"},
              "descriptor": {"id": rule, "index": index[rule]}} for rule, why in result.not_run.items()]
    run: dict[str, object] = {
        "tool": {"driver": driver},
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notes}],
        "results": results,
        "properties": {"verdict": result.verdict},
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"


def _uri(path: Path) -> str:
    """The file as SARIF wants it: a ``file:`` URI when the path is absolute, else the relative path as given."""
    return path.as_uri() if path.is_absolute() else quote(path.as_posix())


def as_junit(result: LintResult, fail_on: Iterable[str] = (CORE,)) -> str:
    failing = {CORE} | ({RECOMMENDED} & set(fail_on))
    classname = str(result.path)
    suite = ET.Element("testsuite", name=JUNIT_SUITE)
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="verdict", value=result.verdict)
    tests = failures = skipped = 0
    for entry in ruleset.rules():
        tests += 1
        case = ET.SubElement(suite, "testcase", classname=classname, name=f"{entry.id} {entry.name}")
        mine = [r for r in result.reported if r.finding.rule == entry.id]
        failed = [r for r in mine if r.suppression is None and r.level in failing]
        others = [r for r in mine if r not in failed]
        if entry.id in result.not_run:
            skipped += 1
            ET.SubElement(case, "skipped", message=f"did not run: {result.not_run[entry.id]}")
        elif failed:
            failures += 1
            levels = sorted({r.level for r in failed})
            failure = ET.SubElement(case, "failure", type="/".join(levels),
                                    message=f"{len(failed)} {'/'.join(levels)} finding(s): {entry.title}")
            failure.text = "\n".join(_junit_line(classname, r) for r in failed)
        if others:
            ET.SubElement(case, "system-out").text = "\n".join(_junit_line(classname, r) for r in others)
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    root = ET.Element("testsuites", name=JUNIT_SUITE, tests=str(tests), failures=str(failures), errors="0",
                      skipped=str(skipped))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _junit_line(classname: str, reported: Reported) -> str:
    f = reported.finding
    if reported.suppression is not None:
        state = f"{reported.level}, {reported.suppression.describe()}: {reported.suppression.reason}"
    else:
        state = reported.level
    return f"{classname}:{f.line}: {f.rule} [{state}] {f.what}\n    why: {f.why}\n    fix: {f.fix}"


FORMATS: dict[str, Callable[[LintResult, Iterable[str]], str]] = {
    "text": as_text, "json": as_json, "sarif": as_sarif, "junit": as_junit,
}
