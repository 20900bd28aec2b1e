"""Odd input files: a FIFO, a device, a directory or a huge file as a config or a spec is one line and exit 2.

Fails when such a file is read at all (a FIFO hung lint and the suite, ``/dev/zero`` read until MemoryError),
or when the refusal is a traceback instead of a line naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowlb.errors import FlowlbError
from flowlb.inputs import MAX_INPUT_BYTES, read_input
from tests.conftest import run_flowlb

pytest_plugins = ["pytester"]


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "haproxy.cfg"
    os.mkfifo(path)
    return path


def _huge(tmp_path: Path) -> Path:
    path = tmp_path / "huge.cfg"
    with open(path, "wb") as out:
        out.truncate(MAX_INPUT_BYTES + 1)  # sparse: no disk is used
    return path


@pytest.mark.parametrize("kind", ["fifo", "device", "directory", "huge"])
def test_only_regular_files_of_bounded_size_are_read(kind: str, tmp_path: Path) -> None:
    path = {"fifo": _fifo, "device": lambda _: Path("/dev/zero"), "directory": lambda p: p,
            "huge": _huge}[kind](tmp_path)
    with pytest.raises(FlowlbError, match=f"^{path}: ") as refused:
        read_input(path)
    assert "\n" not in str(refused.value)
    if kind == "huge":
        assert "16 MiB" in str(refused.value)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_lint_refuses_a_fifo_or_a_device_at_once(kind: str, tmp_path: Path) -> None:
    path = _fifo(tmp_path) if kind == "fifo" else Path("/dev/zero")
    result = run_flowlb("lint", str(path), timeout=30)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"flowlb: {path}: not a regular file (a FIFO, socket or device); give the config " \
                            "file itself\n"


def test_a_fifo_as_spec_is_one_line(tmp_path: Path) -> None:
    result = run_flowlb("generate", "--spec", str(_fifo(tmp_path)), timeout=30)
    assert result.returncode == 2 and result.stderr.startswith("flowlb: cluster spec "), result.stderr
    assert result.stderr.count("\n") == 1


def test_the_suite_refuses_a_fifo_before_anything_starts(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["flowlb.pytest_plugin"]')
    pytester.makepyfile(test_x="def test_it():\n    pass\n")
    fifo = _fifo(pytester.path)  # inside the test folder, so that its conftest (the plugin) is the one loaded
    result = pytester.runpytest_subprocess("-p", "no:flowlb", "--report-dir", "none", "--haproxy-cfg", str(fifo),
                                           timeout=60)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 2, output
    assert f"flowlb: --haproxy-cfg: {fifo}: not a regular file" in output and "passed" not in output, output
