"""``flowlb lint --format junit``: JUnit XML that CI systems read, one test case per lint rule.

Fails when the XML does not parse, when the suite is not called ``flowlb lint`` or a test case's class
name is not the file, when a rule with a core finding is not a failure (or a rule with only recommended
findings is one without ``--fail-on recommended``), when a rule that could not run is not skipped, or
when the counts on the suite disagree with its test cases.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from flowlb.haproxy.layout import Layout
from flowlb.haproxy.render import render
from flowlb.lint import ruleset
from flowlb.lint.output import as_junit
from flowlb.lint.run import lint_result
from flowlb.spec import load_spec
from tests.conftest import run_flowlb

SPEC = load_spec(None)
HARDENED = render(SPEC, "hardened", Layout.for_spec(SPEC))
NO_RETRY_ON = HARDENED.replace("status 200\n  retry-on conn-failure empty-response response-timeout\n  http-request",
                               "status 200\n  http-request", 1)  # the server backend's: FLOW033 only


def _cases(xml: str) -> tuple[ET.Element, dict[str, ET.Element]]:
    root = ET.fromstring(xml)  # noqa: S314 - flowlb wrote it
    suite = root.find("testsuite")
    assert root.tag == "testsuites" and suite is not None and suite.get("name") == "flowlb lint"
    cases = {case.get("name", "").split()[0]: case for case in suite.iter("testcase")}
    for attribute, tag in (("failures", "failure"), ("skipped", "skipped")):
        assert suite.get(attribute) == str(sum(1 for c in cases.values() if c.find(tag) is not None))
    assert suite.get("tests") == str(len(cases)) == str(len(ruleset.rules()))
    return suite, cases


def test_the_article_fails_by_its_core_rules_in_junit() -> None:
    result = run_flowlb("lint", "fixtures/kbec-00281.cfg", "--format", "junit")
    assert result.returncode == 1, result.stderr
    _, cases = _cases(result.stdout)
    assert {case.get("classname") for case in cases.values()} == {"fixtures/kbec-00281.cfg"}
    failed = {rule for rule, case in cases.items() if case.find("failure") is not None}
    assert {"FLOW001", "FLOW002", "FLOW016"} <= failed
    assert all(ruleset.level_of(rule) == "core" for rule in failed), failed
    warned = cases["FLOW026"]  # `option tcplog` in a backend: recommended
    assert warned.find("failure") is None and "[recommended]" in (warned.findtext("system-out") or "")
    failure = cases["FLOW002"].find("failure")
    assert failure is not None and "fixtures/kbec-00281.cfg:15: FLOW002 [core]" in (failure.text or "")


def test_recommended_findings_fail_only_with_fail_on_recommended(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(NO_RETRY_ON)
    result = lint_result(config, SPEC)
    _, quiet = _cases(as_junit(result))
    assert quiet["FLOW033"].find("failure") is None and quiet["FLOW033"].find("system-out") is not None
    _, strict = _cases(as_junit(result, {"core", "recommended"}))
    assert strict["FLOW033"].find("failure") is not None


def test_rules_that_could_not_run_are_skipped(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(HARDENED)
    _, cases = _cases(as_junit(lint_result(config, SPEC)))
    skipped = {rule for rule, case in cases.items() if case.find("skipped") is not None}
    assert skipped == {"FLOW040", "FLOW041", "FLOW042"}  # no --haproxy-version
    _, asked = _cases(as_junit(lint_result(config, SPEC, "3.2")))
    assert not any(case.find("skipped") is not None for case in asked.values())
