"""The check catalogue is complete and consistent: one entry per check file, real lint rules, mutants that
name catalogued checks, and the README's table as generated.

Fails when a check file has no entry (its report would have no title, guards or fix), an entry names a
file that does not exist, a lint rule that flowlb does not have, a mutant names a check that is not
catalogued, a check has no valid level (and its reason), the README's table drifted from the catalogue,
or an entry does not say which LB ports it uses (``roles``: what lets one broken port explain every check
that failed through it) or names a role the spec does not have.
"""

from __future__ import annotations

import re
import tomllib

from flowlb import paths
from flowlb.checks import catalogue
from flowlb.levels import LEVELS
from flowlb.spec import LB_ROLES
from tests.support.mutants import catalogue as mutants

RULE_SOURCES = [paths.package_parent() / "flowlb" / "lint" / name for name in ("rules.py", "run.py", "versions.py")]


def test_one_entry_per_check_file() -> None:
    checks_dir = paths.folder("conformance")
    files = sorted(str(p.relative_to(checks_dir)) for p in checks_dir.rglob("test_*.py"))
    entries = [check.file for check in catalogue.checks()]
    assert sorted(entries) == files
    assert len({check.id for check in catalogue.checks()}) == len(entries)
    assert all(check.title and check.guards and check.fix for check in catalogue.checks())


def test_every_check_has_a_level_and_says_why() -> None:
    """The verdict weighs a check by its level: a missing or misspelt one would make a check count for nothing."""
    for check in catalogue.checks():
        assert check.level in LEVELS, f"{check.id}: level {check.level!r}"
        assert len(check.level_reason) > 20 and check.level_reason.endswith("."), check.id
    assert catalogue.by_id("loads/config_loads").level == "core"  # type: ignore[union-attr]


def test_lint_rules_exist() -> None:
    known = {rule for source in RULE_SOURCES for rule in re.findall(r'"(FLOW\d{3})"', source.read_text())}
    named = {rule for check in catalogue.checks() for rule in check.lint}
    assert named <= known, named - known


def test_every_mutant_names_catalogued_checks_and_their_rules() -> None:
    for mutant in mutants():
        checks = [catalogue.by_file(name) for name in mutant.caught_by]
        assert all(checks), f"{mutant.name} names a check the catalogue does not have: {mutant.caught_by}"
        rules = {rule for check in checks if check is not None for rule in check.lint}
        assert mutant.benign or set(mutant.lint) <= rules, (
            f"{mutant.name} is flagged by {mutant.lint}, but its checks list only {sorted(rules)}"
        )


def test_readme_table_is_the_catalogue() -> None:
    readme = (paths.project_root() / "README.md").read_text()
    table = readme.split("<!-- catalogue:start -->\n", 1)[1].split("\n<!-- catalogue:end -->", 1)[0]
    assert table == catalogue.markdown_table(), "regenerate it: python -m flowlb.checks.catalogue"


def test_every_entry_says_which_lb_ports_it_uses() -> None:
    raw = tomllib.loads((paths.package_parent() / "flowlb" / "checks" / "catalogue.toml").read_text())["check"]
    assert all("roles" in entry for entry in raw), [entry["id"] for entry in raw if "roles" not in entry]
    for check in catalogue.checks():
        assert set(check.roles) <= set(LB_ROLES), f"{check.id}: {set(check.roles) - set(LB_ROLES)} is no LB role"
        assert len(set(check.roles)) == len(check.roles), f"{check.id} names a role twice"
    assert all(check.roles == ("stomp",) for check in catalogue.checks() if check.area == "stomp")
    assert all(check.roles == ("http",) for check in catalogue.checks() if check.area == "redirect")
    smoke = catalogue.by_id("smoke/every_port_answers")
    assert smoke is not None and set(smoke.roles) == set(LB_ROLES)  # one request on every port
    assert {check.id for check in catalogue.checks_using("http")} >= {"redirect/redirect_to_https"}
