"""A conformance run's verdict, exit status and policy file, in pytester with checks named like real ones.

Fails when a recommended check's failure fails the run (exit 1 without ``--fail-on recommended``), when
``--fail-on`` or FLOWLB_FAIL_ON are ignored, when the exit status differs with ``--report-dir none``, when a
waived failure still fails the run or an expired waiver does not, when an unused waiver goes unreported, when a
bad policy file starts the run instead of stopping it with one line and exit 2, when the policy's values do not
reach the checks, or when summary.json strays from the schema flowlb ships for it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jsonschema
import pytest

from flowlb import paths

pytest_plugins = ["pytester"]

PASS = "def test_it():\n    pass\n"  # noqa: S105 - a check that passes, not a password
FAIL = "def test_it():\n    assert False, 'broken. Fix: mend it'\n"
SKIP = "import pytest\n\ndef test_it():\n    pytest.skip('needs the runtime API')\n"
SCHEMA = json.loads((paths.package_parent() / "flowlb" / "schemas" / "summary.schema.json").read_text())


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A folder whose conftest loads the plugin the way conformance/ does, with no flowlb setting from outside."""
    for name in ("FLOWLB_FAIL_ON", "FLOWLB_POLICY", "FLOWLB_REPORT_DIR", "FLOWLB_MANAGEMENT_NETWORKS"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest('pytest_plugins = ["flowlb.pytest_plugin"]')
    return pytester


def checks(suite: pytest.Pytester, **bodies: str) -> None:
    """Check files named like the catalogue's (``redirect="..."`` is ``redirect/test_redirect_to_https.py``)."""
    files = {"redirect": "redirect/test_redirect_to_https", "smoke": "smoke/test_every_port_answers",
             "requests": "requests/test_long_request_answered", "routing": "routing/test_ports_reach_the_right_backend"}
    for key, body in bodies.items():
        suite.mkdir(files[key].split("/", 1)[0])
        suite.makepyfile(**{files[key]: body})


def run(suite: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any] | None]:
    """The run, and its summary.json held to the schema (``None`` with ``--report-dir none``)."""
    reports = suite.path / "reports"
    given = args if "--report-dir" in args else ("--report-dir", str(reports), *args)
    result = suite.runpytest_subprocess("-p", "no:flowlb", *given)
    latest = reports / "latest" / "summary.json"
    if not latest.exists():
        return result, None
    summary: dict[str, Any] = json.loads(latest.read_text())
    jsonschema.validate(summary, SCHEMA)
    assert set(summary) <= set(SCHEMA["properties"]), "every field of summary.json is in its schema"
    assert set(summary["run"]) <= set(SCHEMA["$defs"]["run"]["properties"])
    assert all(set(check) <= set(SCHEMA["$defs"]["check"]["properties"]) for check in summary["checks"])
    return result, summary


@pytest.mark.parametrize("report", [True, False], ids=["report", "report-dir-none"])
def test_a_recommended_failure_is_a_warning_and_the_run_exits_0(suite: pytest.Pytester, report: bool) -> None:
    checks(suite, redirect=PASS, requests=FAIL)
    result, summary = run(suite, *([] if report else ["--report-dir", "none"]))
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "flowlb: warning (recommended): requests/test_long_request_answered.py::test_it: Long requests:*",
        "flowlb verdict: PASS: 0 core failed, 1 warnings (recommended failed), 0 waived, 0 core skipped; exit 0 "
        "(--fail-on core)"])
    if report:
        assert summary is not None and summary["schema_version"] == 1 and summary["verdict"] == "pass"
        [warning] = summary["warnings"]
        assert warning["id"] == "requests/long_request_answered" and warning["fix"] and warning["title"]
        assert summary["levels"]["recommended"]["failed"] == 1 and summary["levels"]["core"]["passed"] == 1
        assert summary["counts"]["failed"] == 1  # pytest's own count is kept as it was
    else:
        assert summary is None


