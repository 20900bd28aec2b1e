"""Check `requests/long_request_answered`: its text is its entry in flowlb/checks/catalogue.toml."""

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
