"""Every lint rule has one id, one entry in ``lint/rules.toml`` and a level with a reason; ``flowlb lint``
exits by level: 1 on a core finding, 0 when only recommended ones (warnings) remain, unless
``--fail-on recommended``; a wrong ``--fail-on`` is one line and exit 2.

Fails when a rule emits an id that ``rules.toml`` does not declare (or ``rules.toml`` declares one
that nothing emits), when two rules share an id (FLOW040 and FLOW041 once meant two findings each),
when a recommended finding fails lint by default, or when an output does not show a finding's level.
"""

from __future__ import annotations

import ast
import json
from collections import defaultdict
from pathlib import Path

import pytest

from flowlb import paths
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.render import render
from flowlb.levels import CORE, LEVELS, RECOMMENDED
from flowlb.lint import ruleset
from flowlb.lint.run import lint_result
from flowlb.spec import load_spec
from tests.conftest import run_flowlb

SPEC = load_spec(None)
LINT = paths.package_parent() / "flowlb" / "lint"
SOURCES = [LINT / name for name in ("rules.py", "versions.py", "run.py", "suppress.py")]
HARDENED = render(SPEC, "hardened", Layout.for_spec(SPEC))
SERVER_RETRY_ON = "status 200\n  retry-on conn-failure empty-response response-timeout\n  http-request"
NO_RETRY_ON = HARDENED.replace(SERVER_RETRY_ON, "status 200\n  http-request", 1)  # the server backend's: FLOW033 only


def _emitters() -> dict[str, set[str]]:
    """Rule id -> the functions that make a ``Finding`` with it (module.function), read from the source."""
    found: dict[str, set[str]] = defaultdict(set)
    for source in SOURCES:
        tree = ast.parse(source.read_text())
        constants = {node.targets[0].id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                     and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Constant)}
        for top in tree.body:
            if not isinstance(top, ast.FunctionDef):
                continue
            for node in ast.walk(top):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Finding" and node.args:
                    first = node.args[0]
                    rule = first.value if isinstance(first, ast.Constant) else constants.get(getattr(first, "id", ""))
                    assert isinstance(rule, str), f"{source.name}:{node.lineno}: a Finding whose id is not a constant"
                    found[rule].add(f"{source.stem}.{top.name}")
    return found


def test_every_rule_lint_emits_is_declared_and_every_declared_rule_is_emitted() -> None:
    emitted = set(_emitters())
    declared = {entry.id for entry in ruleset.rules()}
    assert emitted - declared == set(), f"declare these in lint/rules.toml: {sorted(emitted - declared)}"
    assert declared - emitted == set(), f"lint/rules.toml declares rules nothing emits: {sorted(declared - emitted)}"
    assert len(declared) == len(ruleset.rules()), "an id is declared twice"


def test_one_rule_per_id() -> None:
    shared = {rule: sorted(where) for rule, where in _emitters().items() if len(where) > 1}
    assert not shared, f"ids emitted by more than one rule: {shared}"


def test_every_rule_has_a_level_a_reason_and_a_fix() -> None:
    for entry in ruleset.rules():
        assert entry.level in LEVELS and entry.level_reason and entry.help and entry.title and entry.name, entry


@pytest.mark.parametrize(("rule", "level"), [
    ("FLOW000", CORE), ("FLOW002", CORE), ("FLOW003", CORE), ("FLOW004", CORE), ("FLOW016", CORE),
    ("FLOW017", CORE), ("FLOW020", CORE), ("FLOW021", CORE), ("FLOW024", CORE), ("FLOW031", CORE),
    ("FLOW033", RECOMMENDED), ("FLOW034", RECOMMENDED), ("FLOW036", RECOMMENDED), ("FLOW037", RECOMMENDED),
    ("FLOW038", RECOMMENDED), ("FLOW039", RECOMMENDED),
])
def test_levels_follow_the_definitions(rule: str, level: str) -> None:
    """Issue 24's own examples: does not load / insecure / loses traffic is core; what CloudBees' deployments
    and hardening add is recommended."""
    assert ruleset.level_of(rule) == level


def test_an_override_changes_a_level_and_a_wrong_one_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(NO_RETRY_ON)
    assert lint_result(config, SPEC).exit_code() == 0
    assert lint_result(config, SPEC, overrides={"FLOW033": CORE}).exit_code() == 1
    with pytest.raises(ValueError, match="FLOW999"):
        lint_result(config, SPEC, overrides={"FLOW999": CORE})
    with pytest.raises(ValueError, match="choose from"):
        lint_result(config, SPEC, overrides={"FLOW033": "critical"})


def test_only_recommended_findings_warn_and_exit_0_unless_fail_on_recommended(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    assert NO_RETRY_ON != HARDENED
    config.write_text(NO_RETRY_ON)
    warned = run_flowlb("lint", str(config))
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert " FLOW033 [recommended] " in warned.stdout
    summary = f"pass: 0 core, 1 recommended (warnings), 0 suppressed finding(s) in {config}"
    assert warned.stdout.splitlines()[-1] == summary
    for fail_on in (["--fail-on", "recommended"], ["--fail-on", "core,recommended"],
                    ["--fail-on", "core", "--fail-on", "recommended"]):
        assert run_flowlb("lint", str(config), *fail_on).returncode == 1, fail_on

    data = json.loads(run_flowlb("lint", str(config), "--format", "json").stdout)
    assert (data["verdict"], data["counts"]) == ("pass", {"core": 0, "recommended": 1, "suppressed": 0})
    assert [(f["rule"], f["level"]) for f in data["findings"]] == [("FLOW033", RECOMMENDED)]


def test_a_core_finding_fails_whatever_fail_on_says(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(HARDENED.replace("ssl-min-ver TLSv1.2", "ssl-min-ver TLSv1.0", 1))
    result = run_flowlb("lint", str(config), "--fail-on", "recommended")
    assert result.returncode == 1 and " FLOW017 [core] " in result.stdout, result.stdout
    assert result.stdout.splitlines()[-1].startswith("fail: 1 core, ")


@pytest.mark.parametrize("value", ["bogus", "core,warning", ""])
def test_a_wrong_fail_on_is_one_line_and_exit_2(value: str, tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(HARDENED)
    result = run_flowlb("lint", str(config), "--fail-on", value)
    if not value:  # nothing named: the default (core) stands
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 2 and result.stdout == "", result.stdout
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("flowlb: --fail-on"), result.stderr


def test_without_haproxy_the_run_is_partial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether HAProxy loads the file (FLOW000, a core rule) is unknown: partial, which fails only when asked."""
    monkeypatch.setattr("flowlb.lint.run.shutil.which", lambda name: None)
    config = tmp_path / "haproxy.cfg"
    config.write_text(HARDENED)
    result = lint_result(config, SPEC)
    assert (result.verdict, result.not_run["FLOW000"]) == ("partial", "no haproxy on PATH")
    assert result.exit_code() == 0 and result.exit_code({CORE, "partial"}) == 1
