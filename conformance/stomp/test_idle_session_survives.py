"""STOMP (61613): a silent session survives (heart-beats off), as `waitForJob` sessions must.

Flow's STOMP sessions carry long-running commands and can be silent for minutes. The config under
test says after how much silence HAProxy cuts the session: `timeout tunnel`, else the smaller of
`timeout client` and `timeout server`. The policy (`flowlb.policy`) wants at least 600 s. When the
config cuts sooner and that is close enough to observe (at most twice `--stomp-idle-seconds`), the
session stays silent until just past the cut and shows whether the LB really cuts; when it is
further, the config alone fails the check. Otherwise (and on a live LB, whose config is not known)
the session must stay open for ``--stomp-idle-seconds`` of silence (default 45 s) and still get a
RECEIPT. The wait runs alongside the other checks, on a quiet twin of the cluster (see
`flowlb.checks.longwaits`). Fails with `timeout client 1m` and no `timeout tunnel`, or with a
tunnel timeout shorter than the policy.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flowlb.checks.longwaits import WaitOutcome

pytestmark = [pytest.mark.stomp, pytest.mark.long_wait]


def test_idle_session_is_not_cut(
    long_wait: Callable[[str], WaitOutcome], record_property: Callable[[str, object], None]
) -> None:
    outcome = long_wait("stomp_idle")
    for name, value in outcome.figures.items():
        record_property(name, value)
    assert outcome.failure is None, outcome.failure
