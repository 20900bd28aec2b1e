"""``flowlb``: the command line. Every failure is one line on stderr and a non-zero exit.

flowlb generate [--spec PATH] [--profile kb|hardened] [--cert PATH] [-o FILE]
flowlb up [--target TARGET] [--spec PATH] [--profile kb|hardened] [--hold]
flowlb lint PATH [--spec PATH] [--format text|json|sarif|junit] [--haproxy-version VERSION] [--fail-on recommended]
flowlb matrix [--haproxy-cfg PATH] [--versions V,V,...] [--report-dir DIR] [-- PYTEST-ARGS]
flowlb compare BEFORE AFTER [--out DIR] [--figure-rel 0.25] [--figure-abs 0.5]
flowlb load [--target ...] [--haproxy-cfg PATH] [--run-time 30s] [--users N | --arrival-rate R] [--mix api=4,stomp=2]
            [--failover kill|hang] [--find-capacity] [--baseline REPORT]
            [--target external --lb-host H --lb-ports ... --ca-file PEM]
            [--flow-user NAME (password: $FLOWLB_FLOW_PASSWORD or --flow-password-file FILE)] [--allow-writes]
            [-- LOCUST ARGS]
flowlb mock-node --name node1 [--host H] [--web-port P] [--server-port P] [--stomp-port P] [--control-port P]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

from flowlb import paths
from flowlb.errors import FlowlbError
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.render import render
from flowlb.haproxy.version import VERSIONS
from flowlb.load import searchoptions
from flowlb.load.plan import LoadPlan
from flowlb.spec import PROFILES, load_spec
from flowlb.targets.base import FAILOVERS
from flowlb.targets.external import LB_OPTION_HELP
from flowlb.targets.select import CLUSTER_TARGETS, DEFAULT_TARGET, TARGETS


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``flowlb`` command; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["mock-node"]:
        from flowlb.mocknode.__main__ import main as mock_node_main

        return mock_node_main(args[1:])
    from flowlb.interrupts import cleanup_done, interrupt_once

    if args[:1] == ["load"]:
        from flowlb.load.credentials import refuse_password_arguments

        try:  # before argparse, which would take --flow-password as --flow-password-file and echo the password
            refuse_password_arguments(args[1:])
        except ValueError as exc:
            print(f"flowlb load: {exc}", file=sys.stderr)
            return 2
    parser = _parser()
    options = parser.parse_args(args)
    interrupt_once()  # every command: SIGTERM as well as Ctrl-C lets its cleanup run (temp files, children)
    try:
        code: int = options.run(options)
    except FlowlbError as exc:
        print(f"flowlb: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("flowlb: interrupted", file=sys.stderr)
        return 130
    finally:
        cleanup_done()  # a signal during Python's own exit no longer kills an interrupted run by that signal
    return code


class _OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (the usage itself is in ``--help``), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="flowlb", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    _generate_command(commands)
    _up_command(commands)
    _lint_command(commands)
    _matrix_command(commands)
    _compare_command(commands)
    _load_command(commands)
    commands.add_parser("mock-node", help="run one mock Flow node (see flowlb mock-node --help)", add_help=False)
    return parser


def _generate_command(commands: Any) -> None:
    """flowlb generate: its options."""
    generate = commands.add_parser("generate", help="write haproxy.cfg for a cluster spec")
    generate.add_argument("--spec", type=Path, help="cluster spec (TOML); default fixtures/cluster.toml")
    generate.add_argument("--profile", choices=PROFILES, help="kb (the article) or hardened; default: the spec's")
    generate.add_argument("--cert", default="/etc/haproxy/server.pem", help="PEM path HAProxy serves on TLS ports")
    generate.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    generate.set_defaults(run=_generate)


def _up_command(commands: Any) -> None:
    """flowlb up: its options."""
    up = commands.add_parser("up", help="start a cluster, print its endpoints and how long it took")
    _cluster_options(up)
    up.add_argument("--hold", action="store_true", help="keep it running until Ctrl-C (default: tear down)")
    up.set_defaults(run=_up)


def _lint_command(commands: Any) -> None:
    """flowlb lint: its options."""
    lint = commands.add_parser("lint", help="haproxy -c plus the Flow rules on a haproxy.cfg; exit 1 on a core finding")
    lint.add_argument("path", type=Path, help="the haproxy.cfg to lint")
    lint.add_argument("--spec", type=Path, help="cluster spec (ports, health path); default fixtures/cluster.toml")
    lint.add_argument("--format", choices=("text", "json", "sarif", "junit"), default="text",
                      help="text (default), json, sarif (SARIF 2.1.0, for code scanning) or junit (JUnit XML, for CI)")
    lint.add_argument("--fail-on", action="append", default=[], metavar="LEVEL",
                      help="also exit 1 on recommended findings ('recommended') or when haproxy could not check "
                      "the file ('partial'); repeat or comma-separate. A core finding always fails")
    lint.add_argument("--haproxy-version", choices=VERSIONS, help="also flag what this HAProxy line does "
                      f"differently or warns about ({', '.join(VERSIONS)})")
    lint.add_argument("--policy", type=Path, default=os.environ.get("FLOWLB_POLICY") or None,
                      help="your policy file (TOML; also FLOWLB_POLICY): its numbers, its levels for FLOW rules and "
                      "its waivers of FLOW rules; see fixtures/policy.example.toml")
    lint.set_defaults(run=_lint)


def _matrix_command(commands: Any) -> None:
    """flowlb matrix: its options."""
    matrix = commands.add_parser("matrix", help="the conformance suite on HAProxy 2.6, 3.0 and 3.2 (containers), "
                                 "one side-by-side report")
    matrix.add_argument("--haproxy-cfg", type=Path, help="your haproxy.cfg (default: the hardened profile)")
    matrix.add_argument("--versions", default=",".join(VERSIONS),
                        help=f"comma-separated (default {','.join(VERSIONS)})")
    matrix.add_argument("--report-dir", type=Path, default=paths.REPORTS, help="where reports go (default reports/)")
    matrix.add_argument("pytest_args", nargs="*", help="after --: options for each suite run")
    matrix.set_defaults(run=_matrix)


def _compare_command(commands: Any) -> None:
    """flowlb compare: its options."""
    compare = commands.add_parser("compare", help="what changed between two conformance runs (before and after a "
                                  "change window); exit 1 when a check that passed fails now")
    compare.add_argument("before", type=Path, help="the run before: a run directory, or a report root (its latest)")
    compare.add_argument("after", type=Path, help="the run after, the same way")
    compare.add_argument("--out", type=Path, help="folder for compare.json and compare.md (default: beside AFTER's "
                         "run directory, compare-BEFORE--AFTER)")
    compare.add_argument("--figure-rel", type=float, default=0.25, help="a figure changed when it moved by more "
                         "than this share of the larger value (default 0.25) ...")
    compare.add_argument("--figure-abs", type=float, default=0.5, help="... and by more than this much, in its unit "
                         "(seconds, requests; default 0.5)")
    compare.set_defaults(run=_compare)


def _load_command(commands: Any) -> None:
    """flowlb load: its options."""
    load = commands.add_parser("load", help="run loadtests/flow.py headless on flowlb's cluster (a profile or your "
                               "--haproxy-cfg) or on a live LB (--target external), write reports/")
    _cluster_options(load, TARGETS)
    load.add_argument("--haproxy-cfg", type=Path, help="load YOUR haproxy.cfg on flowlb's cluster, sized from it and "
                      "remapped and contained as the conformance suite runs it")
    live = load.add_argument_group("--target external", "a live LB flowlb did not start (the suite's options)")
    live.add_argument("--lb-host", help=LB_OPTION_HELP["--lb-host"])
    live.add_argument("--lb-ports", default="", help=LB_OPTION_HELP["--lb-ports"])
    live.add_argument("--lb-name", help=LB_OPTION_HELP["--lb-name"])
    live.add_argument("--ca-file", type=Path, help=LB_OPTION_HELP["--ca-file"])
    load.add_argument("--stomp-vhost", default="", help=LB_OPTION_HELP["--stomp-vhost"])
    load.add_argument("--run-time", default=LoadPlan.run_time,
                      help=f"how long the load runs (Locust syntax: 30s, 5m); default {LoadPlan.run_time}")
    load.add_argument("--users", type=int, default=LoadPlan.users,
                      help=f"concurrent Locust users (default {LoadPlan.users})")
    load.add_argument("--spawn-rate", type=float, default=LoadPlan.spawn_rate,
                      help=f"users started per second (default {LoadPlan.spawn_rate:g})")
    load.add_argument("--mix", default="", help="scenario weights, e.g. api=4,handshake=1,stomp=2 (0 leaves one out)")
    load.add_argument("--processes", type=int, default=0, help="Locust worker processes (Locust's --processes)")
    load.add_argument("--failover", choices=FAILOVERS, help="kill or freeze one node once load flows")
    load.add_argument("--failover-after", type=float, help="seconds of load before the failure (default: a third)")
    load.add_argument("--find-capacity", action="store_true",
                      help="step users up until the SLO breaks; report the capacity per path and the knee")
    searchoptions.add_cli_options(load)  # --step-users, --step-seconds, --max-users: one table with Locust's
    load.add_argument("--slo-p95-ms", default="",
                      help="p95 limits per path, e.g. https=200,stomp=100 (ms); --find-capacity's default: 200 on each")
    load.add_argument("--arrival-rate", type=float,
                      help="an open model: requests per second in total, split by --mix, latency from the intended "
                           "send time (HdrHistogram); an invalid run (the generator did not keep up) exits 3")
    load.add_argument("--rate-step", type=float,
                      help="with --find-capacity --arrival-rate: req/s added per step (default: the first rate)")
    load.add_argument("--max-rate", type=float,
                      help="with --find-capacity --arrival-rate: where the rate search ends (default: 20 x the first)")
    load.add_argument("--baseline", type=Path,
                      help="an earlier load report (directory or summary.json): exit 1 when p99 or errors regress")
    load.add_argument("--report-dir", type=Path, default=paths.REPORTS, help="where the run directory goes")
    load.add_argument("--locustfile", type=Path, help="default: loadtests/flow.py")
    load.add_argument("locust_args", nargs=argparse.REMAINDER, help="after --: more Locust options")
    from flowlb.load.credentials import add_load_options

    add_load_options(load)
    load.set_defaults(run=_load)


def _cluster_options(parser: argparse.ArgumentParser, targets: tuple[str, ...] = CLUSTER_TARGETS) -> None:
    """The options of a command that starts the default cluster: where, from which spec, which profile."""
    parser.add_argument("--target", choices=targets, default=DEFAULT_TARGET)
    parser.add_argument("--spec", type=Path, help="cluster spec (TOML); default fixtures/cluster.toml")
    parser.add_argument("--profile", choices=PROFILES, help="default: the spec's")


def _generate(options: argparse.Namespace) -> int:
    if not options.cert or any(c.isspace() for c in options.cert):
        raise FlowlbError(f"--cert {options.cert!r}: give the path of a PEM file, without spaces (HAProxy's crt)")
    spec = load_spec(options.spec)
    text = render(spec, options.profile or spec.profile, Layout.for_spec(spec, cert_path=options.cert))
    if options.output is None:
        sys.stdout.write(text)
    else:
        write_atomically(options.output, text)
    return 0


def _up(options: argparse.Namespace) -> int:
    import signal
    import time

    from flowlb.interrupts import deferred_signals, interrupt_once
    from flowlb.targets.select import choose_target, start_target

    spec = load_spec(options.spec)
    kind = choose_target(options.target)
    interrupt_once()  # Ctrl-C or SIGTERM interrupts once; more signals wait for the teardown
    started = time.monotonic()
    target = start_target(kind, spec, options.profile or spec.profile)
    try:
        print(f"cluster ready on {kind} ({target.profile}) in {time.monotonic() - started:.2f} s")
        for role, endpoint in target.endpoints.by_role().items():
            print(f"  {role:<10} {endpoint.host}:{endpoint.port}")
        print(f"  CA file    {target.ca_file}  (verify the name {target.endpoints.server_name})")
        if options.hold:
            print("holding; Ctrl-C tears it down", flush=True)
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stopping = time.monotonic()
        with deferred_signals():  # Ctrl-C during the teardown waits for it
            target.close()
        print(f"torn down in {time.monotonic() - stopping:.2f} s")
    return 0


def _lint(options: argparse.Namespace) -> int:
    from flowlb import policy, policyfile
    from flowlb.levels import parse_fail_on
    from flowlb.lint.output import FORMATS
    from flowlb.lint.run import lint_result

    try:
        fail_on = parse_fail_on(options.fail_on)
    except ValueError as exc:
        raise FlowlbError(str(exc)) from None
    chosen = policyfile.load(options.policy) if options.policy is not None else None
    if chosen is not None:
        policy.use(chosen.policy)  # the rules read their bounds from it (header timeout, hung detection...)
    rule_levels = {rule: level for rule, level in (chosen.levels if chosen else {}).items() if rule.startswith("FLOW")}
    try:
        result = lint_result(options.path, load_spec(options.spec), options.haproxy_version, rule_levels,
                             chosen.waivers if chosen else ())
    except ValueError as exc:  # a level for a FLOW rule that does not exist
        raise FlowlbError(f"{options.policy}: [levels] {exc}") from None
    if shutil.which("haproxy") is None:
        print("flowlb: note: no haproxy on PATH, so whether HAProxy loads the file (FLOW000) was not checked",
              file=sys.stderr)
    sys.stdout.write(FORMATS[options.format](result, fail_on))
    return result.exit_code(fail_on)


def _matrix(options: argparse.Namespace) -> int:
    from flowlb.inputs import check_input
    from flowlb.matrix import run_matrix
    from flowlb.reporting import writable_root

    versions = [v.strip() for v in options.versions.split(",") if v.strip()]
    unknown = [v for v in versions if v not in VERSIONS]
    if unknown or not versions:
        raise FlowlbError(f"--versions: {', '.join(unknown) or 'none given'}: choose from {', '.join(VERSIONS)}")
    if options.haproxy_cfg is not None:
        check_input(options.haproxy_cfg, "config")
    writable_root(options.report_dir)  # before the first version's suite runs
    directory = run_matrix(versions, options.haproxy_cfg, options.report_dir, options.pytest_args)
    print(f"flowlb matrix report: {directory / 'index.html'}")
    summary = json.loads((directory / "matrix.json").read_text())
    return 1 if any("failed" in row["outcomes"].values() for row in summary["checks"]) else 0


def _compare(options: argparse.Namespace) -> int:
    from flowlb.compare import as_text, compare, default_out, load_run, regressed
    from flowlb.interrupts import deferred_signals

    for flag, value in (("--figure-rel", options.figure_rel), ("--figure-abs", options.figure_abs)):
        if not 0 <= value < math.inf:  # NaN too
            raise FlowlbError(f"{flag} {value:g}: give a number, 0 or more")
    before, after = load_run(options.before), load_run(options.after)
    comparison = compare(before, after, options.figure_rel, options.figure_abs)
    out = options.out if options.out is not None else default_out(before, after)
    if out.exists() and not out.is_dir():
        raise FlowlbError(f"--out {out}: not a folder")
    text = as_text(comparison)
    with deferred_signals():  # an interrupt leaves both files or neither, and no temporary one
        write_atomically(out / "compare.json", json.dumps(comparison, indent=2, default=str) + "\n")
        write_atomically(out / "compare.md", text)
    sys.stdout.write(text)
    print(f"flowlb: comparison in {out}/compare.md and compare.json")
    return 1 if regressed(comparison) else 0


def _load(options: argparse.Namespace) -> int:
    from flowlb.interrupts import deferred_signals, interrupt_once
    from flowlb.load.credentials import LoadLogin
    from flowlb.load.options import check_locustfile, check_mix, check_options
    from flowlb.load.plan import CAPACITY_LOCUSTFILE, DEFAULT_LOCUSTFILE, CapacitySearch
    from flowlb.load.runner import run as run_load
    from flowlb.load.target import TargetChoice
    from flowlb.reporting import writable_root

    choice = TargetChoice(kind=options.target, profile=options.profile, haproxy_cfg=options.haproxy_cfg,
                          lb_host=options.lb_host, lb_ports=options.lb_ports, lb_name=options.lb_name,
                          ca_file=options.ca_file, failover=options.failover or "")
    choice.refuse_mismatches()  # before any option of Locust's is read or any cluster starts
    extra = options.locust_args[1:] if options.locust_args[:1] == ["--"] else options.locust_args
    plan = LoadPlan(
        run_time=options.run_time, users=options.users, spawn_rate=options.spawn_rate, mix=options.mix,
        processes=options.processes, failover=options.failover or "", failover_after=options.failover_after,
        locustfile=options.locustfile or (CAPACITY_LOCUSTFILE if options.find_capacity else DEFAULT_LOCUSTFILE),
        extra=extra,
        login=LoadLogin(options.flow_user, str(options.flow_password_file or ""), options.allow_writes),
    )
    if options.find_capacity:
        if options.failover:
            raise FlowlbError("--find-capacity and --failover do not mix: a search needs a steady LB")
        plan.search = CapacitySearch(**searchoptions.from_cli(options), slo_p95_ms=options.slo_p95_ms)
        plan.search.validate()
    elif options.slo_p95_ms:
        plan.extra = ["--slo-p95-ms", options.slo_p95_ms, *plan.extra]
    if options.stomp_vhost:
        plan.extra = ["--stomp-vhost", options.stomp_vhost, *plan.extra]
    if options.users < 1 or not 0 < options.spawn_rate < math.inf or options.processes < 0:  # NaN too
        raise FlowlbError(f"--users {options.users}, --spawn-rate {options.spawn_rate:g}, --processes "
                          f"{options.processes}: users and spawn rate must be positive numbers, processes not negative")
    if options.failover_after is not None and not options.failover_after >= 0:
        raise FlowlbError(f"--failover-after {options.failover_after:g}: give the seconds of load before the failure "
                          "(0 or more)")
    try:
        check_mix(options.mix, "--mix")  # a bad mix fails before any cluster starts
        plan.login.check()  # so does a --flow-user without a readable password
        check_locustfile(plan.locustfile)  # so does a locustfile that is not Python
        # and so do Locust's options (the locustfile's own included) and the FLOWLB_* variables Locust will read
        check_options(["-f", str(plan.locustfile), *plan.extra])
    except ValueError as exc:
        raise FlowlbError(str(exc)) from None
    plan.seconds()  # a bad --run-time fails before any cluster starts
    _open_model_options(options, plan)
    spec = load_spec(options.spec)
    writable_root(options.report_dir)  # before any cluster starts
    interrupt_once()  # Ctrl-C or SIGTERM interrupts once; more signals wait for the teardown
    target, tested = choice.open(spec)
    try:
        code, directory = run_load(plan, target, options.report_dir, tested)
    finally:
        with deferred_signals():  # a second Ctrl-C does not leave the cluster half torn down
            target.close()
    for line in tested.get("disarmed", []):
        print(f"flowlb: disarmed {line}")  # what of the config this run did not load
    for line in _outcome_lines(json.loads((directory / "summary.json").read_text())):
        print(f"flowlb: {line}")
    print(f"flowlb: load report in {directory}/index.html (Locust's own: locust.html; summary.json, locust_*.csv); "
          f"exit code {code}")
    return code


def _open_model_options(options: argparse.Namespace, plan: Any) -> None:
    """--arrival-rate and --baseline onto the plan, checked before any cluster starts."""
    from flowlb.load.baseline import load_report

    if options.arrival_rate is not None:
        if not 0 < options.arrival_rate < math.inf:  # NaN too
            raise FlowlbError(f"--arrival-rate {options.arrival_rate:g}: give requests per second, a positive number")
        if importlib.util.find_spec("hdrh") is None:
            raise FlowlbError("--arrival-rate needs the hdrhistogram package (scripts/setup.sh installs it)")
        plan.arrival_rate = options.arrival_rate
        if options.find_capacity:
            from flowlb.load.plan import DEFAULT_LOCUSTFILE
            from flowlb.load.ratesearch import rates

            plan.locustfile = options.locustfile or DEFAULT_LOCUSTFILE  # steps of rate, not capacity.py's users
            plan.rate_step = options.rate_step or options.arrival_rate
            plan.max_rate = options.max_rate or 20 * options.arrival_rate
            rates(plan.arrival_rate, plan.rate_step, plan.max_rate)  # a bad range is one line, before any cluster
    if options.baseline is not None:
        load_report(options.baseline)  # one line and exit code 2 when it is no load report
        plan.baseline = options.baseline


def _outcome_lines(summary: dict[str, Any]) -> list[str]:
    """What a load run says for the terminal: a capacity search's outcome, an arrival-rate run's, a baseline's."""
    from flowlb.load import capacity, ratesteps

    lines = []
    if summary.get("rate_capacity"):
        lines += ratesteps.summary_lines(summary["rate_capacity"])
    if summary.get("capacity"):
        lines += capacity.summary_lines(summary["capacity"])
    rate = summary.get("rate") or {}
    if rate:
        lines.append(f"arrival rate: offered {rate['offered']:g} req/s, achieved {rate['achieved']:g}; "
                     f"{rate['late']} late, {rate.get('waited', 0)} waited for a connection, "
                     f"{rate['dropped']} dropped, {rate['missed']} missed")
    for path, figures in (summary.get("latency_ms") or {}).items():
        lines.append(f"{path}: p50 {figures['p50']:g} ms, p90 {figures['p90']:g}, p99 {figures['p99']:g}, "
                     f"p99.9 {figures['p99.9']:g}, max {figures['max']:g} (from the intended send time)")
    validity = summary.get("validity")
    if validity:
        lines += [f"INVALID run: {reason}" for reason in validity.get("reasons", [])]
    baseline = summary.get("baseline")
    if baseline:
        lines += [f"baseline {baseline['report']}: {'REGRESSED' if f['regressed'] else 'ok'}: {f['what']} "
                  f"{f['before']:g} -> {f['after']:g}" for f in baseline["findings"]]
    return lines


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that no half-written file is ever left behind."""
    temporary = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        if temporary:
            Path(temporary).unlink(missing_ok=True)  # a full disk or a directory in the way: no temp file stays
        raise FlowlbError(f"cannot write {path}: {exc.strerror or exc}") from None


if __name__ == "__main__":
    sys.exit(main())
