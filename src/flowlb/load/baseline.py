"""``flowlb load --baseline REPORT``: does this run's p99 or error rate regress from an earlier load report's?

Both runs' ``summary.json`` are read the same way. p99 per path comes from ``latency_ms`` (HdrHistogram,
from the intended send time) when both runs have it, else from Locust's own per-path figures
(``paths``), so an open-model run is never compared with a closed one's p99. A regression is:

- **p99**: a path's p99 grew by more than :data:`P99_REL` (20 %) *and* by more than
  :data:`P99_ABS_MS` (5 ms): both, so that a 1 ms path's jitter and a 2 s path's noise pass;
- **error rate**: the share of failed requests grew by more than :data:`ERROR_ABS` (0.5 percentage points).

A regression makes the exit code 1 (an SLO breach's), unless the run already has a worse one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flowlb.errors import FlowlbError

P99_REL = 0.20
P99_ABS_MS = 5.0
ERROR_ABS = 0.005
REGRESSION_EXIT_CODE = 1


def load_report(path: Path) -> dict[str, Any]:
    """An earlier load run's ``summary.json``: the file itself, or a run directory holding it (``latest`` too)."""
    file = path / "summary.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text())
    except OSError as exc:
        raise FlowlbError(f"--baseline {path}: no load report there ({exc.strerror or exc})") from None
    except ValueError:
        raise FlowlbError(f"--baseline {path}: {file.name} is not JSON") from None
    if not isinstance(data, dict) or data.get("kind") != "load":
        raise FlowlbError(f"--baseline {path}: {file.name} is not a flowlb load report")
    return data


@dataclass(frozen=True)
class Finding:
    """One figure compared: what, before, after, and whether it regressed beyond the tolerance."""

    what: str
    before: float
    after: float
    regressed: bool

    def line(self) -> str:
        verdict = "REGRESSED" if self.regressed else "ok"
        return f"{verdict}: {self.what} {self.before:g} -> {self.after:g}"


def _p99s(summary: Mapping[str, Any], hdr: bool) -> dict[str, float]:
    if hdr:
        return {p: float(f["p99"]) for p, f in dict(summary.get("latency_ms") or {}).items() if f.get("count")}
    return {p: float(f["p99_ms"]) for p, f in dict(summary.get("paths") or {}).items() if f.get("requests")}


def _error_rate(summary: Mapping[str, Any]) -> float | None:
    total = summary.get("total") or {}
    requests = int(total.get("requests") or 0)
    return int(total.get("failures") or 0) / requests if requests else None


def compare(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Finding]:
    """Each path's p99 and the error rate, before and after, each judged against the tolerance."""
    hdr = bool(before.get("latency_ms")) and bool(after.get("latency_ms"))
    unit = "ms from the intended send time" if hdr else "ms (Locust's)"
    old, new = _p99s(before, hdr), _p99s(after, hdr)
    findings = []
    for path in sorted(set(old) & set(new)):
        grown = new[path] - old[path]
        findings.append(Finding(f"p99 on {path} ({unit})", old[path], new[path],
                                grown > P99_ABS_MS and new[path] > old[path] * (1 + P99_REL)))
    old_errors, new_errors = _error_rate(before), _error_rate(after)
    if old_errors is not None and new_errors is not None:
        findings.append(Finding("error rate", round(old_errors, 5), round(new_errors, 5),
                                new_errors - old_errors > ERROR_ABS))
    return findings


def fold_baseline(summary: dict[str, Any], path: Path, code: int) -> int:
    """Compare ``summary`` with the baseline at ``path``, record it in ``summary["baseline"]``, return the exit code."""
    findings = compare(load_report(path), summary)
    regressed = [f for f in findings if f.regressed]
    summary["baseline"] = {
        "report": str(path),
        "tolerance": {"p99_rel": P99_REL, "p99_abs_ms": P99_ABS_MS, "error_abs": ERROR_ABS},
        "regressed": bool(regressed),
        "findings": [asdict(f) for f in findings],
    }
    if regressed and code == 0:
        return REGRESSION_EXIT_CODE
    return code