@pytest.mark.parametrize(("args", "env", "code"), [
    ([], "", 0), (["--fail-on", "recommended"], "", 1), (["--fail-on", "partial"], "", 1),
    (["--fail-on", "core,partial", "--fail-on", "recommended"], "", 1), ([], "recommended", 1),
])
def test_fail_on_makes_warnings_or_a_partial_run_fail(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str], env: str, code: int
) -> None:
    if env:
        monkeypatch.setenv("FLOWLB_FAIL_ON", env)
    checks(suite, redirect=PASS, requests=FAIL, routing=SKIP)
    result, _ = run(suite, "--report-dir", "none", *args)
    assert result.ret == code
    result.stdout.fnmatch_lines(["flowlb verdict: PARTIAL: 0 core failed, 1 warnings *, 1 core skipped; exit *"])


def test_a_skipped_core_check_makes_the_run_partial(suite: pytest.Pytester) -> None:
    checks(suite, redirect=PASS, routing=SKIP)
    result, summary = run(suite)
    assert result.ret == 0 and summary is not None and summary["verdict"] == "partial"
    assert [s["id"] for s in summary["core_skipped"]] == ["routing/ports_reach_the_right_backend"]


def test_a_core_failure_fails_the_run(suite: pytest.Pytester) -> None:
    checks(suite, redirect=FAIL, smoke=PASS)
    result, summary = run(suite)
    assert result.ret == 1 and summary is not None and summary["verdict"] == "fail"
    assert summary["core_failures"][0]["id"] == "redirect/redirect_to_https"


def test_a_wrong_fail_on_is_one_line_and_exit_2(suite: pytest.Pytester) -> None:
    checks(suite, redirect=PASS)
    result = suite.runpytest_subprocess("-p", "no:flowlb", "--report-dir", "none", "--fail-on", "warnings")
    assert result.ret == 2
    output = result.stdout.str() + result.stderr.str()
    assert "flowlb: --fail-on 'warnings': choose from core, partial, recommended (or FLOWLB_FAIL_ON)" in output
    assert "Traceback" not in output and "INTERNALERROR" not in output


POLICY_CHECK = """\
from flowlb import policy

def test_it(management_networks):
    assert policy.current().header_timeout_max_s == 5
    assert [str(n) for n in management_networks] == ["10.9.0.0/16"]
"""


def test_a_waived_failure_passes_the_run_and_the_report_names_the_policy(suite: pytest.Pytester) -> None:
    policy = suite.path / "policy.toml"
    policy.write_text("""
[policy]
header_timeout_max_s = 5
management_networks = ["10.9.0.0/16"]

[[waiver]]
id = "redirect/redirect_to_https"
reason = "CHG-7: the redirect is fixed in the next window"
expires = 2099-12-31

[[waiver]]
id = "tls/legacy_tls_refused"
reason = "CHG-8"
expires = 2099-12-31
""")
    checks(suite, redirect=FAIL, smoke=POLICY_CHECK)
    result, summary = run(suite, "--policy", str(policy))
    assert result.ret == 0, result.stdout.str()
    assert summary is not None and summary["verdict"] == "pass"
    [waived] = summary["waived"]
    assert waived["id"] == "redirect/redirect_to_https" and waived["reason"].startswith("CHG-7")
    assert summary["levels"]["core"] == {"passed": 1, "failed": 0, "skipped": 0, "waived": 1, "not_applicable": 0}
    assert summary["unused_waivers"] == [{"id": "tls/legacy_tls_refused", "reason": "CHG-8", "expires": "2099-12-31"}]
    assert summary["run"]["policy_path"] == str(policy)
    assert summary["run"]["policy_sha256"] == hashlib.sha256(policy.read_bytes()).hexdigest()
    result.stdout.fnmatch_lines([
        "flowlb: unused waiver: tls/legacy_tls_refused (CHG-8, until 2099-12-31) matched no failure",
        "flowlb: waived: redirect/test_redirect_to_https.py::test_it: CHG-7*",
        "flowlb verdict: PASS: 0 core failed, 0 warnings (recommended failed), 1 waived, 0 core skipped*"])
    page = (suite.path / "reports" / "latest" / "index.html").read_text()
    waived_section = page[page.index("id=waived"):page.index("id=areas")]
    assert "CHG-7: the redirect is fixed in the next window" in waived_section and "2099-12-31" in waived_section
    assert "Unused waiver: tls/legacy_tls_refused" in waived_section
    assert "(waived)" in page[page.index("id=areas"):], "and the failure itself is marked in its area"


