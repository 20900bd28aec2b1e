"""When an arrival-rate run is invalid (exit code 3), on synthetic figures: each rule at its bound and past it,
/proc/stat read with steal as busy, and the generators' reports folded into summary.json."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("hdrh", reason="hdrhistogram is not installed (scripts/setup.sh installs it)")

from flowlb.load import arrivalresult, hdr
from flowlb.load.arrival import Counts
from flowlb.load.validity import CpuTimes, RunFacts, busy_percent, parse_proc_stat, reasons

GOOD = RunFacts(counts=Counts(offered=1000, started=1000, late=10, completed=1000, worst_late_ms=40.0),
                offered_rate=100.0, measured_seconds=10.0, generator_cpu=[60.0, 90.0], machine_cpu=90.0,
                generators_expected=2, generators_reported=2)


def test_a_run_at_every_bound_is_valid() -> None:
    assert reasons(GOOD) == []
    assert reasons(replace(GOOD, counts=replace(GOOD.counts, completed=950))) == []  # exactly 95 %
    assert reasons(replace(GOOD, machine_cpu=None)) == []  # no /proc/stat: not judged


@pytest.mark.parametrize(("change", "reason"), [
    ({"counts": replace(GOOD.counts, completed=949)}, "achieved 94.9 req/s of 100 offered (95%, under 95%"),
    ({"counts": replace(GOOD.counts, completed=500, dropped=500)}, "500 dropped"),
    ({"counts": replace(GOOD.counts, late=11)}, "11 of 1000 starts (1.1%) were over 50 ms late"),
    ({"generator_cpu": [60.0, 90.1]}, "generator process 2 used 90.1 % of a core (over 90 %)"),
    ({"machine_cpu": 97.5}, "the machine was 97.5 % busy, steal included (over 90 %)"),
    ({"generators_reported": 1}, "only 1 of 2 generators reported"),
], ids=["achieved", "dropped", "late", "generator-cpu", "machine-cpu", "lost-generator"])
def test_each_rule_names_the_run_invalid(change: dict, reason: str) -> None:
    found = reasons(replace(GOOD, **change))
    assert len(found) == 1 and reason in found[0], found


def test_proc_stat_counts_steal_as_busy_and_idle_and_iowait_as_idle() -> None:
    before = parse_proc_stat("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
    after = parse_proc_stat("cpu  150 0 150 710 100 0 0 90 40 0\n")  # guest is inside user already
    assert (before, after) == (CpuTimes(200, 1000), CpuTimes(390, 1200))
    assert busy_percent(before, after) == 95.0
    assert busy_percent(after, before) is None and busy_percent(None, after) is None
    with pytest.raises(ValueError, match="no 'cpu' line"):
        parse_proc_stat("intr 1 2 3\n")


def generator_report(values_ms: list[float], counts: Counts, cpu: float, machine: float | None) -> dict:
    path = hdr.PathLatency(interval_s=1.0)
    for index, ms in enumerate(values_ms):
        path.record(index * 0.1, ms, measured=index * 0.1 >= 1.0)
    return {"start": 1000.0, "seconds": 5.0, "warmup_s": 1.0, "interval_s": 1.0, "generator_cpu": cpu,
            "machine_cpu": machine, "counts": {"https": counts.as_dict()}, "latency": {"https": path.encoded()}}


def test_reports_of_two_generators_fold_into_summary_figures(tmp_path: Path) -> None:
    counts = Counts(offered=200, started=200, completed=200, failed=2)
    reports = [generator_report([5.0] * 50, counts, 30.0, 50.0), generator_report([5.0] * 49 + [2000.0], counts,
                                                                                    40.0, 60.0)]
    result, windows = arrivalresult.outcome(reports, generators_expected=2)
    arrivalresult.write(tmp_path, result, windows)
    summary: dict = {}
    assert arrivalresult.fold_arrival(summary, tmp_path, 0) == 0
    assert summary["rate"]["offered"] == pytest.approx(100.0) and summary["rate"]["achieved"] == pytest.approx(100.0)
    assert summary["latency_ms"]["https"]["count"] == 80  # 2 x 40 measured; the warm-up's 2 x 10 left out
    assert summary["latency_ms"]["https"]["max"] == pytest.approx(2000.0, rel=0.01)
    assert summary["latency_ms"]["https"]["failed"] == 4
    assert summary["validity"] == {"valid": True, "reasons": [], "generator_cpu": [30.0, 40.0], "machine_cpu": 60.0,
                                   "generators": 2}
    assert [p["t"] for p in summary["latency_over_time"]["paths"]["https"]] == [1.0, 2.0, 3.0, 4.0]
    assert summary["hgrm"] == ["latency-https.hgrm"]
    assert "Percentile" in (tmp_path / "latency-https.hgrm").read_text()


def test_a_starved_or_missing_generator_makes_the_exit_code_3(tmp_path: Path) -> None:
    starved = Counts(offered=200, started=120, late=100, completed=120, missed=80)
    result, windows = arrivalresult.outcome([generator_report([5.0] * 50, starved, 99.0, 100.0)], 2)
    arrivalresult.write(tmp_path, result, windows)
    summary: dict = {}
    assert arrivalresult.fold_arrival(summary, tmp_path, 0) == 3
    assert len(summary["validity"]["reasons"]) == 5, summary["validity"]
    assert arrivalresult.fold_arrival({}, tmp_path / "none", 0) == 3  # no arrival.json at all
    nobody, _ = arrivalresult.outcome([], 2)
    assert nobody["validity"] == {"valid": False, "reasons": ["none of 2 generators reported"]}
    assert json.loads((tmp_path / "arrival.json").read_text())["validity"]["valid"] is False


def test_requests_completed_after_the_window_do_not_make_the_rate() -> None:
    """A starved generator sends the whole window late, in a burst: every request completes, yet the rate fell."""
    behind = replace(GOOD, sending_seconds=20.0)
    assert behind.achieved_rate == pytest.approx(50.0)
    assert any("achieved 50.0 req/s of 100 offered" in line for line in reasons(behind))
    assert replace(GOOD, sending_seconds=9.0).achieved_rate == pytest.approx(100.0)  # never above the window's
