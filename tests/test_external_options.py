"""``--target external``'s options: each bad one is one line and exit 2 before any check, and a reload command
that hangs is stopped with its process group and named.

Fails when a bad stats URL, a missing reload command or a missing master CLI socket is first noticed by a
check (a FileNotFoundError traceback in the reload check), or when a hanging reload command ends in a
TimeoutExpired traceback and leaves its processes running. ``tests/test_stats_page.py`` reads the stats page.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowlb.errors import FlowlbError, TargetError
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.spec import load_spec
from flowlb.targets.external import ExternalTarget
from tests.support.suite import REPO

SPEC = load_spec(None)


def options(tmp_path: Path, **given: str) -> ExternalTarget:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    return ExternalTarget.from_options(SPEC, "127.0.0.1", "", ca, None, given.get("runtime_api"),
                                       given.get("stats_url"), None, given.get("master_cli"),
                                       given.get("reload_command"))


@pytest.mark.parametrize(("given", "says"), [
    ({"stats_url": "ftp://lb/stats"}, "--stats-url ftp://lb/stats is not an http(s) URL"),
    ({"stats_url": "http://lb:99999/"}, "--stats-url http://lb:99999/: Port out of range"),
    ({"runtime_api": "/nonexistent/admin.sock", "reload_command": "/nonexistent/x"},
     "--reload-command: /nonexistent/x: no such executable file"),
    ({"runtime_api": "/nonexistent/admin.sock", "reload_command": "no-such-reload-tool --now"},
     "--reload-command: no-such-reload-tool: not found on PATH"),
    ({"runtime_api": "/nonexistent/admin.sock", "master_cli": "/nonexistent/master.sock"},
     "--master-cli /nonexistent/master.sock: No such file or directory"),
], ids=["stats-scheme", "stats-port", "reload-path", "reload-name", "master-cli-missing"])
def test_bad_external_options_are_refused_before_any_check(given: dict[str, str], says: str, tmp_path: Path) -> None:
    with pytest.raises(FlowlbError) as refused:
        options(tmp_path, **given)
    assert str(refused.value).startswith(says), refused.value


def test_a_master_cli_path_that_is_no_socket_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "master.sock"
    plain.write_text("")
    with pytest.raises(FlowlbError, match="not a UNIX socket"):
        options(tmp_path, runtime_api="/nonexistent/admin.sock", master_cli=str(plain))


def test_the_suite_refuses_a_missing_reload_command_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "conformance/", "-q", "-p", "no:cacheprovider", "--report-dir", "none",
         "--target", "external", "--lb-host", "127.0.0.1", "--runtime-api", "/nonexistent/admin.sock",
         "--destructive", "--reload-command", "/nonexistent/x"],
        capture_output=True, text=True, cwd=REPO, check=False, timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    assert "flowlb: --reload-command: /nonexistent/x: no such executable file" in output, output[-2000:]
    assert "Traceback" not in output and " passed" not in output, output[-2000:]


class _AnsweringAPI(RuntimeAPI):
    """A runtime API whose worker never changes: only the reload command's own fate matters here."""

    def command(self, command: str) -> str:
        return "Name: HAProxy\nPid: 1\n"


def test_a_reload_command_that_hangs_is_stopped_with_its_process_group(tmp_path: Path) -> None:
    child = tmp_path / "child.pid"
    hang = ["sh", "-c", f"sleep 300 & echo $! > {child}; sleep 300"]
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    target = ExternalTarget(SPEC, "127.0.0.1", SPEC.lb.ports.by_role(), ca, "lb", evidence_source=_AnsweringAPI("x"),
                            reload_command=hang)
    started = time.monotonic()
    with pytest.raises(TargetError) as failed:
        target.reload(1.0)
    assert time.monotonic() - started < 15
    assert str(failed.value).startswith("--reload-command `sh -c 'sleep 300 & echo $! >"), failed.value
    assert "did not finish within 1 s; it was stopped with its process group" in str(failed.value)
    pid = int(child.read_text())
    assert not _alive(pid), Path(f"/proc/{pid}/status").read_text()[:400]


def _alive(pid: int) -> bool:
    """The reload command's ``sleep 300`` still runs (not a zombie waiting for init, nor a new process that
    reuses its pid)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        argv = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    return state != "Z" and argv == b"sleep\x00300\x00"
