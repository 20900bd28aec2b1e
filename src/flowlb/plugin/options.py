"""The suite's command-line options and their checks: a bad value ends the run before anything starts, with one
line and exit 2. The choices come from the modules that own them (targets, profiles, HAProxy lines)."""

from __future__ import annotations

import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flowlb import levels, paths, policy, policyfile
from flowlb.errors import FlowlbError
from flowlb.haproxy.version import DEBIAN_SUITES, VERSIONS
from flowlb.inputs import check_input
from flowlb.interrupts import cleanup_done, hold_signals_until_started, interrupt_once
from flowlb.plugin.keys import LONG_WAIT_MARK, NEEDS_ROLE_MARK, POLICY_KEY
from flowlb.plugin.report import open_report
from flowlb.spec import PROFILES
from flowlb.targets.external import LB_OPTION_HELP
from flowlb.targets.select import DEFAULT_TARGET, TARGETS


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
            "FLOWLB_TARGET", DEFAULT_TARGET, choices=TARGETS),
    _Option("--profile", "flowlb_profile", "config to render: kb (the article) or hardened (default: the spec's)",
            "FLOWLB_PROFILE", choices=PROFILES),
    _Option("--spec", "flowlb_spec", "cluster spec (TOML; default fixtures/cluster.toml)", "FLOWLB_SPEC", type=Path),
    _Option("--haproxy-cfg", "flowlb_haproxy_cfg", "run YOUR haproxy.cfg instead of a generated profile: the test "
            "cluster is sized from it, its binds, servers and certificate paths are mapped onto it, everything else "
            "runs as written", "FLOWLB_HAPROXY_CFG", type=Path),
    _Option("--report-dir", "flowlb_report_dir", "where each run's report goes (junit.xml, index.html, "
            "summary.json); 'none' for no report", "FLOWLB_REPORT_DIR", str(paths.REPORTS)),
    _Option("--haproxy-version", "flowlb_haproxy_version", "the HAProxy LTS line the containers target runs, built "
            "offline from Debian (" + ", ".join(f"{version} {suite}" for version, suite in DEBIAN_SUITES.items()) + ")",
            "FLOWLB_HAPROXY_VERSION",
            choices=VERSIONS),
    _Option("--haproxy-image", "flowlb_haproxy_image", "run HAProxy from this image on the containers target "
            "instead of flowlb's own, e.g. haproxy:3.2 (pulled if it is not in the engine); it reads "
            "/usr/local/etc/haproxy/haproxy.cfg and may run as a non-root user, as the official images do",
            "FLOWLB_HAPROXY_IMAGE"),
    _Option("--stomp-idle-seconds", "flowlb_stomp_idle", "how long a STOMP session with heart-beats off must "
            "survive silence where HAProxy's timers for it cannot be read (a live LB)", "FLOWLB_STOMP_IDLE_S", "45"),
    _Option("--long-request-seconds", "flowlb_long_request", "how long a Flow API call on 8000 and 8443 may take "
            "and still get its answer (the mock node answers after this long; at most 600; default: the policy's "
            f"long_request_s, {policy.LONG_REQUEST_S:g})", "FLOWLB_LONG_REQUEST_S"),
    _Option("--stomp-vhost", "flowlb_stomp_vhost", LB_OPTION_HELP["--stomp-vhost"], "FLOWLB_STOMP_VHOST"),
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
    _Option("--lb-host", "flowlb_lb_host", LB_OPTION_HELP["--lb-host"], "FLOWLB_LB_HOST"),
    _Option("--lb-ports", "flowlb_lb_ports", LB_OPTION_HELP["--lb-ports"], "FLOWLB_LB_PORTS", ""),
    _Option("--lb-name", "flowlb_lb_name", LB_OPTION_HELP["--lb-name"], "FLOWLB_LB_NAME"),
    _Option("--ca-file", "flowlb_ca_file", LB_OPTION_HELP["--ca-file"], "FLOWLB_CA_FILE", type=Path),
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
    parse_management_networks(config)
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
    if not config.option.collectonly:
        open_report(config, loaded, fail_on)


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


def parse_management_networks(config: pytest.Config) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``--management-networks`` parsed, else the policy file's ``management_networks``; a bad CIDR ends the run
    with one line and exit 2."""
    text = config.getoption("flowlb_management_networks", None) or ",".join(policy.current().management_networks)
    try:
        return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        pytest.exit(f"flowlb: --management-networks (or FLOWLB_MANAGEMENT_NETWORKS): {exc}", returncode=2)


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"flowlb: target={config.getoption('flowlb_target')} "
        f"profile={config.getoption('flowlb_profile') or '(spec)'} spec={config.getoption('flowlb_spec') or 'default'}"
    )
