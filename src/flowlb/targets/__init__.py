"""Targets: where the cluster under test lives (containers, local processes, later a live LB).

A check only talks to the :class:`~flowlb.targets.base.Target` interface; a target never knows
which checks run.

Importing the package sets the Docker environment testcontainers needs (``dockerenv``) before any
module of it can import testcontainers, whatever order an import sorter puts things in.
"""

from flowlb.targets import dockerenv as _dockerenv  # noqa: F401 - imported for its environment settings
