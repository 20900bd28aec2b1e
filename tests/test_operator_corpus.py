"""Operator configs as operators write them: every one is judged, none refused, and lint agrees.

``fixtures/operator-configs/`` holds configs in the styles operators publish for CloudBees CD
clusters (a distribution's defaults with Flow sections appended, ``listen stats``, ``mode tcp`` TLS
frontends, one web server, five Flow servers, backups, ``server-template``, IPv6 binds, peers,
resolvers, ...). Each names, in its header, the checks that must fail (``# expect-fail:``, check
files under ``conformance/``; ``none`` when every check passes or skips) and the lint rules that
must flag it (``# expect-lint:``). Fails when a config exits 2 (flowlb refused it), when the set of
failing checks differs from the annotation, or when lint misses a rule or reports ``FLOW000`` for a
file that loads.

The suite runs without the STOMP area here (its 45 s idle wait per config). A config whose suite
verdict has not been reviewed yet says ``# expect-fail: unverified``; ``FLOWLB_CORPUS=all`` runs
every config (an unverified one then fails); by default two run on the local target and one on containers,
chosen for verdicts that differ (see ``SAMPLE``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flowlb.checks import catalogue
from flowlb.lint.run import lint
from flowlb.spec import load_spec
from tests.conftest import REPO
from tests.support.suite import failed_check_files, run_pytest

CORPUS = sorted((REPO / "fixtures" / "operator-configs").glob("*.cfg"))
SPEC = load_spec()


def _verified(path: Path) -> bool:
    return "# expect-fail: unverified" not in path.read_text(encoding="utf-8")


VERIFIED = [path for path in CORPUS if _verified(path)]
# A distribution's defaults with Flow appended (slow headers, long requests) and a sample layout that fails
# most areas. The careful style (03, 12: the same verdict) runs on containers below, where its extra
# listener is published and probed: a third local run would add 90 s of CI and no verdict of its own.
SAMPLE = [path for path in VERIFIED if path.stem in ("01-debian-default-appended", "02-centos-sample-stats")]


def expectation(path: Path, key: str) -> set[str]:
    """The words after ``# expect-<key>:`` in the file's header (``none`` is the empty set)."""
    match = re.search(rf"^# expect-{key}:(.*)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"{path.name} has no `# expect-{key}:` line"
    words = set(match.group(1).replace(",", " ").split())
    return set() if words == {"none"} else words


def run_suite(config: Path, junit: Path, target: str = "local") -> subprocess.CompletedProcess[str]:
    """The conformance suite (without STOMP) on ``target`` with ``config`` as the operator's file."""
    return run_pytest("conformance", "-m", "not stomp", "--target", target, "--haproxy-cfg", str(config),
                      f"--junitxml={junit}", "--report-dir", "none", "-q", "-p", "no:cacheprovider")


def _lint_of(check_file: str) -> tuple[str, ...]:
    check = catalogue.by_file(check_file + ".py")
    return check.lint if check is not None else ()


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 25, f"only {len(CORPUS)} operator configs"


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_lint_flags_what_the_suite_catches(path: Path) -> None:
    found = {finding.rule for finding in lint(path, SPEC)}
    assert "FLOW000" not in found, f"{path.name} loads on HAProxy, yet lint says it does not"
    missing = expectation(path, "lint") - found
    assert not missing, f"lint did not flag {sorted(missing)} in {path.name} (it found {sorted(found)})"


@pytest.mark.local
@pytest.mark.parametrize("path", CORPUS if os.environ.get("FLOWLB_CORPUS") == "all" else SAMPLE,
                         ids=lambda p: p.stem)
def test_verdict_holds_on_the_local_target(path: Path, haproxy_bin: str, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = run_suite(path, junit)
    assert result.returncode in (0, 1), f"{path.name}: exit {result.returncode}\n{result.stdout[-3000:]}"
    failed = {name.removesuffix(".py") for name in failed_check_files(junit)}
    assert _verified(path), f"{path.name}: its verdict is not reviewed yet; failed {sorted(failed)}"
    expected = {check for check in expectation(path, "fail") if not check.startswith("stomp/")}  # run without STOMP
    assert failed == expected, (
        f"{path.name}: failed {sorted(failed)}, expected {sorted(expected)}\n{result.stdout[-4000:]}"
    )


@pytest.mark.parametrize("path", VERIFIED, ids=[p.stem for p in VERIFIED])
def test_every_failing_check_has_a_lint_finding(path: Path) -> None:
    found = {finding.rule for finding in lint(path, SPEC)}
    unexplained = {check for check in expectation(path, "fail")
                   if not set(_lint_of(check)) & found}
    assert not unexplained, f"{path.name}: lint has no finding behind the failing checks {sorted(unexplained)}"


CONTAINERS_SAMPLE = "12-userlist-stats.cfg"  # an extra listener, a userlist, five LB ports: published and probed


@pytest.mark.containers
@pytest.mark.usefixtures("docker_engine")
def test_verdict_holds_on_containers(tmp_path: Path) -> None:
    path = REPO / "fixtures" / "operator-configs" / CONTAINERS_SAMPLE
    junit = tmp_path / "junit.xml"
    result = run_suite(path, junit, target="containers")
    assert result.returncode in (0, 1), f"{path.name}: exit {result.returncode}\n{result.stdout[-3000:]}"
    failed = {name.removesuffix(".py") for name in failed_check_files(junit)}
    expected = {check for check in expectation(path, "fail") if not check.startswith("stomp/")}
    assert failed == expected, f"{path.name} on containers: failed {sorted(failed)}\n" + result.stdout[-4000:]


@pytest.mark.local
def test_backup_check_catches_a_standby_that_cannot_take_over(haproxy_bin: str, tmp_path: Path) -> None:
    """The backup check can fail: the standby of the backup-server config, checked on a port nothing serves."""
    original = REPO / "fixtures" / "operator-configs" / "07-two-flow-plus-backup.cfg"
    text = original.read_text(encoding="utf-8")
    standby = "server flow3 10.50.2.23:8000 check"
    broken = text.replace(f"{standby} backup", f"{standby} port 8081 backup")
    assert broken != text
    config = tmp_path / "standby-never-up.cfg"
    config.write_text(broken, encoding="utf-8")
    junit = tmp_path / "junit.xml"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "conformance/failover/test_backup_takes_over.py", "--target", "local",
         "--haproxy-cfg", str(config), f"--junitxml={junit}", "--report-dir", "none", "-q", "-p", "no:cacheprovider"],
        capture_output=True, text=True, cwd=REPO, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-3000:]
    assert "the standby does not take over" in result.stdout
