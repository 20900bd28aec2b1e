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
from flowlb.haproxy.operator import OperatorConfig
from flowlb.inputs import check_input
from flowlb.spec import ClusterSpec
from flowlb.targets.base import Target
from flowlb.targets.select import DEFAULT_TARGET

EXTERNAL_FLAGS = {"lb_host": "--lb-host", "lb_ports": "--lb-ports", "lb_name": "--lb-name", "ca_file": "--ca-file"}


@dataclass(frozen=True)
class TargetChoice:
    """What ``flowlb load``'s options ask to load, before anything is started."""

    kind: str = DEFAULT_TARGET  # or containers, local, external (flowlb.targets.select.TARGETS)
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
        from flowlb.targets.select import choose_target, start_target

        kind = choose_target(self.kind)
        operator = OperatorConfig.load(self.haproxy_cfg, spec) if self.haproxy_cfg is not None else None
        try:
            target = start_target(kind, spec, self.profile or spec.profile, operator)
        except HAProxyConfigError as exc:
            unavailable = operator.unavailable if operator is not None else ()
            if unavailable:
                raise HAProxyConfigError(f"the config cannot run on the test cluster: {'; '.join(unavailable)} "
                                         f"(HAProxy: {exc})") from None
            raise
        try:
            return target, _what_runs(target, operator)
        except BaseException:
            target.close()  # nothing started stays behind
            raise


def _what_runs(target: Target, operator: OperatorConfig | None) -> dict[str, Any]:
    """What flowlb's cluster runs: the config (the operator's or the profile) and its sha256, the lines disarmed
    in it, its nodes, the egress fence and the HAProxy version."""
    tested: dict[str, Any] = {"nodes": target.node_names(), "egress_fence": target.egress_fence}
    if operator is not None:
        tested.update(config=str(operator.path), config_sha256=hashlib.sha256(operator.text.encode()).hexdigest(),
                      disarmed=target.rendered.disarmed_lines() if target.rendered is not None else [])
    else:
        tested.update(config=f"profile {target.profile}",
                      config_sha256=hashlib.sha256(target.config_text.encode()).hexdigest())
    build = target.haproxy_build()
    tested["haproxy"] = build.version if build is not None else ""
    return tested
