"""A loopback address of this test process's own, for a live LB whose host the suite scans.

The exposure check connect-scans fixed ports (ZooKeeper's 2181, the usual stats ports) on the LB's host, and
one test binds 2181 there on purpose. On 127.0.0.1, shared by every pytest-xdist worker, that port showed up
in another worker's scan of its own LB (a failure seen once). Every address in 127.0.0.0/8 is this machine's
loopback, so each process gets one derived from its pid: unique among the processes alive at once.
"""

from __future__ import annotations

import os


def own_loopback(pid: int | None = None) -> str:
    """``127.a.b.c`` from the pid (``c`` in 1-254, ``a`` from 64): no two live processes share one."""
    pid = os.getpid() if pid is None else pid
    c = pid % 254 + 1
    b = pid // 254 % 256
    a = 64 + pid // (254 * 256) % 64
    return f"127.{a}.{b}.{c}"
