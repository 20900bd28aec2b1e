"""Security: a client that sends its headers slowly is cut off by the LB's header timeout.

Slowloris: a few clients that each dribble one header line every second hold connections open
forever and exhaust `maxconn`. `timeout http-request` (else `timeout client`) bounds the time a
client may take to send its headers. The limit is the config's own header timeout on port 8000
plus 2 s, held against the policy of at most 30 s (`flowlb.policy`); a live LB, whose config is
not known, is held to the policy itself. The client sends a line every 0.5 s (the pacing IS the
check) and stops by itself after the limit; it runs from the session's start with the other long
waits, on the quiet twin of the cluster (`flowlb.checks.longwaits`), so that no destructive check
closes its connection for it. Fails when the LB still holds the connection open after the limit,
or when the config lets headers take longer than the policy. The article sets no timeout.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flowlb.checks.longwaits import WaitOutcome

pytestmark = pytest.mark.long_wait


def test_slow_client_is_cut_off(
    long_wait: Callable[[str], WaitOutcome], record_property: Callable[[str, object], None]
) -> None:
    outcome = long_wait("slow_headers")
    for name, value in outcome.figures.items():
        record_property(name, value)
    assert outcome.failure is None, outcome.failure
    print(f"slow client cut off after {outcome.figures['slow_client_cut_after_s']} s "
          f"(limit {outcome.figures['slow_client_limit_s']} s)")
