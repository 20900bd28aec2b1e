"""The one schema of a failover timeline's events, for conformance checks and load runs alike.

An event is a moment on a timeline: when (``t``, the timeline's clock), what happened in words, and
its kind, which says how a report draws it::

    timeline_event(3.2, "killed node2", FAILURE, node="node2", action="kill")
    timeline_event(4.9, "HAProxy marked node2 DOWN", DOWN, node="node2", backend="flow")
"""

from __future__ import annotations

from typing import Any, Final

FAILURE: Final = "failure"  # the check or the run made a node fail (kill, freeze)
DOWN: Final = "down"  # HAProxy marked a server DOWN
NOTE: Final = "note"  # anything else worth a line on the chart
KINDS = (FAILURE, DOWN, NOTE)


def timeline_event(t: float, what: str, kind: str, **details: Any) -> dict[str, Any]:
    """One event as reports and ``summary.json``/``timeline.json`` carry it."""
    if kind not in KINDS:
        raise ValueError(f"event kind {kind!r} is not one of {KINDS}")
    return {"t": round(t, 3), "what": what, "kind": kind, **details}


def of_kind(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event.get("kind") == kind]
