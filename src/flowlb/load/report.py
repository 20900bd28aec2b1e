"""flowlb's own ``index.html`` for a load run, beside Locust's ``locust.html``.

Built from the files of a run directory: requests and failures per second from
``locust_stats_history.csv`` with the ``timeline.json`` events (node killed or frozen, HAProxy
marking it DOWN) as vertical lines, and the p50/p95/p99 latency per path from ``summary.json``.
One self-contained page from ``templates/load.html.j2``, on the conformance report's base and style.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowlb import plots
from flowlb.evidence import NOTE
from flowlb.load import capacity, ratesteps
from flowlb.load.openreport import OpenModel
from flowlb.load.results import Second, read_history
from flowlb.reporting import TEMPLATES


def _events(timeline: dict[str, Any], start: float) -> list[plots.Event]:
    """``timeline.json``'s events on the chart's clock (seconds since the history's first second)."""
    events = []
    for event in timeline.get("events", []):
        if not isinstance(event, dict) or not isinstance(event.get("t"), (int, float)):
            continue
        events.append(plots.Event(float(event["t"]) - start, str(event.get("what", "")), str(event.get("kind", NOTE))))
    return events


def throughput_image(history: list[Second], timeline: dict[str, Any]) -> str:
    """Requests and failures per second over the run, with the failover's moments marked."""
    start = history[0].t - 1  # each row counts the second that ends at its timestamp
    return plots.timeline_chart(
        [s.t - 1 - start for s in history],
        {"requests": [s.requests for s in history]},
        [s.failures for s in history],
        _events(timeline, start),
        title="Requests and failures per second",
        ylabel="requests per second",
        xlabel="seconds since Locust started",
    )


FIGURES = ("name", "requests", "failures", "rps", "p50_ms", "p95_ms", "p99_ms")  # the figures table's columns


@dataclass
class _Run:
    """The page's header and verdict: what ran, against what, and Locust's exit code."""

    target: str
    profile: str
    run_time: str
    users: str
    mix: str
    failover: str
    started: str
    exit_code: str
    passed: bool
    tested: list[tuple[str, str]]  # what was loaded: (label, value), e.g. ("config", "my.cfg sha256 ab12...")
    disarmed: list[str]  # the operator config's lines disarmed for the test cluster (ran as comments)


def _tested(tested: dict[str, Any]) -> list[tuple[str, str]]:
    """``summary.json``'s ``tested`` as the header's labelled values: config, live LB, HAProxy, egress fence."""
    shown = []
    if tested.get("config"):
        digest = str(tested.get("config_sha256") or "")
        shown.append(("Config", f"{tested['config']}" + (f" (sha256 {digest[:16]})" if digest else "")))
    if tested.get("lb_host"):
        ports = tested.get("lb_ports") or {}
        listed = ", ".join(f"{role.replace('_', '-')}={port}" for role, port in ports.items())
        shown.append(("Live LB", f"{tested['lb_host']} ({listed}), certificate name {tested.get('lb_name', '')}"))
    if tested.get("nodes"):
        shown.append(("Nodes", ", ".join(str(name) for name in tested["nodes"])))
    if tested.get("haproxy"):
        shown.append(("HAProxy", str(tested["haproxy"])))
    if tested.get("egress_fence"):
        shown.append(("Egress fence", str(tested["egress_fence"])))
    return shown


@dataclass
class _Failover:
    """``summary.json``'s failover figures, and its events as (``+seconds``, what) on the page's clock."""

    action: str
    node: str
    outage: str
    failures_during_outage: str
    requests_during_outage: str
    failures_after_down: str
    events: list[tuple[str, str]]

    @classmethod
    def of(cls, failover: dict[str, Any], start: float) -> _Failover | None:
        if not failover:
            return None
        outage = failover.get("outage_s")
        return cls(
            str(failover.get("action")),
            str(failover.get("node")),
            "never" if outage is None else f"{outage} s",
            str(failover.get("failures_during_outage", 0)),
            str(failover.get("requests_during_outage", 0)),
            str(failover.get("failures_after_down", 0)),
            [
                (f"+{float(ev['t']) - start:.2f} s", str(ev.get("what", "")))
                for ev in failover.get("events", [])
                if isinstance(ev, dict) and isinstance(ev.get("t"), (int, float))
            ],
        )


@dataclass
class _Capacity:
    """``summary.json``'s capacity search: its verdict lines, the chart, and a row per step."""

    lines: list[str]
    generator_bound: bool
    found: bool
    chart: str
    steps: list[list[str]]

    @classmethod
    def of(cls, outcome: dict[str, Any]) -> _Capacity | None:
        if not outcome or not outcome.get("steps"):
            return None
        knee, found = outcome.get("knee") or {}, outcome.get("capacity") or {}
        steps = outcome["steps"]
        rows = []
        for step in steps:
            for path, figures in sorted(step["paths"].items()):
                rows.append([str(step["users"]), path, f"{figures['rps']:g}", f"{figures['p50_ms']:g}",
                             f"{figures['p95_ms']:g}", f"{figures['p99_ms']:g}", str(figures["failures"]),
                             f"{step['generator_cpu']:g} %" + (" (bound)" if step.get("generator_bound") else "")])
        return cls(
            lines=capacity.summary_lines(outcome),
            generator_bound=bool(outcome.get("generator_bound")),
            found=bool(found),
            chart=plots.capacity_chart(steps, outcome.get("policy", {}).get("p95_ms", {}), knee.get("users"),
                                       found.get("users")),
            steps=rows,
        )


def render(directory: Path) -> str:
    """The page for the run in ``directory`` (its summary, timeline and per-second history)."""
    summary = _read_json(directory / "summary.json")
    timeline = _read_json(directory / "timeline.json")
    history = read_history(directory / "locust_stats_history.csv")
    plan = summary.get("plan", {})
    code = summary.get("exit_code")
    start = history[0].t - 1 if history else float(timeline.get("load_seen") or 0.0)
    run = _Run(
        target=str(summary.get("target")),
        profile=str(summary.get("profile")),
        run_time=str(plan.get("run_time")),
        users="stepped" if plan.get("search") else str(plan.get("users")),
        mix=str(plan["mix"]) if plan.get("mix") else "",
        failover=str(plan["failover"]) if plan.get("failover") else "",
        started=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(start)) if start else "",
        exit_code=str(code),
        passed=code == 0,
        tested=_tested(summary.get("tested") or {}),
        disarmed=[str(line) for line in (summary.get("tested") or {}).get("disarmed", [])],
    )
    rows = [summary.get("total", {}), *summary.get("paths", {}).values(), *summary.get("entries", [])]
    return TEMPLATES.get_template("load.html.j2").render(
        run=run,
        throughput=throughput_image(history, timeline) if history else None,
        failover=_Failover.of(summary.get("failover") or {}, start),
        capacity=_Capacity.of(summary.get("capacity") or {}),
        open_model=OpenModel.of(summary, timeline),
        rate_capacity=ratesteps.summary_lines(summary["rate_capacity"]) if summary.get("rate_capacity") else None,
        latency=plots.latency_chart(summary["paths"]) if summary.get("paths") else None,
        rows=[[str(row.get(key, "")) for key in FIGURES] for row in rows if row],
    )


def write(directory: Path) -> Path:
    """Write ``index.html`` into the (still ``.partial``) run directory."""
    page = directory / "index.html"
    page.write_text(render(directory))
    return page


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
