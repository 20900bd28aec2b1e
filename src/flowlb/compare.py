"""``flowlb compare BEFORE AFTER``: what changed between two conformance runs, before and after a change window.

Each side is a run directory (its ``summary.json``), a report root whose ``latest`` it follows, or a
``summary.json`` itself. The comparison lists the checks whose outcome changed (a pass that now fails
is a regression), checks new or gone, the causes (``summary.json``'s ``causes``, where the run has them)
that appeared or went, the figures that moved by more than both thresholds (detection times, lost
requests: every number a check recorded, and the numbers of its small tables such as requests per
node), and what was tested on each side (config sha256, HAProxy, verdict)::

    before, after = load_run(Path("reports/before")), load_run(Path("reports"))
    comparison = compare(before, after)
    comparison["regressions"]               # [{"nodeid": ..., "before": "passed", "after": "failed", ...}]
    print(as_text(comparison))
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowlb.errors import FlowlbError
from flowlb.inputs import read_input

SUMMARY = "summary.json"
FIGURE_REL = 0.25  # a figure changed when it moved by more than this share of the larger value ...
FIGURE_ABS = 0.5  # ... and by more than this much (seconds or counts): 0 -> 1 lost request is a change
IDENTITY = ("config_path", "config_sha256", "haproxy", "openssl", "target", "resolved_target", "flowlb_version")
SHOWN = 20  # per list in the text: the JSON has them all


@dataclass(frozen=True)
class Run:
    """One side: the run directory, its name, and its ``summary.json``."""

    directory: Path
    summary: dict[str, Any]

    @property
    def name(self) -> str:
        return self.directory.name


def load_run(path: Path) -> Run:
    """The conformance run at ``path`` (a run directory, a report root's ``latest``, or a ``summary.json``);
    a one-line :class:`FlowlbError` when there is none or it cannot be read."""
    if not path.exists():
        raise FlowlbError(f"{path}: no such report folder" + (" (its `latest` points nowhere)"
                                                                if path.is_symlink() else ""))
    if path.is_dir() and not (path / SUMMARY).exists() and (path / "latest").exists():
        path = path / "latest"
    file = path if path.name == SUMMARY and not path.is_dir() else path / SUMMARY
    if not file.exists():
        raise FlowlbError(f"{path}: not a flowlb report (no {SUMMARY}, no `latest` run)")
    try:
        summary = json.loads(read_input(file, "summary.json"))
    except json.JSONDecodeError as exc:
        raise FlowlbError(f"{file}: not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("run"), dict):
        raise FlowlbError(f"{file}: not a flowlb report summary (no `run`)")
    if not isinstance(summary.get("checks"), list) or not all(
        isinstance(check, dict) and isinstance(check.get("nodeid"), str) for check in summary["checks"]
    ):
        raise FlowlbError(f"{file}: not a conformance run's summary (no `checks`; a load or matrix report?)")
    return Run(file.parent.resolve(), summary)


def compare(before: Run, after: Run, rel: float = FIGURE_REL, absolute: float = FIGURE_ABS) -> dict[str, Any]:
    """Everything that changed from ``before`` to ``after``, as JSON-ready lists (see the module's example)."""
    old = {check["nodeid"]: check for check in before.summary["checks"]}
    new = {check["nodeid"]: check for check in after.summary["checks"]}
    changes: dict[str, list[dict[str, Any]]] = {
        "regressions": [], "fixed": [], "now_skipped": [], "now_run": [], "new": [], "removed": [],
    }
    for nodeid in sorted(old.keys() | new.keys()):
        was, now = _outcome(old.get(nodeid)), _outcome(new.get(nodeid))
        kind = _kind(was, now)
        if kind is not None:
            source = new.get(nodeid) or old[nodeid]
            changes[kind].append({"nodeid": nodeid, "check": source.get("check_id") or nodeid.split("::")[0],
                                  "before": was or "absent", "after": now or "absent",
                                  "message": str(source.get("message", "")) if now in ("failed", "skipped") else ""})
    run_before, run_after = before.summary["run"], after.summary["run"]
    return {
        "before": {"directory": str(before.directory), **_side(before)},
        "after": {"directory": str(after.directory), **_side(after)},
        "identity": {key: {"before": run_before.get(key, ""), "after": run_after.get(key, "")}
                     for key in IDENTITY if run_before.get(key, "") != run_after.get(key, "")},
        **changes,
        **_causes(before.summary, after.summary),
        "figures": _figures(old, new, rel, absolute),
        "thresholds": {"relative": rel, "absolute": absolute},
    }


def regressed(comparison: dict[str, Any]) -> bool:
    """Whether a check that passed before fails now (the exit code 1 of ``flowlb compare``)."""
    return bool(comparison["regressions"])


def _outcome(check: dict[str, Any] | None) -> str:
    return str(check.get("outcome", "")) if check is not None else ""


def _kind(was: str, now: str) -> str | None:
    if was == now:
        return None
    if not was:
        return "new"
    if not now:
        return "removed"
    if now == "failed":
        return "regressions" if was == "passed" else "now_run"
    if was == "failed" and now == "passed":
        return "fixed"
    return "now_skipped" if now == "skipped" else "now_run"


def _side(run: Run) -> dict[str, Any]:
    info = run.summary["run"]
    return {"name": run.name, "verdict": run.summary.get("verdict", ""), "counts": run.summary.get("counts", {}),
            "config_sha256": info.get("config_sha256", ""), "haproxy": info.get("haproxy", ""),
            "config": info.get("config_path") or info.get("config", ""), "cut_short": info.get("cut_short", "")}


def _causes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Causes (a lint rule on a config line) that appeared or went; a cause is its rule and the line's text,
    so a change that only moves a line does not make its causes new. Absent ``causes``: nothing."""
    old, new = _cause_map(before), _cause_map(after)
    return {"new_causes": [new[key] for key in new if key not in old],
            "gone_causes": [old[key] for key in old if key not in new]}


def _cause_map(summary: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    causes = summary.get("causes")
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for cause in causes if isinstance(causes, list) else []:
        if isinstance(cause, dict) and cause.get("rule"):
            key = (str(cause["rule"]), str(cause.get("text") or f"line {cause.get('line', '?')}"))
            found.setdefault(key, cause)
    return found


def _numbers(figures: object) -> dict[str, float]:
    """A check's numeric figures by name; a small table's numbers as ``name.key`` (series and text left out)."""
    found: dict[str, float] = {}
    for key, value in (figures.items() if isinstance(figures, dict) else ()):
        if _is_number(value):
            found[str(key)] = float(value)
        elif isinstance(value, dict) and len(value) <= SHOWN and all(_is_number(v) for v in value.values()):
            found.update({f"{key}.{k}": float(v) for k, v in value.items()})
    return found


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _figures(old: dict[str, Any], new: dict[str, Any], rel: float, absolute: float) -> list[dict[str, Any]]:
    moved = []
    for nodeid in sorted(old.keys() & new.keys()):
        was, now = _numbers(old[nodeid].get("figures")), _numbers(new[nodeid].get("figures"))
        for name in sorted(was.keys() & now.keys()):
            delta = now[name] - was[name]
            if abs(delta) > absolute and abs(delta) > rel * max(abs(was[name]), abs(now[name])):
                moved.append({"nodeid": nodeid, "figure": name, "before": _plain(was[name]),
                              "after": _plain(now[name]), "change": _plain(round(delta, 3))})
    return moved


def _plain(value: float) -> float | int:
    return int(value) if value.is_integer() else value


TITLES = (
    ("regressions", "Passed before, fail now"), ("fixed", "Failed before, pass now"),
    ("now_run", "Ran now, skipped before"), ("now_skipped", "Skipped now"),
    ("new", "New checks"), ("removed", "Checks no longer run"),
)


def as_text(comparison: dict[str, Any]) -> str:
    """The comparison as a short Markdown page (also what ``flowlb compare`` prints)."""
    before, after = comparison["before"], comparison["after"]
    out = [f"# flowlb compare: {before['name']} -> {after['name']}", ""]
    out.append(f"- verdict: {before['verdict']} -> {after['verdict']}" if before["verdict"] != after["verdict"]
               else f"- verdict: {after['verdict']} (unchanged)")
    out.append("- counts: " + _counts(before["counts"]) + " -> " + _counts(after["counts"]))
    for key, pair in comparison["identity"].items():
        out.append(f"- {key}: {_short(pair['before'])} -> {_short(pair['after'])}")
    if "config_sha256" not in comparison["identity"]:
        out.append(f"- config_sha256: {_short(after['config_sha256'])} (same config)")
    if "haproxy" not in comparison["identity"]:
        out.append(f"- haproxy: {_short(after['haproxy'])} (same)")
    for side in (before, after):
        if side["cut_short"]:
            out.append(f"- {side['name']} was cut short: {side['cut_short']}")
    for key, title in TITLES:
        rows = comparison[key]
        if rows:
            out += ["", f"## {title} ({len(rows)})", ""]
            out += [f"- `{row['nodeid']}`: {row['before']} -> {row['after']}"
                    + (f": {_first_line(row['message'])}" if row["message"] else "") for row in rows[:SHOWN]]
            out += [f"- ... {len(rows) - SHOWN} more in compare.json"] if len(rows) > SHOWN else []
    for key, title in (("new_causes", "New causes"), ("gone_causes", "Causes gone")):
        rows = comparison[key]
        if rows:
            out += ["", f"## {title} ({len(rows)})", ""]
            out += [f"- {row.get('rule')} line {row.get('line', '?')}: `{row.get('text', '')}`"
                    + (f" (explains {', '.join(map(str, row['explains']))})"
                       if isinstance(row.get("explains"), list) and row["explains"] else "") for row in rows[:SHOWN]]
    figures = comparison["figures"]
    if figures:
        limits = comparison["thresholds"]
        out += ["", f"## Figures that moved (by more than {limits['relative']:.0%} and {limits['absolute']:g}) "
                    f"({len(figures)})", ""]
        out += [f"- `{row['nodeid']}` {row['figure']}: {row['before']} -> {row['after']}" for row in figures[:SHOWN]]
    if not any(comparison[key] for key, _ in TITLES) and not figures:
        out += ["", "No check changed its outcome, and no figure moved beyond the thresholds."]
    return "\n".join(out) + "\n"


def _counts(counts: dict[str, Any]) -> str:
    return "/".join(str(counts.get(key, 0)) for key in ("passed", "failed", "skipped")) + " passed/failed/skipped"


def _short(value: object) -> str:
    text = str(value) if value not in ("", None) else "(none)"
    return text[:16] if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else text


def _first_line(message: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line if len(line) <= 200 else line[:197] + "..."


def default_out(before: Run, after: Run) -> Path:
    """Where the comparison goes without ``--out``: beside AFTER's run directory (its report root), named after
    both runs, so a second compare of the same pair replaces its own files and no run's report is touched."""
    return after.directory.parent / f"compare-{before.name}--{after.name}"
