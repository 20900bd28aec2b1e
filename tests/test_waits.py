"""A bounded wait that runs out says what it waited for and what was there instead."""

from __future__ import annotations

import pytest

from flowlb.net import wait_until


def test_a_wait_that_runs_out_names_what_it_saw() -> None:
    with pytest.raises(TimeoutError, match=r"^flow/node2 in MAINT: not seen within 0\.1 s; seen instead: UP$"):
        wait_until(lambda: False, 0.1, "flow/node2 in MAINT", seen=lambda: "UP")


def test_a_description_that_fails_does_not_hide_the_timeout() -> None:
    def unreadable() -> str:
        raise OSError("runtime API gone")

    with pytest.raises(TimeoutError, match=r"could not be read \(runtime API gone\)$"):
        wait_until(lambda: False, 0.1, "x", seen=unreadable)
