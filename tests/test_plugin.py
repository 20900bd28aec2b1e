"""The conformance plugin itself, in pytester: its options, and the report it publishes for a run.

Fails when the plugin's option group is missing, when a finished run publishes no report (or one
whose verdict contradicts the outcomes), or when a check's report row lacks its catalogue entry.
"""

from __future__ import annotations

import json
import shutil

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A folder whose conftest loads the plugin the way conformance/ does."""
    pytester.makeconftest('pytest_plugins = ["flowlb.pytest_plugin"]')
    return pytester


def test_options_are_in_their_own_group(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-p", "no:flowlb", "--help")
    result.stdout.fnmatch_lines(["flowlb: the cluster under test:", "*--target*", "*--haproxy-cfg*",
                                 "*--management-networks*"])


@pytest.mark.parametrize(("body", "verdict"), [("assert True", "pass"), ("assert False, 'Fix: do it'", "fail")])
def test_a_finished_run_publishes_its_report(suite: pytest.Pytester, body: str, verdict: str) -> None:
    suite.mkdir("redirect")
    suite.makepyfile(**{"redirect/test_redirect_to_https": f"def test_it():\n    {body}\n"})
    reports = suite.path / "reports"
    result = suite.runpytest_subprocess("-p", "no:flowlb", "--report-dir", str(reports))
    assert result.ret == (0 if verdict == "pass" else 1)
    summary = json.loads((reports / "latest" / "summary.json").read_text())
    assert summary["verdict"] == verdict
    [check] = summary["checks"]
    assert check["check_id"] == "redirect/redirect_to_https" and check["area"] == "redirect"
    assert check["guards"] and check["fix"]
    assert not list(reports.glob("*.partial"))


def test_no_report_with_report_dir_none(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_x="def test_it():\n    pass\n")
    result = suite.runpytest_subprocess("-p", "no:flowlb", "--report-dir", "none")
    assert result.ret == 0
    assert not (suite.path / "reports").exists()


def test_a_report_dir_that_cannot_be_made_is_one_line_and_exit_2(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_x="def test_it():\n    pass\n")
    (suite.path / "file").write_text("")
    result = suite.runpytest_subprocess("-p", "no:flowlb", "--report-dir", "file/reports")
    assert result.ret == 2
    output = result.stdout.str() + result.stderr.str()
    assert "flowlb: --report-dir file/reports: cannot make a run directory there (Not a directory)" in output
    assert "INTERNALERROR" not in output


def test_a_run_that_stops_early_with_a_clean_exit_status_publishes_nothing(suite: pytest.Pytester) -> None:
    """As after a second Ctrl-C: pytest ends with status 0, but only the first of three checks ran."""
    suite.makepyfile(test_x="import pytest\n\ndef test_a():\n    pass\n\ndef test_b():\n"
                            "    pytest.exit('stopped', returncode=0)\n\ndef test_c():\n    pass\n")
    reports = suite.path / "reports"
    (reports / "latest").parent.mkdir()
    result = suite.runpytest_subprocess("-p", "no:flowlb", "--report-dir", str(reports))
    assert result.ret == 0
    assert list(reports.iterdir()) == [], list(reports.iterdir())


@pytest.mark.parametrize("stop", [["-x"], ["--maxfail", "1"]])
def test_a_run_stopped_by_maxfail_publishes_what_ran_marked_cut_short(suite: pytest.Pytester, stop: list[str]) -> None:
    """-x threw the report away without a word; its failure is a real verdict, so the report of what ran is
    published, saying it was cut short and which checks never ran."""
    suite.makepyfile(test_x="def test_a():\n    pass\n\ndef test_b():\n    assert False, 'broken'\n\n"
                            "def test_c():\n    pass\n")
    reports = suite.path / "reports"
    result = suite.runpytest_subprocess("-p", "no:flowlb", "--report-dir", str(reports), *stop)
    assert result.ret == 1
    summary = json.loads((reports / "latest" / "summary.json").read_text())
    assert summary["verdict"] == "fail" and summary["counts"] == {"passed": 1, "failed": 1, "skipped": 0}
    assert summary["run"]["cut_short"] == "stopping after 1 failures (-x/--maxfail): 1 of 3 selected checks did not run"
    assert summary["run"]["not_run"] == ["test_x.py::test_c"]
    page = (reports / "latest" / "index.html").read_text()
    assert "Cut short:" in page and "test_x.py::test_c" in page
    assert page.index("Cut short:") < page.index("id=areas"), "read before the checks"
    result.stdout.fnmatch_lines(["flowlb report: *index.html (cut short: stopping after 1 failures*"])
    assert not list(reports.glob("*.partial"))


def test_an_interrupted_run_publishes_nothing(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_x="def test_a():\n    pass\n\ndef test_b():\n    raise KeyboardInterrupt\n")
    reports = suite.path / "reports"
    result = suite.runpytest_subprocess("-p", "no:flowlb", "--report-dir", str(reports))
    assert result.ret == 2
    assert not reports.exists() or list(reports.iterdir()) == []


def test_an_interrupt_a_check_swallowed_still_publishes_nothing(suite: pytest.Pytester) -> None:
    """A SIGINT whose KeyboardInterrupt was caught on its way up (here by the check itself) never reached pytest,
    which then finished with exit 0: the run published a verdict although it had been interrupted (seen in the
    interrupt harness, 1 of 6 trials on a live LB)."""
    suite.makepyfile(test_x="import os, signal\n\ndef test_a():\n    try:\n"
                            "        os.kill(os.getpid(), signal.SIGINT)\n    except BaseException:\n        pass\n\n"
                            "def test_b():\n    pass\n")
    reports = suite.path / "reports"
    result = suite.runpytest_subprocess("-p", "no:flowlb", "--report-dir", str(reports))
    assert result.ret == 2
    assert not reports.exists() or list(reports.iterdir()) == []


@pytest.mark.parametrize(("option", "env"), [
    (["--stomp-idle-seconds=-5"], {}), (["--stomp-idle-seconds=0"], {}), ([], {"FLOWLB_STOMP_IDLE_S": "abc"}),
    (["--long-request-seconds=9999"], {}),
])
def test_bad_wait_lengths_are_one_line_and_exit_2(
    suite: pytest.Pytester, option: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    suite.makepyfile(test_x="def test_it():\n    pass\n")
    result = suite.runpytest_subprocess("-p", "no:flowlb", "--report-dir", "none", *option)
    assert result.ret == 2
    output = result.stdout.str() + result.stderr.str()
    assert "give a number of seconds above 0" in output and "Traceback" not in output, output


@pytest.mark.parametrize(("option", "env", "says"), [
    (["--target", "bogus"], {}, "--target (or FLOWLB_TARGET) 'bogus': choose one of auto, containers, local"),
    ([], {"FLOWLB_TARGET": "bogus"}, "--target (or FLOWLB_TARGET) 'bogus'"),
    ([], {"FLOWLB_PROFILE": "nope"}, "--profile (or FLOWLB_PROFILE) 'nope': choose one of kb, hardened"),
    (["--haproxy-version", "9.9"], {}, "--haproxy-version (or FLOWLB_HAPROXY_VERSION) '9.9': choose one of 2.6"),
    ([], {"FLOWLB_MANAGEMENT_NETWORKS": "10.0.0.0/99"}, "--management-networks (or FLOWLB_MANAGEMENT_NETWORKS)"),
], ids=["target", "target-env", "profile-env", "haproxy-version", "management-networks-env"])
def test_a_value_outside_an_options_choices_is_one_line_and_exit_2(
    suite: pytest.Pytester, option: list[str], env: dict[str, str], says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the command line or the environment alike, before any test runs (FLOWLB_TARGET=bogus once ran local)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    suite.makepyfile(test_x="def test_it():\n    pass\n")
    result = suite.runpytest_subprocess("-p", "no:flowlb", "--report-dir", "none", *option)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 2, output
    assert says in output and "Traceback" not in output and "passed" not in output, output


def test_a_full_disk_is_one_line_exit_2_and_leaves_no_partial_report(suite: pytest.Pytester) -> None:
    """A 4 KiB tmpfs as --report-dir: junit.xml or the summary cannot be written there."""
    import os
    import subprocess

    from tests.conftest import require

    require(os.geteuid() == 0 and shutil.which("mount") is not None, "root, to mount a small tmpfs")
    disk = suite.path / "full"  # inside the test folder, so that its conftest (the plugin) is the one loaded
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(disk)], check=True, timeout=30)
    try:
        suite.makepyfile(test_x="def test_it():\n    pass\n")
        result = suite.runpytest_subprocess("-p", "no:flowlb", "--report-dir", str(disk))
        left = sorted(p.name for p in disk.iterdir())
    finally:
        subprocess.run(["umount", str(disk)], check=False, timeout=30)
    assert result.ret == 2
    output = result.stdout.str() + result.stderr.str()
    assert f"flowlb: cannot write the run's report in {disk} (No space left on device)" in output, output
    assert "Traceback" not in output and "INTERNALERROR" not in output
    assert left == [], left


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_a_signal_while_the_plugin_loads_stops_the_run_cleanly(suite: pytest.Pytester, signal_name: str) -> None:
    """Ctrl-C or SIGTERM while pytest loads the plugin and the checks (a second or more on a loaded machine) gave
    Python's KeyboardInterrupt traceback, or a death by SIGTERM with no word: now pytest's own exit 2, one line."""
    suite.makeconftest('pytest_plugins = ["flowlb.pytest_plugin", "signal_while_loading"]')
    suite.makepyfile(signal_while_loading=f"import os, signal\n\nos.kill(os.getpid(), signal.{signal_name})\n",
                     test_x="def test_it():\n    pass\n")
    reports = suite.path / "reports"
    result = suite.runpytest_subprocess("-p", "no:flowlb", "--report-dir", str(reports))
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 2, output
    assert "flowlb: interrupted (signal" in result.stderr.str() and "stopping before the run starts" in output
    assert "Traceback" not in output and "1 passed" not in output
    assert not reports.exists() or not list(reports.iterdir())


def test_a_finished_run_ignores_signals_while_python_exits(suite: pytest.Pytester) -> None:
    """Python restores the system's handlers as it finalizes: a Ctrl-C landing there, after a run that no signal
    had interrupted, killed it by SIGINT ('lost sys.stderr') instead of letting it exit with its verdict."""
    suite.makeconftest('import atexit, signal\n\npytest_plugins = ["flowlb.pytest_plugin"]\n\n'
                       'atexit.register(lambda: print("at exit, ignored:", *(signal.getsignal(n) is signal.SIG_IGN '
                       'for n in (signal.SIGINT, signal.SIGTERM))))\n')
    suite.makepyfile(test_x="def test_it():\n    pass\n")
    result = suite.runpytest_subprocess("-p", "no:flowlb", "--report-dir", "none")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["at exit, ignored: True True"])


def test_an_interrupt_before_the_session_starts_leaves_no_partial_report(suite: pytest.Pytester) -> None:
    """Ctrl-C in pytest_configure or pytest_sessionstart (a second into a run): pytest then calls no
    pytest_sessionfinish, where the report is published or removed, and the run left its ``.partial``."""
    suite.makeconftest('pytest_plugins = ["flowlb.pytest_plugin", "interrupted_at_start"]')
    suite.makepyfile(interrupted_at_start="def pytest_sessionstart(session):\n"
                                          "    raise KeyboardInterrupt('signal 2')\n",
                     test_x="def test_it():\n    pass\n")
    reports = suite.path / "reports"
    result = suite.runpytest_subprocess("-p", "no:flowlb", "--report-dir", str(reports))
    assert result.ret == 2
    assert not reports.exists() or list(reports.iterdir()) == [], list(reports.iterdir())
