"""The conformance report without a cluster: pictures from sample figures, fixes first and once, cases merged,
passed areas folded, atomic publishing."""

from __future__ import annotations

import base64
import html
import json
import re
import time
import warnings
from datetime import date
from pathlib import Path

import pytest

from flowlb import plots, reporting
from flowlb.checks.stream import MAX_INTERVALS, Outcome, RequestStream
from flowlb.policyfile import Waiver
from flowlb.reporting import CheckResult, RunInfo, finish, render_html, run_directory, split_fix
from flowlb.verdict import judge

BALANCE = "conformance/balance/test_requests_spread_over_all_nodes.py::test_requests_spread_evenly"
KILL = "conformance/failover/test_killed_node_under_load.py::test_no_request_lost_when_a_node_is_killed"


def svgs(page: str) -> list[str]:
    """The inline SVG documents of a page's ``<img>`` charts."""
    return [base64.b64decode(data).decode() for data in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)]


def kill_timeline() -> dict[str, object]:
    steps = [round(0.5 * i, 1) for i in range(8)]
    return {
        "interval_s": 0.5,
        "t": steps,
        "nodes": {"node1": [10] * 8, "node2": [10] * 8, "node3": [10, 10, 10, 2, 0, 0, 0, 0]},
        "failed": [0, 0, 0, 3, 1, 0, 0, 0],
        "events": [
            {"t": 1.6, "what": "killed node3", "kind": "failure"},
            {"t": 2.1, "what": "HAProxy marked node3 DOWN", "kind": "down"},
        ],
    }


def sample_results() -> list[CheckResult]:
    results = [
        CheckResult(f"{BALANCE}[{port}]", "balance", "Balancing", "spread", figures={
            "requests_per_node": {"node1": 20, "node2": 20, "node3": 20},
        })
        for port in ("443", "8443")
    ]
    results.append(CheckResult(
        f"{BALANCE}[8000]", "balance", "Balancing", "spread", outcome="failed",
        message="60 requests were answered node1=60: node2 got 0. Fix: `balance roundrobin` and weight > 0.",
        figures={"requests_per_node": {"node1": 60, "node2": 0, "node3": 0}},
    ))
    results.append(CheckResult(KILL, "failover", "Killed node", "no loss", figures={
        "kill_timeline": kill_timeline(), "kill_detection_s": 0.5,
    }))
    return results


def test_each_chart_is_an_inline_svg_image() -> None:
    images = [
        plots.balance_chart({"443": {"node1": 20, "node2": 19, "node3": 21}}),
        plots.timeline_chart([0, 1, 2], {"requests": [5, 6, 7]}, [0, 2, 0],
                             [plots.Event(1.2, "killed node1", "failure")], title="t", ylabel="requests/s"),
        plots.latency_chart({"https": {"p50_ms": 2, "p95_ms": 4, "p99_ms": 6}, "stomp": {"p50_ms": 3}}),
    ]
    for image in images:
        assert image.startswith("<img ")
        (svg,) = svgs(image)
        assert "<svg" in svg and "</svg>" in svg


def test_a_single_interval_timeline_draws_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. matplotlib's singular x limits
        assert svgs(plots.timeline_chart([0.0], {"node1": [3]}, [0], [], title="one", ylabel="requests"))


def test_page_embeds_balance_and_failover_pictures_from_the_figures() -> None:
    results = sample_results()
    page = render_html(RunInfo("local", "hardened", "spec.toml"), results, {"passed": 3, "failed": 1, "skipped": 0})
    charts = svgs(page)
    assert len(charts) == 2, "one balance chart (all ports) and one failover timeline"
    balance, timeline = charts
    assert all(f"port {port}" in balance for port in ("443", "8000", "8443"))
    assert "killed node3" in timeline and "HAProxy marked DOWN" in timeline
    assert "<script" not in page and "http://" not in page and "https://" not in page, "self-contained, offline"


def test_failed_checks_come_first_with_their_fix_prominent() -> None:
    page = render_html(RunInfo("local", "kb", "spec.toml"), sample_results(), {"passed": 3, "failed": 1, "skipped": 0})
    assert page.index("What to fix") < page.index("id='area-balance'")
    assert "<div class=fix><b>Fix:</b> <code>balance roundrobin</code> and weight &gt; 0.</div>" in page
    assert "node2 got 0." in page
    assert "kill_detection_s: 0.5" in page, "scalar figures stay on the page"
    assert "kill_timeline:" not in page, "series are drawn, not printed"


