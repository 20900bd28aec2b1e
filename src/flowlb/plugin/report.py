"""The run report: each check's outcome, the causes (``flowlb.causes``), the verdict (``flowlb.verdict``) and the
exit code it gives by ``--fail-on``, published as a run directory when the run finished, never half-written."""

from __future__ import annotations

import sys
from collections.abc import Generator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from flowlb import causes, levels, policyfile
from flowlb.checks import catalogue
from flowlb.haproxy.operator import operator_label
from flowlb.interrupts import deferred_signals, interrupted
from flowlb.plugin.keys import KEPT_KEY, OPERATOR_KEY, SHARED_KEY, TARGET_KEY
from flowlb.reporting import CheckResult, RunInfo, discard, finish, run_directory
from flowlb.spec import ClusterSpec
from flowlb.verdict import Judgement, judge

REPORT_KEY = pytest.StashKey["RunReport"]()


def open_report(config: pytest.Config, loaded: policyfile.PolicyFile | None, fail_on: set[str]) -> None:
    """The run's report, registered as a plugin, and its ``.partial`` directory (unless ``--report-dir none``);
    a directory that cannot be made ends the run: one line, exit 2."""
    report_dir = config.getoption("flowlb_report_dir", "none")
    cfg = config.getoption("flowlb_haproxy_cfg")
    info = RunInfo(
        target=config.getoption("flowlb_target"),
        config=operator_label(cfg) if cfg else (config.getoption("flowlb_profile") or "spec profile"),
        spec=str(config.getoption("flowlb_spec") or "fixtures/cluster.toml"),
        policy_path=loaded.path if loaded else "", policy_sha256=loaded.sha256 if loaded else "",
    )
    directory = None
    with deferred_signals():  # the .partial directory and the report that removes it come into being together
        if report_dir != "none":
            try:
                directory = run_directory(Path(report_dir), info)
            except OSError as exc:
                pytest.exit(f"flowlb: --report-dir {report_dir}: cannot make a run directory there "
                            f"({exc.strerror or exc})", returncode=2)
        report = RunReport(directory, info, loaded, fail_on)
        config.stash[REPORT_KEY] = report
        config.pluginmanager.register(report, "flowlb-run-report")
    if directory is not None and not config.option.xmlpath:
        config.option.xmlpath = str(directory / "junit.xml")


