"""An operator's own haproxy.cfg as the config under test: loaded, sized, checked, remapped per run.

"Loads" and "behaves" are reported separately. The test cluster is sized from the file (one mock
node per distinct Flow host, see :class:`~flowlb.haproxy.plan.ClusterPlan`). When the config cannot
even be mapped onto a test cluster, HAProxy itself is asked whether it loads: the operator hears
HAProxy's reason and line, not ours::

    config = OperatorConfig.load(Path("my.cfg"), spec)      # raises HAProxyConfigError: does not load
    target = LocalTarget(config.spec, "operator", config_source=config.source,
                         extra_ports=config.plan.extra_ports)
    config.last.relevant_lines()                            # what the harness rewrote, for a failure
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from flowlb.errors import ClusterTooBig, FlowlbError, HAProxyConfigError
from flowlb.haproxy.config import HAProxyConfig
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.messages import Diagnosis, one_line_error
from flowlb.haproxy.plan import MAX_NODES, ClusterPlan
from flowlb.haproxy.remap import RemapResult, read_config_file, remap_config
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.haproxy.sandbox import disarmed
from flowlb.interrupts import temporary_directory
from flowlb.spec import ClusterSpec


@dataclass
class OperatorConfig:
    """The operator's file, the test cluster it asks for, and the last remap the harness made of it.

    ``spec`` is the user's spec with the plan's nodes; ``base_spec`` the spec as given (its ports).
    """

    path: Path
    text: str
    base_spec: ClusterSpec
    plan: ClusterPlan
    last: RemapResult | None = field(default=None)

    @property
    def spec(self) -> ClusterSpec:
        return self.plan.spec

    @classmethod
    def load(cls, path: Path, spec: ClusterSpec) -> OperatorConfig:
        """Read ``path``, size its cluster and make sure it can be mapped; one line when it cannot."""
        text = read_config_file(path)
        try:
            config = HAProxyConfig.parse(text)
            plan = ClusterPlan.of(config, spec, max_nodes=MAX_NODES)  # one mock node per Flow host
            remap_config(text, spec, Layout.for_spec(plan.spec, extra_ports=plan.extra_ports), str(path))
            _require_an_lb_port(config, spec, path)
        except ClusterTooBig as exc:
            raise ClusterTooBig(f"{path}: {exc}") from None  # HAProxy's word on the unmapped file would hide it
        except FlowlbError:
            refusal = haproxy_refusal(text, path)
            if refusal is not None:
                raise HAProxyConfigError(refusal) from None
            raise
        return cls(path, text, spec, plan)

    def disarmed_lines(self) -> list[str]:
        """``line N: `text`: why`` per line the last remap changed so that it runs no code and reaches nothing
        off this machine."""
        if self.last is None:
            return []
        return [f"line {change.line}: `{change.original.strip()}`: {change.why}" for change in self.last.disarmed]

    def after_start(self, api: RuntimeAPI) -> None:
        """Send the runtime API commands the last remap asked for (``server-template`` servers' nodes)."""
        send_commands(api, self.last.after_start if self.last else (), self.path)

    def source(self, layout: Layout) -> str:
        """The config source a target calls: the file remapped for that target's layout."""
        self.last = remap_config(self.text, self.base_spec, layout, str(self.path))
        return self.last.text


def send_commands(api: RuntimeAPI, commands: Iterable[str], path: Path) -> None:
    """Send runtime API commands the harness needs after a start; one line naming ``path`` when HAProxy refuses one."""
    for command in commands:
        answer = api.command(command).strip()
        if answer and not answer.lower().startswith(("ok", "no need to change")):
            raise FlowlbError(f"{path}: HAProxy refused `{command}`: {answer.splitlines()[0]}")


def haproxy_refusal(text: str, path: Path, haproxy_bin: str = "haproxy") -> str | None:
    """HAProxy's own one-line reason why ``text`` does not load, or ``None`` (loads, or no haproxy here).

    ``haproxy -c`` loads Lua and OpenSSL engines as a start does: the lines that run code are commented
    out first (:func:`~flowlb.haproxy.sandbox.disarmed`), so asking never runs the config's code.
    """
    binary = shutil.which(haproxy_bin)
    if binary is None:
        return None
    with temporary_directory("flowlb-check-") as directory:
        copy = Path(directory) / path.name
        copy.write_text(disarmed(text), encoding="utf-8")
        result = subprocess.run([binary, "-c", "-f", str(copy)], capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).replace(str(copy), path.name)
    if result.returncode == 0 or not Diagnosis.parse(output).alerts:
        return None
    return one_line_error(output, text, f"{path} does not load")


def _require_an_lb_port(config: HAProxyConfig, spec: ClusterSpec, path: Path) -> None:
    """One line at once for a config that binds none of the LB's ports, instead of waiting for one to open."""
    lb_ports = set(spec.lb.ports.by_role().values())
    bound = {port for section in config.of_kind("frontend", "listen") for port, _ in section.bind_ports()}
    if not bound & lb_ports:
        listed = ", ".join(str(port) for port in spec.lb.ports.by_role().values())
        raise FlowlbError(f"{path}: binds none of the LB's ports ({listed}): no Flow client could reach it, so "
                          "there is nothing to test (`flowlb lint` says more)")
