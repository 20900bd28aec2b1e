"""The report of a conformance run: per check, passed or failed, what it guards and how to fix it.

Written at the end of a run into ``reports/<run>/``: ``index.html`` for people, ``summary.json``
for machines, beside pytest's ``junit.xml``. The run directory appears only when complete (it is
written as ``<run>.partial`` and renamed), and ``reports/latest`` points at the newest.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


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
    """What was tested: target, profile or operator config, spec."""

    target: str
    config: str
    spec: str
    started: float = field(default_factory=time.time)


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
    (directory / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (directory / "index.html").write_text(render_html(info, results, counts))
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


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1b1f24;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%}td,th{padding:.45em .6em;vertical-align:top;border-bottom:1px solid #eee}
th{text-align:left;background:#f6f8fa}.passed{color:#1a7f37}.failed{color:#cf222e;font-weight:600}
.skipped{color:#8c959f}.msg{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12.5px;color:#57606a}
.verdict{padding:.6em 1em;border-radius:6px;display:inline-block;font-weight:600}
.pass{background:#dafbe1}.fail{background:#ffebe9}small{color:#57606a}
"""


def render_html(info: RunInfo, results: list[CheckResult], counts: dict[str, int]) -> str:
    """A self-contained page, checks grouped by area like an operator's checklist."""
    verdict = "pass" if counts["failed"] == 0 and counts["passed"] > 0 else "fail"
    e = html.escape
    parts = [
        "<!doctype html><meta charset=utf-8><title>flowlb conformance report</title>",
        f"<style>{_STYLE}</style><h1>flowlb conformance report</h1>",
        f"<p><b>Target</b> {e(info.target)} &nbsp; <b>Config</b> {e(info.config)} &nbsp; <b>Spec</b> {e(info.spec)}"
        f"<br><small>{e(time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(info.started)))}</small></p>",
        f"<p class='verdict {verdict}'>{counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped</p>",
    ]
    for area in sorted({r.area for r in results}):
        parts.append(
            f"<h2>{e(area)}</h2><table><tr><th>check</th><th>result</th><th>what it guards / what is wrong</th></tr>"
        )
        for r in (r for r in results if r.area == area):
            figures = "".join(f"<br><small>{e(k)}: {e(str(v))}</small>" for k, v in r.figures.items())
            message = f"<div class=msg>{e(r.message)}</div>" if r.message else ""
            parts.append(
                f"<tr><td>{e(r.title)}<br><small>{e(r.nodeid)}</small></td>"
                f"<td class={r.outcome}>{r.outcome}{figures}</td><td>{e(r.guards)}{message}</td></tr>"
            )
        parts.append("</table>")
    return "\n".join(parts) + "\n"
