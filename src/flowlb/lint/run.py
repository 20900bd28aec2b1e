"""Lint one haproxy.cfg: does HAProxy load it (``haproxy -c``), then every Flow rule, each finding weighed.

HAProxy is asked about the file as it would run on the test cluster (certificate paths and server
addresses mapped, as for ``--haproxy-cfg``), so a ``crt`` that only exists on the real LB is not a
finding; what HAProxy refuses is (``FLOW000``), with its own message and line. It is asked without
the lines that run code (``FLOW043``): ``haproxy -c`` would run the config's Lua.

Each finding gets its level from ``rules.toml`` (:mod:`~flowlb.lint.ruleset`), and a ``# flowlb: ignore``
comment in the file may suppress it (:mod:`~flowlb.lint.suppress`); :class:`LintResult` holds both, and
the verdict and exit code that follow (:mod:`flowlb.levels`)::

    result = lint_result(Path("haproxy.cfg"), spec)
    result.verdict, result.exit_code({"core", "recommended"})
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from flowlb.errors import FlowlbError
from flowlb.haproxy.config import HAProxyConfig, parsed
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.operator import haproxy_refusal
from flowlb.haproxy.plan import ClusterPlan
from flowlb.haproxy.remap import read_config_file, remap_config
from flowlb.haproxy.sandbox import code_lines
from flowlb.interrupts import temporary_directory
from flowlb.levels import CORE, RECOMMENDED, exit_code, run_verdict
from flowlb.lint import ruleset, suppress
from flowlb.lint.rules import RULES, Finding
from flowlb.lint.suppress import Suppression
from flowlb.lint.versions import version_findings
from flowlb.policyfile import Waiver
from flowlb.spec import ClusterSpec
from flowlb.tls import make_certificates


def haproxy_check(config: HAProxyConfig, path: Path, spec: ClusterSpec) -> Finding | None:
    """``FLOW000`` when HAProxy refuses the file; ``None`` when it loads (or no haproxy binary is here).

    The file is mapped as ``--haproxy-cfg`` maps it, so what exists only on the real LB (certificates,
    hostnames, interfaces) is no finding; a file that cannot be mapped is judged as written.
    """
    if shutil.which("haproxy") is None:
        return None
    with temporary_directory("flowlb-lint-") as directory:
        certs = make_certificates(Path(directory), spec.lb.names)
        try:
            plan = ClusterPlan.of(config, spec)
            node_ports = (spec.node_ports.web, spec.node_ports.server, spec.node_ports.stomp)
            layout = Layout.on_loopback(spec.lb.ports.by_role(), dict.fromkeys(plan.nodes, node_ports),
                                        {port: port for port in plan.extra_ports}, str(certs.server_pem),
                                        str(certs.ca_file), Path(directory))
            candidate = remap_config(config, spec, layout, str(path)).text
        except FlowlbError:
            candidate = config.text  # not mappable: let HAProxy judge the file as written
        refusal = haproxy_refusal(candidate, path)
    if refusal is None:
        return None
    line = _line_of(refusal)
    needed = [code.line.number for code in code_lines(config) if code.others_may_need_it]
    if needed:  # HAProxy was asked without the code, which the line it names may need
        listed = ", ".join(str(number) for number in needed)
        refusal += f" (asked without line(s) {listed}: flowlb runs no code from the config; see FLOW043)"
    return Finding("FLOW000", line, refusal, "HAProxy refuses to start with this file: the LB is down",
                   "fix the line HAProxy names (`haproxy -c -f FILE` shows the same)")


def _line_of(message: str) -> int:
    match = re.search(r":(\d+)\]", message)
    return int(match.group(1)) if match else 0


def lint(path: Path, spec: ClusterSpec, haproxy_version: str | None = None) -> list[Finding]:
    """Every finding for the file at ``path``, by line, suppressed ones included; with ``haproxy_version``,
    also what that HAProxy line does differently with it."""
    return list(_findings(read_config_file(path), path, spec, haproxy_version)[0])


def _findings(text: str, path: Path, spec: ClusterSpec,
              haproxy_version: str | None) -> tuple[list[Finding], list[Suppression]]:
    config = parsed(text)
    findings = [finding for rule in RULES for finding in rule(config, spec)]
    if haproxy_version is not None:
        findings += version_findings(config, haproxy_version)
    refusal = haproxy_check(config, path, spec)
    if refusal is not None:
        findings.append(refusal)
    suppressions, problems = suppress.read(config)
    return sorted(findings + problems, key=lambda f: (f.line, f.rule)), suppressions


@dataclass(frozen=True)
class Reported:
    """One finding as lint reports it: with its level and, when a comment in the file suppresses it, that comment."""

    finding: Finding
    level: str
    suppression: Suppression | None = None


@dataclass(frozen=True)
class LintResult:
    """What ``flowlb lint`` found in one file, weighed: the verdict, the exit code, and every output read it.

    ``not_run`` names the rules that could not run here, and why (no haproxy binary, no ``--haproxy-version``);
    ``core_skipped`` counts the core ones among them that make a run partial (a missing haproxy: whether the
    file loads is unknown; a version rule that was not asked for is not missing).
    """

    path: Path
    reported: tuple[Reported, ...]
    not_run: dict[str, str] = field(default_factory=dict)
    core_skipped: int = 0
    expired: tuple[Waiver, ...] = ()  # the policy file's lint waivers past their date: they fail the lint
    unused: tuple[Waiver, ...] = ()  # its active lint waivers that matched no finding

    @property
    def counted(self) -> list[Reported]:
        return [r for r in self.reported if r.suppression is None]

    @property
    def suppressed(self) -> list[Reported]:
        return [r for r in self.reported if r.suppression is not None]

    def count(self, level: str) -> int:
        return sum(1 for r in self.counted if r.level == level)

    @property
    def verdict(self) -> str:
        """``fail`` on a core finding or an expired waiver; ``partial`` when a core rule could not run (FLOW000
        without haproxy)."""
        return run_verdict(core_failed=self.count(CORE) + len(self.expired), core_skipped=self.core_skipped)

    def exit_code(self, fail_on: Iterable[str] = (CORE,)) -> int:
        """1 on a core finding (and on recommended ones, or a partial run, when ``fail_on`` names them), else 0."""
        return exit_code(self.verdict, self.count(RECOMMENDED), fail_on)


def lint_result(path: Path, spec: ClusterSpec, haproxy_version: str | None = None,
                overrides: Mapping[str, str] | None = None, waivers: Sequence[Waiver] = (),
                today: date | None = None) -> LintResult:
    """Lint the file at ``path`` and weigh every finding: its level (``overrides`` may change a rule's, as a
    policy would), and whether a ``# flowlb: ignore`` comment or one of the policy file's ``waivers`` (those
    of lint rules) suppresses it. A waiver past its date suppresses nothing and fails the lint."""
    if overrides:
        ruleset.check_overrides(overrides)
    today = today or date.today()
    mine = [waiver for waiver in waivers if ruleset.known(waiver.id)]
    active = [waiver for waiver in mine if not waiver.expired(today)]
    findings, suppressions = _findings(read_config_file(path), path, spec, haproxy_version)
    suppressions += [Suppression(0, -1, (w.id,), w.reason, f"waived by the policy file until {w.expires}")
                     for w in active]
    reported = []
    for finding in findings:
        cover = next((s for s in suppressions if s.covers(finding)), None)
        reported.append(Reported(finding, ruleset.level_of(finding.rule, overrides), cover))
    not_run, core_skipped = {}, 0
    for entry in ruleset.rules():
        if entry.needs == "haproxy" and shutil.which("haproxy") is None:
            not_run[entry.id] = "no haproxy on PATH"
            core_skipped += ruleset.level_of(entry.id, overrides) == CORE
        elif entry.needs == "haproxy-version" and haproxy_version is None:
            not_run[entry.id] = "not asked (--haproxy-version)"
    used = {r.suppression.rules[0] for r in reported if r.suppression is not None and r.suppression.waiver}
    return LintResult(path, tuple(reported), not_run, core_skipped,
                      expired=tuple(w for w in mine if w.expired(today)),
                      unused=tuple(w for w in active if w.id not in used))
