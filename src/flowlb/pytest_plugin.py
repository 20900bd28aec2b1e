"""The conformance suite's pytest plugin: options, the session cluster, the per-test reset, the run report.

Loaded by ``conformance/conftest.py``. The cluster (a target of ``flowlb.targets``: local processes,
containers, or a live LB) is started once per session, the expensive part; every test gets it through
the function-scoped ``lb`` fixture, which first brings it back to its starting state (all nodes running
and healthy, counters zeroed) so tests never leak state. The run report (``RunReport``) collects each
check's outcome, the causes (``flowlb.causes``) and the verdict (``flowlb.verdict``), and decides the
exit code by ``--fail-on``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import sys
from collections.abc import Callable, Generator, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import urllib3

from flowlb import __version__, causes, levels, policy, policyfile
from flowlb.checks import catalogue
from flowlb.checks.backend import Backend
from flowlb.checks.drill import Drill
from flowlb.checks.longwaits import LongWaits, WaitOutcome
from flowlb.checks.topology import Route, config_route, http_exchange, learn_backend
from flowlb.errors import FlowlbError, HAProxyConfigError
from flowlb.haproxy.operator import OperatorConfig
from flowlb.haproxy.remap import ExtraListener
from flowlb.haproxy.runtime import RuntimeAPI, StatsPage
from flowlb.inputs import check_input
from flowlb.interrupts import (
    cleanup_done,
    deferred_signals,
    hold_signals_until_started,
    interrupt_once,
    interrupted,
    within,
)
from flowlb.lbclient import lb_pool
from flowlb.preflight import SESSION, RoleState, probe, why_dead
from flowlb.reporting import CheckResult, RunInfo, discard, finish, run_directory
from flowlb.spec import PROFILES, ClusterSpec, load_spec
from flowlb.stompclient import StompError, StompSession, open_session
from flowlb.targets.base import NodeControl, Target
from flowlb.targets.select import TARGETS, choose_target, start_target
from flowlb.verdict import Judgement, judge

TLS_ROLES = ("https", "server_tls", "stomp")
CLOSE_WITHIN_S = 10.0  # a check's HTTP pools close within this, even when an interrupt left a pool's lock held
T = TypeVar("T")
REPORT_KEY = pytest.StashKey["RunReport"]()
NEEDS_ROLE_MARK = "needs_role"
LONG_WAITS_KEY = pytest.StashKey[LongWaits | None]()
KEPT_KEY = pytest.StashKey[str]()  # --keep-cluster: how to reach and remove the cluster left running
SHARED_KEY = pytest.StashKey[str]()  # --shared-cluster: how this run's config ran on it
LONG_WAIT_MARK = "long_wait"  # a check judged from a wait that runs alongside the others (flowlb.checks.longwaits)
OPERATOR_KEY = pytest.StashKey[OperatorConfig | None]()
POLICY_KEY = pytest.StashKey[policyfile.PolicyFile | None]()  # --policy, as loaded


@dataclass(frozen=True)
class _Option:
    """One command-line option of the suite and the environment variable that sets its default."""

    flag: str
    dest: str
    help: str
    env: str = ""
    default: str | None = None
    type: Any = None
    choices: tuple[str, ...] | None = None

    def add_to(self, group: Any) -> None:
        if self.type is bool:
            group.addoption(self.flag, dest=self.dest, action="store_true", help=self.help)
            return
        default = os.environ.get(self.env, self.default) if self.env else self.default
        shown = f" [env {self.env}" + (f"; default {self.default}]" if self.default else "]") if self.env else ""
        # No argparse choices: a bad value (from the command line or the environment) is flowlb's one line and
        # exit 2 (see check), not pytest's usage error.
        metavar = "{" + ",".join(self.choices) + "}" if self.choices else None
        group.addoption(self.flag, dest=self.dest, default=default, type=self.type, metavar=metavar,
                        help=self.help + shown)

    def check(self, config: pytest.Config) -> None:
        """A value outside the option's choices ends the run before anything starts: one line, exit 2."""
        value = config.getoption(self.dest, None)
        if self.choices and value is not None and value not in self.choices:
            source = f" (or {self.env})" if self.env else ""
            pytest.exit(f"flowlb: {self.flag}{source} {value!r}: choose one of {', '.join(self.choices)}",
                        returncode=2)


