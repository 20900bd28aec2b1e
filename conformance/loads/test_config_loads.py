"""Loads: HAProxy accepts the configuration and starts with it, before anything is asked of it.

"Loads" is reported apart from "behaves": a config HAProxy refuses fails here with HAProxy's own
reason and the offending line, and every other check is skipped. The article's config as printed
fails here: `!{ssl_fc}` needs spaces, `!{ ssl_fc }` (docs/findings.md, article 1). HAProxy's
warnings about the config (`haproxy -c -dW`: what zero-warning mode would refuse, and what differs
between versions) are listed as a figure; `--strict-warnings` makes them fail this check.
"""

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
