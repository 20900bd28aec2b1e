"""STOMP (61613): a silent session survives (heart-beats off), as `waitForJob` sessions must.

Flow's STOMP sessions carry long-running commands and can be silent for minutes. The config under
test says after how much silence HAProxy cuts the session: `timeout tunnel`, else the smaller of
`timeout client` and `timeout server`. The policy (`flowlb.policy`) wants at least 600 s. When the
config cuts sooner and that is close enough to observe (at most twice `--stomp-idle-seconds`), the
check stays silent until just past the cut and sees whether the LB really cuts; when it is further,
the config alone fails the check. Otherwise (and on a live LB, whose config is not known) the session
must stay open for ``--stomp-idle-seconds`` of silence (default 45 s) and still get a RECEIPT.
Fails with the article's config (no timeouts at all are flagged elsewhere; here it passes), with
`timeout client 1m` and no `timeout tunnel`, or with a tunnel timeout shorter than the policy.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flowlb.checks.settings import backend_of, idle_cut_s, section_for_role
from flowlb.policy import MARGIN_S, STOMP_IDLE_MIN_S
from flowlb.stompclient import StompSession
from flowlb.targets.base import Target

pytestmark = pytest.mark.stomp
FIX = "Fix: `timeout tunnel 1h` (or longer than the longest silence) in the STOMP backend or defaults."


def _idle_wait_s(lb: Target, option_s: float) -> float:
    """How long to stay silent: just past the config's own cut when it is short, else the option."""
    layout = getattr(lb, "layout", None)
    front = section_for_role(lb.config_text, layout, "stomp") if layout and lb.config_text else None
    if front is None:
        return option_s
    cut, why = idle_cut_s(front, backend_of(lb.config_text, front))
    if cut is None or cut >= STOMP_IDLE_MIN_S:
        return option_s
    if cut + MARGIN_S > 2 * option_s:
        pytest.fail(f"{front.where} (STOMP) cuts a silent session after {why}, less than the policy's "
                    f"{STOMP_IDLE_MIN_S:g} s: long commands such as waitForJob lose their session. {FIX}")
    return cut + MARGIN_S


def test_idle_session_is_not_cut(
    lb: Target,
    stomp_session: Callable[..., StompSession],
    pytestconfig: pytest.Config,
    record_property: Callable[[str, object], None],
) -> None:
    idle_s = _idle_wait_s(lb, float(pytestconfig.getoption("flowlb_stomp_idle")))
    record_property("stomp_idle_s", idle_s)
    session = stomp_session(heartbeats=(0, 0), socket_timeout=idle_s + 30)
    assert not session.wait_for_disconnect(idle_s), (
        f"the LB cut a silent STOMP session before {idle_s:g} s: long commands such as waitForJob lose their "
        f"session. {FIX}"
    )
    session.send_with_receipt("/queue/flowlb.idle", b"after the silence")
