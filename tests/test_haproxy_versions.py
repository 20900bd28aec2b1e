"""The hardened profile and the article's pin hold on HAProxy 3.0 and 3.2 too, run by ``flowlb matrix``.

2.6 runs in the other target tests (``test_targets``, ``test_kb_findings``); here hardened runs the
whole suite on each newer LTS line, and kb on the newest, on the containers target. Fails when
hardened fails any check on a version, when the kb profile fails anything but the article's defects
there, or when the matrix report does not name the HAProxy that ran.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.suite import flowlb_containers, run_flowlb
from tests.test_kb_findings import KB_FINDINGS

NEWER = ("3.0", "3.2")
# The STOMP idle check holds a silent session for 45 s by default; 15 s here keeps CI under its time
# budget. It still fails a config whose tunnel or client timeout is shorter (2.6 runs the 45 s in the
# other target tests).
IDLE = ("--stomp-idle-seconds", "15")


def matrix(tmp_path: Path, *pytest_args: str, versions: tuple[str, ...] = NEWER) -> tuple[int, dict[str, Any], str]:
    result = run_flowlb("matrix", "--versions", ",".join(versions), "--report-dir", str(tmp_path),
                        "--", *IDLE, *pytest_args, timeout=900)
    report = tmp_path / "latest" / "matrix.json"
    assert report.is_file(), result.stdout[-3000:] + result.stderr[-2000:]
    return result.returncode, json.loads(report.read_text()), result.stdout


def first_failures(report: dict[str, Any], version: str, count: int = 3) -> str:
    """What the first failed checks on ``version`` said: the cause, when a whole run fails at once."""
    said = [f"{row['nodeid']}: {row['messages'].get(version, '')[:300]}" for row in report["checks"]
            if row["outcomes"].get(version) == "failed"]
    return "\n".join(said[:count])


def failed_by_version(report: dict[str, Any]) -> dict[str, set[str]]:
    failed: dict[str, set[str]] = {version: set() for version in report["versions"]}
    for row in report["checks"]:
        for version, outcome in row["outcomes"].items():
            if outcome == "failed":
                failed[version].add(row["nodeid"].split("::")[0].removeprefix("conformance/"))
    return failed


@pytest.mark.timeout(900)
def test_hardened_passes_every_check_on_each_version(docker_engine: None, tmp_path: Path) -> None:
    code, report, stdout = matrix(tmp_path)
    assert code == 0, (f"hardened failed on a newer HAProxy: {failed_by_version(report)}\n"
                       + "\n".join(first_failures(report, version) for version in NEWER) + f"\n{stdout[-3000:]}")
    for version in NEWER:
        assert report["runs"][version]["haproxy"].startswith(version), report["runs"][version]
        assert (tmp_path / "latest" / version / "latest" / "index.html").is_file()
    assert (tmp_path / "latest" / "index.html").is_file()
    assert flowlb_containers() == []


# The article's defects on the newest line; 2.6 runs in test_kb_findings. 3.0 lies between them in every
# behaviour the kb findings rest on (the redirect's Location, stats, checks, retries, reload state), and
# hardened proves the checks on 3.0 itself; a kb run there would add 135 s of CI to prove nothing new.
KB_VERSIONS = ("3.2",)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("version", KB_VERSIONS)  # one version a test: workers share CI's longest tests
def test_kb_profile_fails_exactly_the_articles_defects_on_each_version(
    docker_engine: None, tmp_path: Path, version: str
) -> None:
    code, report, _ = matrix(tmp_path, "--profile", "kb", versions=(version,))
    assert code == 1 and list(report["versions"]) == [version], report["versions"]
    for ran, found in failed_by_version(report).items():
        assert found == set(KB_FINDINGS), (
            f"HAProxy {ran}: unexpected {sorted(found - set(KB_FINDINGS))}; "
            f"missing {sorted(set(KB_FINDINGS) - found)}\n{first_failures(report, ran)}"
        )
