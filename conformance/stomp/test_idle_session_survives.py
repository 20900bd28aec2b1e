"""STOMP (61613): a silent session survives (heart-beats off), as `waitForJob` sessions must.

Flow's STOMP sessions carry long-running commands and can be silent for minutes; the policy
(`flowlb.policy`) wants a silent session kept for at least 600 s. The session opens with heart-beats
off on a quiet twin of the cluster (see `flowlb.checks.longwaits`), and HAProxy's own timer for it
(`show sess all`) says when HAProxy would cut it: at least 600 s passes (and the session still gets
a RECEIPT); a cut due within 10 s is waited for and observed; a later one fails on HAProxy's word,
naming the config's setting (`timeout tunnel`, else the smaller of `timeout client` and `timeout
server`). On a live LB, whose timers for this session cannot be told from other traffic, the session
must stay open for ``--stomp-idle-seconds`` of silence (default 45 s) and still get a RECEIPT.
Fails with `timeout client 1m` and no `timeout tunnel`, or with a tunnel timeout shorter than the
policy.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flowlb.checks.longwaits import WaitOutcome

pytestmark = [pytest.mark.stomp, pytest.mark.long_wait, pytest.mark.needs_role(role="stomp")]


def test_idle_session_is_not_cut(
    long_wait: Callable[[str], WaitOutcome], record_property: Callable[[str, object], None]
) -> None:
    outcome = long_wait("stomp_idle")
    for name, value in outcome.figures.items():
        record_property(name, value)
    assert outcome.failure is None, outcome.failure
