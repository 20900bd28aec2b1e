"""Running the conformance suite and the flowlb command as a user does, and what a run left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from flowlb import paths

REPO = paths.project_root()
# Marks every process this test session starts (children inherit it), so leak checks never count
# the processes of another run on the same machine.
SESSION_MARK = os.environ.setdefault("FLOWLB_TEST_SESSION", uuid.uuid4().hex)


def run_conformance(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``pytest conformance/`` in a subprocess, as a user runs it (no report unless ``--report-dir`` is given)."""
    report = [] if "--report-dir" in args else ["--report-dir", "none"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "conformance/", "-q", "-p", "no:cacheprovider", *report, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=600,
    )


def run_flowlb(*args: str, cwd: Path = REPO, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the ``flowlb`` command as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "flowlb.cli", *args], capture_output=True, text=True, cwd=cwd, check=False,
        timeout=timeout,
    )


def failed_check_files(junit: Path) -> set[str]:
    """Conformance check files with at least one failed or erroring test in a JUnit report."""
    failed = set()
    for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314 - our own pytest wrote it
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(case.attrib["classname"].removeprefix("conformance.").replace(".", "/") + ".py")
    return failed


def flowlb_processes() -> list[str]:
    """Command lines of live processes a local target of this test session started (FLOWLB_RUN_DIR and the
    session's mark in their environment)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        mine = f"FLOWLB_TEST_SESSION={SESSION_MARK}".encode() in environ
        if mine and b"FLOWLB_RUN_DIR=" in environ and not argv.startswith(sys.executable + " -m pytest"):
            found.append(argv)
    return found


def flowlb_containers() -> list[str]:
    import docker

    client = docker.from_env()
    try:
        return [c.name for c in client.containers.list(all=True, filters={"label": "flowlb"})]
    finally:
        client.close()
