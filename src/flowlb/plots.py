"""Charts for the reports, drawn with matplotlib (Agg) and returned as self-contained ``<img>`` tags.

Each function takes plain data (lists and dicts, as the checks and Locust record them) and returns
an ``<img>`` whose source is an inline SVG (``data:image/svg+xml;base64``), so a report's
``index.html`` needs no other file and no network. HTML assembly stays in the report modules.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: reports are written by CI and headless runs

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

FAILURE_COLOR = "#cf222e"
DOWN_COLOR = "#bc4c00"
NOTE_COLOR = "#57606a"
_PALETTE = ("#0969da", "#1a7f37", "#8250df", "#bf8700", "#1b7c83", "#a475f9", "#4d2d00")
_EVENT_STYLE = {"failure": ("#82071e", "-"), "down": (DOWN_COLOR, "--"), "note": (NOTE_COLOR, ":")}


@dataclass(frozen=True)
class Event:
    """A moment to mark on a timeline: seconds on the chart's x axis, a label and a kind.

    Kinds: ``failure`` (node killed or frozen), ``down`` (HAProxy marked it DOWN), ``note`` (anything else).
    """

    t: float
    label: str
    kind: str = "note"


def to_img(figure: Figure, alt: str) -> str:
    """The figure as an ``<img>`` with an inline SVG source; closes the figure."""
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "flowlb"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class=chart alt="{html.escape(alt)}" src="data:image/svg+xml;base64,{data}">'


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    figure, axes = plt.subplots(figsize=(width, height))
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#eaeef2", linewidth=0.8)
    axes.set_axisbelow(True)
    return figure, axes


def balance_chart(per_port: Mapping[str, Mapping[str, int]], title: str = "Requests per node, per LB port") -> str:
    """Grouped bars: for each port, the requests each node answered, with the ±50% fair-share band.

    ``per_port`` maps a port label (``"443"``) to ``{node: requests}``.
    """
    ports = list(per_port)
    nodes = sorted({node for counts in per_port.values() for node in counts})
    figure, axes = _figure(max(5.0, 1.6 * len(ports) + 2.5), 3.2)
    width = 0.8 / max(len(nodes), 1)
    for index, node in enumerate(nodes):
        positions = [p + (index - (len(nodes) - 1) / 2) * width for p in range(len(ports))]
        values = [per_port[port].get(node, 0) for port in ports]
        bars = axes.bar(positions, values, width * 0.92, label=node, color=_PALETTE[index % len(_PALETTE)])
        axes.bar_label(bars, fontsize=7, padding=1)
    for position, port in enumerate(ports):
        counts = per_port[port]
        if counts and nodes:
            fair = sum(counts.values()) / len(nodes)
            left, right = position - 0.45, position + 0.45
            axes.fill_between([left, right], 0.5 * fair, 1.5 * fair, color="#1a7f37", alpha=0.08, linewidth=0)
            axes.hlines(fair, left, right, colors=NOTE_COLOR, linestyles=":", linewidth=1)
    axes.set_xticks(range(len(ports)), [f"port {port}" for port in ports])
    axes.set_ylabel("requests answered")
    axes.set_title(title, fontsize=10, loc="left")
    axes.legend(fontsize=8, frameon=False, ncols=min(len(nodes), 4), loc="upper left", bbox_to_anchor=(1, 1))
    return to_img(figure, f"{title}: " + "; ".join(f"{p}: {dict(c)}" for p, c in per_port.items()))


def timeline_chart(
    times: Sequence[float],
    stacks: Mapping[str, Sequence[float]],
    failures: Sequence[float],
    events: Sequence[Event],
    *,
    title: str,
    ylabel: str,
    xlabel: str = "seconds",
) -> str:
    """Stacked areas (e.g. requests per node, or all requests) and failures over time, with event markers.

    ``times`` are the starts of equal intervals; every series in ``stacks`` and ``failures`` has one
    value per interval. Events are drawn as vertical lines (kill/freeze solid red, DOWN dashed).
    """
    figure, axes = _figure(9.0, 3.4)
    steps = list(times)
    if stacks:
        labels = list(stacks)
        axes.stackplot(
            steps, *[list(stacks[label]) for label in labels], labels=labels, step="post", alpha=0.75,
            colors=[_PALETTE[i % len(_PALETTE)] for i in range(len(labels))],
        )
    # failures are few next to requests: their own scale on the right, so a handful still shows
    right = axes.twinx()
    right.spines[["top", "left"]].set_visible(False)
    right.fill_between(steps, list(failures), step="post", color=FAILURE_COLOR, alpha=0.18, linewidth=0)
    right.step(steps, list(failures), where="post", color=FAILURE_COLOR, linewidth=1.2, label="failed")
    right.set_ylabel("failed", color=FAILURE_COLOR)
    right.tick_params(axis="y", colors=FAILURE_COLOR)
    right.set_ylim(bottom=0, top=max([*failures, 1]) * 1.15)
    right.yaxis.set_major_locator(MaxNLocator(integer=True))
    seen: set[str] = set()
    for event in events:
        color, style = _EVENT_STYLE.get(event.kind, _EVENT_STYLE["note"])
        legend = "HAProxy marked DOWN" if event.kind == "down" else event.label
        axes.axvline(event.t, color=color, linestyle=style, linewidth=1.4, label=None if legend in seen else legend)
        seen.add(legend)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10, loc="left")
    axes.set_ylim(bottom=0)
    if steps:
        width = (steps[-1] - steps[0]) / (len(steps) - 1) if len(steps) > 1 else 1.0
        axes.set_xlim(steps[0], steps[-1] + width)
    handles, labels = axes.get_legend_handles_labels()
    failed_handles, failed_labels = right.get_legend_handles_labels()
    axes.legend(handles + failed_handles, labels + failed_labels, fontsize=8, frameon=False,
                loc="upper left", bbox_to_anchor=(1.08, 1))
    return to_img(figure, f"{title} ({len(steps)} intervals, {len(events)} events)")


def latency_chart(per_path: Mapping[str, Mapping[str, float]], title: str = "Latency percentiles per path") -> str:
    """Grouped horizontal bars: p50, p95 and p99 (ms) for each path (``https``, ``handshake``, ``stomp``...)."""
    paths = list(per_path)
    keys = (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"))
    figure, axes = _figure(7.0, max(1.6, 0.75 * len(paths) + 1.0))
    axes.grid(axis="y", visible=False)
    axes.grid(axis="x", color="#eaeef2", linewidth=0.8)
    height = 0.8 / len(keys)
    for index, (key, label) in enumerate(keys):
        positions = [p + (index - 1) * height for p in range(len(paths))]
        values = [float(per_path[path].get(key, 0.0)) for path in paths]
        bars = axes.barh(positions, values, height * 0.92, label=label, color=_PALETTE[index])
        axes.bar_label(bars, fmt="%g ms", fontsize=7, padding=2)
    axes.set_yticks(range(len(paths)), paths)
    axes.invert_yaxis()
    axes.set_xlabel("response time (ms)")
    axes.set_title(title, fontsize=10, loc="left")
    axes.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    return to_img(figure, title)


def capacity_chart(steps: Sequence[Mapping[str, Any]], limits: Mapping[str, float], knee_users: int | None,
                   capacity_users: int | None, title: str = "Throughput against p95 latency, per step") -> str:
    """One line per path through its steps (x: req/s, y: p95 ms), the SLO limits dashed, the knee and capacity marked.

    ``steps`` are :func:`flowlb.load.capacity.verdict`'s: ``users`` and ``paths`` (path -> ``rps``, ``p95_ms``).
    """
    figure, axes = _figure(8.0, 3.8)
    paths = sorted({path for step in steps for path in step["paths"]})
    for index, path in enumerate(paths):
        color = _PALETTE[index % len(_PALETTE)]
        points = [(int(step["users"]), step["paths"][path]) for step in steps if path in step["paths"]]
        xs = [float(figures["rps"]) for _, figures in points]
        ys = [float(figures["p95_ms"]) for _, figures in points]
        axes.plot(xs, ys, marker="o", markersize=4, linewidth=1.4, color=color, label=path)
        for (users, _), x, y in zip(points, xs, ys, strict=True):
            axes.annotate(str(users), (x, y), textcoords="offset points", xytext=(3, 4), fontsize=6, color=color)
            if users == knee_users:
                axes.plot([x], [y], marker="D", markersize=8, fillstyle="none", color=NOTE_COLOR)
            if users == capacity_users:
                axes.plot([x], [y], marker="o", markersize=11, fillstyle="none", color=color)
        if path in limits:
            axes.axhline(float(limits[path]), color=color, linestyle="--", linewidth=0.9, alpha=0.7)
    axes.plot([], [], marker="D", fillstyle="none", linestyle="none", color=NOTE_COLOR, label="knee")
    axes.plot([], [], marker="o", markersize=9, fillstyle="none", linestyle="none", color=NOTE_COLOR,
              label="capacity at SLO")
    axes.plot([], [], linestyle="--", color=NOTE_COLOR, label="p95 limit")
    axes.set_xlabel("requests per second on the path (labels: users)")
    axes.set_ylabel("p95 response time (ms)")
    axes.set_title(title, fontsize=10, loc="left")
    axes.set_xlim(left=0)
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    return to_img(figure, f"{title} ({len(steps)} steps)")
