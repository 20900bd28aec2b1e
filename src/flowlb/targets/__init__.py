"""Targets: where the cluster under test lives (containers, local processes, a live LB).

A check only talks to the :class:`~flowlb.targets.base.Target` interface; a target never knows
which checks run.
"""
