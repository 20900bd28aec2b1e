"""Loads: HAProxy accepts the configuration and starts with it, before anything is asked of it.

"Loads" is reported apart from "behaves": a config HAProxy refuses fails here with HAProxy's own
reason and the offending line, and every other check is skipped. The article's config as printed
fails here: `!{ssl_fc}` needs spaces, `!{ ssl_fc }` (docs/findings.md, article 1).
"""

from __future__ import annotations

import pytest

from flowlb.errors import HAProxyConfigError
from flowlb.targets.base import Target


def test_haproxy_loads_the_config(cluster_start: Target | HAProxyConfigError) -> None:
    if isinstance(cluster_start, HAProxyConfigError):
        pytest.fail(str(cluster_start), pytrace=False)
