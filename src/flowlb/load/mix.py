"""The scenario mix: ``--flow-mix api=4,handshake=1,stomp=2`` sets the users' weights; 0 leaves one out.

Applied in ``events.init``, the hook Locust itself uses for ``--equal-weights``. Users named on the
command line (``locust -f flow.py FlowStompUser``) still win: the mix only weighs those present.
"""

from __future__ import annotations

from typing import Any

from flowlb.load.options import SCENARIOS, parse_weights


def apply(environment: Any, users: dict[str, Any]) -> None:
    """Set the weights of ``users`` (scenario name -> class) from ``--flow-mix``; drop those at 0."""
    options = environment.parsed_options
    if options is None:
        return
    weights = parse_weights(options.flow_mix, SCENARIOS, "--flow-mix")
    for scenario, weight in weights.items():
        if scenario in users and weight != int(weight):
            raise ValueError(f"--flow-mix: the weight of {scenario} must be a whole number, not {weight:g}")
        if scenario in users:
            users[scenario].weight = int(weight)
    kept = [u for u in environment.user_classes if getattr(u, "weight", 1) > 0 or getattr(u, "fixed_count", 0) > 0]
    if not kept:
        raise ValueError(f"--flow-mix {options.flow_mix!r} leaves no user with a weight above 0")
    environment.user_classes[:] = kept
