"""The article as found: the kb profile fails exactly the article's real defects, the rest passes.

Pinned so that the report for the article reads like docs/findings.md. Each expected failure names
the docs/findings.md item it shows. Not failed, on purpose: the TLS floor (HAProxy >= 2.2 defaults to
TLS 1.2, so the article's missing floor only bites on its HAProxy 1.5) and the tcplog warning
(cosmetic). The article's config as printed does not load at all; that is pinned too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.suite import run_conformance

KB_FINDINGS = {
    "redirect/test_redirect_drops_port_80.py": "article 7: the redirect keeps the Host header's port",
    "security/test_stats_page_not_public.py": "article 2: `stats enable` publishes the stats page on 443/8000/8443",
    "tls/test_forwarded_headers.py": "article 8: no X-Forwarded-For / X-Forwarded-Proto",
    "failover/test_killed_node_under_load.py": "article 8: no retries or redispatch: requests to a dead node fail",
    "security/test_slow_headers_cut_off.py": "article 5: no timeouts at all",
    "stomp/test_new_sessions_follow_health.py": "article 3: STOMP servers checked with a bare TCP connect to 8000",
    "stomp/test_dead_node_sessions.py": "article 3, 8: a frozen node stays UP, keeps its STOMP sessions",
    "balance/test_web_sessions_stick.py": "article 9: no cookie affinity for web sessions (CloudBees' ingress has it)",
    "reload/test_reload_under_load.py": "article 10: a reload brings drained and DOWN servers back (no server state)",
}


def failed_files(report_dir: Path) -> set[str]:
    summary = json.loads((report_dir / "latest" / "summary.json").read_text())
    return {
        c["nodeid"].split("::")[0].removeprefix("conformance/") for c in summary["checks"] if c["outcome"] == "failed"
    }


@pytest.mark.timeout(900)  # a whole conformance run, STOMP's 45 s idle check included
def test_kb_profile_fails_exactly_the_articles_defects(haproxy_bin: str, tmp_path: Path) -> None:
    result = run_conformance("--target", "local", "--profile", "kb", "--report-dir", str(tmp_path), timeout=840)
    assert result.returncode == 1, result.stdout[-2000:]
    found = failed_files(tmp_path)
    assert found == set(KB_FINDINGS), (
        f"unexpected: {sorted(found - set(KB_FINDINGS))}; missing: {sorted(set(KB_FINDINGS) - found)}"
    )


def test_the_article_as_printed_does_not_load(haproxy_bin: str, tmp_path: Path) -> None:
    for name, reason in (
        ("kbec-00281.cfg", "no such ACL : '{ssl_fc}'. (line 4: `redirect scheme https if !{ssl_fc}`)"),
        ("kbec-00281-verbatim.cfg", "verbatim.cfg:3] : unknown keyword '\xa0\xa0mode' in 'frontend' section"),
    ):
        config = REPO / "fixtures" / name
        result = run_conformance("--target", "local", "--haproxy-cfg", str(config), "--report-dir", str(tmp_path))
        assert result.returncode == 1, result.stdout[-2000:]
        summary = json.loads((tmp_path / "latest" / "summary.json").read_text())
        loads = next(c for c in summary["checks"] if c["nodeid"].startswith("conformance/loads/"))
        assert loads["outcome"] == "failed" and "does not load" in loads["message"] and reason in loads["message"]
        assert summary["counts"]["passed"] == 0 and summary["counts"]["skipped"] > 50
