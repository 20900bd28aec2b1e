"""The operator policy the checks hold a config's own settings against.

A check reads the limit it enforces from the config under test (or the live LB) and compares it
with these bounds; it never compares with the numbers of flowlb's own generated profile. The constants
are the defaults; a check reads the run's values from :func:`current`, which an operator's policy file
(``--policy``) can change.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Policy:
    """The policy a run holds the LB to: the numbers above, unless the operator's policy file
    (``--policy``, :mod:`flowlb.policyfile`) says otherwise, and two choices of their own::

        current().header_timeout_max_s        # 30.0, or the policy file's header_timeout_max_s
    """

    header_timeout_max_s: float = HEADER_TIMEOUT_MAX_S
    header_buffer_max: int = HEADER_BUFFER_MAX
    hung_detection_max_s: float = HUNG_DETECTION_MAX_S
    stomp_idle_min_s: float = STOMP_IDLE_MIN_S
    stomp_connect_attempt_s: float = STOMP_CONNECT_ATTEMPT_S
    long_request_s: float = LONG_REQUEST_S
    margin_s: float = MARGIN_S
    observe_cut_max_s: float = OBSERVE_CUT_MAX_S
    scan_timeout_s: float = SCAN_TIMEOUT_S
    upload_max_bytes: int = UPLOAD_MAX_BYTES
    reload_sessions_min_s: float = RELOAD_SESSIONS_MIN_S
    reload_observe_s: float = RELOAD_OBSERVE_S
    management_networks: tuple[str, ...] = ()
    """CIDRs where a stats listener may serve without a password (as ``--management-networks``, which wins)."""
    web_affinity: str | None = None
    """``cookie`` or ``none``, as the spec's ``lb.web_affinity``; ``None``: the spec decides."""


_current = Policy()


def current() -> Policy:
    """The policy of this run (the defaults above until a policy file is used)."""
    return _current


def use(policy: Policy) -> None:
    """Make ``policy`` the one :func:`current` answers (the plugin does, from ``--policy``)."""
    global _current  # noqa: PLW0603 - one policy per run, read by checks far from the options
    _current = policy
