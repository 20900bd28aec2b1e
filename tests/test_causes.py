"""Causes: one mistake in the config is named once, as the line to fix, with every check it makes fail.

The evidence is ``fixtures/one-mistake/``: careful configs in three styles with one line changed (TLS
dropped from 8443 or 61613, the STOMP backend left in `mode http` by a second `mode` line, the wrong
health URL, a port sent to the wrong backend, a server missing, `balance source`, a public stats
page, ...), and, for several, the suite's real outcomes on the local target (``recorded/``). Fails when
the first cause is not the changed line, when it leaves a check the mistake made fail unexplained, when
another cause competes with it, or when a run without a config turns a broken port into one fix per check.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowlb.causes import (
    BREAKS,
    CheckOutcome,
    attribute,
    group_failures,
    outcomes_from_summary,
    render,
    roles_of_line,
)
from flowlb.checks import catalogue
from flowlb.haproxy.config import HAProxyConfig
from flowlb.lint.rules import RULES
from flowlb.spec import LB_ROLES, load_spec
from tests.support.one_mistake import FOLDER, Mistake, mistakes, recorded
from tests.support.suite import run_pytest

SPEC = load_spec()
MISTAKES = mistakes()


def _by_name(name: str) -> Mistake:
    return next(mistake for mistake in MISTAKES if mistake.name == name)


def _rule_id(function: str, text: str) -> str:
    """The id of the findings the lint rule ``function`` makes on ``text``."""
    rule = next(rule for rule in RULES if rule.__name__ == function)
    ids = {finding.rule for finding in rule(HAProxyConfig.parse(text), SPEC)}
    assert len(ids) == 1, f"{function} makes {ids or 'no finding'}"
    return ids.pop()


def test_the_evidence_is_wide_enough() -> None:
    assert len(MISTAKES) >= 15
    assert len({mistake.base for mistake in MISTAKES}) >= 3
    assert sum(mistake.recorded.exists() for mistake in MISTAKES) >= 20  # real runs, not synthetic lists
    assert all(mistake.fails or mistake.like or mistake.recorded.exists() for mistake in MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=[mistake.name for mistake in MISTAKES])
def test_one_mistake_is_one_cause_naming_the_changed_line(mistake: Mistake) -> None:
    text, line = mistake.apply()
    results, real = mistake.outcomes()
    new = {r.check for r in results if r.failed} - mistake.base_failures()
    attribution = attribute(text, SPEC, results)
    if not mistake.seen:  # the suite does not see it: no cause may claim a failure for it
        assert real and not new
        assert _rule_id(mistake.cause, text) not in {cause.rule for cause in attribution.causes}
        return
    assert new, f"{mistake.name}: the mistake makes nothing fail ({'recorded' if real else 'synthetic'})"

    first = attribution.causes[0]
    assert (first.rule, first.line) == (_rule_id(mistake.cause, text), line), render(attribution, SPEC)
    assert first.text == HAProxyConfig.parse(text).lines[line - 1].text
    known = set(mistake.unexplained)  # what no cause can claim yet, each with its reason in the data
    assert new - known <= set(first.explains), f"left unexplained: {sorted(new - known - set(first.explains))}"
    others = [cause for cause in attribution.causes[1:] if set(cause.explains) & (new - known)]
    assert not others, f"competing causes: {[(c.rule, c.line, c.explains) for c in others]}"
    assert {r.check for r in attribution.unexplained} & new == known


def test_recorded_runs_are_real_runs_of_their_configs() -> None:
    for mistake in (m for m in MISTAKES if m.recorded.exists()):
        run = recorded(mistake.recorded)
        assert {r.outcome for r in run} <= {"passed", "failed", "skipped"}
        refused = any(r.check == "loads/config_loads" and r.failed for r in run)  # then every other check skips
        assert refused or any(r.outcome == "passed" for r in run), f"{mistake.name}: a recording that passed nothing"
        assert all(catalogue.by_id(r.check) for r in run), f"{mistake.name}: a check the catalogue lacks"


def test_a_tls_port_without_ssl_explains_every_failure_through_that_port_and_no_other() -> None:
    text, line = _by_name("hardened-8443-without-ssl").apply()
    through_8443 = [check.id for check in catalogue.checks_using("server_tls")]
    elsewhere = "redirect/redirect_drops_port_80"  # port 80 only: another mistake's failure
    results = [CheckOutcome(check, "failed", "connection reset") for check in [*through_8443, elsewhere]]

    attribution = attribute(text, SPEC, results)

    assert [(c.rule, c.line, c.roles) for c in attribution.causes] == [("FLOW020", line, ("server_tls",))]
    assert attribution.causes[0].explains == tuple(sorted(through_8443))
    assert [r.check for r in attribution.unexplained] == [elsewhere]


def test_a_stomp_backend_in_http_mode_is_named_at_the_mode_line_in_effect() -> None:
    text, line = _by_name("hardened-stomp-backend-second-mode-line").apply()
    backend = HAProxyConfig.parse(text).section_at(line)
    assert backend is not None and backend.name == "commander-stomp-backend"
    results = [CheckOutcome(check.id, "failed") for check in catalogue.checks_using("stomp")]

    cause = attribute(text, SPEC, results).causes[0]

    assert (cause.line, cause.text, cause.roles) == (line, "mode http", ("stomp",))
    assert cause.line != backend.number  # lint points at the section; the cause at the line that sets the mode


def test_a_port_sent_to_another_ports_backend_is_named_at_its_default_backend() -> None:
    text, line = _by_name("27-8443-to-web-backend").apply()
    results = [CheckOutcome("routing/ports_reach_the_right_backend", "failed")]
    cause = attribute(text, SPEC, results).causes[0]
    assert (cause.rule, cause.line, cause.text, cause.roles) == ("FLOW021", line, "default_backend be_web",
                                                                  ("server_tls",))


def test_a_file_haproxy_refuses_explains_everything_from_the_run_alone() -> None:
    text = (FOLDER / "hardened-profile.cfg").read_text()
    message = "HAProxy refuses the config: [ALERT] parsing [haproxy.cfg:47] : unknown keyword 'bnd'"
    results = [CheckOutcome("loads/config_loads", "failed", message),
               CheckOutcome("security/internal_ports_not_exposed", "failed")]
    attribution = attribute(text, SPEC, results)
    assert [(c.rule, c.line, len(c.explains)) for c in attribution.causes] == [("FLOW000", 47, 2)]
    assert not attribution.unexplained


def test_a_finding_whose_failures_a_bigger_cause_explains_is_kept_apart() -> None:
    text, line = _by_name("03-8443-without-ssl").apply()
    results = [CheckOutcome(check.id, "failed") for check in catalogue.checks_using("server_tls")]
    attribution = attribute(text, SPEC, results)
    assert [(c.rule, c.line) for c in attribution.causes] == [("FLOW020", line)]
    # 03 lacks `retry-on ... empty-response` (FLOW033), which the killed-node check also shows
    assert ("FLOW033", "failover/killed_node_under_load") in {(c.rule, e) for c in attribution.masked
                                                                 for e in c.explains}


def test_the_ports_a_line_affects_come_from_the_parsed_config() -> None:
    config = HAProxyConfig.parse((FOLDER / "hardened-profile.cfg").read_text())
    numbers = {line.text: line.number for line in config.lines}
    assert roles_of_line(config, SPEC, numbers["bind *:443 ssl crt /etc/haproxy/server.pem alpn http/1.1"]) == {"https"}
    assert roles_of_line(config, SPEC, numbers["balance leastconn"]) == {"stomp"}
    assert roles_of_line(config, SPEC, numbers["server node1 node1:8000 check"]) == {"server", "server_tls"}
    assert roles_of_line(config, SPEC, numbers["retries 3"]) == set(LB_ROLES)  # defaults: every heir
    assert roles_of_line(config, SPEC, numbers["maxconn 4096"]) == set(LB_ROLES)  # global


def test_every_rule_that_breaks_a_port_is_a_lint_rule() -> None:
    assert set(BREAKS) <= {rule.__name__ for rule in RULES}


def test_without_a_config_a_broken_port_is_one_group() -> None:
    results = recorded(FOLDER / "recorded" / "27-8443-without-ssl.json")
    failed = [r for r in results if r.failed]

    groups = group_failures(results, SPEC)

    assert (groups[0].kind, groups[0].key) == ("port", "server_tls")
    assert "8443" in groups[0].hint and "ssl crt" in groups[0].hint
    assert len(groups[0].explains) >= len(failed) - 2
    assert len(groups) <= 3 < len(failed)


def test_failures_that_share_no_port_share_a_message_or_stand_alone() -> None:
    results = [CheckOutcome("security/internal_ports_not_exposed", "failed", "port 2181 accepts: `zk`"),
               CheckOutcome("security/management_listeners_need_auth", "failed", "port 9999 accepts: `stats`"),
               CheckOutcome("redirect/redirect_drops_port_80", "failed", "Location keeps :80")]
    groups = group_failures(results, SPEC)
    assert [(g.kind, g.explains) for g in groups] == [
        ("message", ("security/internal_ports_not_exposed", "security/management_listeners_need_auth")),
        ("check", ("redirect/redirect_drops_port_80",))]


def test_rendered_for_the_terminal() -> None:
    mistake = _by_name("27-8443-without-ssl")
    text, line = mistake.apply()
    results, _ = mistake.outcomes()
    attribution = attribute(text, SPEC, results)
    out = render(attribution, SPEC)
    first = out.splitlines()[:4]
    assert first[0] == f"line {line}: bind *:8443"
    assert first[1].startswith("    why: ") and first[2].startswith("    fix: `bind :8443 ssl crt")
    assert first[3].startswith(f"    explains {len(attribution.causes[0].explains)} checks: ")
    assert attribution.causes[0].as_dict()["explains"] == list(attribution.causes[0].explains)


def test_a_summary_gives_one_outcome_per_check() -> None:
    summary = {"checks": [
        {"check_id": "tls/legacy_tls_refused", "nodeid": "a[443]", "outcome": "passed", "message": ""},
        {"check_id": "tls/legacy_tls_refused", "nodeid": "a[8443]", "outcome": "failed", "message": "TLS 1.0"},
        {"check_id": "stomp/heartbeats", "nodeid": "b", "outcome": "skipped", "message": "no stomp"},
    ]}
    assert outcomes_from_summary(summary) == [CheckOutcome("tls/legacy_tls_refused", "failed", "TLS 1.0"),
                                              CheckOutcome("stomp/heartbeats", "skipped", "no stomp")]


@pytest.mark.timeout(300)
def test_a_run_on_a_one_mistake_config_opens_with_its_one_cause(haproxy_bin: str, tmp_path: Path) -> None:
    """The suite's own report, not only this module: summary.json, the page and the terminal name the line."""
    mistake = _by_name("27-8443-without-ssl")
    text, line = mistake.apply()
    config = tmp_path / "one-mistake.cfg"
    config.write_text(text)
    result = run_pytest("conformance/tls", "-q", "-p", "no:cacheprovider", "--target", "local", "--haproxy-cfg",
                        str(config), "--report-dir", str(tmp_path / "reports"))
    assert result.returncode == 1, result.stdout[-3000:]
    summary = json.loads((tmp_path / "reports" / "latest" / "summary.json").read_text())
    failed = {row["check_id"] for row in summary["checks"] if row["outcome"] == "failed"}
    [cause] = summary["causes"]
    assert (cause["rule"], cause["line"], cause["text"]) == ("FLOW020", line, "bind *:8443")
    assert set(cause["explains"]) == failed and len(failed) >= 4 and summary["unexplained"] == []
    assert "what to fix first" in result.stdout and f"line {line}: bind *:8443" in result.stdout
    page = (tmp_path / "reports" / "latest" / "index.html").read_text()
    assert "What to fix first" in page and "What else to fix" not in page
