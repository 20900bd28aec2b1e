"""The report of a conformance run: per check, passed or failed, what it guards and how to fix it.

Written at the end of a run into ``reports/<run>/``: ``index.html`` for people (the failed checks'
fixes first, then the checks by area with the pictures their figures allow: balance per port,
failover timelines), ``summary.json`` for machines, beside pytest's ``junit.xml``. The run
directory appears only when complete (it is written as ``<run>.partial`` and renamed), and
``reports/latest`` points at the newest.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flowlb import plots


@dataclass
class CheckResult:
    """One check (one test id): its area, outcome, message and the figures it recorded."""

    nodeid: str
    area: str
    title: str
    guards: str
    outcome: str = "passed"
    message: str = ""
    seconds: float = 0.0
    figures: dict[str, object] = field(default_factory=dict)


@dataclass
class RunInfo:
    """What was tested: target, profile or operator config, spec, and the cluster the config asked for."""

    target: str
    config: str
    spec: str
    started: float = field(default_factory=time.time)
    nodes: list[str] = field(default_factory=list)
    extra_listeners: dict[str, str] = field(default_factory=dict)  # "port (section, line N)" -> test address


def run_directory(root: Path, info: RunInfo) -> Path:
    """A fresh ``<root>/<time>-<target>-<config>.partial`` directory for this run."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(info.started))
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{info.target}-{info.config}")
    directory = root / f"{stamp}-{safe}.partial"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def finish(directory: Path, info: RunInfo, results: list[CheckResult]) -> Path:
    """Write the summary and HTML, then publish the directory (drop ``.partial``, point ``latest``)."""
    counts = {outcome: sum(r.outcome == outcome for r in results) for outcome in ("passed", "failed", "skipped")}
    summary = {
        "run": asdict(info),
        "counts": counts,
        "verdict": "pass" if counts["failed"] == 0 and counts["passed"] > 0 else "fail",
        "checks": [asdict(r) for r in results],
    }
    try:
        (directory / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        (directory / "index.html").write_text(render_html(info, results, counts))
    except BaseException:
        discard(directory)  # never leave a half-written report behind
        raise
    return publish(directory)


def publish(directory: Path) -> Path:
    """Drop a complete run directory's ``.partial`` suffix and point ``latest`` at it."""
    final = directory.with_name(directory.name.removesuffix(".partial"))
    if final.exists():
        shutil.rmtree(final)
    directory.rename(final)
    latest = final.parent / "latest"
    temporary = final.parent / f".latest-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(final.name)
    temporary.replace(latest)
    return final


def discard(directory: Path) -> None:
    """Remove an unfinished run directory (interrupted run)."""
    shutil.rmtree(directory, ignore_errors=True)


STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1b1f24;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;table-layout:fixed}th:nth-child(1){width:36%}
th:nth-child(2){width:24%}td{overflow-wrap:anywhere}
td,th{padding:.45em .6em;vertical-align:top;border-bottom:1px solid #eee}
th{text-align:left;background:#f6f8fa}.passed{color:#1a7f37}.failed{color:#cf222e;font-weight:600}
.skipped{color:#8c959f}.msg{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12.5px;color:#57606a}
.verdict{padding:.6em 1em;border-radius:6px;display:inline-block;font-weight:600}
.pass{background:#dafbe1}.fail{background:#ffebe9}small{color:#57606a}
tr.failed-row td{background:#fff8f7}.fix{margin-top:.5em;padding:.5em .8em;border-left:4px solid #cf222e;
background:#ffebe9;border-radius:4px;font-weight:500}.fix b{color:#cf222e}
.todo{border:1px solid #ffcecb;border-radius:6px;padding:.4em 1.2em;background:#fffbfa}.todo li{margin:.5em 0}
code{font-family:ui-monospace,monospace;font-size:12.5px;background:#f6f8fa;padding:0 .25em;border-radius:3px}
.chart{max-width:100%;height:auto;display:block;margin:1em 0}figure{margin:1em 0}
figcaption{color:#57606a;font-size:12.5px}
"""
FIX_MARKER = "Fix:"
SHOWN_ITEMS = 8  # a dict figure with more items is data for a chart, not a line in the table


def split_fix(message: str) -> tuple[str, str]:
    """A failure message as (what is wrong, how to fix it); the checks write the fix after ``Fix:``."""
    problem, marker, fix = message.partition(FIX_MARKER)
    return (problem.strip(), fix.strip()) if marker else (message.strip(), "")


def _text(value: str) -> str:
    """Escaped text with `backticked` config snippets set as code."""
    parts = html.escape(value).split("`")
    return "".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts))


def _shown_figure(value: object) -> str | None:
    """A figure as one line of the table, or None when it is only drawn (series, long dicts)."""
    if isinstance(value, dict):
        if len(value) > SHOWN_ITEMS or any(isinstance(v, (dict, list)) for v in value.values()):
            return None
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return None
    return str(value)


def _parameter(nodeid: str) -> str:
    """The parameter id of a test id (``...[443]`` -> ``443``), or the test name."""
    name = nodeid.rsplit("::", 1)[-1]
    return name[name.index("[") + 1 : -1] if name.endswith("]") and "[" in name else name


def balance_per_port(results: list[CheckResult]) -> dict[str, dict[str, int]]:
    """``{port: {node: requests}}`` from the checks that recorded ``requests_per_node``."""
    per_port: dict[str, dict[str, int]] = {}
    for result in results:
        counts = result.figures.get("requests_per_node")
        if isinstance(counts, dict) and counts and all(isinstance(v, int) for v in counts.values()):
            per_port[_parameter(result.nodeid)] = {str(k): int(v) for k, v in counts.items()}
    return per_port


def timelines(result: CheckResult) -> dict[str, dict[str, Any]]:
    """The figures of one check that are request timelines (``RequestStream.timeline``), by figure name."""
    found: dict[str, dict[str, Any]] = {}
    for key, value in result.figures.items():
        if not (isinstance(value, dict) and {"t", "nodes", "failed", "events"} <= value.keys()):
            continue
        steps, nodes, failed = value["t"], value["nodes"], value["failed"]
        if (
            isinstance(steps, list) and isinstance(failed, list) and len(failed) == len(steps)
            and isinstance(nodes, dict) and all(isinstance(s, list) and len(s) == len(steps) for s in nodes.values())
            and isinstance(value["events"], list)
        ):
            found[key] = value
    return found


def timeline_image(result: CheckResult, key: str, timeline: dict[str, Any]) -> str:
    """One check's request stream drawn per node, with its failures and the kill/freeze and DOWN moments."""
    events = [
        plots.Event(float(e["t"]), str(e.get("what", "")), str(e.get("kind", "note")))
        for e in timeline["events"]
        if isinstance(e, dict) and isinstance(e.get("t"), (int, float))
    ]
    return plots.timeline_chart(
        timeline["t"], timeline["nodes"], timeline["failed"], events,
        title=f"{result.title} ({key})",
        ylabel=f"requests per {timeline.get('interval_s', '?')} s",
        xlabel="seconds since the request stream started",
    )


def _area_charts(results: list[CheckResult]) -> list[str]:
    """The pictures an area's checks recorded data for: balance per port, failover timelines."""
    charts = []
    per_port = balance_per_port(results)
    if per_port:
        charts.append(
            "<figure>" + plots.balance_chart(per_port, "Balance distribution per port")
            + "<figcaption>Requests each node answered per LB port; the green band is ±50% of the fair share "
            "(dotted line), the range the check accepts.</figcaption></figure>"
        )
    for result in results:
        for key, timeline in timelines(result).items():
            charts.append(
                "<figure>" + timeline_image(result, key, timeline)
                + f"<figcaption>Failover timeline of <i>{html.escape(result.title)}</i>: requests started per "
                "interval by the node that answered, failed requests in red, the failure and HAProxy's DOWN "
                "as vertical lines.</figcaption></figure>"
            )
    return charts


def _check_row(result: CheckResult) -> str:
    e = html.escape
    shown = ((k, _shown_figure(v)) for k, v in result.figures.items())
    figures = "".join(f"<br><small>{e(k)}: {e(v)}</small>" for k, v in shown if v is not None)
    details = _text(result.guards)
    if result.outcome == "failed":
        problem, fix = split_fix(result.message)
        details += f"<div class=msg>{_text(problem)}</div>" if problem else ""
        details += f"<div class=fix><b>Fix:</b> {_text(fix)}</div>" if fix else ""
    elif result.message:
        details += f"<div class=msg>{_text(result.message)}</div>"
    row_class = " class=failed-row" if result.outcome == "failed" else ""
    return (
        f"<tr id='{e(result.nodeid)}'{row_class}><td>{e(result.title)}<br><small>{e(result.nodeid)}</small></td>"
        f"<td class={result.outcome}>{result.outcome}{figures}</td><td>{details}</td></tr>"
    )


def _to_fix(failed: list[CheckResult]) -> str:
    """The failed checks first, each with its fix: the operator's to-do list."""
    e = html.escape
    items = []
    for result in failed:
        problem, fix = split_fix(result.message)
        what = _text(fix) if fix else _text(problem or result.message or "failed")
        items.append(f"<li><a href='#{e(result.nodeid)}'>{e(result.area)}: {e(result.title)}</a><br>{what}</li>")
    return "<h2>What to fix</h2><ol class=todo>" + "".join(items) + "</ol>"


def render_html(info: RunInfo, results: list[CheckResult], counts: dict[str, int]) -> str:
    """A self-contained page: what to fix first, then checks grouped by area like an operator's checklist."""
    verdict = "pass" if counts["failed"] == 0 and counts["passed"] > 0 else "fail"
    e = html.escape
    parts = [
        "<!doctype html><meta charset=utf-8><title>flowlb conformance report</title>",
        f"<style>{STYLE}</style><h1>flowlb conformance report</h1>",
        f"<p><b>Target</b> {e(info.target)} &nbsp; <b>Config</b> {e(info.config)} &nbsp; <b>Spec</b> {e(info.spec)}"
        f"<br><small>{e(time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(info.started)))}</small>"
        + (f"<br><b>Flow nodes</b> {e(', '.join(info.nodes))}" if info.nodes else "")
        + "".join(f"<br><b>Extra listener</b> {e(k)} tested at {e(v)}" for k, v in info.extra_listeners.items())
        + "</p>",
        f"<p class='verdict {verdict}'>{counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped</p>",
    ]
    failed = [r for r in results if r.outcome == "failed"]
    if failed:
        parts.append(_to_fix(failed))
    for area in sorted({r.area for r in results}):
        in_area = [r for r in results if r.area == area]
        parts.append(
            f"<h2>{e(area)}</h2><table><tr><th>check</th><th>result</th><th>what it guards / what is wrong</th></tr>"
        )
        parts.extend(_check_row(r) for r in in_area)
        parts.append("</table>")
        parts.extend(_area_charts(in_area))
    return "\n".join(parts) + "\n"