_CLUSTER_OPTIONS = (
    _Option("--target", "flowlb_target", "where the cluster runs: containers (Docker), local (haproxy + processes on "
            "loopback), auto = containers when a Docker engine answers, else local; external: a live LB",
            "FLOWLB_TARGET", "auto", choices=TARGETS),
    _Option("--profile", "flowlb_profile", "config to render: kb (the article) or hardened (default: the spec's)",
            "FLOWLB_PROFILE", choices=PROFILES),
    _Option("--spec", "flowlb_spec", "cluster spec (TOML; default fixtures/cluster.toml)", "FLOWLB_SPEC", type=Path),
    _Option("--haproxy-cfg", "flowlb_haproxy_cfg", "run YOUR haproxy.cfg instead of a generated profile: the test "
            "cluster is sized from it, its binds, servers and certificate paths are mapped onto it, everything else "
            "runs as written", "FLOWLB_HAPROXY_CFG", type=Path),
    _Option("--report-dir", "flowlb_report_dir", "where each run's report goes (junit.xml, index.html, "
            "summary.json); 'none' for no report", "FLOWLB_REPORT_DIR", "reports"),
    _Option("--haproxy-version", "flowlb_haproxy_version", "the HAProxy LTS line the containers target runs, built "
            "offline from Debian (2.6 bookworm, 3.0 trixie, 3.2 sid)", "FLOWLB_HAPROXY_VERSION",
            choices=("2.6", "3.0", "3.2")),
    _Option("--haproxy-image", "flowlb_haproxy_image", "run HAProxy from this image on the containers target "
            "instead of flowlb's own, e.g. haproxy:3.2 (pulled if it is not in the engine); it reads "
            "/usr/local/etc/haproxy/haproxy.cfg and may run as a non-root user, as the official images do",
            "FLOWLB_HAPROXY_IMAGE"),
    _Option("--stomp-idle-seconds", "flowlb_stomp_idle", "how long a STOMP session with heart-beats off must "
            "survive silence where HAProxy's timers for it cannot be read (a live LB)", "FLOWLB_STOMP_IDLE_S", "45"),
    _Option("--long-request-seconds", "flowlb_long_request", "how long a Flow API call on 8000 and 8443 may take "
            "and still get its answer (the mock node answers after this long; at most 600; default: the policy's "
            "long_request_s, 75)", "FLOWLB_LONG_REQUEST_S"),
    _Option("--stomp-vhost", "flowlb_stomp_vhost", "CONNECT's host header on 61613 (default: the LB's address; a "
            "RabbitMQ behind the LB wants '/')", "FLOWLB_STOMP_VHOST"),
    _Option("--management-networks", "flowlb_management_networks", "CIDRs of your management networks, e.g. "
            "10.9.0.0/16: a stats listener your config binds to an address in them may serve without a password "
            "(default: the policy file's management_networks, else loopback only)", "FLOWLB_MANAGEMENT_NETWORKS", ""),
    _Option("--policy", "flowlb_policy", "your policy file (TOML, see fixtures/policy.example.toml): the numbers the "
            "checks hold the LB to, levels of your own, and waivers with a reason and an expiry date", "FLOWLB_POLICY",
            type=Path),
    _Option("--strict-warnings", "flowlb_strict_warnings", "fail `loads` when HAProxy warns about the config "
            "(zero-warning mode, `haproxy -c -dW`); without it the warnings are listed", type=bool),
    _Option("--keep-cluster", "flowlb_keep", "leave the cluster running after the session (containers target) and "
            "print how to reach it", type=bool),
    _Option("--shared-cluster", "flowlb_shared_cluster", "run on a local cluster that a sweep shares (the ticket "
            "file of flowlb.targets.shared.SharedCluster): this run's config is loaded with a reload instead of a "
            "start; a config that does not fit it gets a cluster of its own", type=Path),
)
_EXTERNAL_OPTIONS = (
    _Option("--lb-host", "flowlb_lb_host", "address of the live LB", "FLOWLB_LB_HOST"),
    _Option("--lb-ports", "flowlb_lb_ports", "its ports where they differ from the spec: "
            "http=80,https=443,server=8000,server-tls=8443,stomp=61613", "FLOWLB_LB_PORTS", ""),
    _Option("--lb-name", "flowlb_lb_name", "the name its certificate must carry (SNI); default: --lb-host",
            "FLOWLB_LB_NAME"),
    _Option("--ca-file", "flowlb_ca_file", "CA that signed the LB's certificate; default: the system store",
            "FLOWLB_CA_FILE", type=Path),
    _Option("--runtime-api", "flowlb_runtime_api", "HAProxy's runtime API: a UNIX socket path or tcp:HOST:PORT "
            "(evidence; needed for --destructive)", "FLOWLB_RUNTIME_API"),
    _Option("--stats-url", "flowlb_stats_url", "HAProxy's stats page (read-only evidence)", "FLOWLB_STATS_URL"),
    _Option("--stats-auth", "flowlb_stats_auth", "USER:PASS for --stats-url", "FLOWLB_STATS_AUTH"),
    _Option("--master-cli", "flowlb_master_cli", "HAProxy's master CLI (a UNIX socket path or tcp:HOST:PORT): with "
            "--destructive, the reload check reloads the LB through it", "FLOWLB_MASTER_CLI"),
    _Option("--reload-command", "flowlb_reload_command", "your own reload procedure, e.g. 'sudo systemctl reload "
            "haproxy' (run without a shell; with --destructive, the reload check uses it)", "FLOWLB_RELOAD_COMMAND"),
    _Option("--destructive", "flowlb_destructive", "allow checks that change the live LB: drain one server through "
            "the runtime API (always restored). Never kills anything.", type=bool),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    hold_signals_until_started()  # loaded by its entry point: an interrupt from here on waits for pytest_configure
    group = parser.getgroup("flowlb", "flowlb: the cluster under test")
    for option in _CLUSTER_OPTIONS:
        option.add_to(group)
    external = parser.getgroup("flowlb-external", "flowlb: --target external (a live LB, non-destructive)")
    for option in _EXTERNAL_OPTIONS:
        option.add_to(external)
    group.addoption("--fail-on", dest="flowlb_fail_on", action="append", default=[], metavar="{core,partial,"
                    "recommended}", help="what fails the run (exit 1) besides a core failure: partial (a core check "
                    "skipped), recommended (a warning); repeat it or give a comma list [env FLOWLB_FAIL_ON]")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # SIGTERM (CI cancelling a job) runs the same teardown as Ctrl-C, and a second or third signal waits for that
    # teardown instead of cutting it short: no containers, processes or .partial reports left behind.
    interrupt_once()
    for option in (*_CLUSTER_OPTIONS, *_EXTERNAL_OPTIONS):
        option.check(config)
    _check_input_files(config)
    loaded = _load_policy(config)
    fail_on = _fail_on(config)
    _management_networks(config)
    if config.getoption("flowlb_long_request", None) is None:
        config.option.flowlb_long_request = str(policy.current().long_request_s)
    for dest, flag, env, high in (("flowlb_stomp_idle", "--stomp-idle-seconds", "FLOWLB_STOMP_IDLE_S", 3600.0),
                                  ("flowlb_long_request", "--long-request-seconds", "FLOWLB_LONG_REQUEST_S", 600.0)):
        value = config.getoption(dest, None)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            seconds = float("nan")
        if not 0 < seconds <= high:  # also NaN, and text such as FLOWLB_STOMP_IDLE_S=abc
            pytest.exit(f"flowlb: {flag} (or {env}) {value!r}: give a number of seconds above 0 and at most {high:g}",
                        returncode=2)
        setattr(config.option, dest, seconds)
    config.addinivalue_line("markers", f"{NEEDS_ROLE_MARK}(role=None, param=None, layer='session'): fails at once when "
                                       "the start-of-run probe found that TLS role dead (flowlb.preflight)")
    config.addinivalue_line("markers", f"{LONG_WAIT_MARK}: judged from a wait that runs alongside the other checks "
                                       "(on a quiet twin of the cluster) and ends before the session does")
    if config.option.collectonly:
        return
    report_dir = config.getoption("flowlb_report_dir", "none")
    cfg = config.getoption("flowlb_haproxy_cfg")
    info = RunInfo(
        target=config.getoption("flowlb_target"),
        config=f"operator:{Path(cfg).name}" if cfg else (config.getoption("flowlb_profile") or "spec profile"),
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


def _load_policy(config: pytest.Config) -> policyfile.PolicyFile | None:
    """``--policy``, loaded and made the run's policy; a mistake in it ends the run: one line, exit 2."""
    path = config.getoption("flowlb_policy", None)
    if path is None:
        config.stash[POLICY_KEY] = None
        return None
    try:
        loaded = policyfile.load(Path(path))
    except FlowlbError as exc:
        pytest.exit(f"flowlb: --policy (or FLOWLB_POLICY): {exc}", returncode=2)
    policy.use(loaded.policy)
    config.stash[POLICY_KEY] = loaded
    return loaded


def _fail_on(config: pytest.Config) -> set[str]:
    """``--fail-on`` (else FLOWLB_FAIL_ON) as a set of levels; a wrong word ends the run: one line, exit 2."""
    given = config.getoption("flowlb_fail_on", None) or [os.environ.get("FLOWLB_FAIL_ON", "")]
    try:
        return levels.parse_fail_on(given)
    except ValueError as exc:
        pytest.exit(f"flowlb: {exc} (or FLOWLB_FAIL_ON)", returncode=2)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """The run is over, its clusters gone: a late Ctrl-C must not kill it by the signal as Python exits."""
    policy.use(policy.Policy())  # a program that runs pytest again in-process starts from flowlb's own policy
    cleanup_done(exiting=_pytest_is_the_program())


def _pytest_is_the_program() -> bool:
    """Whether this process is ``pytest`` or ``python -m pytest`` (and so exits after this run), not a program
    that runs pytest in-process and goes on."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = spec.name if spec is not None else Path(getattr(main, "__file__", None) or "").name
    return name in {"pytest", "pytest.__main__", "py.test"}


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
        """Judge the run and publish its report once junit.xml is written; drop it when the run did not finish.

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


def _remember_config(pytestconfig: pytest.Config, spec: ClusterSpec | None, text: str | None,
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
    """A report that cannot be written (a full disk, junit.xml included) is one line and exit 2, and its
    ``.partial`` directory goes: never a half-written report."""
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
    operator = config.stash.get(OPERATOR_KEY, None)
    for line in operator.disarmed_lines() if operator is not None else []:
        terminalreporter.write_line(f"flowlb: disarmed {line}")  # what of the config this run did not test
    for key in (SHARED_KEY, KEPT_KEY):
        note = config.stash.get(key, None)
        if note:
            terminalreporter.write_line(f"flowlb: {note}")


@pytest.fixture(scope="session")
def flowlb_spec(pytestconfig: pytest.Config) -> ClusterSpec:
    """The cluster spec of this run."""
    try:
        return load_spec(pytestconfig.getoption("flowlb_spec"))
    except FlowlbError as exc:
        pytest.exit(f"flowlb: {exc}", returncode=2)


@pytest.fixture(scope="session")
def cluster_start(
    pytestconfig: pytest.Config, flowlb_spec: ClusterSpec, record_testsuite_property: Callable[[str, object], None],
    request: pytest.FixtureRequest,
) -> Iterator[Target | HAProxyConfigError]:
    """Start the cluster once: the running target, or HAProxy's refusal of the config ("does not load").

    Any other start-up failure (no target, a spec or file error, Docker trouble) ends the session
    with one line and exit code 2.
    """
    profile = pytestconfig.getoption("flowlb_profile") or flowlb_spec.profile
    cfg_path = pytestconfig.getoption("flowlb_haproxy_cfg")
    try:
        requested = pytestconfig.getoption("flowlb_target")
        shared = pytestconfig.getoption("flowlb_shared_cluster") is not None
        kind = choose_target("local" if shared and requested == "auto" else requested)
        _remember_config(pytestconfig, flowlb_spec, None)
        if kind == "external":
            live = _external_target(pytestconfig, flowlb_spec)
            _describe_run(pytestconfig, live, None, record_testsuite_property)
            waits = _start_long_waits(request, lambda: live, owns_target=False)
            try:
                yield live
            finally:
                if waits is not None:
                    waits.close()
            return
        operator = OperatorConfig.load(Path(cfg_path), flowlb_spec) if cfg_path else None
        pytestconfig.stash[OPERATOR_KEY] = operator
        _remember_config(pytestconfig, flowlb_spec, operator.text if operator is not None else None)
        target = _shared_target(pytestconfig, kind, flowlb_spec, profile, operator) or start_target(
            kind, flowlb_spec, profile, operator, pytestconfig.getoption("flowlb_haproxy_version"),
            pytestconfig.getoption("flowlb_haproxy_image"), keep=bool(pytestconfig.getoption("flowlb_keep")))
    except HAProxyConfigError as refused:
        missing = pytestconfig.stash.get(OPERATOR_KEY, None)
        if missing is not None and missing.last is not None and missing.last.unavailable:
            pytest.skip(f"the config cannot run on the test cluster: {'; '.join(missing.last.unavailable)} "
                        f"(HAProxy: {refused})")
        yield refused
        return
    except FlowlbError as exc:
        pytest.exit(f"flowlb: {exc}", returncode=2)

    def twin() -> Target:
        again = OperatorConfig.load(Path(cfg_path), flowlb_spec) if cfg_path else None
        return start_target(kind, flowlb_spec, profile, again, pytestconfig.getoption("flowlb_haproxy_version"),
                            pytestconfig.getoption("flowlb_haproxy_image"))

    waits = None
    try:  # from the moment the cluster runs: an interrupt while it is described or its twin starts tears it down
        _describe_run(pytestconfig, target, operator, record_testsuite_property)
        waits = _start_long_waits(request, twin, owns_target=True)
        yield target
    finally:
        with deferred_signals():  # the first Ctrl-C may land in the teardown: it must not cut it short
            if waits is not None:
                waits.close()
            keep_running = getattr(target, "keep_running", None)
            if pytestconfig.getoption("flowlb_keep") and callable(keep_running):
                pytestconfig.stash[KEPT_KEY] = keep_running()  # said at the very end, where the user sees it
            else:
                target.close()


def _shared_target(
    pytestconfig: pytest.Config, kind: str, spec: ClusterSpec, profile: str, operator: OperatorConfig | None
) -> Target | None:
    """With ``--shared-cluster``, this run's config on the shared cluster; ``None`` (said why) when it does not fit."""
    ticket = pytestconfig.getoption("flowlb_shared_cluster")
    if ticket is None:
        return None
    if kind != "local":
        raise FlowlbError(f"--shared-cluster is a local cluster: it runs with --target local, not {kind}")
    from flowlb.targets.shared import attach

    attached = attach(ticket, spec, profile, operator)
    if isinstance(attached, str):
        pytestconfig.stash[SHARED_KEY] = (f"this config does not fit the shared cluster ({attached}); it got a "
                                          "cluster of its own")
        return None
    pytestconfig.stash[SHARED_KEY] = "this config ran on the shared cluster, loaded by a reload of its HAProxy"
    return attached


def _start_long_waits(
    request: pytest.FixtureRequest, start: Callable[[], Target], owns_target: bool
) -> LongWaits | None:
    """The session's long waits, started now when any selected check is judged from one (else ``None``)."""
    config = request.config
    waits = None
    if any(item.get_closest_marker(LONG_WAIT_MARK) for item in request.session.items):
        waits = LongWaits(start, float(config.getoption("flowlb_stomp_idle")),
                          float(config.getoption("flowlb_long_request")), config.getoption("flowlb_stomp_vhost"),
                          owns_target=owns_target)
    config.stash[LONG_WAITS_KEY] = waits
    return waits


@pytest.fixture
def long_wait(cluster: Target, pytestconfig: pytest.Config) -> Callable[[str], WaitOutcome]:
    """``long_wait("stomp_idle")``: the outcome of a long wait that ran alongside the other checks."""
    waits = pytestconfig.stash.get(LONG_WAITS_KEY, None)
    if waits is None:
        pytest.fail("the long waits were not started (the check lacks its long_wait mark)")

    def outcome(name: str) -> WaitOutcome:
        result = waits.outcome(name)
        if result.skipped:
            pytest.skip(result.skipped)
        return result

    return outcome


def _describe_run(
    pytestconfig: pytest.Config, target: Target, operator: OperatorConfig | None,
    record_testsuite_property: Callable[[str, object], None],
) -> None:
    """What was tested, into the report, JUnit's properties and the output: the target, HAProxy and OpenSSL, the
    config and its sha256, the nodes and where each extra listener was tested."""
    listeners = {}
    if operator is not None and operator.last is not None:
        for listener in operator.last.extra_listeners:
            endpoint = target.extra_endpoints.get(listener.port)
            where = f"{listener.original} ({listener.section}, line {listener.line})"
            listeners[where] = f"{endpoint.host}:{endpoint.port}" if endpoint else "not published"
    disarmed = operator.disarmed_lines() if operator is not None else []
    build = target.haproxy_build()
    if operator is not None:
        config_path, digest = str(operator.path), hashlib.sha256(operator.text.encode()).hexdigest()
    elif target.config_text:
        config_path, digest = f"profile {target.profile}", hashlib.sha256(target.config_text.encode()).hexdigest()
        _remember_config(pytestconfig, None, target.config_text, keep=True)
    else:
        config_path, digest = "the live LB's own", ""
    identity = {
        "target": target.kind, "haproxy": build.version if build else "", "openssl":
        (build.openssl_running or build.openssl_built) if build else "", "config": config_path, "config_sha256": digest,
        "flowlb": __version__, "haproxy_image": getattr(target, "haproxy_image", ""),
        "egress_fence": getattr(target, "egress_fence", ""),
    }
    for name, value in identity.items():
        record_testsuite_property(f"flowlb.{name}", value)
    report = pytestconfig.stash.get(REPORT_KEY, None)
    if report is not None:
        info = report.info
        info.nodes, info.extra_listeners, info.resolved_target = target.node_names(), listeners, target.kind
        info.disarmed = disarmed
        info.haproxy, info.openssl = identity["haproxy"], identity["openssl"]
        info.haproxy_image, info.egress_fence = identity["haproxy_image"], identity["egress_fence"]
        info.config_path, info.config_sha256 = config_path, digest
    if build is not None:
        print(f"\nflowlb: {build.line} on the {target.kind} target; config {config_path} {digest[:16]}")
    if identity["egress_fence"]:
        print(f"\nflowlb: egress fence: {identity['egress_fence']}")
    for where, address in listeners.items():
        print(f"\nflowlb: extra listener {where} is tested at {address}")


def _external_target(pytestconfig: pytest.Config, spec: ClusterSpec) -> Target:
    """The live LB of ``--target external``, from its options (one-line errors on bad ones)."""
    from flowlb.targets.external import ExternalTarget, refuse_unreachable

    if pytestconfig.getoption("flowlb_haproxy_cfg"):
        raise FlowlbError("--haproxy-cfg runs your config on the test cluster; with --target external the LB "
                          "already runs its own (lint the file with `flowlb lint`)")
    option = pytestconfig.getoption
    live = ExternalTarget.from_options(
        spec, option("flowlb_lb_host"), option("flowlb_lb_ports"), option("flowlb_ca_file"),
        option("flowlb_lb_name"), option("flowlb_runtime_api"), option("flowlb_stats_url"),
        option("flowlb_stats_auth"), option("flowlb_master_cli"), option("flowlb_reload_command"),
    )
    refuse_unreachable(live.host, live.ports)
    return live


@pytest.fixture(scope="session")
def cluster(cluster_start: Target | HAProxyConfigError) -> Target:
    """The cluster under test; every check skips when the config does not load (that check fails)."""
    if isinstance(cluster_start, HAProxyConfigError):
        pytest.skip("the config does not load (see loads/test_config_loads.py)")
    return cluster_start


@pytest.fixture
def lb(cluster: Target, request: pytest.FixtureRequest) -> Target:
    """The cluster, reset to its starting state for this test; a check of how servers are health-checked skips
    when the harness could not keep the config's health checks (an ``external-check`` it does not run)."""
    operator = request.config.stash.get(OPERATOR_KEY, None)
    changed = operator.last.health_checks_changed if operator is not None and operator.last is not None else ""
    if changed and catalogue.by_file(request.node.nodeid) in catalogue.checks_showing("FLOW003"):
        pytest.skip(changed)
    cluster.reset()
    return cluster


@pytest.fixture(scope="session")
def preflight(cluster: Target, pytestconfig: pytest.Config) -> dict[str, RoleState]:
    """What each TLS port answered at the start of the run (a TLS handshake; a STOMP session on 61613)."""
    return probe(cluster.endpoints, cluster.ca_file, pytestconfig.getoption("flowlb_stomp_vhost"))


@pytest.fixture(autouse=True)
def _needs_live_role(request: pytest.FixtureRequest) -> None:
    """A check marked ``needs_role`` fails at set-up, naming why, when the start-of-run probe found its port
    dead, instead of waiting out its own timeouts (plain STOMP on 61613 cost some twenty of them)."""
    params = getattr(request.node, "callspec", None)
    for marker in request.node.iter_markers(NEEDS_ROLE_MARK):
        role = marker.kwargs.get("role") or (params.params.get(marker.kwargs["param"]) if params else None)
        if role is None:
            continue
        states: dict[str, RoleState] = request.getfixturevalue("preflight")
        why = why_dead(states, role, marker.kwargs.get("layer", SESSION))
        if why:
            pytest.fail(f"{why}. This check needs that port working; the smoke check smoke/every_port_answers names "
                        f"the same failure. Fix the port first.", pytrace=False)


@pytest.fixture
def extra_listeners(lb: Target, pytestconfig: pytest.Config) -> list[ExtraListener]:
    """The operator config's binds outside the five LB roles (stats listeners, exporters), as mapped."""
    operator = pytestconfig.stash.get(OPERATOR_KEY, None)
    if operator is None or operator.last is None:
        return []
    return list(operator.last.extra_listeners)


@pytest.fixture(scope="session")
def management_networks(pytestconfig: pytest.Config) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``--management-networks`` parsed (checked when the run starts)."""
    return _management_networks(pytestconfig)


def _check_input_files(config: pytest.Config) -> None:
    """``--haproxy-cfg`` and ``--spec`` are regular files of bounded size, checked before anything starts: a FIFO
    or a device ends the run with one line and exit 2 instead of hanging it."""
    for dest, flag, what in (("flowlb_haproxy_cfg", "--haproxy-cfg", "config"), ("flowlb_spec", "--spec", "spec")):
        path = config.getoption(dest, None)
        if path is None:
            continue
        try:
            check_input(Path(path), what)
        except FlowlbError as exc:
            pytest.exit(f"flowlb: {flag}: {exc}", returncode=2)


def _management_networks(config: pytest.Config) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``--management-networks`` parsed, else the policy file's ``management_networks``; a bad CIDR ends the run
    with one line and exit 2."""
    text = config.getoption("flowlb_management_networks", None) or ",".join(policy.current().management_networks)
    try:
        return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        pytest.exit(f"flowlb: --management-networks (or FLOWLB_MANAGEMENT_NETWORKS): {exc}", returncode=2)


ON_HARNESS = "run it on the local or containers target (with --haproxy-cfg for your own config)"
"""What lets a check that needs flowlb's own nodes run: the skip message on a live LB says so."""


def _offered(thing: T | None, missing: str, remedy: str = ON_HARNESS) -> T:
    """``thing``, or a skip saying what the check needs that this target does not offer, and what would."""
    if thing is None:
        pytest.skip(f"needs {missing}, which this target does not offer: {remedy}")
    return thing


@pytest.fixture
def node_control(lb: Target) -> NodeControl:
    """Control of the Flow nodes; checks that need it skip where the nodes are not ours."""
    return _offered(lb.nodes(), "control of the Flow nodes")


@pytest.fixture
def drill(
    node_control: NodeControl,
    backend: Callable[[str], Backend],
    http: Callable[..., urllib3.HTTPConnectionPool],
    record_property: Callable[[str, object], None],
) -> Drill:
    """Everything a check that fails a node works with (see :class:`flowlb.checks.drill.Drill`)."""
    return Drill(node_control, backend, http, record_property)


@pytest.fixture
def node_echo(lb: Target) -> None:
    """Checks that read what reached the node (the mock's echo) skip where the nodes are real Flow servers."""
    if not lb.echoes():
        pytest.skip(f"needs nodes that echo what reached them (flowlb's mock nodes); this LB fronts real servers: "
                    f"{ON_HARNESS}")


@pytest.fixture
def destructive(pytestconfig: pytest.Config, lb: Target) -> None:
    """Checks that change HAProxy's state run on harness targets, and on a live LB only with --destructive."""
    if lb.kind == "external" and not pytestconfig.getoption("flowlb_destructive"):
        pytest.skip("changes server state on the live LB: opt in with --destructive (it is always restored)")
    if isinstance(lb.evidence(), StatsPage):
        pytest.skip("changes server state through HAProxy's runtime API: give --runtime-api (a stats page only reads)")


@pytest.fixture
def runtime(lb: Target) -> RuntimeAPI:
    """HAProxy's runtime API; checks that need HAProxy's own evidence skip without it."""
    return _offered(lb.evidence(), "HAProxy's counters", "give --runtime-api (or --stats-url)")


@pytest.fixture(scope="session")
def _routes() -> dict[str, Route]:
    return {}


@pytest.fixture
def backend(
    lb: Target, runtime: RuntimeAPI, http: Callable[..., urllib3.HTTPConnectionPool], _routes: dict[str, Route],
    flowlb_spec: ClusterSpec,
) -> Callable[[str], Backend]:
    """``backend("server")``: the HAProxy backend behind an HTTP role, its servers' nodes, their check timing."""
    if not lb.echoes():
        pytest.skip(f"needs to know which node answered (flowlb's mock nodes name themselves); real Flow servers "
                    f"do not: {ON_HARNESS}")

    def learn(role: str) -> Backend:
        if role not in _routes:
            _routes[role] = _route(lb, runtime, http_exchange(http(role)))
        return Backend(_routes[role], runtime, lb.config_text, flowlb_spec)

    return learn


def _route(lb: Target, runtime: RuntimeAPI, one_exchange: Callable[[int], object]) -> Route:
    """The backend behind an LB role (learned from HAProxy's counters) and its servers' nodes (from the config)."""
    layout = getattr(lb, "layout", None)
    if layout is None or not lb.config_text:
        pytest.skip(f"needs the config HAProxy runs, to know which server is which node: {ON_HARNESS}")
    try:
        return config_route(runtime, layout, learn_backend(runtime, one_exchange))
    except FlowlbError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def stomp_session(lb: Target, pytestconfig: pytest.Config) -> Iterator[Callable[..., StompSession]]:
    """``stomp_session()``: a STOMP session through the LB's 61613, TLS verified against the run's CA."""
    sessions: list[StompSession] = []

    def open_one(**kwargs: Any) -> StompSession:
        try:
            kwargs.setdefault("vhost", pytestconfig.getoption("flowlb_stomp_vhost"))
            kwargs.setdefault("server_name", lb.endpoints.server_name)
            session = open_session(lb.endpoints.stomp, lb.ca_file, **kwargs)
        except StompError as exc:
            pytest.fail(f"no STOMP session through the LB: {exc}")
        sessions.append(session)
        return session

    yield open_one
    for session in sessions:
        session.close()  # each bounded (StompSession.close)


@pytest.fixture
def stomp_backend(
    lb: Target, runtime: RuntimeAPI, stomp_session: Callable[..., StompSession], _routes: dict[str, Route],
    flowlb_spec: ClusterSpec,
) -> Backend:
    """The HAProxy backend behind 61613, its servers' nodes and their check timing."""
    if not lb.echoes():
        pytest.skip(f"needs to know which node took a STOMP session (the mock names itself in CONNECTED): "
                    f"{ON_HARNESS}")
    if "stomp" not in _routes:

        def one_session(index: int) -> None:
            stomp_session().close()

        _routes["stomp"] = _route(lb, runtime, one_session)
    return Backend(_routes["stomp"], runtime, lb.config_text, flowlb_spec)


@pytest.fixture
def http(lb: Target) -> Iterator[Callable[..., urllib3.HTTPConnectionPool]]:
    """``http("server_tls")``: a keep-alive pool to an LB role, TLS verified against the run's CA."""
    pools: list[urllib3.HTTPConnectionPool] = []

    def make(role: str, **kwargs: Any) -> urllib3.HTTPConnectionPool:
        tls = role in TLS_ROLES
        pool = lb_pool(
            lb.endpoints.by_role()[role], tls=tls, ca_file=lb.ca_file, server_name=lb.endpoints.server_name, **kwargs
        )
        pools.append(pool)
        return pool

    yield make

    def close_all() -> None:
        for pool in pools:
            pool.close()

    within(CLOSE_WITHIN_S, close_all, "closing the connections to the LB")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """On a failed check against an operator's config, show the lines the harness rewrote."""
    outcome = yield
    report = outcome.get_result()
    operator = item.config.stash.get(OPERATOR_KEY, None)
    if report.failed and call.when == "call" and operator is not None and operator.last is not None:
        report.sections.append(
            (f"flowlb: lines of {operator.path} rewritten for the test cluster", operator.last.relevant_lines())
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Checks judged from a long wait go last: by then their wait, started with the cluster, has mostly run."""
    items.sort(key=lambda item: item.get_closest_marker(LONG_WAIT_MARK) is not None)


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"flowlb: target={config.getoption('flowlb_target')} "
        f"profile={config.getoption('flowlb_profile') or '(spec)'} spec={config.getoption('flowlb_spec') or 'default'}"
    )
