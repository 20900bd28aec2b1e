"""The load report's section for an arrival-rate run: validity, offered vs achieved rate, HDR percentiles,
the ``.hgrm`` spectra and latency over time (warm-up left out), from ``summary.json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt

from flowlb import plots

LATENCY_KEYS = ("p50", "p90", "p99", "p99.9", "max")


def over_time_chart(paths: Mapping[str, Sequence[Mapping[str, Any]]], events: Sequence[plots.Event],
                    title: str = "Latency from the intended send time, over the run (warm-up left out)") -> str:
    """p99 (solid) and p50 (dotted) per path, one point per interval, on a log scale, with the run's events."""
    figure, axes = plt.subplots(figsize=(8.0, 3.4))
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#eaeef2", linewidth=0.8)
    for index, (path, points) in enumerate(sorted(paths.items())):
        color = plots._PALETTE[index % len(plots._PALETTE)]
        xs = [float(p["t"]) for p in points]
        axes.plot(xs, [max(float(p["p99"]), 0.001) for p in points], color=color, label=f"{path} p99")
        axes.plot(xs, [max(float(p["p50"]), 0.001) for p in points], color=color, linestyle=":",
                  label=f"{path} p50")
    for event in events:
        axes.axvline(event.t, color=plots.DOWN_COLOR if event.kind == "down" else plots.FAILURE_COLOR,
                     linestyle="--", linewidth=1)
        axes.annotate(event.label, (event.t, 1), xycoords=("data", "axes fraction"), fontsize=7, rotation=90,
                      va="top", ha="right")
    axes.set_yscale("log")
    axes.set_xlabel("seconds since the schedule started (intended send time)")
    axes.set_ylabel("ms")
    axes.set_title(title, fontsize=10, loc="left")
    axes.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    return plots.to_img(figure, title)


@dataclass
class OpenModel:
    """What the template shows: the verdict, the rate row, a row per path, the spectra and the chart."""

    valid: bool
    reasons: list[str]
    rate: list[tuple[str, str]]
    latency: list[list[str]]
    hgrm: list[str]
    chart: str | None

    @classmethod
    def of(cls, summary: Mapping[str, Any], timeline: Mapping[str, Any]) -> OpenModel | None:
        rate = summary.get("rate")
        if not summary.get("validity"):
            return None
        over = summary.get("latency_over_time") or {}
        start = float(over.get("start") or 0.0)
        events = [plots.Event(float(e["t"]) - start, str(e.get("what", "")), str(e.get("kind", "note")))
                  for e in timeline.get("events", []) if isinstance(e, dict) and isinstance(e.get("t"), (int, float))]
        paths = {p: points for p, points in dict(over.get("paths") or {}).items() if points}
        validity = summary["validity"]
        return cls(
            valid=bool(validity.get("valid")),
            reasons=list(validity.get("reasons", [])),
            rate=[(key, f"{rate[key]:g}" if isinstance(rate[key], float) else str(rate[key]))
                  for key in ("offered", "achieved", "late", "waited", "dropped", "missed", "unfinished",
                              "worst_late_ms")
                  if key in rate] if rate else [],
            latency=[[path, *(f"{figures.get(key, 0):g}" for key in LATENCY_KEYS), str(figures.get("count", 0)),
                      str(figures.get("failed", 0))]
                     for path, figures in sorted(dict(summary.get("latency_ms") or {}).items())],
            hgrm=list(summary.get("hgrm") or []),
            chart=over_time_chart(paths, events) if paths else None,
        )
