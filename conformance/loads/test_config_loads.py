"""Check `loads/config_loads`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flowlb.errors import HAProxyConfigError
from flowlb.targets.base import Target


def test_haproxy_loads_the_config(
    cluster_start: Target | HAProxyConfigError,
    pytestconfig: pytest.Config,
    record_property: Callable[[str, object], None],
) -> None:
    if isinstance(cluster_start, HAProxyConfigError):
        pytest.fail(str(cluster_start), pytrace=False)
    warnings = cluster_start.config_warnings()
    record_property("haproxy_warnings", warnings)
    for warning in warnings:
        print(f"HAProxy warns: {warning}")
    if warnings and pytestconfig.getoption("flowlb_strict_warnings"):
        pytest.fail(f"HAProxy warns about the config ({len(warnings)}), and --strict-warnings makes that a failure: "
                    + "; ".join(warnings), pytrace=False)