def test_an_expired_waiver_fails_the_run_naming_it(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = suite.path / "policy.toml"
    policy.write_text('[[waiver]]\nid = "redirect/redirect_to_https"\nreason = "CHG-7"\nexpires = 2020-01-31\n')
    monkeypatch.setenv("FLOWLB_POLICY", str(policy))
    checks(suite, redirect=FAIL, smoke=PASS)
    result, summary = run(suite)
    assert result.ret == 1
    assert summary is not None and summary["verdict"] == "fail" and not summary["waived"]
    assert summary["expired_waivers"][0]["id"] == "redirect/redirect_to_https"
    result.stdout.fnmatch_lines(["flowlb: the waiver for redirect/redirect_to_https expired on 2020-01-31 (CHG-7): "
                                 "it fails the run"])


def test_the_policy_files_levels_weigh_a_check(suite: pytest.Pytester) -> None:
    policy = suite.path / "policy.toml"
    policy.write_text('[levels]\n"requests/long_request_answered" = "core"\n')
    checks(suite, redirect=PASS, requests=FAIL)
    result, summary = run(suite, "--policy", str(policy))
    assert result.ret == 1 and summary is not None and summary["verdict"] == "fail"
    assert summary["checks"][-1]["level"] == "core"


@pytest.mark.parametrize(("text", "message"), [
    ("[policy]\nheader_timeout = 5\n", "policy.header_timeout: unknown key"),
    ("[levels]\n\"redirect/nope\" = \"core\"\n", "'redirect/nope' is neither a check id"),
    ("[[waiver]]\nid = \"redirect/redirect_to_https\"\nexpires = 2099-01-01\n", "waiver 1: missing reason"),
])
def test_a_bad_policy_file_is_one_line_and_exit_2_before_anything_runs(
    suite: pytest.Pytester, text: str, message: str
) -> None:
    policy = suite.path / "policy.toml"
    policy.write_text(text)
    suite.makepyfile(test_x="def test_it():\n    raise SystemExit('ran')\n")
    result = suite.runpytest_subprocess("-p", "no:flowlb", "--report-dir", "none", "--policy", str(policy))
    assert result.ret == 2
    output = result.stdout.str() + result.stderr.str()
    assert f"flowlb: --policy (or FLOWLB_POLICY): {policy}: " in output and message in output
    assert "ran" not in output and "Traceback" not in output


def test_a_core_check_that_does_not_apply_leaves_the_run_whole(suite: pytest.Pytester) -> None:
    """The hardened profile has no backup server: a skip saying so is no gap, unlike one for missing evidence."""
    suite.mkdir("failover")
    suite.makepyfile(**{"failover/test_backup_takes_over": "from flowlb.checks.applies import does_not_apply\n\n"
                                                           "def test_it():\n    does_not_apply('no backup server')\n"})
    checks(suite, redirect=PASS)
    result, summary = run(suite, "-rs")
    assert result.ret == 0 and summary is not None and summary["verdict"] == "pass"
    assert summary["levels"]["core"]["not_applicable"] == 1 and not summary["core_skipped"]
    result.stdout.fnmatch_lines(["SKIPPED [1] failover/test_backup_takes_over.py:4: does not apply: no backup server"])
