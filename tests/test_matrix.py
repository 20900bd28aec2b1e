"""The side-by-side report of ``flowlb matrix``: differences first, every version's outcome, names escaped.

Fails when a check whose outcome differs between versions is not listed first, when a version's
outcome is missing, or when a hostile check name reaches the page unescaped.
"""

from __future__ import annotations

from typing import Any

from flowlb.matrix import matrix_rows
from flowlb.reporting import TEMPLATES


def summary(version: str, outcomes: dict[str, str]) -> dict[str, Any]:
    checks = [{"nodeid": nodeid, "check_id": nodeid.split("::")[0], "outcome": outcome, "message": f"{outcome} msg"}
              for nodeid, outcome in outcomes.items()]
    counts = {o: sum(c["outcome"] == o for c in checks) for o in ("passed", "failed", "skipped")}
    return {"run": {"haproxy": version + ".1", "openssl": "OpenSSL 3"}, "counts": counts,
            "verdict": "fail" if counts["failed"] else "pass", "checks": checks}


def test_differences_come_first() -> None:
    summaries = {
        "2.6": summary("2.6", {"a::x": "passed", "b::y": "passed"}),
        "3.2": summary("3.2", {"a::x": "passed", "b::y": "failed"}),
    }
    rows = matrix_rows(summaries)
    assert [row["nodeid"] for row in rows] == ["b::y", "a::x"]
    assert rows[0]["differs"] and not rows[1]["differs"]
    assert rows[0]["outcomes"] == {"2.6": "passed", "3.2": "failed"}


def test_page_escapes_names_and_links_each_version() -> None:
    hostile = "<script>alert(1)</script>"
    summaries = {"2.6": summary("2.6", {f"{hostile}::x": "failed"}), "3.0": summary("3.0", {f"{hostile}::x": "passed"})}
    page = TEMPLATES.get_template("matrix.html.j2").render(versions=["2.6", "3.0"], rows=matrix_rows(summaries),
                                                           summaries=summaries, config=hostile)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "1 of 1</b> results differ between versions" in page
    assert 'href="2.6/latest/index.html"' in page and 'href="3.0/latest/index.html"' in page