def test_fix_is_split_from_the_message() -> None:
    assert split_fix("node2 got 0. Fix: weight > 0.") == ("node2 got 0.", "weight > 0.")
    assert split_fix("no fix here") == ("no fix here", "")


def test_malformed_figures_are_not_drawn() -> None:
    bad = CheckResult(KILL, "failover", "Killed", "", figures={"kill_timeline": {**kill_timeline(), "failed": [1]}})
    odd = CheckResult(BALANCE + "[443]", "balance", "B", "", figures={"requests_per_node": "node1=3"})
    page = render_html(RunInfo("local", "kb", "s"), [bad, odd], {"passed": 2, "failed": 0, "skipped": 0})
    assert svgs(page) == []


def test_finish_publishes_atomically_and_points_latest(tmp_path: Path) -> None:
    info = RunInfo("local", "hardened", "spec.toml", started=time.time())
    final = finish(run_directory(tmp_path, info), info, sample_results())
    assert not final.name.endswith(".partial")
    assert (tmp_path / "latest").resolve() == final.resolve()
    assert {p.name for p in final.iterdir()} >= {"index.html", "summary.json"}
    summary = json.loads((final / "summary.json").read_text())
    assert summary["checks"][-1]["figures"]["kill_timeline"]["events"][0]["what"] == "killed node3"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_a_report_that_cannot_be_written_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> str:
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(reporting, "render_html", broken)
    info = RunInfo("local", "hardened", "spec.toml")
    with pytest.raises(RuntimeError):
        finish(run_directory(tmp_path, info), info, sample_results())
    assert list(tmp_path.iterdir()) == []


def test_stream_series_is_bounded_and_counts_per_node() -> None:
    stream = RequestStream(lambda: None, "/x")  # type: ignore[arg-type, return-value]
    stream.outcomes = [Outcome(i * 0.001, 0.001, f"node{i % 3 + 1}", 200, None) for i in range(20000)]
    stream.outcomes.append(Outcome(5.0, 2.0, None, None, "ReadTimeoutError"))
    series = stream.series(until=20.0)
    assert len(series["t"]) <= MAX_INTERVALS  # type: ignore[arg-type]
    nodes = series["nodes"]
    assert isinstance(nodes, dict) and set(nodes) == {"node1", "node2", "node3"}
    assert sum(sum(v) for v in nodes.values()) == 20000
    assert sum(series["failed"]) == 1  # type: ignore[arg-type]
    short = stream.series(until=0.05)
    assert short["interval_s"] == 0.01 and len(short["t"]) == 6  # type: ignore[arg-type]


def test_hostile_names_are_escaped_and_the_charts_are_not() -> None:
    hostile = "<script>alert(1)</script>"
    check = CheckResult(f"x.py::test[{hostile}']", hostile, hostile, f"guards `{hostile}`", outcome="failed",
                        message=f"{hostile} Fix: `{hostile}`", figures={hostile: hostile})
    info = RunInfo(hostile, hostile, hostile, nodes=[hostile], extra_listeners={hostile: hostile})
    page = render_html(info, [check, *sample_results()], {"passed": 3, "failed": 2, "skipped": 0})
    assert "<script" not in page
    assert page.count("&lt;script&gt;") == 18, (
        "header x6, verdict reason, to-do x3 (link, problem, fix), area name and id, check x6 (title, guards, "
        "case id, case name, problem, figure name and value)")
    assert "id='x.py::test[&lt;script&gt;alert(1)&lt;/script&gt;&#39;]'" in page, "the quote cannot end the id"
    assert "<div class=fix><b>Fix:</b> <code>&lt;script&gt;alert(1)&lt;/script&gt;</code></div>" in page
    assert len(svgs(page)) == 2, "the plots' <img> tags are inserted as HTML"


