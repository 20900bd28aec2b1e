"""flowlb's own ``index.html`` for a load run, beside Locust's ``locust.html``.

Built from the files of a run directory: requests and failures per second from
``locust_stats_history.csv`` with the ``timeline.json`` events (node killed or frozen, HAProxy
marking it DOWN) as vertical lines, and the p50/p95/p99 latency per path from ``summary.json``.
One self-contained page, styled like the conformance report.
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any

from flowlb import plots
from flowlb.load.results import Second, read_history
from flowlb.reporting import TEMPLATES

STYLE = "\n" + TEMPLATES.get_template("report.css").render()  # until this page is a template too

_STYLE = """
.numbers td,.numbers th{text-align:right}.numbers td:first-child,.numbers th:first-child{text-align:left;width:34%}
.events th:first-child{width:12%}.events th:nth-child(2){width:auto}
"""


def _events(timeline: dict[str, Any], start: float) -> list[plots.Event]:
    """``timeline.json``'s events on the chart's clock (seconds since the history's first second)."""
    events = []
    for event in timeline.get("events", []):
        if not isinstance(event, dict) or not isinstance(event.get("t"), (int, float)):
            continue
        kind = "failure" if "action" in event else "down" if "backend" in event else "note"
        events.append(plots.Event(float(event["t"]) - start, str(event.get("what", "")), kind))
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


def _figures_table(summary: dict[str, Any]) -> str:
    e = html.escape
    rows = [summary.get("total", {}), *summary.get("paths", {}).values(), *summary.get("entries", [])]
    cells = "".join(
        f"<tr><td>{e(str(r.get('name', '')))}</td>"
        + "".join(f"<td>{e(str(r.get(k, '')))}</td>" for k in ("requests", "failures", "rps", "p50_ms", "p95_ms",
                                                               "p99_ms"))
        + "</tr>"
        for r in rows if r
    )
    return (
        "<table class=numbers><tr><th>what</th><th>requests</th><th>failures</th><th>req/s</th><th>p50 ms</th>"
        f"<th>p95 ms</th><th>p99 ms</th></tr>{cells}</table>"
    )


def _failover_section(failover: dict[str, Any], start: float) -> str:
    e = html.escape
    if not failover:
        return ""
    events = "".join(
        f"<tr><td>+{float(ev['t']) - start:.2f} s</td><td>{e(str(ev.get('what', '')))}</td></tr>"
        for ev in failover.get("events", []) if isinstance(ev, dict) and isinstance(ev.get("t"), (int, float))
    )
    outage = failover.get("outage_s")
    return (
        "<h2>Failover</h2>"
        f"<p><b>{e(str(failover.get('action')))}</b> {e(str(failover.get('node')))}: HAProxy took it out of every "
        f"backend in <b>{'never' if outage is None else f'{outage} s'}</b>; "
        f"<b>{failover.get('failures_during_outage', 0)}</b> of {failover.get('requests_during_outage', 0)} "
        f"requests failed during the outage, {failover.get('failures_after_down', 0)} after.</p>"
        f"<table class=events><tr><th>when</th><th>event</th></tr>{events}</table>"
    )


def render(directory: Path) -> str:
    """The page for the run in ``directory`` (its summary, timeline and per-second history)."""
    e = html.escape
    summary = _read_json(directory / "summary.json")
    timeline = _read_json(directory / "timeline.json")
    history = read_history(directory / "locust_stats_history.csv")
    plan = summary.get("plan", {})
    code = summary.get("exit_code")
    start = history[0].t - 1 if history else float(timeline.get("load_seen") or 0.0)
    parts = [
        "<!doctype html><meta charset=utf-8><title>flowlb load report</title>",
        f"<style>{STYLE}{_STYLE}</style><h1>flowlb load report</h1>",
        f"<p><b>Target</b> {e(str(summary.get('target')))} &nbsp; <b>Profile</b> {e(str(summary.get('profile')))}"
        f" &nbsp; <b>Run</b> {e(str(plan.get('run_time')))}, {e(str(plan.get('users')))} users"
        f"{', mix ' + e(str(plan['mix'])) if plan.get('mix') else ''}"
        f"{', failover ' + e(str(plan['failover'])) if plan.get('failover') else ''}"
        f"<br><small>{e(time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(start))) if start else ''}"
        " &middot; Locust's own report: <a href=locust.html>locust.html</a> &middot; "
        "<a href=summary.json>summary.json</a></small></p>",
        f"<p class='verdict {'pass' if code == 0 else 'fail'}'>Locust exit code {e(str(code))}: "
        f"{'within the SLO gates' if code == 0 else 'an SLO gate or Locust failed'}</p>",
        "<h2>Throughput</h2>",
        throughput_image(history, timeline) if history else "<p>No per-second history in this run.</p>",
        _failover_section(summary.get("failover") or {}, start),
        "<h2>Latency</h2>",
        plots.latency_chart(summary["paths"]) if summary.get("paths") else "<p>No requests were measured.</p>",
        _figures_table(summary),
    ]
    return "\n".join(parts) + "\n"


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
