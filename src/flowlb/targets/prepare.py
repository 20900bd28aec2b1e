"""What a target needs to run a config, prepared in one place for every target flowlb starts and for the shared
cluster: the cluster's spec, the run's label, the name HAProxy's messages give the file, the extra listeners, and
the text for the target's layout with, for an operator's file, what the harness changed in it::

    prepared = prepare(spec, "hardened", operator)
    text, rendered = prepared.render(target_layout)       # rendered: None for a generated profile
    prepared.after_start(rendered)                        # the runtime API commands to send once HAProxy answers
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flowlb.haproxy.layout import Layout
from flowlb.haproxy.operator import OperatorConfig, send_commands
from flowlb.haproxy.remap import RemapResult
from flowlb.haproxy.render import render
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.spec import ClusterSpec


@dataclass(frozen=True)
class Prepared:
    """The config a target runs: the generated ``profile`` for ``spec``, or the ``operator``'s file on its plan."""

    spec: ClusterSpec
    profile: str
    config_name: str
    extra_ports: tuple[int, ...]
    operator: OperatorConfig | None = None

    def render(self, layout: Layout) -> tuple[str, RemapResult | None]:
        """The text HAProxy runs on ``layout``, and the operator's file as remapped there (``None``: a profile)."""
        if self.operator is None:
            return render(self.spec, self.profile, layout), None
        rendered = self.operator.render(layout)
        return rendered.text, rendered

    def after_start(self, rendered: RemapResult | None) -> Callable[[RuntimeAPI], None] | None:
        """What to send the runtime API once HAProxy answers (``server-template`` servers' nodes); ``None``: nothing."""
        if self.operator is None or rendered is None or not rendered.after_start:
            return None
        commands, path = rendered.after_start, self.operator.path
        return lambda api: send_commands(api, commands, path)


def prepare(spec: ClusterSpec, profile: str, operator: OperatorConfig | None) -> Prepared:
    """The config a target runs: with ``operator``, its file (remapped) on the cluster its plan asks for, labelled
    ``operator:<name>``; else ``profile`` rendered for ``spec``."""
    if operator is None:
        return Prepared(spec, profile, "haproxy.cfg", ())
    return Prepared(operator.spec, operator.label, operator.path.name, operator.plan.extra_ports, operator)
