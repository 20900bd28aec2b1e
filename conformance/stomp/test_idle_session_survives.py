"""Check `stomp/idle_session_survives`: its text is its entry in flowlb/checks/catalogue.toml."""

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
