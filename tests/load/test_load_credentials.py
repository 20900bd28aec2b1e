"""The Flow account and the writes switch: where the password may come from, and where writes may run.

Fails if a password is ever taken from a command line (``--flow-password``, or any abbreviation argparse
would read as ``--flow-password-file``) or echoed in the refusal, if the password file's first line is not
the password, if a missing password is anything but one line before any cluster starts, or if writes are
kept in a read-only mix.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import REPO

from flowlb import paths
from flowlb.load.credentials import (
    FlowLogin,
    login_from,
    read_only,
    read_password_file,
    refuse_password_arguments,
    writes,
)

SECRET = "s3cret-on-the-command-line"  # noqa: S105 - what must never be read or shown


@pytest.mark.parametrize("argv", [
    ["--flow-password", SECRET], [f"--flow-password={SECRET}"], [f"--flow-pass={SECRET}"],
    ["--flow-password-f", SECRET], ["-f", "x.py", "--", "--flow-passw", SECRET],
])
def test_a_password_on_the_command_line_is_refused_without_repeating_it(argv: list[str]) -> None:
    with pytest.raises(ValueError, match="never taken from the command line") as refused:
        refuse_password_arguments(argv)
    assert SECRET not in str(refused.value)


def test_the_password_file_option_and_other_words_pass() -> None:
    refuse_password_arguments(["--flow-password-file", "pw.txt", "--flow-password-file=pw.txt", "--flow-user", "u",
                               "--flow-mix", "api=1", SECRET])


def test_the_password_is_the_files_first_line(tmp_path: Path) -> None:
    file = tmp_path / "pw"
    file.write_bytes(b"p\xc3\xa4ss word\r\nsecond line\n")
    assert read_password_file(file) == "päss word"
    for content, message in ((b"", "first line is empty"), (b"\n", "first line is empty"),
                             (b"\xff\xfe", "not UTF-8"), (b"x" * 70_000, "larger than")):
        file.write_bytes(content)
        with pytest.raises(ValueError, match=message):
            read_password_file(file)
    with pytest.raises(ValueError, match="cannot read it: No such file"):
        read_password_file(tmp_path / "missing")


def test_the_account_comes_from_the_user_and_the_environment_or_the_file(tmp_path: Path) -> None:
    assert login_from("", None, {"FLOWLB_FLOW_PASSWORD": "pw"}) is None
    assert login_from("u", None, {"FLOWLB_FLOW_PASSWORD": "pw"}) == FlowLogin("u", "pw")
    file = tmp_path / "pw"
    file.write_text("from-file\n")
    assert login_from("u", file, {"FLOWLB_FLOW_PASSWORD": "pw"}) == FlowLogin("u", "from-file")
    with pytest.raises(ValueError, match="needs a password"):
        login_from("u", None, {})
    with pytest.raises(ValueError, match="without --flow-user"):
        login_from("", file, {})
    assert "pw" not in repr(FlowLogin("u", "pw")).replace("FlowLogin", "")


def test_a_read_only_task_list_keeps_the_reads_only() -> None:
    def read() -> None: ...

    @writes
    def write() -> None: ...

    assert read_only([read, write, read, write]) == [read, read]


def run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWLB_", "LOCUST_"))}
    environment.update(env or {}, PYTHONPATH=str(paths.package_parent()))
    return subprocess.run(command, capture_output=True, text=True, env=environment, cwd=REPO, timeout=120,
                          check=False)


@pytest.mark.parametrize("args,message", [
    (["--flow-password", SECRET], "--flow-password: a password is never taken from the command line"),
    (["--flow-user", "u"], "--flow-user u needs a password"),
    (["--flow-user", "u", "--flow-password-file", "/nonexistent/pw"], "cannot read it"),
    (["--", "--flow-pass", SECRET], "--flow-pass: a password is never taken"),
])
def test_flowlb_load_refuses_a_bad_login_in_one_line_before_any_cluster_starts(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = run([sys.executable, "-m", "flowlb.cli", "load", "--report-dir", str(tmp_path / "r"), *args])
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
    assert SECRET not in result.stderr + result.stdout
    assert not (tmp_path / "r").exists()


def test_locust_alone_refuses_a_password_on_its_command_line_in_one_line() -> None:
    result = run([sys.executable, "-m", "locust", "-f", str(REPO / "loadtests" / "flow.py"), "--headless",
                  "--host", "http://127.0.0.1:9", "--flow-password", SECRET])
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith("flowlb: --flow-password: a password is never taken")
    assert SECRET not in result.stderr + result.stdout
