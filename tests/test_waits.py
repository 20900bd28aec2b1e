"""A bounded wait that runs out says what it waited for and what was there instead."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from flowlb.net import wait_until
from tests.support.suite import run_pytest


def test_a_wait_that_runs_out_names_what_it_saw() -> None:
    with pytest.raises(TimeoutError, match=r"^flow/node2 in MAINT: not seen within 0\.1 s; seen instead: UP$"):
        wait_until(lambda: False, 0.1, "flow/node2 in MAINT", seen=lambda: "UP")


def test_a_description_that_fails_does_not_hide_the_timeout() -> None:
    def unreadable() -> str:
        raise OSError("runtime API gone")

    with pytest.raises(TimeoutError, match=r"could not be read \(runtime API gone\)$"):
        wait_until(lambda: False, 0.1, "x", seen=unreadable)


def test_a_child_run_that_hangs_fails_with_what_it_printed(tmp_path: Path) -> None:
    """A child suite that outlives its bound is interrupted and its output shown, not waited out silently."""
    hanging = tmp_path / "test_hangs.py"
    hanging.write_text("import time\n\ndef test_hangs():\n    print('waiting on node2', flush=True)\n"
                       "    time.sleep(60)\n")
    started = time.monotonic()
    # the bound leaves a loaded machine time to start the child's pytest (3 s did not, once in CI)
    with pytest.raises(AssertionError, match=r"did not end within 20 s; it printed:\n(.|\n)*waiting on node2"):
        run_pytest(str(hanging), "-s", "-p", "no:cacheprovider", timeout=20)
    assert time.monotonic() - started < 55, "the hung run was not interrupted"


def test_a_free_port_is_outside_the_kernels_own_picks_and_bindable() -> None:
    """A port the kernel picked is the next outgoing connection's too: RabbitMQ lost its port that way in CI."""
    import socket

    from flowlb.net import _ephemeral_range, free_port

    low, high = _ephemeral_range()
    for _ in range(20):
        port = free_port()
        assert not low <= port <= high, f"{port} lies in the kernel's ephemeral range {low}-{high}"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
