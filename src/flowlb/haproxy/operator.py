"""An operator's own haproxy.cfg as the config under test: loaded, sized, checked, rendered per layout.

"Loads" and "behaves" are reported separately. The test cluster is sized from the file (one mock
node per distinct Flow host, see :class:`~flowlb.haproxy.plan.ClusterPlan`). When the config cannot
even be mapped onto a test cluster, HAProxy itself is asked whether it loads: the operator hears
HAProxy's reason and line, not ours. The loaded config is a value: it is read and parsed once, and
rendering it for a target's layout returns a result and changes nothing::

    config = OperatorConfig.load(Path("my.cfg"), spec)      # raises HAProxyConfigError: does not load
    target = start_target("local", spec, "hardened", config)
    target.rendered.relevant_lines()                        # what the harness rewrote, for a failure
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from flowlb.errors import ClusterTooBig, FlowlbError, HAProxyConfigError
from flowlb.haproxy.config import HAProxyConfig, parsed
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.messages import Diagnosis, one_line_error
from flowlb.haproxy.plan import MAX_NODES, ClusterPlan
from flowlb.haproxy.remap import RemapResult, read_config_file, remap_config
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.haproxy.sandbox import disarmed
from flowlb.interrupts import temporary_directory
from flowlb.spec import ClusterSpec

LABEL_PREFIX = "operator:"


def operator_label(path: Path | str) -> str:
    """What a run of the operator's file at ``path`` is called in reports (``operator:haproxy.cfg``)."""
    return f"{LABEL_PREFIX}{Path(path).name}"


@dataclass(frozen=True)
class OperatorConfig:
    """The operator's file, read and parsed once, and the test cluster it asks for.

    ``spec`` is the user's spec with the plan's nodes; ``base_spec`` the spec as given (its ports).
    ``unavailable`` names the lines whose code flowlb does not run and that others may need (the same for
    every layout: a refused start is explained by them before any target renders the file).
    """

    path: Path
    text: str
    model: HAProxyConfig
    base_spec: ClusterSpec
    plan: ClusterPlan
    unavailable: tuple[str, ...] = ()

    @property
    def spec(self) -> ClusterSpec:
        return self.plan.spec

    @property
    def label(self) -> str:
        return operator_label(self.path)

    @classmethod
    def load(cls, path: Path, spec: ClusterSpec) -> OperatorConfig:
        """Read ``path``, size its cluster and make sure it can be mapped; one line when it cannot."""
        text = read_config_file(path)
        try:
            config = parsed(text)
            plan = ClusterPlan.of(config, spec, max_nodes=MAX_NODES)  # one mock node per Flow host
            trial = remap_config(config, spec, Layout.for_spec(plan.spec, extra_ports=plan.extra_ports), str(path))
            _require_an_lb_port(config, spec, path)
        except ClusterTooBig as exc:
            raise ClusterTooBig(f"{path}: {exc}") from None  # HAProxy's word on the unmapped file would hide it
        except FlowlbError:
            refusal = haproxy_refusal(text, path)
            if refusal is not None:
                raise HAProxyConfigError(refusal) from None
            raise
        return cls(path, text, config, spec, plan, trial.unavailable)

    def render(self, layout: Layout) -> RemapResult:
        """The file remapped for ``layout``: the text HAProxy runs there and what was changed; changes nothing."""
        return remap_config(self.model, self.base_spec, layout, str(self.path))


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
