"""How long a start waits for HAProxy: longer for a bigger config, and a wait that runs out says HAProxy was parsing.

Fails when a config HAProxy needs longer than the usual wait to parse (a valid 5 MB config took 125 s) is
given up on after that usual wait, or when the failure does not say how big the config was.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from flowlb.errors import TargetError
from flowlb.haproxy.runtime import ServerStat
from flowlb.targets.readiness import wait_for_haproxy

UP = ServerStat("flow", "node1", "UP", 0, 0, "L7OK", "200", 0)


class SlowToParse:
    """A runtime API that answers only once ``seconds`` have passed, as HAProxy does after a long parse."""

    def __init__(self, seconds: float) -> None:
        self.ready_at = time.monotonic() + seconds

    def answers(self) -> bool:
        return time.monotonic() >= self.ready_at

    def stats(self) -> list[ServerStat]:
        return [UP]


def _config(lines: int) -> str:
    return "".join(f"    acl a{n} path_beg /p{n}\n" for n in range(lines))


def test_a_big_config_gets_longer_than_the_usual_wait() -> None:
    """100 kB of config: the usual 0.3 s plus its parse allowance covers HAProxy's 1.5 s."""
    api: Any = SlowToParse(1.5)
    assert wait_for_haproxy(api, [], 0.3, lambda: None, config_text=_config(4000)) == {("flow", "node1")}


def test_a_wait_that_runs_out_says_haproxy_was_still_parsing() -> None:
    api: Any = SlowToParse(3600)
    text = _config(100)
    with pytest.raises(TargetError) as failed:
        wait_for_haproxy(api, [], 0.3, lambda: None, config_text=text)
    assert str(failed.value).startswith(f"HAProxy was still parsing a config of 100 lines ({len(text)} bytes) after")
