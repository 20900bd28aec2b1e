"""The report of a conformance run: per check, passed or failed, what it guards and how to fix it.

Written at the end of a run into ``reports/<run>/``: ``index.html`` for people, read in one screen (the
verdict, the causes in the config with their fixes and the checks each explains, what else to fix,
warnings, waived and skipped checks; then the checks by area, a check's cases on one line, passed areas
folded, with the pictures their figures allow: balance per port, failover timelines;
``templates/conformance.html.j2``), ``summary.json`` for machines, beside
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
from flowlb.checks.applies import NOT_APPLICABLE, not_applicable
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


BRIEF_CHARS = 160  # a failure's problem under its cause or in a to-do list: its first line, cut to this


@dataclass
class _Case:
    """One test of a check as the page shows it: its case name, its message split at ``Fix:``, and the figures
    short enough for a line (series and long dicts are only drawn)."""

    result: CheckResult
    problem: str
    fix: str
    figures: list[tuple[str, str]]

    @classmethod
    def of(cls, result: CheckResult) -> _Case:
        shown = ((key, _shown_figure(value)) for key, value in result.figures.items())
        problem, fix = split_fix(result.message) if result.outcome == "failed" else (result.message, "")
        if result.outcome == "failed" and not fix:
            fix = result.fix  # the catalogue's, where the message names none
        return cls(result, problem, fix, [(key, value) for key, value in shown if value is not None])

    @property
    def name(self) -> str:
        """The case within its check: the parameter (``443``), else the test's name."""
        return _parameter(self.result.nodeid)

    @property
    def failed(self) -> bool:
        """Failed and not waived: a failure the page asks the operator to fix."""
        return self.result.outcome == "failed" and not self.result.waived

    @property
    def reason(self) -> str:
        """A skip's reason as pytest gave it, without ``Skipped: `` and ``does not apply: ``."""
        return self.result.message.removeprefix("Skipped: ").removeprefix(NOT_APPLICABLE)

    @property
    def brief(self) -> str:
        """The problem in one short line, for a list of failures; the whole message is in the check's area."""
        first = ((self.problem or self.result.message).strip() or "failed").splitlines()[0]
        return first if len(first) <= BRIEF_CHARS else first[: BRIEF_CHARS - 1] + "…"


def _check_ident(result: CheckResult) -> str:
    """What merges the tests of one check: the catalogue id, else the test id without its parameter."""
    return result.check_id or result.nodeid.split("[", 1)[0]


@dataclass
class _Check:
    """One check with its cases merged, so a check run on six ports is one line, not six paragraphs."""

    ident: str
    cases: list[_Case]

    @property
    def first(self) -> CheckResult:
        return self.cases[0].result

    def having(self, outcome: str) -> list[_Case]:
        return [case for case in self.cases if case.result.outcome == outcome]

    @property
    def failed(self) -> list[_Case]:
        return [case for case in self.cases if case.failed]

    @property
    def waived(self) -> list[_Case]:
        return [case for case in self.cases if case.result.outcome == "failed" and case.result.waived]

    @property
    def outcome(self) -> str:
        """``failed`` (a failure not waived), ``waived``, ``passed`` (a case passed), else ``skipped``."""
        if self.failed:
            return "failed"
        if self.waived:
            return "waived"
        return "passed" if self.having("passed") else "skipped"

    @property
    def failures(self) -> list[_Case]:
        """Its failed cases, waived ones last."""
        return self.failed + self.waived

    @property
    def tally(self) -> str:
        """Its cases in a few words (``6 cases``, ``2 of 6 cases failed``); "" for a check of one case that ran."""
        total, failed, skipped = len(self.cases), len(self.failures), len(self.having("skipped"))
        if total == 1:
            return {"waived": "waived", "skipped": "skipped"}.get(self.outcome, "")
        text = f"{failed} of {total} cases failed" if failed else f"{total} cases"
        return text + (f", {skipped} skipped" if skipped else "")

    @property
    def anchor(self) -> str:
        """Where a link to this check lands: its first failure, else its first case (ids are the test ids)."""
        return (self.failures or self.cases)[0].result.nodeid

    @property
    def fixes(self) -> list[str]:
        """The fixes its failed cases name, each once."""
        return list(dict.fromkeys(case.fix for case in self.failed if case.fix))

    def named_by(self, names: set[str]) -> bool:
        """Whether ``names`` (a cause's ``explains``, a group's) hold this check's id or one of its test ids."""
        return self.ident in names or any(case.result.nodeid in names for case in self.cases)


def _checks(results: list[CheckResult]) -> list[_Check]:
    """The results merged per check, in the order the checks first ran."""
    merged: dict[str, _Check] = {}
    for result in results:
        merged.setdefault(_check_ident(result), _Check(_check_ident(result), [])).cases.append(_Case.of(result))
    return list(merged.values())


