"""Proof that every check can fail: each mutant in fixtures/mutants/ must be caught by its checks.

Each mutant is the hardened profile with one realistic operator mistake, run through the same
path an operator's own config takes (``--haproxy-cfg``), on the local target. The control run is
the unmutated profile through that path: it must pass every check, or "caught" means nothing.
The mutation score is printed at the end of the session.

The runs share one local cluster per worker (``--shared-cluster``): each loads its config with a
reload of HAProxy instead of starting a cluster, so the control run and the benign changes also
prove that a reload leaves nothing of the config before it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowlb.spec import load_spec
from flowlb.targets.shared import SharedCluster
from tests.conftest import REPO, MutationScore
from tests.support.mutants import Mutant, catalogue, mutated_config
from tests.support.suite import failed_check_files

MUTANTS = [m for m in catalogue() if not m.benign]
BENIGN = [m for m in catalogue() if m.benign]


@pytest.fixture(scope="module")
def shared_cluster(haproxy_bin: str) -> Iterator[Path | None]:
    """The ticket of this worker's shared local cluster; ``None`` with FLOWLB_SWEEP_FRESH=1 (a cluster per run,
    as ``benchmarks/speed_bench.py --mutants`` compares)."""
    if os.environ.get("FLOWLB_SWEEP_FRESH") == "1":
        yield None
        return
    with SharedCluster() as shared:
        yield shared.ticket


def run_checks(
    config: Path, checks: list[str], junit: Path, shared: Path | None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *(f"conformance/{c}" for c in checks), "--target", "local",
         "--haproxy-cfg", str(config), f"--junitxml={junit}", "--report-dir", "none", "-q", "-p", "no:cacheprovider",
         *(["--shared-cluster", str(shared)] if shared else [])],
        capture_output=True, text=True, cwd=REPO, check=False, timeout=800,
    )  # fmt: skip


def test_catalogue_has_at_least_20_mutants() -> None:
    assert len(MUTANTS) >= 20


@pytest.mark.parametrize("change", BENIGN, ids=[m.name for m in BENIGN])
def test_benign_change_is_not_flagged(change: Mutant, shared_cluster: Path | None, tmp_path: Path) -> None:
    config = tmp_path / f"{change.name}.cfg"
    config.write_text(mutated_config(change, load_spec()))
    result = run_checks(config, list(change.caught_by), tmp_path / "junit.xml", shared_cluster)
    assert result.returncode == 0, f"{change.description}\n{result.stdout[-3000:]}"


@pytest.mark.timeout(900)  # every check the mutants name, STOMP's 45 s idle check included
def test_unmutated_profile_passes_every_check_the_mutants_name(shared_cluster: Path | None, tmp_path: Path) -> None:
    config = tmp_path / "hardened.cfg"
    config.write_text(mutated_config(Mutant("control", "", (), ()), load_spec()))
    checks = sorted({check for mutant in MUTANTS for check in mutant.caught_by})
    result = run_checks(config, checks, tmp_path / "junit.xml", shared_cluster)
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_caught(
    mutant: Mutant, shared_cluster: Path | None, tmp_path: Path, mutation_score: MutationScore
) -> None:
    config = tmp_path / f"{mutant.name}.cfg"
    config.write_text(mutated_config(mutant, load_spec()))
    junit = tmp_path / "junit.xml"
    result = run_checks(config, list(mutant.caught_by), junit, shared_cluster)
    missed = sorted(set(mutant.caught_by) - failed_check_files(junit)) if junit.exists() else list(mutant.caught_by)
    mutation_score.record(mutant.name, missed)
    assert not missed, (
        f"mutant {mutant.name} ({mutant.description}) was not caught by {missed}\n{result.stdout[-3000:]}"
    )
