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
# the processes of another run on the same machine, nor those of another pytest-xdist worker.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_MARKED = os.environ.get("FLOWLB_TEST_SESSION", "")
if not _MARKED or (_WORKER and not _MARKED.endswith(f"-{_WORKER}")):
    os.environ["FLOWLB_TEST_SESSION"] = f"{_MARKED or uuid.uuid4().hex}-{_WORKER or 'main'}"
SESSION_MARK = os.environ["FLOWLB_TEST_SESSION"]


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
        if _marked(environ) and b"FLOWLB_RUN_DIR=" in environ and not argv.startswith(sys.executable + " -m pytest"):
            found.append(argv)
    return found


def _marked(environ: bytes) -> bool:
    return f"FLOWLB_TEST_SESSION={SESSION_MARK}\0".encode() in environ + b"\0"


def _ours_or_orphaned(owner: str) -> bool:
    """Whether a container's owner (its ``flowlb.owner-pid`` label) is a process of this test session, or gone."""
    try:
        return _marked(Path(f"/proc/{int(owner)}/environ").read_bytes())
    except (ValueError, OSError):
        return True  # no owner alive: a leftover, whoever made it


def flowlb_containers() -> list[str]:
    """Names of the flowlb containers that this test session (or nobody alive) owns."""
    import docker

    from flowlb.targets.dockerenv import OWNER_LABEL

    client = docker.from_env()
    try:
        return [c.name for c in client.containers.list(all=True, filters={"label": "flowlb"})
                if _ours_or_orphaned(c.labels.get(OWNER_LABEL, ""))]
    finally:
        client.close()
