"""Running the conformance suite and the flowlb command as a user does, and what a run left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from flowlb import paths
from flowlb.targets.ownership import RUN_ID_ENV, RUN_LABEL

REPO = paths.project_root()


def new_run_id() -> str:
    """A run id of a test's own: everything flowlb starts under it (``FLOWLB_RUN_ID``, inherited by children)
    carries it, so that a leak check counts only what that test started, never another worker's run."""
    return f"test-{uuid.uuid4().hex[:12]}"


def current_run_id() -> str:
    """The run id of the running test (tests/conftest.py gives every test one)."""
    run = os.environ.get(RUN_ID_ENV, "")
    assert run, f"no {RUN_ID_ENV}: leak checks need the run id tests/conftest.py gives every test"
    return run


CHECK_TIMEOUT_S = 150
"""The bound of one check in a child suite: its pytest-timeout then shows where a hung check waited, in the
child's output, where the parent's own timeout would have shown only the parent waiting on the child."""


def run_pytest(
    *args: str, timeout: float = 240, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``pytest ARGS`` in a subprocess, as a user runs it, bounded by ``timeout``.

    When the bound runs out the run gets SIGINT (flowlb tears its cluster down), then SIGKILL 30 s later,
    and the test fails with the run's last output: what it was doing, not just that it took too long.
    Keep ``timeout`` under the calling test's own pytest-timeout.
    """
    command = [sys.executable, "-m", "pytest", *args, "-o", f"timeout={CHECK_TIMEOUT_S}"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                          env={**os.environ, **(env or {})}) as run:
        try:
            stdout, stderr = run.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            run.send_signal(signal.SIGINT)
            try:
                stdout, stderr = run.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                run.kill()
                stdout, stderr = run.communicate()
            raise AssertionError(f"`pytest {' '.join(args)}` did not end within {timeout:g} s; it printed:\n"
                                 f"{stdout[-4000:]}\n{stderr[-2000:]}") from None
    return subprocess.CompletedProcess(command, run.returncode, stdout, stderr)


def run_conformance(
    *args: str, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """``pytest conformance/`` in a subprocess, as a user runs it (no report unless ``--report-dir`` is given)."""
    report = [] if "--report-dir" in args else ["--report-dir", "none"]
    return run_pytest("conformance/", "-q", "-p", "no:cacheprovider", *report, *args, env=env, timeout=timeout)


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


def flowlb_processes(run: str | None = None, any_process: bool = False) -> list[str]:
    """Command lines of live processes that a local target of this run started (``FLOWLB_RUN_DIR`` and the
    run's id in their environment); ``run`` defaults to the running test's. ``any_process``: every process
    that carries the run's id (a run that has ended should have left none at all)."""
    mark = f"{RUN_ID_ENV}={run or current_run_id()}\0".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes() + b"\0"
            argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if b"\0" + mark in b"\0" + environ and (any_process or (
                b"FLOWLB_RUN_DIR=" in environ and not argv.startswith(sys.executable + " -m pytest"))):
            found.append(argv)
    return found


def flowlb_containers(run: str | None = None) -> list[str]:
    """Containers (by name) and networks (``network NAME``) that this run made and left; ``run`` defaults to
    the running test's. Only the run's own label counts: another run on the same engine never does."""
    import docker

    client = docker.from_env()
    selector = {"label": f"{RUN_LABEL}={run or current_run_id()}"}
    try:
        containers = client.containers.list(all=True, sparse=True, filters=selector)  # sparse: no inspect race
        networks = client.networks.list(filters=selector)
        return [*(c.attrs["Names"][0].lstrip("/") for c in containers), *(f"network {n.name}" for n in networks)]
    finally:
        client.close()


def flowlb_temp_dirs() -> list[str]:
    """flowlb's run directories left in the running test's own temp root (tests/conftest.py gives each test one)."""
    return sorted(path.name for path in Path(tempfile.gettempdir()).glob("flowlb-*"))
