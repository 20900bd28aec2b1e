"""Shared helpers for the project's own tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


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


def run_flowlb(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run the ``flowlb`` command as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "flowlb.cli", *args], capture_output=True, text=True, cwd=cwd, check=False, timeout=120
    )
