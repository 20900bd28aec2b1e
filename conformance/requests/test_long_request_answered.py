"""Long requests: a Flow API call on 8443 and 8000 that takes over a minute gets its answer, not a 504.

Flow API calls can run long (CloudBees' own ingress waits 4000 s for an answer). The node is asked
to answer after ``--long-request-seconds`` (default 75 s, longer than the usual 60 s timeouts); the
LB must pass that answer on. The call runs on a quiet twin of the cluster (see
`flowlb.checks.longwaits`), where HAProxy's own timer for it (`show sess all`) says at once whether
HAProxy waits for the answer that long; a cut due within 10 s is waited for and observed. On a live
LB the call is observed to its end. Fails with `timeout server 30s` (the LB would answer 504 after
30 s) or any other cut shorter than the call. Skips where the nodes are real Flow servers, which do
not answer late on request.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flowlb.checks.longwaits import LONG_REQUEST_ROLES, WaitOutcome

pytestmark = pytest.mark.long_wait


@pytest.mark.parametrize("port", list(LONG_REQUEST_ROLES.values()))
def test_long_request_gets_its_answer(
    long_wait: Callable[[str], WaitOutcome], record_property: Callable[[str, object], None], port: str
) -> None:
    outcome = long_wait(f"long_request[{port}]")
    for name, value in outcome.figures.items():
        record_property(name, value)
    assert outcome.failure is None, outcome.failure
