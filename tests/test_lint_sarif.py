"""``flowlb lint --format sarif``: SARIF 2.1.0 that the official schema accepts and code scanning can show.

Fails when the output does not validate against the OASIS schema (``tests/data/sarif-schema-2.1.0.json``),
when a rule a result names is not declared (or is declared without its level: core is ``error``,
recommended ``warning``), when a result's file or line is not the finding's (the path as given, relative
when it was), when a whole-file finding (line 0) carries a region, or when a suppressed finding is not a
result with an ``inSource`` suppression and its reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from flowlb.haproxy.layout import Layout
from flowlb.haproxy.render import render
from flowlb.lint import ruleset
from flowlb.lint.output import as_sarif
from flowlb.lint.run import lint_result
from flowlb.spec import load_spec
from tests.conftest import REPO, run_flowlb

SPEC = load_spec(None)
SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
HARDENED = render(SPEC, "hardened", Layout.for_spec(SPEC))


def _valid(text: str) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(text)
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(log)
    return log


def test_the_article_as_sarif_validates_and_says_what_the_text_says() -> None:
    sarif = run_flowlb("lint", "fixtures/kbec-00281.cfg", "--format", "sarif")
    findings = json.loads(run_flowlb("lint", "fixtures/kbec-00281.cfg", "--format", "json").stdout)["findings"]
    assert sarif.returncode == 1, sarif.stderr
    log = _valid(sarif.stdout)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "flowlb" and driver["version"]
    rules = driver["rules"]
    assert [rule["id"] for rule in rules] == [entry.id for entry in ruleset.rules()]
    for rule in rules:
        level = ruleset.info(rule["id"]).level
        assert rule["defaultConfiguration"]["level"] == {"core": "error", "recommended": "warning"}[level]
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["help"]["text"]
    got = [(r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["region"]["startLine"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for r in run["results"]]
    assert got == [(f["rule"], {"core": "error", "recommended": "warning"}[f["level"]], f["line"],
                    "fixtures/kbec-00281.cfg") for f in findings]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in run["results"])
    assert all(r["message"]["text"] for r in run["results"])


def test_a_suppressed_finding_is_an_in_source_suppression_with_its_reason(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    text = HARDENED.replace("ssl-min-ver TLSv1.2 no-tls-tickets", "ssl-min-ver TLSv1.1 no-tls-tickets  "
                            "# flowlb: ignore FLOW017 -- legacy agents until 2027-01 (OPS-9)", 1)
    assert text != HARDENED
    config.write_text(text)
    log = _valid(as_sarif(lint_result(config, SPEC)))
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["FLOW017"]
    assert results[0]["suppressions"][0]["kind"] == "inSource"
    assert results[0]["suppressions"][0]["justification"] == "legacy agents until 2027-01 (OPS-9)"
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == config.as_uri()


def test_a_finding_about_the_whole_file_has_no_region(tmp_path: Path) -> None:
    """An empty file: FLOW044 at line 0, which SARIF cannot name (lines start at 1); the file alone is named."""
    config = tmp_path / "empty.cfg"
    config.write_text("")
    log = _valid(as_sarif(lint_result(config, SPEC)))
    empty = [r for r in log["runs"][0]["results"] if r["ruleId"] == "FLOW044"]
    assert len(empty) == 1 and "region" not in empty[0]["locations"][0]["physicalLocation"], empty


def test_rules_that_did_not_run_are_notes_of_the_invocation(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(HARDENED)
    log = _valid(as_sarif(lint_result(config, SPEC)))
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert {note["descriptor"]["id"] for note in notes} == {"FLOW040", "FLOW041", "FLOW042"}  # no --haproxy-version
    assert log["runs"][0]["results"] == []


def test_the_schema_check_can_fail(tmp_path: Path) -> None:
    """The validator is armed: a result with a level SARIF does not have is refused."""
    config = tmp_path / "haproxy.cfg"
    config.write_text("")
    log = json.loads(as_sarif(lint_result(config, SPEC)))
    log["runs"][0]["results"][0]["level"] = "core"
    try:
        _valid(json.dumps(log))
    except jsonschema.ValidationError as exc:
        assert "core" in exc.message
    else:
        raise AssertionError("the schema accepted level 'core'")
