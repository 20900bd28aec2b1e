"""The LB ``flowlb load`` puts its load on: flowlb's own cluster or a live LB.

- flowlb's cluster runs a generated profile, or the operator's ``--haproxy-cfg``. The operator's file
  goes through the conformance suite's own path (:class:`~flowlb.haproxy.operator.OperatorConfig`
  and :func:`~flowlb.targets.select.start_target`): the cluster is sized from it, its binds and
  servers are remapped, the lines that run code or reach past loopback are disarmed, and the
  egress fence holds what the remap missed.
- ``--target external`` is a live LB, named by the suite's own options (``--lb-host``, ``--lb-ports``,
  ``--lb-name``, ``--ca-file``) and checked by its reachability test. Nothing is started for it, and
  flowlb controls none of its nodes, so ``--failover`` is refused.

Every refusal is one line (``FlowlbError``), given before anything starts, so nothing is left behind::

    choice = TargetChoice(kind="local", haproxy_cfg=Path("haproxy.cfg"))
    choice.refuse_mismatches()              # before any cluster starts
    target, tested = choice.open(spec)      # tested: what summary.json and the page say was loaded
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowlb.errors import FlowlbError, HAProxyConfigError
from flowlb.inputs import check_input
from flowlb.load.options import DEFAULT_MIX, SCENARIOS, parse_weights
from flowlb.spec import ClusterSpec
from flowlb.targets.base import Target

EXTERNAL_FLAGS = {"lb_host": "--lb-host", "lb_ports": "--lb-ports", "lb_name": "--lb-name", "ca_file": "--ca-file"}
SCENARIO_ROLES = {"api": "server_tls", "handshake": "server_tls", "stomp": "stomp"}  # where each scenario connects
ROLE_FLAGS = {"server_tls": "api=0,handshake=0", "stomp": "stomp=0"}  # the --mix that leaves a role's users out


@dataclass(frozen=True)
class TargetChoice:
    """What ``flowlb load``'s options ask to load, before anything is started."""

    kind: str = "auto"  # auto, containers, local or external
    profile: str | None = None
    haproxy_cfg: Path | None = None
    lb_host: str | None = None
    lb_ports: str = ""
    lb_name: str | None = None
    ca_file: Path | None = None
    failover: str = ""

    def refuse_mismatches(self) -> None:
        """One line for options that do not fit together or a ``--haproxy-cfg`` that is no readable file."""
        if self.kind == "external":
            if not self.lb_host:
                raise FlowlbError("--target external needs --lb-host (the LB's address)")
            if self.failover:
                raise FlowlbError(f"--failover {self.failover} needs control of the Flow nodes, which flowlb has "
                                  "not on a live LB (--target external): it kills and freezes nothing there")
            if self.haproxy_cfg is not None:
                raise FlowlbError("--haproxy-cfg runs your config on flowlb's test cluster; with --target external "
                                  "the LB already runs its own")
            if self.profile:
                raise FlowlbError(f"--profile {self.profile} renders a config for flowlb's test cluster; with "
                                  "--target external the LB already runs its own")
            return
        given = [flag for name, flag in EXTERNAL_FLAGS.items() if getattr(self, name)]
        if given:
            verb = "describes" if len(given) == 1 else "describe"
            raise FlowlbError(f"{', '.join(given)} {verb} a live LB: add --target external (the {self.kind} "
                              "target is flowlb's own cluster)")
        if self.haproxy_cfg is not None:
            if self.profile:
                raise FlowlbError(f"--profile {self.profile} and --haproxy-cfg {self.haproxy_cfg} both choose the "
                                  "config: give one")
            try:
                check_input(self.haproxy_cfg, "config")
            except FlowlbError as exc:
                raise FlowlbError(f"--haproxy-cfg {exc}") from None

    def open(self, spec: ClusterSpec) -> tuple[Target, dict[str, Any]]:
        """The running target and what was loaded (config, its sha256, disarmed lines, the egress fence)."""
        if self.kind == "external":
            return self._live(spec)
        return self._cluster(spec)

    def _live(self, spec: ClusterSpec) -> tuple[Target, dict[str, Any]]:
        from flowlb.targets.external import ExternalTarget, refuse_unreachable

        live = ExternalTarget.from_options(spec, self.lb_host, self.lb_ports, self.ca_file, self.lb_name,
                                           None, None, None)
        refuse_unreachable(live.host, live.ports)
        tested = {"config": "the live LB's own", "lb_host": live.host, "lb_ports": live.ports,
                  "lb_name": live.server_name, "ca_file": str(live.ca_file)}
        return live, tested

    def _cluster(self, spec: ClusterSpec) -> tuple[Target, dict[str, Any]]:
        from flowlb.haproxy.operator import OperatorConfig
        from flowlb.targets.select import choose_target, start_target

        kind = choose_target(self.kind)
        operator = OperatorConfig.load(self.haproxy_cfg, spec) if self.haproxy_cfg is not None else None
        try:
            target = start_target(kind, spec, self.profile or spec.profile, operator)
        except HAProxyConfigError as exc:
            unavailable = operator.last.unavailable if operator is not None and operator.last is not None else []
            if unavailable:
                raise HAProxyConfigError(f"the config cannot run on the test cluster: {'; '.join(unavailable)} "
                                         f"(HAProxy: {exc})") from None
            raise
        tested: dict[str, Any] = {"nodes": target.node_names(), "egress_fence": getattr(target, "egress_fence", "")}
        if operator is not None:
            tested.update(config=str(operator.path), config_sha256=hashlib.sha256(operator.text.encode()).hexdigest(),
                          disarmed=operator.disarmed_lines())
        else:
            tested.update(config=f"profile {target.profile}",
                          config_sha256=hashlib.sha256(target.config_text.encode()).hexdigest())
        build = target.haproxy_build()
        tested["haproxy"] = build.version if build is not None else ""
        return target, tested


def effective_mix(mix: str, extra: list[str], environment: dict[str, str]) -> str:
    """The scenario mix Locust will run: ``--flow-mix`` after ``--``, else ``--mix``, else ``FLOWLB_MIX``, else
    the default (the order in which the locustfile's parser sees them)."""
    for index, word in enumerate(extra):
        if word == "--flow-mix" and index + 1 < len(extra):
            mix = extra[index + 1]
        elif word.startswith("--flow-mix="):
            mix = word.partition("=")[2]
    return mix or environment.get("FLOWLB_MIX") or DEFAULT_MIX


def roles_loaded(mix: str) -> list[str]:
    """The LB roles the mix's users connect to (``server_tls`` for the API and handshakes, ``stomp``)."""
    weights = parse_weights(mix, SCENARIOS, "--mix")
    return sorted({SCENARIO_ROLES[name] for name in SCENARIOS if weights.get(name, 1) > 0})


def refuse_unbound_roles(target: Target, roles: list[str]) -> None:
    """One line when the config under test binds nothing where the mix's users connect (a config without a
    STOMP frontend): the run would measure only connection failures."""
    from flowlb.targets.external import dead_ports

    endpoints = target.endpoints.by_role()
    host = endpoints[roles[0]].host if roles else ""
    dead = dead_ports(host, {role: endpoints[role].port for role in roles})
    if dead:
        ports = target.spec.lb.ports.by_role()
        listed = ", ".join(f"{ports[role]} ({role.replace('_', '-')}: {why})" for role, why in dead.items())
        leave_out = ",".join(ROLE_FLAGS[role] for role in dead)
        raise FlowlbError(f"the LB under test accepts nothing on {listed}, where the load's users connect: "
                          f"leave them out with --mix {leave_out}, or bind the port")