def test_runs_started_in_the_same_second_get_their_own_directories(tmp_path: Path) -> None:
    info = RunInfo("local", "hardened", "spec.toml", started=time.time())
    first, second = run_directory(tmp_path, info), run_directory(tmp_path, info)
    assert first != second
    published = [finish(directory, info, sample_results()) for directory in (first, second)]
    assert len({p.name for p in published}) == 2 and all((p / "summary.json").is_file() for p in published)
    third = run_directory(tmp_path, info)  # the published names stay taken
    assert third.name.removesuffix(".partial") not in {p.name for p in published}


# The page read in one screen: cases merged, passed areas folded, each fix once, sections in reading order.

TLS = "conformance/tls/test_modern_tls_accepted.py::test_modern_version_accepted"
SMOKE = "conformance/smoke/test_every_port_answers.py::test_port_reaches_the_right_node_port"
REDIRECT = "conformance/redirect/test_redirect_to_https.py::test_port_80_redirects_to_https_on_the_same_host"
STICK = "conformance/balance/test_web_sessions_stick.py::test_browser_stays_on_its_web_node"
BACKUP = "conformance/failover/test_backup_takes_over.py::test_backup_serves_only_when_every_primary_is_out"
DEAD = "conformance/stomp/test_dead_node_sessions.py::test_sessions_of_a_dead_node_are_closed"
STATS = "conformance/security/test_stats_page_not_public.py::test_stats_page_is_not_served"

CAUSE_FIX = "`bind :8443 ssl crt /path/to/lb.pem`"
TLS_FIX = "allow TLS 1.2 and 1.3 on every TLS bind."
SMOKE_FIX = "bind every Flow port and send it to its backend."
REDIRECT_FIX = "redirect port 80 with `http-request redirect scheme https`."
STICK_FIX = "insert a cookie for the web backend: `cookie SERVERID insert indirect nocache`."


def check(nodeid: str, check_id: str, outcome: str = "passed", message: str = "", fix: str = "",
          level: str = "core", **figures: object) -> CheckResult:
    """One test of a catalogued check, its area the id's first part."""
    area = check_id.split("/", maxsplit=1)[0]
    return CheckResult(nodeid, area, f"{check_id} title", f"what {check_id} guards", check_id=check_id, fix=fix,
                       level=level, outcome=outcome, message=message, figures=dict(figures))


def run_with_a_cause() -> list[CheckResult]:
    """A run on a config with one broken TLS port (the cause of two failed checks), a failure of its own at core
    and at recommended level, a waived failure, a skip that is a gap and one that does not apply."""
    tls = [check(f"{TLS}[TLS1.{v}-{port}]", "tls/modern_tls_accepted", fix=TLS_FIX,
                 **({"outcome": "failed", "message": f"port 8443 refuses TLSv1_{v}. Fix: {TLS_FIX}"}
                    if port == 8443 else {}))
           for v in (2, 3) for port in (443, 8443, 61613)]
    return [
        *tls,
        check(f"{SMOKE}[8443-to-server]", "smoke/every_port_answers", "failed", "SSLError on 8443", SMOKE_FIX),
        *(check(f"{REDIRECT}[{method}]", "redirect/redirect_to_https", "failed",
                f"{method} on 80 got 200. Fix: {REDIRECT_FIX}", REDIRECT_FIX) for method in ("GET", "HEAD")),
        check(STICK, "balance/web_sessions_stick", "failed", "a browser moved between nodes", STICK_FIX,
              "recommended", new_browsers_per_node={"web1": 4, "web2": 4}),
        check(f"{STATS}[80]", "security/stats_page_not_public", "failed", "the stats page answered on 80"),
        check(BACKUP, "failover/backup_takes_over", "skipped", "Skipped: does not apply: no backup server"),
        check(f"{DEAD}[cut_off]", "stomp/dead_node_sessions", "skipped", "Skipped: the nodes share one address"),
        check(f"{DEAD}[kill]", "stomp/dead_node_sessions", stomp_kill_session_closed_s=0.1),
    ]


CAUSES = {"causes": [{"rule": "FLOW020", "line": 57, "text": "bind *:8443", "what": "port 8443 is bound without `ssl`",
                      "why": "clients configured for TLS fail the handshake", "fix": CAUSE_FIX, "roles": ["server_tls"],
                      "explains": ["smoke/every_port_answers", "tls/modern_tls_accepted"]}],
          "unexplained": [], "masked": [], "groups": []}


