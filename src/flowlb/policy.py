"""The operator policy the checks hold a config's own settings against.

A check reads the limit it enforces from the config under test (or the live LB) and compares it
with these bounds; it never compares with the numbers of flowlb's own generated profile.
"""

from __future__ import annotations

HEADER_TIMEOUT_MAX_S = 30.0
"""Longest a client may take to send its request headers (``timeout http-request``, else ``timeout client``)."""

HEADER_BUFFER_MAX = 32 * 1024
"""Largest ``tune.bufsize`` an LB may use: a bigger buffer lets header floods through to the Flow servers."""

HUNG_DETECTION_MAX_S = 30.0
"""Longest a server that accepts but never answers (frozen, or its health URL hung) may stay in the pool."""

STOMP_IDLE_MIN_S = 600.0
"""Silence a STOMP session (``waitForJob``, log transfer, heart-beats off) must survive at the LB."""

STOMP_CONNECT_ATTEMPT_S = 2.0
"""Longest a reconnecting STOMP client waits for CONNECTED before it gives up on that attempt and tries again,
as Flow agents do. A session that landed on a dying node may never be answered (HAProxy 3.0.11 leaves it open)."""

LONG_REQUEST_S = 75.0
"""How long a Flow API call may take and still get its answer (``--long-request-seconds``): longer than the usual
60 s timeouts. CloudBees' own ingress waits 4000 s."""

MARGIN_S = 2.0
"""Added to a config's own timeout before a check calls it exceeded: timers fire on HAProxy's tick."""

OBSERVE_CUT_MAX_S = 10.0
"""A cut HAProxy's own timers announce this soon is waited for and observed; a later one is judged from the timer
(``show sess``), which is HAProxy's own word on when it will act."""

FLOW_INTERNAL_PORTS = {
    2181: "ZooKeeper (clients)", 2888: "ZooKeeper (followers)", 3888: "ZooKeeper (leader election)",
    7800: "Flow agents", 8200: "the artifact repository", 9200: "analytics (Elasticsearch)", 9500: "analytics",
}
"""Ports of a Flow cluster's own services: only the cluster's machines talk on them, never through the LB."""

STATS_PORTS = {1936: "HAProxy stats", 8404: "HAProxy stats", 9000: "stats or an exporter", 9101: "HAProxy exporter"}
"""Where operators usually put HAProxy's stats page or metrics: private, or behind a password."""

SCAN_TIMEOUT_S = 2.0
"""How long a connect scan waits for each port (all ports are tried at once)."""

UPLOAD_MAX_BYTES = 10 * 1000**3
"""Largest request body an LB in front of Flow must let through (CloudBees' own ingress: 10 GB)."""

RELOAD_SESSIONS_MIN_S = 300.0
"""Shortest time old workers may keep established STOMP sessions after a reload (``hard-stop-after``)."""

RELOAD_OBSERVE_S = 3.0
"""How long after a reload the reload check keeps streaming and then proves the STOMP sessions still work."""
