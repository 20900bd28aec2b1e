"""``flowlb lint --policy``: the operator's policy file weighs lint as it weighs the suite.

Fails when the policy's numbers do not reach the rules (a 5 s header-timeout policy must flag
``timeout http-request 10s``, which the default 30 s allows), when a waiver of a lint rule does not
turn its finding into a waived one, when an expired waiver does not fail the lint, or when a waiver
that matches nothing goes unsaid.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from flowlb.haproxy.layout import Layout
from flowlb.haproxy.render import render
from flowlb.spec import load_spec
from tests.conftest import run_flowlb

SPEC = load_spec(None)


def _config(tmp_path: Path, header_timeout: str = "10s") -> Path:
    """The hardened profile with its own header timeout, which is the only thing the tests change."""
    text = render(SPEC, "hardened", Layout.for_spec(SPEC))
    assert "timeout http-request" in text
    lines = [f"  timeout http-request {header_timeout}" if line.strip().startswith("timeout http-request") else line
             for line in text.splitlines()]
    config = tmp_path / "haproxy.cfg"
    config.write_text("\n".join(lines) + "\n")
    return config


def _policy(tmp_path: Path, body: str) -> Path:
    policy = tmp_path / "policy.toml"
    policy.write_text(body)
    return policy


def _lint(*args: str) -> tuple[int, dict[str, object]]:
    result = run_flowlb("lint", "--format", "json", *args)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_the_policys_header_timeout_flags_a_config_the_default_allows(tmp_path: Path) -> None:
    config = _config(tmp_path)
    code, default = _lint(str(config))
    assert "FLOW009" not in {f["rule"] for f in default["findings"]}  # type: ignore[union-attr, index]
    code, strict = _lint(str(config), "--policy", str(_policy(tmp_path, "[policy]\nheader_timeout_max_s = 5\n")))
    flagged = [f for f in strict["findings"] if f["rule"] == "FLOW009"]  # type: ignore[union-attr, index]
    assert flagged and all("the policy allows 5 s" in f["why"] for f in flagged) and code == 1


def test_a_waiver_of_a_rule_waives_its_findings_and_an_expired_one_fails(tmp_path: Path) -> None:
    config = _config(tmp_path)
    strict = "[policy]\nheader_timeout_max_s = 5\n"
    until = (date.today() + timedelta(days=30)).isoformat()
    waived = _policy(tmp_path, f"{strict}[[waiver]]\nid = 'FLOW009'\nreason = 'CHG-1234: the UI team asked for 10 s'"
                               f"\nexpires = {until}\n")
    code, data = _lint(str(config), "--policy", str(waived))
    assert code == 0 and not [f for f in data["findings"] if f["rule"] == "FLOW009"]  # type: ignore[union-attr, index]
    kept = [f for f in data["suppressed"] if f["rule"] == "FLOW009"]  # type: ignore[union-attr, index]
    assert kept and all(f["suppression"]["reason"] == "CHG-1234: the UI team asked for 10 s" for f in kept)
    assert all(f["suppression"]["waiver"] == f"waived by the policy file until {until}" for f in kept)
    past = (date.today() - timedelta(days=1)).isoformat()
    expired = _policy(tmp_path, f"{strict}[[waiver]]\nid = 'FLOW009'\nreason = 'CHG-1234'\nexpires = {past}\n")
    code, data = _lint(str(config), "--policy", str(expired))
    assert code == 1 and data["verdict"] == "fail" and data["expired_waivers"][0]["id"] == "FLOW009"  # type: ignore[index]
    text = run_flowlb("lint", str(config), "--policy", str(expired)).stdout
    assert f"the waiver for FLOW009 expired on {past} (CHG-1234): it fails the lint" in text


def test_a_waiver_that_matches_nothing_is_said(tmp_path: Path) -> None:
    until = (date.today() + timedelta(days=30)).isoformat()
    policy = _policy(tmp_path, f"[[waiver]]\nid = 'FLOW002'\nreason = 'stats page behind the VPN'\nexpires = {until}\n")
    _, data = _lint(str(_config(tmp_path)), "--policy", str(policy))
    assert data["unused_waivers"] == [{"id": "FLOW002", "reason": "stats page behind the VPN", "expires": until}]


def test_a_level_for_a_rule_that_does_not_exist_is_one_line_and_exit_2(tmp_path: Path) -> None:
    policy = _policy(tmp_path, "[levels]\nFLOW999 = 'recommended'\n")
    result = run_flowlb("lint", str(_config(tmp_path)), "--policy", str(policy))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "FLOW999: no such lint rule" in result.stderr


def test_a_waived_finding_in_sarif_is_an_external_suppression_that_validates(tmp_path: Path) -> None:
    from tests.test_lint_sarif import _valid

    until = (date.today() + timedelta(days=30)).isoformat()
    policy = _policy(tmp_path, "[policy]\nheader_timeout_max_s = 5\n[[waiver]]\nid = 'FLOW009'\nreason = 'CHG-1234'\n"
                               f"expires = {until}\n")
    result = run_flowlb("lint", str(_config(tmp_path)), "--policy", str(policy), "--format", "sarif")
    log = _valid(result.stdout)
    waived = [r for r in log["runs"][0]["results"] if r["ruleId"] == "FLOW009"]
    assert waived and all(r["suppressions"][0]["kind"] == "external" for r in waived)
    assert all(r["suppressions"][0]["justification"] == "CHG-1234" for r in waived)