@dataclass
class _ToDo:
    """One entry of the page's to-do lists: a cause in the config (``cause``, its dict from ``summary.json``),
    failures that share a port or a message (``group``, its hint) or one check (``check``); the fixes it shows
    (none already shown higher on the page) and the failed checks it covers."""

    kind: str
    checks: list[_Check]
    fixes: list[str] = field(default_factory=list)
    cause: dict[str, Any] = field(default_factory=dict)
    group: dict[str, Any] = field(default_factory=dict)

    @property
    def core(self) -> bool:
        return any(check.first.level == "core" for check in self.checks)


@dataclass
class _Area:
    """An area's checks and the pictures their figures allow: balance per port, failover timelines by title."""

    name: str
    checks: list[_Check]
    balance: str | None
    timelines: list[tuple[str, str]]

    @classmethod
    def of(cls, name: str, checks: list[_Check]) -> _Area:
        results = [case.result for check in checks for case in check.cases]
        per_port = balance_per_port(results)
        return cls(
            name,
            checks,
            plots.balance_chart(per_port, "Balance distribution per port") if per_port else None,
            [
                (result.title, timeline_image(result, key, timeline))
                for result in results
                for key, timeline in timelines(result).items()
            ],
        )

    def count(self, outcome: str) -> int:
        return sum(check.outcome == outcome for check in self.checks)


def _to_do(checks: list[_Check], causes: dict[str, Any]) -> tuple[list[_ToDo], list[_ToDo], list[_ToDo], list[_ToDo]]:
    """The causes (those of a core failure first), the masked findings, what else to fix (core) and the
    warnings (recommended only).

    Every failed check is listed once: under the cause that explains it, else under the group (a live LB's)
    that holds it, else on its own. Every fix is shown once, at its first place on the page."""
    failing = [check for check in checks if check.outcome in ("failed", "waived")]
    found = [_ToDo("cause", [c for c in failing if c.named_by(set(cause["explains"]))], [cause["fix"]], cause=cause)
             for cause in causes.get("causes", [])]
    masked = [_ToDo("cause", [], [cause["fix"]], cause=cause) for cause in causes.get("masked", [])]
    listed = {check.ident for todo in found for check in todo.checks}
    left = [check for check in checks if check.outcome == "failed" and check.ident not in listed]
    rest = []
    for group in causes.get("groups", []) if not found else []:
        members = [check for check in left if check.named_by(set(group["explains"]))]
        if group["kind"] == "check" and len(members) == 1:
            continue  # a group of one: listed below with its own fix
        if members:
            rest.append(_ToDo("group", members, group=group))
            left = [check for check in left if check not in members]
    rest += [_ToDo("check", [check], check.fixes) for check in left]
    found.sort(key=lambda todo: not todo.core)  # what fails the run first; a cause of warnings only after
    shown: set[str] = set()
    for todo in [*found, *masked, *rest]:
        todo.fixes = [fix for fix in todo.fixes if fix not in shown]
        shown.update(todo.fixes)
    return found, masked, [t for t in rest if t.core], [t for t in rest if not t.core]


def render_html(
    info: RunInfo, results: list[CheckResult], counts: dict[str, int], judgement: Judgement | None = None,
    causes: dict[str, Any] | None = None,
) -> str:
    """A self-contained page an operator reads in one screen: the verdict and its reasons; the causes in the
    config, each with its fix and the failed checks it explains; what else to fix; warnings, waived and skipped
    checks, one line each; then the checks by area, passed ones folded, with their pictures.

    No fix is shown twice (a failure a cause explains is listed under it with its problem only)."""
    judgement = judgement or judge(results)
    checks = _checks(results)
    found, masked, fix, warnings = _to_do(checks, causes or {})
    skipped = [case for check in checks for case in check.cases if case.result.outcome == "skipped"]
    waived: dict[str, dict[str, str]] = {}
    for entry in judgement.waived:  # one line per check, however many of its cases the waiver covers
        waived.setdefault(entry["id"], entry)
    return TEMPLATES.get_template("conformance.html.j2").render(
        info=info,
        started=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.started)),
        counts=counts,
        verdict=judgement.verdict,
        judgement=judgement,
        causes=found,
        masked=masked,
        fix=fix,
        warnings=warnings,
        waived=list(waived.values()),
        gaps=[case for case in skipped if not not_applicable(case.result.message)],
        not_applicable=[case for case in skipped if not_applicable(case.result.message)],
        areas=[_Area.of(area, [c for c in checks if c.first.area == area])
               for area in sorted({c.first.area for c in checks})],
    )
