"""Causes: one mistake in the config named once, with every failed check it accounts for.

A config whose 8443 bind lacks ``ssl crt`` fails some twenty checks in nine areas; listed one by one,
that reads as twenty problems. Lint names the one line. This module joins the two: each lint finding
on the config under test becomes a *cause* that explains the failed checks it accounts for, and the
causes are ordered by how much they explain, so the first one is the line to fix first::

    results = outcomes_from_summary(json.loads(Path("summary.json").read_text()))
    attribution = attribute(Path("haproxy.cfg").read_text(), spec, results)
    attribution.causes[0].line, attribution.causes[0].explains
    print(render(attribution, spec))

A finding explains a failed check in two ways:

* by its rule: the check lists the rule in the catalogue (``lint = [...]``, ``catalogue.checks_showing``);
* by the port it breaks: a finding that breaks a whole port or backend (:data:`BREAKS`: HAProxy refuses
  the file, a TLS port bound without ``ssl``, a port sent to the wrong backend, a frontend that listens
  nowhere, the STOMP backend in ``mode http``) explains every failed check that sends traffic to that
  port (the catalogue's ``roles``). Which ports a finding breaks is read from the parsed config at the
  finding's line (its bind, its frontend, or the frontends that reach its backend).

A finding whose failures a cause above it already explains adds nothing the run can show; it is kept
apart (:attr:`Attribution.masked`): it may show once the causes above it are fixed. Without a config
(a live LB), :func:`group_failures` groups the failures by the port they share, then by message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowlb.checks import catalogue
from flowlb.haproxy.config import HAProxyConfig, Line, Section, parsed
from flowlb.lint.rules import RULES, Finding
from flowlb.spec import LB_ROLES, TLS_ROLES, ClusterSpec

FAILED = ("failed", "error")
"""Outcomes that count as a failure (an error is a check that could not finish: it failed too)."""

EVERYTHING = "everything"
LINE = "line"
SECTION = "section"

BREAKS: dict[str, str] = {
    "anonymous_acl_without_spaces": EVERYTHING,  # HAProxy refuses the file
    "serves_no_lb_port": EVERYTHING,
    "tls_ports_without_tls": LINE,  # the port on its bind line
    "wrong_backend_for_port": LINE,  # the ports whose frontends reach its backend
    "listens_nowhere": LINE,  # a bind without address: refused; a frontend without bind: its ports
    "stomp_in_http_mode": SECTION,
    "http_frontend_to_tcp_backend": EVERYTHING,  # HAProxy refuses the file
}
"""Lint rules (by function name in ``flowlb.lint.rules.RULES``, which stays put when an id is renumbered)
whose finding breaks whole ports, and how to find which: ``everything`` (the LB does not serve at all),
``line`` (the ports of the finding's line: its bind, its section, or the frontends reaching its backend),
``section`` (the ports that reach the finding's section). ``FLOW000`` (HAProxy refuses the file, from
``haproxy -c``) breaks everything too. A new rule that breaks a port or a backend (a frontend and its
backend in different modes, say) joins by adding its function name here."""

REFUSED = "FLOW000"

_NODE_ROLES = {"web": ("https",), "server": ("server", "server_tls"), "stomp": ("stomp",)}


@dataclass(frozen=True)
class CheckOutcome:
    """One check's outcome in a run: its catalogue id, ``passed``/``failed``/``error``/``skipped``, the
    failure message, the LB roles it sent traffic to when the run knows them (else the catalogue's), and
    its level as the run judged it (else the catalogue's)."""

    check: str
    outcome: str
    message: str = ""
    roles: tuple[str, ...] | None = None
    level: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome in FAILED

    @property
    def core(self) -> bool:
        if self.level:
            return self.level == "core"
        entry = catalogue.by_id(self.check)
        return entry is None or entry.level == "core"

    def used_roles(self) -> tuple[str, ...]:
        if self.roles is not None:
            return self.roles
        entry = catalogue.by_id(self.check)
        return entry.roles if entry is not None else ()


@dataclass(frozen=True)
class Cause:
    """One line of the config that accounts for failed checks: the lint rule that flags it, the line as
    written, why it matters, its fix, the LB roles it breaks (empty: it breaks no whole port) and the
    failed checks it explains, sorted."""

    rule: str
    line: int
    text: str
    why: str
    fix: str
    explains: tuple[str, ...]
    what: str = ""
    roles: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "line": self.line, "text": self.text, "what": self.what, "why": self.why,
                "fix": self.fix, "roles": list(self.roles), "explains": list(self.explains)}


@dataclass(frozen=True)
class Attribution:
    """The causes, most explaining first (then by line); the failed checks no cause explains; and the
    findings whose failures a cause above already explains (they may show once those are fixed)."""

    causes: list[Cause]
    unexplained: list[CheckOutcome]
    masked: list[Cause] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"causes": [cause.as_dict() for cause in self.causes],
                "unexplained": [{"check": r.check, "outcome": r.outcome, "message": r.message}
                                for r in self.unexplained],
                "masked": [cause.as_dict() for cause in self.masked]}


def outcomes_from_summary(summary: Mapping[str, Any]) -> list[CheckOutcome]:
    """One outcome per check from a run's ``summary.json``: failed when any of its tests failed (with the
    first failure's message), else passed when any passed, else skipped."""
    rows: dict[str, list[Mapping[str, Any]]] = {}
    for row in summary.get("checks", []):
        rows.setdefault(str(row.get("check_id") or row.get("nodeid", "")), []).append(row)
    found = []
    for check, group in rows.items():
        failed = [row for row in group if row.get("outcome") in FAILED]
        if failed:
            found.append(CheckOutcome(check, "failed", str(failed[0].get("message", "")),
                                      level=str(failed[0].get("level", ""))))
        elif any(row.get("outcome") == "passed" for row in group):
            found.append(CheckOutcome(check, "passed"))
        else:
            found.append(CheckOutcome(check, "skipped", str(group[0].get("message", ""))))
    return found


def findings_by_rule(config: HAProxyConfig, spec: ClusterSpec) -> list[tuple[str, Finding]]:
    """Every lint finding on ``config`` with the name of the rule function that made it."""
    return [(rule.__name__, finding) for rule in RULES for finding in rule(config, spec)]


def attribute(config_text: str, spec: ClusterSpec, results: Iterable[CheckOutcome],
              extra: Iterable[Finding] = ()) -> Attribution:
    """The causes of a run's failures in the config it ran with.

    ``extra`` takes findings lint makes beside its rules (``FLOW000`` from ``haproxy -c``, version
    findings). When the run's ``loads/config_loads`` failed and no ``FLOW000`` is given, HAProxy's own
    refusal in that check's message becomes the cause of everything.
    """
    config = parsed(config_text)
    results = list(results)
    failed = {r.check: r for r in results if r.failed}
    found = findings_by_rule(config, spec) + [("", finding) for finding in extra]
    if not any(finding.rule == REFUSED for _, finding in found) and "loads/config_loads" in failed:
        found.append(("", _refusal(failed["loads/config_loads"].message)))
    candidates: dict[tuple[str, int], Cause] = {}
    for name, finding in found:
        roles = _broken_roles(config, spec, name, finding)
        everything = _breaks_everything(config, name, finding)
        explains = {check for check, result in failed.items()
                    if everything or _explains(finding.rule, roles, check, result)}
        if not explains:
            continue
        number = _located(config, spec, name, finding)
        key = (finding.rule, number)
        if key in candidates:  # one line flagged twice (a `mode http` in defaults for the STOMP frontend and backend)
            old = candidates[key]
            explains |= set(old.explains)
            roles = tuple(role for role in LB_ROLES if role in set(old.roles) | set(roles))
        candidates[key] = Cause(finding.rule, number, _text(config, number), finding.why, finding.fix,
                                tuple(sorted(explains)), finding.what, roles)
    # first the causes of the most core failures (what fails the run), then of the most failures; on a tie, a
    # rule's finding (its line, why and fix) before HAProxy's bare refusal of the same file
    def weight(cause: Cause) -> tuple[int, int, bool, int, str]:
        core = sum(failed[check].core for check in cause.explains)
        return -core, -len(cause.explains), cause.rule == REFUSED, cause.line, cause.rule

    ordered = sorted(candidates.values(), key=weight)
    causes: list[Cause] = []
    masked: list[Cause] = []
    covered: set[str] = set()
    for cause in ordered:
        (causes if set(cause.explains) - covered else masked).append(cause)
        covered |= set(cause.explains)
    unexplained = [result for check, result in sorted(failed.items()) if check not in covered]
    return Attribution(causes, unexplained, masked)


def _explains(rule: str, roles: tuple[str, ...], check: str, result: CheckOutcome) -> bool:
    entry = catalogue.by_id(check)
    if entry is not None and rule in entry.lint:
        return True
    return bool(set(roles) & set(result.used_roles()))


def _breaks_everything(config: HAProxyConfig, name: str, finding: Finding) -> bool:
    """HAProxy refuses the file, or the LB serves no port: every check fails for it."""
    line = _line(config, finding.line)
    refused_bind = name == "listens_nowhere" and line is not None and line.keyword == "bind"
    return finding.rule == REFUSED or BREAKS.get(name) == EVERYTHING or refused_bind


def _refusal(message: str) -> Finding:
    match = re.search(r":(\d+)\]", message)
    return Finding(REFUSED, int(match.group(1)) if match else 0, message.splitlines()[0] if message else "",
                   "HAProxy refuses to start with this file: the LB is down",
                   "fix the line HAProxy names (`haproxy -c -f FILE` shows the same)")


def _text(config: HAProxyConfig, number: int) -> str:
    return config.lines[number - 1].text if 0 < number <= len(config.lines) else ""


def _line(config: HAProxyConfig, number: int) -> Line | None:
    return config.lines[number - 1] if 0 < number <= len(config.lines) else None


# Which LB ports a finding breaks ------------------------------------------------------------------------


def _broken_roles(config: HAProxyConfig, spec: ClusterSpec, name: str, finding: Finding) -> tuple[str, ...]:
    """The LB roles whose port the finding breaks; ``()`` for a finding that breaks no whole port."""
    if _breaks_everything(config, name, finding):
        return tuple(LB_ROLES)
    scope = BREAKS.get(name)
    if scope is None:
        return ()
    section = config.section_at(finding.line)
    if section is None:
        return ()
    if name == "wrong_backend_for_port":
        roles = _misrouted_roles(config, spec, section)
    elif name == "listens_nowhere":
        roles = _unbound_roles(config, spec, section)
    elif scope == LINE:
        roles = roles_of_line(config, spec, finding.line)
    else:
        roles = roles_of_section(config, spec, section)
    return tuple(role for role in LB_ROLES if role in roles)


def roles_of_line(config: HAProxyConfig, spec: ClusterSpec, number: int) -> set[str]:
    """The LB roles line ``number`` affects: a bind's own ports; else its section's (:func:`roles_of_section`)."""
    line, section = _line(config, number), config.section_at(number)
    if line is None or section is None:
        return set()
    if line.keyword == "bind":
        ports = {address.port for address, bind in section.binds() if bind.number == number}
        return {role for role, port in spec.lb.ports.by_role().items() if port in ports}
    return roles_of_section(config, spec, section)


def roles_of_section(config: HAProxyConfig, spec: ClusterSpec, section: Section) -> set[str]:
    """The LB roles whose traffic passes ``section``: the ports a frontend binds, the ports whose frontends
    reach a backend, every role for ``global``, and for ``defaults`` the roles of the proxies inheriting it."""
    ports = spec.lb.ports.by_role()
    if section.kind == "global":
        return set(LB_ROLES)
    if section.kind == "defaults":
        heirs = [proxy for proxy in config.of_kind("frontend", "backend", "listen") if _inherits(proxy, section)]
        return {role for proxy in heirs for role in roles_of_section(config, spec, proxy)}
    roles = set()
    for role, port in ports.items():
        if section.kind in ("frontend", "listen") and section in config.listeners(port):
            roles.add(role)
        if section.kind in ("backend", "listen") and section in config.backends_behind(port):
            roles.add(role)
    return roles


def _inherits(proxy: Section, defaults: Section) -> bool:
    parent = proxy.defaults
    while parent is not None:
        if parent is defaults:
            return True
        parent = parent.defaults
    return False


def _expected_node_port(spec: ClusterSpec, role: str) -> int | None:
    nodes = spec.node_ports
    return {"https": nodes.web, "server": nodes.server, "server_tls": nodes.server, "stomp": nodes.stomp}.get(role)


def _misrouted_roles(config: HAProxyConfig, spec: ClusterSpec, backend: Section) -> set[str]:
    """The roles that reach ``backend`` although its servers listen on another node port than the role needs."""
    ports = {server.port for server in backend.servers() if server.port is not None}
    return {role for role in roles_of_section(config, spec, backend)
            if ports and _expected_node_port(spec, role) not in ports}


def _unbound_roles(config: HAProxyConfig, spec: ClusterSpec, front: Section) -> set[str]:
    """For a frontend that binds nothing: the roles no section binds, narrowed to those its backends serve."""
    bound = {role for role, port in spec.lb.ports.by_role().items() if config.listeners(port)}
    unbound = set(LB_ROLES) - bound
    node_ports = {"web": spec.node_ports.web, "server": spec.node_ports.server, "stomp": spec.node_ports.stomp}
    served: set[str] = set()
    for name in front.backends():
        backend = config.proxy(name)
        for server in backend.servers() if backend is not None else []:
            served |= {role for kind, port in node_ports.items() if server.port == port
                       for role in _NODE_ROLES[kind]}
    return unbound & served if unbound & served else unbound


# Which line to show ------------------------------------------------------------------------------------


def _located(config: HAProxyConfig, spec: ClusterSpec, name: str, finding: Finding) -> int:
    """The line that holds the mistake, where the rule points at the section or at a consequence of it.

    STOMP in ``mode http``: the ``mode`` line in effect (maybe a second one, or one in ``defaults``).
    A port sent to the wrong backend: when that backend is right for another port, the mistake is the
    ``default_backend`` line of the misrouted port's frontend, not the backend's server lines.
    """
    section = config.section_at(finding.line)
    if section is None:
        return finding.line
    if name == "stomp_in_http_mode":
        modes = section.effective("mode")
        return modes[-1].number if modes else finding.line
    if name == "wrong_backend_for_port":
        wrong = _misrouted_roles(config, spec, section)
        if wrong and roles_of_section(config, spec, section) - wrong:
            ports = spec.lb.ports.by_role()
            for role in (role for role in LB_ROLES if role in wrong):
                for front in config.listeners(ports[role]):
                    for line in front.effective("default_backend"):
                        if line.value(1) == section.name:
                            return line.number
    return finding.line


# Without a config: what the failures share ----------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """Failed checks that share something: a port (``kind`` ``port``, ``key`` its role), a message, or only
    their check (``check``); a hint of where to look, and the checks, sorted."""

    kind: str
    key: str
    hint: str
    explains: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "hint": self.hint, "explains": list(self.explains)}


PORT_SUSPECT_RATIO = 0.75
"""A port is suspect when at least this share of the checks that used it (and ran) failed, two at least."""


def group_failures(results: Iterable[CheckOutcome], spec: ClusterSpec | None = None) -> list[Group]:
    """The failures of a run whose config is not known, grouped, never one fix per check when they share more.

    First by port: the role whose checks failed most (share of those that used it and ran, then count)
    takes every failed check that used it, while its share is at least :data:`PORT_SUSPECT_RATIO`;
    then the rest by message (numbers, addresses and names in quotes set aside); then one group per check.
    """
    results = list(results)
    failed = {r.check: r for r in results if r.failed}
    passed = {r.check: r for r in results if r.outcome == "passed"}
    ports = (spec.lb.ports if spec is not None else None)
    remaining = set(failed)
    groups: list[Group] = []
    while True:
        best: tuple[float, int, str] | None = None
        for role in LB_ROLES:
            used_failed = {c for c, r in failed.items() if role in r.used_roles()}
            used_passed = {c for c, r in passed.items() if role in r.used_roles()}
            fresh = used_failed & remaining
            if len(used_failed) < 2 or not fresh:
                continue
            share = len(used_failed) / (len(used_failed) + len(used_passed))
            if share >= PORT_SUSPECT_RATIO and (best is None or (share, len(fresh)) > best[:2]):
                best = (share, len(fresh), role)
        if best is None:
            break
        share, _, role = best
        port = f" {ports.by_role()[role]}" if ports is not None else ""
        taken = {c for c, r in failed.items() if role in r.used_roles() and c in remaining}
        remaining -= taken
        groups.append(Group("port", role, _port_hint(role, port, share), tuple(sorted(taken))))
    by_message: dict[str, list[str]] = {}
    for check in sorted(remaining):
        by_message.setdefault(_shape(failed[check].message), []).append(check)
    for shape, checks in by_message.items():
        if shape and len(checks) > 1:
            groups.append(Group("message", shape, "one message, one cause: fix it once",
                                tuple(checks)))
            remaining -= set(checks)
    for check in sorted(remaining):
        entry = catalogue.by_id(check)
        groups.append(Group("check", check, entry.fix if entry is not None else failed[check].message,
                            (check,)))
    return sorted(groups, key=lambda g: (-len(g.explains), g.kind != "port", g.key))


def _port_hint(role: str, port: str, share: float) -> str:
    tls = " (`ssl crt` on a TLS port)" if role in TLS_ROLES else ""
    return (f"{share:.0%} of the checks that used the {role} port{port} failed: look first at what listens "
            f"there: its bind{tls}, the frontend's mode, and the backend it sends to")


_VARYING = re.compile(r"`[^`]*`|'[^']*'|\"[^\"]*\"|\b[\w.-]+:\d+\b|\d+(\.\d+)?")


def _shape(message: str) -> str:
    """A message's first line with what varies from check to check (quoted names, addresses, numbers) as ``_``."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return _VARYING.sub("_", first)[:120]


# For the terminal ----------------------------------------------------------------------------------------


def render(attribution: Attribution, spec: ClusterSpec | None = None, listed: int = 8) -> str:
    """The causes, one block each, then what no cause explains (grouped), for a terminal::

        line 57: bind *:8443
            why: clients configured for TLS fail the handshake, ...
            fix: `bind :8443 ssl crt /path/to/lb.pem`
            explains 20 checks: balance/..., ... (FLOW020)
    """
    out = []
    for cause in attribution.causes:
        shown = ", ".join(cause.explains[:listed]) + (f", and {len(cause.explains) - listed} more"
                                                     if len(cause.explains) > listed else "")
        where = f"line {cause.line}: {cause.text}" if cause.line else "the file as a whole"
        out += [where, f"    why: {cause.why}", f"    fix: {cause.fix}",
                f"    explains {len(cause.explains)} check{'s' if len(cause.explains) != 1 else ''}: {shown} "
                f"({cause.rule})"]
    if attribution.unexplained:
        out.append(f"not explained by the config ({len(attribution.unexplained)}):")
        for group in group_failures(attribution.unexplained, spec):
            out += [f"    {group.kind} {group.key}: {', '.join(group.explains)}", f"        {group.hint}"]
    if attribution.masked:
        out.append("may show once the causes above are fixed: " + ", ".join(
            f"line {cause.line} ({cause.rule})" for cause in attribution.masked))
    return "\n".join(out) + ("\n" if out else "")


def render_groups(groups: list[Group]) -> str:
    """:func:`group_failures` for a terminal: one block per group."""
    out = []
    for group in groups:
        out += [f"{group.kind} {group.key}: {len(group.explains)} failed: {', '.join(group.explains)}",
                f"    {group.hint}"]
    return "\n".join(out) + ("\n" if out else "")


@dataclass(frozen=True)
class RunCauses:
    """What a run's report says of its failures: the config's causes (with a config), or the failures grouped
    by what they share (a live LB, whose config flowlb does not have)."""

    attribution: Attribution | None
    groups: list[Group]

    def as_dict(self) -> dict[str, Any]:
        """``summary.json``'s ``causes``, ``unexplained``, ``masked`` and ``groups``."""
        found = self.attribution.as_dict() if self.attribution else {"causes": [], "unexplained": [], "masked": []}
        return {**found, "groups": [group.as_dict() for group in self.groups]}

    def render(self, spec: ClusterSpec | None = None) -> str:
        if self.attribution is not None:
            return render(self.attribution, spec)
        return render_groups(self.groups)


def for_run(config_text: str | None, spec: ClusterSpec, checks: Iterable[Mapping[str, Any]]) -> RunCauses:
    """The causes of the failures among a run's ``checks`` (``summary.json`` rows), in ``config_text`` when the
    run knows its config, else grouped; nothing at all when no check failed."""
    results = outcomes_from_summary({"checks": list(checks)})
    if not any(result.failed for result in results):
        return RunCauses(None, [])
    if config_text is None:
        return RunCauses(None, group_failures(results, spec))
    return RunCauses(attribute(config_text, spec, results), [])
