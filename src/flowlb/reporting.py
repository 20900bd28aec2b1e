"""The report of a conformance run: per check, passed or failed, what it guards and how to fix it.

Written at the end of a run into ``reports/<run>/``: ``index.html`` for people (the failed checks'
fixes first, then the checks by area with the pictures their figures allow: balance per port,
failover timelines; ``templates/conformance.html.j2``), ``summary.json`` for machines, beside
pytest's ``junit.xml``. The run directory appears only when complete (it is written as
``<run>.partial`` and renamed), and ``reports/latest`` points at the newest.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from flowlb import __version__, plots
from flowlb.errors import FlowlbError
from flowlb.verdict import Judgement, judge, summary_fields

SCHEMA_VERSION = 1
"""``summary.json``'s ``schema_version`` (``schemas/summary.schema.json``): raised when a field changes meaning or
goes; a new field does not raise it."""


@dataclass
class CheckResult:
    """One check (one test id): its area, outcome, message and the figures it recorded."""

    nodeid: str
    area: str
    title: str
    guards: str
    check_id: str = ""
    fix: str = ""  # the catalogue's fix, for a failure message that does not give one
    level: str = "core"  # the catalogue's, or the policy file's [levels]; a check not in the catalogue is core
    outcome: str = "passed"
    message: str = ""
    seconds: float = 0.0
    figures: dict[str, object] = field(default_factory=dict)
    waived: str = ""  # the policy file's reason, for a failure it waives


@dataclass
class RunInfo:
    """What was tested: target, profile or operator config, spec, and the cluster the config asked for."""

    target: str
    config: str
    spec: str
    started: float = field(default_factory=time.time)
    nodes: list[str] = field(default_factory=list)
    extra_listeners: dict[str, str] = field(default_factory=dict)  # "port (section, line N)" -> test address
    disarmed: list[str] = field(default_factory=list)  # "line N: `text`: why": kept from running code, reaching out
    resolved_target: str = ""  # what --target auto became
    haproxy: str = ""  # haproxy -vv's version
    openssl: str = ""  # the OpenSSL HAProxy runs on
    haproxy_image: str = ""  # the user's HAProxy image (--haproxy-image), "" for flowlb's own or a live LB
    egress_fence: str = ""  # how HAProxy under test was kept from sending past loopback, or why it was not
    config_path: str = ""  # the operator's file, or "profile NAME" for a generated config
    config_sha256: str = ""  # of the operator's file as given, or of the rendered profile as run
    policy_path: str = ""  # the operator's policy file (--policy), "" for flowlb's own policy
    policy_sha256: str = ""  # of that file as given
    flowlb_version: str = __version__
    ended: float = 0.0
    cut_short: str = ""  # why the run stopped before every selected check ran (-x, --maxfail); "" when it did not
    not_run: list[str] = field(default_factory=list)  # the checks a cut-short run never ran


MAX_SAME_NAME = 1000  # runs of one name started in the same second, before a new directory is refused


def writable_root(root: Path, flag: str = "--report-dir") -> Path:
    """``root``, made if missing; ``FlowlbError`` (one line) when run directories cannot be made there."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = fresh_directory(root, f".flowlb-probe-{os.getpid()}")
        probe.rmdir()
    except OSError as exc:
        raise FlowlbError(f"{flag} {root}: cannot make a run directory there ({exc.strerror or exc})") from None
    return root


def fresh_directory(root: Path, name: str) -> Path:
    """A new ``<root>/<name>.partial`` whose name no other run has or had (``-2``, ``-3``... when taken).

    Created with an exclusive ``mkdir``, so two runs started in the same second never share one.
    """
    root.mkdir(parents=True, exist_ok=True)
    for number in range(1, MAX_SAME_NAME + 1):
        stem = name if number == 1 else f"{name}-{number}"
        if (root / stem).exists():
            continue
        try:
            (root / f"{stem}.partial").mkdir()
        except FileExistsError:
            continue
        return root / f"{stem}.partial"
    raise FileExistsError(f"{MAX_SAME_NAME} report directories named {name} already exist in {root}")


