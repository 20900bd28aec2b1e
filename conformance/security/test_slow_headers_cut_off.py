"""Check `security/slow_headers_cut_off`: its text is its entry in flowlb/checks/catalogue.toml."""

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
