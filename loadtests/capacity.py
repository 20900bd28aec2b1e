"""How much the LB carries within its SLO: flow.py's users, stepped up by a LoadTestShape until the SLO breaks.

    locust -f loadtests/capacity.py --host https://LB:8443 --ca-file ca.pem --headless --slo-p95-ms https=200
    flowlb load --find-capacity --processes 2                                     # own cluster + reports/

Every step adds ``--capacity-step-users`` users and is judged on a window of
``--capacity-step-seconds``; the search stops at the first SLO breach or failures above
``--slo-failure-ratio``, and says the capacity at SLO per path, the knee, and whether Locust itself
was the limit. ``--flow-mix api=1`` searches one path alone. The shape is ``flowlb.load.shape``.
"""

from flow import FlowApiUser, FlowStompUser, TlsHandshakeUser  # noqa: F401 - Locust runs the users it finds here
from flowlb.load.shape import CapacityShape  # noqa: F401 - and the shape