class RunReport:
    """The run's report as it is collected (one result per check), its verdict and exit status, and the report
    published when the run finished (into ``directory``; ``None`` with ``--report-dir none``, where the verdict
    and the exit status are the same, only nothing is written)."""

    def __init__(self, directory: Path | None, info: RunInfo, policy_file: policyfile.PolicyFile | None = None,
                 fail_on: set[str] | None = None) -> None:
        self.directory = directory
        self.info = info
        self.policy_file = policy_file
        self.fail_on = fail_on or {levels.CORE}
        self.results: dict[str, CheckResult] = {}
        self.finished: set[str] = set()  # checks whose teardown has been reported: they ran to the end
        self.interrupted = False
        self.published = False
        self.judgement: Judgement | None = None
        self.config_text: str | None = None  # the config under test, as its author wrote it (None: a live LB's)
        self.spec: ClusterSpec | None = None
        self.causes = causes.RunCauses(None, [])

    def pytest_keyboard_interrupt(self) -> None:
        self.interrupted = True  # Ctrl-C or SIGTERM, once or several times: never a verdict

    def pytest_unconfigure(self) -> None:
        """A run that never reached its session's end (an interrupt in pytest_configure or pytest_sessionstart,
        where pytest calls no pytest_sessionfinish) leaves no ``.partial`` directory behind."""
        if self.directory is not None and not self.published:
            with deferred_signals():
                discard(self.directory)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect each check's outcome for the run's report."""
        if report.when == "teardown":
            self.finished.add(report.nodeid)
        result = self.results.get(report.nodeid)
        if result is None:
            result = self.results[report.nodeid] = _describe(report.nodeid, self._levels())
        if report.failed:
            result.outcome = "failed"
            result.message = _failure_message(report)
        elif report.skipped and result.outcome != "failed":
            result.outcome = "skipped"
            result.message = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
        result.seconds += report.duration
        result.figures.update({str(k): v for k, v in report.user_properties})

    def _levels(self) -> dict[str, str]:
        return self.policy_file.levels if self.policy_file else {}

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """At the session's end, once junit.xml is written: judge the run and publish its report; drop it when the
        run did not finish. (The module's ``pytest_sessionfinish``, a wrapper around this one and junit.xml's, turns
        a report that cannot be written into one line and exit 2.)

        A finished run's exit status is its verdict's (``--fail-on``): 1 on ``fail``, 0 otherwise, although pytest
        says 1 for any failed test (a warning, a waived failure). An unfinished one keeps pytest's status.

        Finished means: pytest says so, no interrupt came, and every selected check ran its teardown.
        A second Ctrl-C can make pytest's exit status look like success after one check of four.

        A run that ``-x`` or ``--maxfail`` stopped is published too, marked as cut short with the checks it
        never ran: its failures are real verdicts, and the operator who asked to stop at the first one wants
        to read it; the mark keeps anyone from taking it for a whole run.
        """
        not_run = [item.nodeid for item in session.items if item.nodeid not in self.finished]
        stopped_by_maxfail = bool(session.shouldfail) and exitstatus == pytest.ExitCode.TESTS_FAILED
        if stopped_by_maxfail and not_run:
            self.info.cut_short = (f"{session.shouldfail} (-x/--maxfail): {len(not_run)} of {len(session.items)} "
                                   "selected checks did not run")
            self.info.not_run = not_run
        if interrupted() and not self.interrupted:  # the KeyboardInterrupt never reached pytest: still no verdict
            self.interrupted = True
            session.exitstatus = pytest.ExitCode.INTERRUPTED
        if not (exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and not self.interrupted
                and (not not_run or self.info.cut_short) and session.items):
            if self.directory is not None:
                discard(self.directory)
            return
        levels_of = self._levels()
        never_ran = [(nodeid, _describe(nodeid, levels_of).level) for nodeid in not_run] if self.info.cut_short else []
        results = list(self.results.values())
        self.judgement = judge(results, self.policy_file.waivers if self.policy_file else (), not_run=never_ran)
        session.exitstatus = self.judgement.exit_code(self.fail_on)
        if self.spec is not None:  # the cluster started (or its config was refused): its failures have causes
            self.causes = causes.for_run(self.config_text, self.spec, [asdict(result) for result in results])
        if self.directory is not None:
            self.directory = finish(self.directory, self.info, results, self.judgement, self.causes.as_dict())
            self.published = True

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        judgement = self.judgement
        if judgement is None:
            return
        for waiver in judgement.expired_waivers:
            terminalreporter.write_line(f"flowlb: the waiver for {waiver['id']} expired on {waiver['expires']} "
                                        f"({waiver['reason']}): it fails the run", red=True)
        for waiver in judgement.unused_waivers:
            terminalreporter.write_line(f"flowlb: unused waiver: {waiver['id']} ({waiver['reason']}, until "
                                        f"{waiver['expires']}) matched no failure", yellow=True)
        for warning in judgement.warnings:
            terminalreporter.write_line(f"flowlb: warning (recommended): {warning['nodeid']}: {warning['title']}")
        for waived in judgement.waived:
            terminalreporter.write_line(f"flowlb: waived: {waived['nodeid']}: {waived['reason']} (until "
                                        f"{waived['expires']})")
        told = self.causes.render(self.spec)
        if told:
            terminalreporter.write_sep("=", "flowlb: what to fix first" if self.config_text is not None
                                       else "flowlb: failures by what they share", bold=True)
            terminalreporter.write(told)
        if self.published and self.directory is not None:
            note = f" (cut short: {self.info.cut_short})" if self.info.cut_short else ""
            terminalreporter.write_line(f"flowlb report: {self.directory / 'index.html'}{note}")
        colour = {levels.PASS: "green", levels.PARTIAL: "yellow"}.get(judgement.verdict, "red")
        fail_on = ",".join(level for level in levels.FAIL_ON if level in self.fail_on)
        terminalreporter.write_line(f"{judgement.line()}; exit {judgement.exit_code(self.fail_on)} (--fail-on "
                                    f"{fail_on})", **{colour: True, "bold": True})


def remember_config(pytestconfig: pytest.Config, spec: ClusterSpec | None, text: str | None,
                     keep: bool = False) -> None:
    """What the run's failures are attributed to: the config under test (the operator's, or the generated
    profile's, which the report then keeps as ``haproxy.cfg``), under the run's spec."""
    report = pytestconfig.stash.get(REPORT_KEY, None)
    if report is None:
        return
    if spec is not None:
        report.spec = spec
    if text is not None:
        report.config_text = text
    if keep and report.directory is not None:  # a cause's line number points into this file
        (report.directory / "haproxy.cfg").write_text(text or "")


def _describe(nodeid: str, levels_of: dict[str, str]) -> CheckResult:
    """The check's catalogue entry (id, area, title, what it guards, fix) for the report, and its level: the policy
    file's (``levels_of``), else the catalogue's; a test the catalogue does not know weighs as core."""
    check = catalogue.by_file(nodeid)
    if check is None:
        return CheckResult(nodeid=nodeid, area="checks", title=nodeid.rsplit("::", maxsplit=1)[-1], guards="")
    return CheckResult(nodeid=nodeid, area=check.area, title=check.title, guards=check.guards,
                       check_id=check.id, fix=check.fix, level=levels_of.get(check.id, check.level))


def _failure_message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return text.removeprefix("AssertionError: ").removeprefix("Failed: ").split("\nassert ")[0].strip()


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Any:
    """The session's end, around every plugin's (junit.xml's, :meth:`RunReport.pytest_sessionfinish`): a report that
    cannot be written (a full disk, junit.xml included) is one line and exit 2, and its ``.partial`` directory goes:
    never a half-written report."""
    try:
        return (yield)
    except OSError as exc:
        report = session.config.stash.get(REPORT_KEY, None)
        directory = report.directory if report is not None else None
        where = directory.parent if directory is not None else "the report directory"
        if report is not None and directory is not None and not report.published:
            discard(directory)
        sys.stderr.write(f"flowlb: cannot write the run's report in {where} ({exc.strerror or exc}); "
                         "no report was published\n")
        session.exitstatus = 2
        return None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    target = config.stash.get(TARGET_KEY, None)
    rendered = target.rendered if target is not None else None
    for line in rendered.disarmed_lines() if rendered is not None else []:
        terminalreporter.write_line(f"flowlb: disarmed {line}")  # what of the config this run did not test
    for key in (SHARED_KEY, KEPT_KEY):
        note = config.stash.get(key, None)
        if note:
            terminalreporter.write_line(f"flowlb: {note}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """On a failed check against an operator's config, show the lines the harness rewrote."""
    outcome = yield
    report = outcome.get_result()
    operator = item.config.stash.get(OPERATOR_KEY, None)
    target = item.config.stash.get(TARGET_KEY, None)
    rendered = target.rendered if target is not None else None
    if report.failed and call.when == "call" and operator is not None and rendered is not None:
        report.sections.append(
            (f"flowlb: lines of {operator.path} rewritten for the test cluster", rendered.relevant_lines())
        )
