"""The load run's index.html from a small fake run directory: per-second history, failover, latency."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from flowlb.evidence import DOWN, FAILURE, timeline_event
from flowlb.load import report
from flowlb.load.results import failover_summary, read_history
from flowlb.reporting import RunInfo, finish, publish, run_directory

HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,"
    "Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,"
    "Total Min Response Time,Total Max Response Time,Total Average Content Size"
)
T0 = 1_700_000_000


def history_row(t: int, name: str, requests: int, failures: int) -> str:
    kind = "" if name == "Aggregated" else "GET"
    return f"{t},10,{kind},{name},0,0" + ",2" * 11 + f",{requests},{failures},2,2.0,1,9,300"


def fake_run(directory: Path) -> Path:
    """A finished failover run: 10 s at 100 req/s, node1 killed at +4.5 s, 3 failures in second 5."""
    totals, failures = 0, 0
    rows = [HEADER, history_row(T0, "Aggregated", 0, 0), history_row(T0, "Aggregated", 0, 0)]
    for second in range(1, 11):
        totals += 100
        failures += 3 if second == 5 else 0
        rows += [history_row(T0 + second, "/rest", totals, failures), history_row(T0 + second, "Aggregated", totals,
                                                                                 failures)]
    (directory / "locust_stats_history.csv").write_text("\n".join(rows) + "\n")
    events = [
        timeline_event(T0 + 4.5, "killed node1", FAILURE, node="node1", action="kill"),
        timeline_event(T0 + 4.6, "HAProxy marked node1 DOWN in commander-server-backend", DOWN, node="node1",
                       backend="commander-server-backend"),
        timeline_event(T0 + 6.2, "HAProxy marked node1 DOWN in commander-web-backend", DOWN, node="node1",
                       backend="commander-web-backend"),
    ]
    (directory / "timeline.json").write_text(json.dumps({"load_seen": T0 + 1.0, "events": events}))
    figures = {"requests": 1000, "failures": 3, "rps": 100.0, "p50_ms": 2.0, "p95_ms": 5.0, "p99_ms": 9.0}
    summary = {
        "kind": "load", "target": "local", "profile": "hardened", "exit_code": 0,
        "plan": {"run_time": "10s", "users": 10, "mix": "api=1", "failover": "kill"},
        "total": {"name": "total", **figures}, "paths": {"https": {"name": "https", **figures}},
        "entries": [{"name": "GET /rest", **figures}],
        "failover": failover_summary(read_history(directory / "locust_stats_history.csv"), events),
    }
    (directory / "summary.json").write_text(json.dumps(summary))
    return directory


def svgs(page: str) -> list[str]:
    return [base64.b64decode(data).decode() for data in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)]


def test_history_is_counted_per_second_from_the_aggregated_totals(tmp_path: Path) -> None:
    history = read_history(fake_run(tmp_path) / "locust_stats_history.csv")
    assert [s.t for s in history] == list(range(T0, T0 + 11)), "one row per second, the duplicate first dropped"
    assert [s.requests for s in history] == [0] + [100] * 10
    assert [s.failures for s in history] == [0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0]
    assert read_history(tmp_path / "missing.csv") == []


def test_failover_summary_counts_the_outage(tmp_path: Path) -> None:
    failover = json.loads((fake_run(tmp_path) / "summary.json").read_text())["failover"]
    assert failover["node"] == "node1" and failover["action"] == "kill"
    assert failover["detection_s"] == {"commander-server-backend": 0.1, "commander-web-backend": 1.7}
    assert failover["outage_s"] == 1.7
    assert failover["failures_during_outage"] == 3, "seconds 5, 6 and 7: kill at +4.5 s, last DOWN at +6.2 s"
    assert failover["requests_during_outage"] == 300
    assert failover["failures_after_down"] == 0
    assert failover_summary([], []) == {}


def test_page_draws_throughput_with_the_events_and_latency_per_path(tmp_path: Path) -> None:
    page = report.write(fake_run(tmp_path)).read_text()
    throughput, latency = svgs(page)
    assert "killed node1" in throughput and "HAProxy marked DOWN" in throughput
    assert "p95" in latency and "https" in latency
    assert "<a href=locust.html>" in page
    assert "<b>3</b> of 300 requests failed during the outage" in page
    assert "+5.50 s" in page and "commander-web-backend" in page
    assert "<script" not in page and "://" not in page, "self-contained, offline"


def test_a_run_without_history_or_timeline_still_gets_a_page(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"exit_code": 1, "paths": {}}))
    page = report.render(tmp_path)
    assert "No per-second history" in page and "Failover" not in page


def test_latest_follows_the_newest_run_of_either_kind(tmp_path: Path) -> None:
    info = RunInfo("local", "hardened", "spec.toml")
    conformance = finish(run_directory(tmp_path, info), info, [])
    assert (tmp_path / "latest").resolve() == conformance.resolve()
    partial = tmp_path / "20991231-235959-load-local.partial"
    partial.mkdir()
    report.write(fake_run(partial))
    load = publish(partial)
    assert (tmp_path / "latest").resolve() == load.resolve()
    assert (load / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["latest", conformance.name, load.name])


def test_hostile_names_are_escaped_and_the_charts_are_not(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script>"
    summary = json.loads((fake_run(tmp_path) / "summary.json").read_text())
    summary.update(target=hostile, profile=hostile)
    summary["plan"].update(mix=hostile, failover=hostile)
    summary["failover"].update(action=hostile, node=hostile)
    summary["failover"]["events"] = [{"t": T0 + 4.5, "what": hostile}]
    summary["entries"] = [{"name": hostile, "requests": hostile}]
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    page = report.render(tmp_path)
    assert "<script" not in page
    assert page.count("&lt;script&gt;") == 9, "target, profile, mix, failover, action, node, event, entry x2"
    assert len(svgs(page)) == 2, "the plots' <img> tags are inserted as HTML"
