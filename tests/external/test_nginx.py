"""nginx as the LB, a second make the external target judges right: the careful config passes every check that
runs (each skip naming what would let it run), and each of its mistakes is caught in the right area.

nginx 1.22 (Debian's nginx-light with libnginx-mod-stream) runs ``fixtures/nginx/careful/``, or that config with
one of ``fixtures/nginx/mistakes/`` applied, in front of flowlb's mock nodes; the suite runs with
``--target external`` as against any live LB. A mistake's run covers only the checks of its area.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.external.nginx_cluster import (
    CAREFUL,
    PLACEHOLDER,
    Mistake,
    NginxCluster,
    mistakes,
    mock_nodes,
    nginx_available,
    nginx_lb,
    render,
)
from tests.support.suite import run_pytest

QUICK_WAITS = ("--stomp-idle-seconds", "5", "--long-request-seconds", "5")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, int]]]:
    missing = nginx_available()
    require(missing is None, missing or "")
    with mock_nodes(tmp_path_factory.mktemp("nginx-nodes")) as running:
        yield running


@pytest.fixture(scope="module")
def careful(nodes: dict[str, dict[str, int]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxCluster]:
    with nginx_lb(tmp_path_factory.mktemp("nginx-careful") / "lb", nodes) as running:
        yield running


def run_suite(cluster: NginxCluster, report_dir: Path, *paths: str) -> tuple[int, dict, str]:
    """``pytest PATHS --target external`` against the nginx LB: exit code, summary.json, output."""
    result = run_pytest(*paths, "-q", "-p", "no:cacheprovider", "--report-dir", str(report_dir),
                        *cluster.external_options(), *QUICK_WAITS)
    summary = report_dir / "latest" / "summary.json"
    assert summary.is_file(), result.stdout[-3000:] + result.stderr[-2000:]
    return result.returncode, json.loads(summary.read_text()), result.stdout


def outcomes(summary: dict, outcome: str) -> dict[str, str]:
    """Check id -> message of every case with ``outcome``."""
    return {c["check_id"]: c.get("message", "") for c in summary["checks"] if c["outcome"] == outcome}


def test_the_careful_nginx_config_passes_every_check_that_runs(careful: NginxCluster, tmp_path: Path) -> None:
    code, summary, output = run_suite(careful, tmp_path / "reports", "conformance/")
    assert code == 0 and not outcomes(summary, "failed"), output[-6000:]
    ran = outcomes(summary, "passed")
    for must_run in ("redirect/redirect_to_https", "tls/plaintext_to_tls_port_refused", "tls/forwarded_headers",
                     "security/request_smuggling_rejected", "security/stats_page_not_public",
                     "stomp/session_is_tls", "routing/ports_reach_the_right_backend", "security/slow_headers_cut_off"):
        assert must_run in ran, f"{must_run} did not pass: {summary['checks']}"
    for check, message in outcomes(summary, "skipped").items():
        assert any(remedy in message for remedy in ("run it on the local", "--destructive", "give --runtime-api")), (
            check, message)


@pytest.mark.parametrize("mistake", mistakes(), ids=lambda m: m.name)
def test_each_nginx_mistake_is_caught_in_its_area(
    nodes: dict[str, dict[str, int]], mistake: Mistake, tmp_path: Path
) -> None:
    with nginx_lb(tmp_path / "lb", nodes, mistake) as cluster:
        code, summary, output = run_suite(cluster, tmp_path / "reports", *mistake.paths())
    failed = outcomes(summary, "failed")
    assert code == 1, output[-4000:]
    assert set(mistake.caught_by) <= set(failed), f"{mistake.name}: caught by {sorted(failed)}, not by all of " \
                                                  f"{mistake.caught_by}"
    assert all(check.startswith(mistake.area + "/") for check in failed), (mistake.area, sorted(failed))


def test_every_mistake_applies_once_and_fills_every_placeholder() -> None:
    """A mistake whose text no longer occurs, or a placeholder without a value, is an error, not a careful run."""
    sources = {path.name: path.read_text() for path in CAREFUL.iterdir() if path.suffix == ".conf"}
    names = {found.strip("@") for text in sources.values() for found in PLACEHOLDER.findall(text)}
    values = dict.fromkeys(names, "x")
    for mistake in mistakes():
        assert render(sources, values, mistake) != render(sources, values)
    with pytest.raises(ValueError, match="no value for @CERT_FILE@"):
        render(sources, {k: v for k, v in values.items() if k != "CERT_FILE"})
