"""What the plugin's parts share: the keys of what a run keeps in ``config.stash`` (the report's own is
:data:`flowlb.plugin.report.REPORT_KEY`), and the marks of checks."""

from __future__ import annotations

import pytest

from flowlb import policyfile
from flowlb.checks.longwaits import LongWaits
from flowlb.haproxy.operator import OperatorConfig
from flowlb.targets.base import Target

LONG_WAITS_KEY = pytest.StashKey[LongWaits | None]()
KEPT_KEY = pytest.StashKey[str]()  # --keep-cluster: how to reach and remove the cluster left running
SHARED_KEY = pytest.StashKey[str]()  # --shared-cluster: how this run's config ran on it
OPERATOR_KEY = pytest.StashKey[OperatorConfig | None]()
TARGET_KEY = pytest.StashKey[Target]()  # the running target: what it runs (``rendered``) is asked of it
POLICY_KEY = pytest.StashKey[policyfile.PolicyFile | None]()  # --policy, as loaded

NEEDS_ROLE_MARK = "needs_role"
LONG_WAIT_MARK = "long_wait"  # a check judged from a wait that runs alongside the others (flowlb.checks.longwaits)
