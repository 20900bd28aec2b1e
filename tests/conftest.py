"""Shared helpers for the project's own tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from flowlb.targets.ownership import RUN_ID_ENV
from tests.support.suite import REPO, new_run_id, run_flowlb

__all__ = ["REPO", "MutationScore", "require", "run_flowlb"]


@pytest.fixture(autouse=True)
def own_run(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Every test gets a run id and a temp root of its own, inherited by what it starts.

    Leak checks (tests.support.suite) count only containers, networks, processes and temp directories
    carrying them, so another pytest-xdist worker's cluster, or anything else on the machine, never
    fails a test. The temp root is short: the run directories under it hold UNIX sockets.
    """
    tmp_path_factory.getbasetemp()  # pytest's own temp folder is made (once) before TMPDIR moves
    run = new_run_id()
    root = tempfile.mkdtemp(prefix=f"{run}-")
    os.chmod(root, 0o711)  # noqa: S103 - passable, as /tmp is: HAProxy behind the egress fence runs as its own user
    monkeypatch.setenv(RUN_ID_ENV, run)
    monkeypatch.setenv("TMPDIR", root)
    monkeypatch.setattr(tempfile, "tempdir", root)
    yield run
    shutil.rmtree(root, ignore_errors=True)


def require(available: bool, what: str) -> None:
    """Skip when ``what`` is missing, except under FLOWLB_REQUIRE_ALL_TARGETS (CI), where it fails."""
    if available:
        return
    if os.environ.get("FLOWLB_REQUIRE_ALL_TARGETS"):
        pytest.fail(f"{what} is required here (FLOWLB_REQUIRE_ALL_TARGETS is set)")
    pytest.skip(f"{what} is not available")


@pytest.fixture(scope="session")
def haproxy_bin() -> str:
    path = shutil.which("haproxy")
    require(path is not None, "the haproxy binary")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def docker_engine() -> None:
    from flowlb.targets.dockerenv import docker_answers

    require(docker_answers(), "a Docker engine")


MUTANT_PROPERTY = "flowlb_mutant_missed"  # a mutant test's (name, missed checks), carried in its report


class MutationScore:
    """Which mutants were caught, for the score printed at the end of the session.

    A test records its mutant in its report's user properties, which pytest-xdist carries from the
    workers to the controller, where :func:`pytest_runtest_logreport` adds it up.
    """

    def __init__(self, node: pytest.Item | None = None) -> None:
        self.node = node
        self.results: dict[str, list[str]] = {}

    def record(self, name: str, missed: list[str]) -> None:
        if self.node is not None:
            self.node.user_properties.append((MUTANT_PROPERTY, (name, missed)))

    def summary(self) -> str:
        caught = sum(1 for missed in self.results.values() if not missed)
        lines = [f"mutation score: {caught}/{len(self.results)} caught ({100 * caught / len(self.results):.0f}%)"]
        lines += [f"  NOT caught: {name} by {missed}" for name, missed in self.results.items() if missed]
        return "\n".join(lines)




@pytest.fixture
def mutation_score(request: pytest.FixtureRequest) -> MutationScore:
    return MutationScore(request.node)


_SESSION_SCORE = MutationScore()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for key, value in report.user_properties:
        if key == MUTANT_PROPERTY:
            name, missed = value
            _SESSION_SCORE.results[name] = list(missed)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    score = _SESSION_SCORE
    if score.results:
        terminalreporter.write_sep("=", "flowlb mutation sweep")
        terminalreporter.write_line(score.summary())
