"""An arrival-rate run's outcome from its generators' reports: merged counts and histograms, the rate, validity.

Each generator process (:mod:`flowlb.load.openmodel`) reports once, at its end: its counts per
path (:class:`flowlb.load.arrival.Counts`), its encoded histograms (:mod:`flowlb.load.hdr`), its
own CPU and the machine's over the measured window. :func:`outcome` adds them up exactly and
judges the run (:mod:`flowlb.load.validity`); :func:`write` leaves ``arrival.json`` and one
``latency-<path>.hgrm`` per path, which ``flowlb load`` folds into ``summary.json``. No Locust here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flowlb.load.arrival import Counts
from flowlb.load.validity import INVALID_EXIT_CODE, RunFacts, rate_summary, reasons

FILE = "arrival.json"


def outcome(reports: Sequence[Mapping[str, Any]], generators_expected: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's outcome (for ``arrival.json``) and each path's merged window histogram (for its ``.hgrm``)."""
    from flowlb.load import hdr  # only an arrival-rate run needs hdrhistogram

    if not reports:
        return {"validity": {"valid": False, "reasons": [f"none of {generators_expected} generators reported"]},
                "latency_ms": {}, "rate": {}, "over_time": {}}, {}
    first = reports[0]
    seconds, warmup_s, interval_s = float(first["seconds"]), float(first["warmup_s"]), float(first["interval_s"])
    total, per_path = Counts(), dict[str, Counts]()
    for report in reports:
        for path, data in dict(report["counts"]).items():
            counts = Counts.of(dict(data))
            total.add(counts)
            per_path.setdefault(path, Counts()).add(counts)
    measured = seconds - warmup_s
    machine = [float(r["machine_cpu"]) for r in reports if r.get("machine_cpu") is not None]
    facts = RunFacts(
        counts=total,
        offered_rate=total.offered / measured if measured > 0 else 0.0,
        measured_seconds=measured,
        generator_cpu=[float(r["generator_cpu"]) for r in reports],
        machine_cpu=max(machine) if machine else None,
        generators_expected=generators_expected,
        generators_reported=len(reports),
        sending_seconds=max(float(r.get("sending_seconds", 0.0)) for r in reports),
    )
    merged = hdr.merge_paths(dict(r["latency"]) for r in reports)
    latency = {}
    for path, histograms in merged.items():
        figures = hdr.percentiles_ms(histograms["window"])
        counts = per_path.get(path, Counts())
        latency[path] = {**figures, "failed": counts.failed, "unfinished": counts.unfinished}
    over_time = {
        path: [
            {"t": round(index * interval_s, 3), **hdr.percentiles_ms(histogram)}
            for index, histogram in histograms["intervals"].items()
            if index * interval_s >= warmup_s - 1e-9  # the warm-up is left out
        ]
        for path, histograms in merged.items()
    }
    invalid = reasons(facts)
    result = {
        "latency_ms": latency,
        "rate": rate_summary(facts),
        "validity": {"valid": not invalid, "reasons": invalid, "generator_cpu": facts.generator_cpu,
                     "machine_cpu": facts.machine_cpu, "generators": len(reports)},
        "over_time": over_time,
        "interval_s": interval_s,
        "warmup_s": warmup_s,
        "seconds": seconds,
        "start": min(float(r.get("start", 0.0)) for r in reports),
    }
    return result, {path: h["window"] for path, h in merged.items()}


def write(directory: Path, result: Mapping[str, Any], windows: Mapping[str, Any]) -> Path:
    """``arrival.json`` (written whole, by rename) and ``latency-<path>.hgrm`` per path into ``directory``."""
    from flowlb.load import hdr

    for path, histogram in windows.items():
        hdr.write_hgrm(histogram, directory / f"latency-{path}.hgrm")
    target = directory / FILE
    temporary = target.with_name(f".{FILE}.{os.getpid()}")
    temporary.write_text(json.dumps(result, indent=2))
    temporary.replace(target)
    return target


def read(directory: Path) -> dict[str, Any] | None:
    """``arrival.json`` of a run directory, or None when the run wrote none."""
    try:
        data = json.loads((directory / FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def arrival_environment(rate: float, seconds: float, directory: Path) -> dict[str, str]:
    """The ``FLOWLB_ARRIVAL_*`` variables of ``flowlb load --arrival-rate`` for Locust and its workers."""
    return {
        "FLOWLB_ARRIVAL_RATE": repr(float(rate)),
        "FLOWLB_ARRIVAL_SECONDS": repr(float(seconds)),
        "FLOWLB_ARRIVAL_FILE": str(directory / FILE),
    }


def fold_arrival(summary: dict[str, Any], directory: Path, code: int) -> int:
    """Put ``arrival.json``'s figures into ``summary`` (``latency_ms``, ``rate``, ``validity``,
    ``latency_over_time``) and return the run's exit code: :data:`INVALID_EXIT_CODE` when it is invalid."""
    result = read(directory)
    if result is None:
        result = {"validity": {"valid": False, "reasons": ["no generator wrote arrival.json (see Locust's output)"]}}
    summary["latency_ms"] = result.get("latency_ms", {})
    summary["rate"] = result.get("rate", {})
    summary["validity"] = result["validity"]
    summary["latency_over_time"] = {
        "interval_s": result.get("interval_s"), "warmup_s": result.get("warmup_s"),
        "start": result.get("start"), "paths": result.get("over_time", {}),
    }
    summary["hgrm"] = sorted(p.name for p in directory.glob("latency-*.hgrm"))
    return code if result["validity"]["valid"] else INVALID_EXIT_CODE