def run_directory(root: Path, info: RunInfo) -> Path:
    """A fresh ``<root>/<time>-<target>-<config>.partial`` directory for this run."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(info.started))
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{info.target}-{info.config}")
    return fresh_directory(root, f"{stamp}-{safe}")


def finish(directory: Path, info: RunInfo, results: list[CheckResult], judgement: Judgement | None = None,
           causes: dict[str, Any] | None = None) -> Path:
    """Write the summary and HTML, then publish the directory (drop ``.partial``, point ``latest``).

    ``counts`` and ``areas`` are pytest's outcomes (a waived failure is failed there); the verdict is the
    ``judgement``'s (by default, the results judged by their levels, without waivers); ``causes`` are what
    explains the failures (``flowlb.causes.RunCauses.as_dict``), the summary's first word on them."""
    judgement = judgement or judge(results)
    counts = {outcome: sum(r.outcome == outcome for r in results) for outcome in ("passed", "failed", "skipped")}
    info.ended = time.time()
    areas: dict[str, dict[str, int]] = {}
    for result in results:
        areas.setdefault(result.area, {"passed": 0, "failed": 0, "skipped": 0})[result.outcome] += 1
    summary = {
        "schema_version": SCHEMA_VERSION,
        "run": asdict(info),
        "counts": counts,
        **summary_fields(judgement),
        **(causes or {"causes": [], "unexplained": [], "masked": [], "groups": []}),
        "areas": areas,
        "skipped": [{"check": r.check_id or r.nodeid, "nodeid": r.nodeid, "reason": r.message}
                    for r in results if r.outcome == "skipped"],
        "checks": [asdict(r) for r in results],
    }
    try:
        (directory / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        (directory / "index.html").write_text(render_html(info, results, counts, judgement, causes))
    except BaseException:
        discard(directory)  # never leave a half-written report behind
        raise
    return publish(directory)


def publish(directory: Path) -> Path:
    """Drop a complete run directory's ``.partial`` suffix and point ``latest`` at it."""
    final = directory.with_name(directory.name.removesuffix(".partial"))
    directory.rename(final)  # fresh_directory chose a name no other run has: nothing is replaced
    latest = final.parent / "latest"
    temporary = final.parent / f".latest-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(final.name)
    temporary.replace(latest)
    return final


def discard(directory: Path) -> None:
    """Remove an unfinished run directory (interrupted run)."""
    shutil.rmtree(directory, ignore_errors=True)


FIX_MARKER = "Fix:"
SHOWN_ITEMS = 8  # a dict figure with more items is data for a chart, not a line in the table


def split_fix(message: str) -> tuple[str, str]:
    """A failure message as (what is wrong, how to fix it); the checks write the fix after ``Fix:``."""
    problem, marker, fix = message.partition(FIX_MARKER)
    return (problem.strip(), fix.strip()) if marker else (message.strip(), "")


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


TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("flowlb", "templates"),
    autoescape=True,  # every value is text; the plots' <img> tags are marked |safe in the templates
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
"""The reports' templates (``flowlb/templates``), shared with the load report."""


@dataclass
class _Row:
    """One check as the report shows it: the figures short enough for the table, the message split at ``Fix:``."""

    check: CheckResult
    figures: list[tuple[str, str]]
    problem: str
    fix: str

    @classmethod
    def of(cls, result: CheckResult) -> _Row:
        shown = ((key, _shown_figure(value)) for key, value in result.figures.items())
        problem, fix = split_fix(result.message) if result.outcome == "failed" else (result.message, "")
        if result.outcome == "failed" and not fix:
            fix = result.fix  # the catalogue's, where the message names none
        return cls(result, [(key, value) for key, value in shown if value is not None], problem, fix)


@dataclass
class _Area:
    """An area's checks and the pictures their figures allow: balance per port, failover timelines by title."""

    name: str
    rows: list[_Row]
    balance: str | None
    timelines: list[tuple[str, str]]

    @classmethod
    def of(cls, name: str, results: list[CheckResult]) -> _Area:
        per_port = balance_per_port(results)
        return cls(
            name,
            [_Row.of(result) for result in results],
            plots.balance_chart(per_port, "Balance distribution per port") if per_port else None,
            [
                (result.title, timeline_image(result, key, timeline))
                for result in results
                for key, timeline in timelines(result).items()
            ],
        )


def render_html(
    info: RunInfo, results: list[CheckResult], counts: dict[str, int], judgement: Judgement | None = None,
    causes: dict[str, Any] | None = None,
) -> str:
    """A self-contained page: the causes, what else to fix, then checks grouped by area like an operator's checklist.

    A failure a cause explains is listed under its cause, not again with its own fix."""
    judgement = judgement or judge(results)
    found = (causes or {}).get("causes", [])
    explained = {check for cause in found for check in cause["explains"]}
    return TEMPLATES.get_template("conformance.html.j2").render(
        causes=found,
        info=info,
        started=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.started)),
        counts=counts,
        verdict=judgement.verdict,
        judgement=judgement,
        failed=[_Row.of(result) for result in results
                if result.outcome == "failed" and not result.waived and result.check_id not in explained],
        areas=[_Area.of(area, [r for r in results if r.area == area]) for area in sorted({r.area for r in results})],
    )