def page_with_a_cause() -> str:
    results = run_with_a_cause()
    waiver = Waiver("security/stats_page_not_public", "CHG-9: stats move to a private port", date(2099, 12, 31))
    judgement = judge(results, [waiver], date(2026, 1, 1))
    counts = {outcome: sum(r.outcome == outcome for r in results) for outcome in ("passed", "failed", "skipped")}
    return render_html(RunInfo("local", "27-nossl", "spec.toml"), results, counts, judgement, CAUSES)


def text_of(page: str) -> str:
    """What a reader sees: the page without tags and entities, and without the backticks of config snippets."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.rsplit("</style>", 1)[-1]))


def test_the_cases_of_a_check_are_one_line_with_an_anchor_for_each() -> None:
    results = [check(f"{TLS}[TLS1.{v}-{port}]", "tls/modern_tls_accepted")
               for v in (2, 3) for port in (443, 8443, 61613)]
    page = render_html(RunInfo("local", "hardened", "spec.toml"), results, {"passed": 6, "failed": 0, "skipped": 0})
    assert "✓ tls/modern_tls_accepted — 6 cases" in text_of(page)
    assert text_of(page).count("tls/modern_tls_accepted —") == 1 and "TLS1.3-61613" not in text_of(page)
    assert all(f"id='{result.nodeid}'" in page for result in results), "links to each case still land"


def test_an_area_without_failure_is_folded_and_one_with_a_failure_open() -> None:
    page = page_with_a_cause()
    assert "<details class='area' id='area-stomp'>" in page, "passed (and skipped) only: folded"
    assert "<details class='area broken' id='area-tls' open>" in page
    assert "<details class='area' id='area-security'>" in page, "a waived failure is accepted: folded"


def test_what_a_check_guards_sits_behind_a_click() -> None:
    page = page_with_a_cause()
    for check_id in ("tls/modern_tls_accepted", "stomp/dead_node_sessions", "balance/web_sessions_stick"):
        assert page.count(f"what {check_id} guards") == 1
        assert f"<details class=guards><summary>what it guards</summary>what {check_id} guards</details>" in page


def test_no_fix_is_shown_twice() -> None:
    """A cause's fix once; the fix of a check it explains not at all (the cause's is the one to apply); a fix
    several cases of a check share once."""
    seen = text_of(page_with_a_cause())
    counts = {fix: seen.count(fix.replace("`", "")) for fix in (CAUSE_FIX, TLS_FIX, SMOKE_FIX, REDIRECT_FIX, STICK_FIX)}
    assert counts == {CAUSE_FIX: 1, TLS_FIX: 0, SMOKE_FIX: 0, REDIRECT_FIX: 1, STICK_FIX: 1}


def test_the_failed_checks_a_cause_explains_are_links_under_it_with_their_problem() -> None:
    page = page_with_a_cause()
    causes = page[page.index("id=causes"):page.index("id=fix")]
    assert f"<a href='#{TLS}[TLS1.2-8443]'>tls/modern_tls_accepted</a>: port 8443 refuses TLSv1_2." in causes
    assert "(and 1 more case)" in causes
    assert f"<a href='#{SMOKE}[8443-to-server]'>smoke/every_port_answers</a>: SSLError on 8443" in causes
    assert "redirect/redirect_to_https" not in causes


def test_the_sections_come_in_reading_order() -> None:
    """Verdict, causes, what else to fix, warnings, waived, skipped, then the checks by area."""
    page = page_with_a_cause()
    order = ["class='outcome fail'", "id=causes", "id=fix", "id=warnings", "id=waived", "id=skipped", "id=areas"]
    assert [page.index(mark) for mark in order] == sorted(page.index(mark) for mark in order)
    assert "What else to fix" in page
    fix = page[page.index("id=fix"):page.index("id=warnings")]
    assert "redirect/redirect_to_https" in fix and "web_sessions_stick" not in fix, "warnings apart"
    waived = page[page.index("id=waived"):page.index("id=skipped")]
    assert "CHG-9: stats move to a private port" in waived and "2099-12-31" in waived
    skipped = page[page.index("id=skipped"):page.index("id=areas")]
    assert skipped.index("the nodes share one address") < skipped.index("Does not apply") < skipped.index(
        "no backup server"), "gaps first, what does not apply apart"


def test_a_live_lb_s_failures_are_listed_by_what_they_share() -> None:
    results = [check(f"{TLS}[TLS1.2-8443]", "tls/modern_tls_accepted", "failed", "refused", TLS_FIX),
               check(f"{SMOKE}[8443-to-server]", "smoke/every_port_answers", "failed", "SSLError", SMOKE_FIX),
               check(f"{REDIRECT}[GET]", "redirect/redirect_to_https", "failed", "got 200", REDIRECT_FIX)]
    groups = {"causes": [], "unexplained": [], "masked": [], "groups": [
        {"kind": "port", "key": "server_tls", "hint": "look first at what listens on 8443",
         "explains": ["smoke/every_port_answers", "tls/modern_tls_accepted"]},
        {"kind": "check", "key": "redirect/redirect_to_https", "hint": REDIRECT_FIX,
         "explains": ["redirect/redirect_to_https"]}]}
    page = render_html(RunInfo("live", "live", "spec.toml"), results, {"passed": 0, "failed": 3, "skipped": 0},
                       judge(results), groups)
    todo = text_of(page[page.index("id=fix"):page.index("id=areas")])
    assert "port server_tls: look first at what listens on 8443" in todo
    assert todo.index("tls/modern_tls_accepted: refused") > todo.index("port server_tls")
    assert text_of(page).count(REDIRECT_FIX.replace("`", "")) == 1


def test_a_cause_of_a_core_failure_comes_before_a_cause_of_warnings_only() -> None:
    results = [check(STICK, "balance/web_sessions_stick", "failed", "moved", STICK_FIX, "recommended"),
               check(f"{REDIRECT}[GET]", "redirect/redirect_to_https", "failed", "got 200", REDIRECT_FIX)]
    causes = {"causes": [
        {"rule": "FLOW034", "line": 71, "text": "backend be_web", "what": "", "why": "no affinity", "fix": STICK_FIX,
         "roles": [], "explains": ["balance/web_sessions_stick"]},
        {"rule": "FLOW010", "line": 40, "text": "frontend fe_http", "what": "", "why": "no redirect",
         "fix": REDIRECT_FIX, "roles": [], "explains": ["redirect/redirect_to_https"]}],
        "unexplained": [], "masked": [], "groups": []}
    page = render_html(RunInfo("local", "x", "spec.toml"), results, {"passed": 0, "failed": 2, "skipped": 0},
                       judge(results), causes)
    assert page.index("fe_http") < page.index("be_web"), "what fails the run first"
    assert page.count("recommended checks only: a warning") == 1
    assert page.index("recommended checks only: a warning") > page.index("be_web")


def test_hostile_causes_and_groups_are_escaped() -> None:
    """A cause's line as written comes from the operator's file, a group's key from a failure message."""
    hostile = "<script>alert(1)</script>"
    results = [check(f"{TLS}[TLS1.2-8443]", "tls/modern_tls_accepted", "failed", hostile, hostile),
               check(f"{REDIRECT}[GET]", "redirect/redirect_to_https", "failed", hostile, hostile),
               check(f"{SMOKE}[80]", "smoke/every_port_answers", "failed", hostile, hostile)]
    cause = {"rule": hostile, "line": 3, "text": hostile, "what": hostile, "why": hostile, "fix": f"`{hostile}`",
             "roles": [], "explains": ["tls/modern_tls_accepted"]}
    with_config = {"causes": [cause], "masked": [{**cause, "line": 4, "fix": hostile + "!"}], "unexplained": [],
                   "groups": []}
    live = {"causes": [], "masked": [], "unexplained": [], "groups": [
        {"kind": "message", "key": hostile, "hint": hostile,
         "explains": ["redirect/redirect_to_https", "smoke/every_port_answers"]}]}
    for causes in (with_config, live):
        page = render_html(RunInfo("local", "x", "s"), results, {"passed": 0, "failed": 3, "skipped": 0},
                           judge(results), causes)
        assert "<script" not in page and "&lt;script&gt;" in page
