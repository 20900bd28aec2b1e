"""An operator's own haproxy.cfg as the config under test: loaded, checked, remapped per run.

"Loads" and "behaves" are reported separately. When the config cannot even be mapped onto the test
cluster, HAProxy itself is asked whether it loads: the operator hears HAProxy's reason and line,
not ours::

    config = OperatorConfig.load(Path("my.cfg"), spec)      # raises HAProxyConfigError: does not load
    target = LocalTarget(spec, "operator", config_source=config.source)
    config.last.relevant_lines()                            # what the harness rewrote, for a failure
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from flowlb.errors import FlowlbError, HAProxyConfigError
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.messages import Diagnosis, one_line_error
from flowlb.haproxy.remap import RemapResult, read_config_file, remap_config
from flowlb.spec import ClusterSpec


@dataclass
class OperatorConfig:
    """The operator's file and the last remap the harness made of it."""

    path: Path
    text: str
    spec: ClusterSpec
    last: RemapResult | None = field(default=None)

    @classmethod
    def load(cls, path: Path, spec: ClusterSpec) -> OperatorConfig:
        """Read ``path`` and make sure it can be mapped; raise with one line when it cannot."""
        text = read_config_file(path)
        try:
            remap_config(text, spec, Layout.for_spec(spec), str(path))
        except FlowlbError:
            refusal = haproxy_refusal(text, path)
            if refusal is not None:
                raise HAProxyConfigError(refusal) from None
            raise
        return cls(path, text, spec)

    def source(self, layout: Layout) -> str:
        """The config source a target calls: the file remapped for that target's layout."""
        self.last = remap_config(self.text, self.spec, layout, str(self.path))
        return self.last.text


def haproxy_refusal(text: str, path: Path, haproxy_bin: str = "haproxy") -> str | None:
    """HAProxy's own one-line reason why ``text`` does not load, or ``None`` (loads, or no haproxy here)."""
    binary = shutil.which(haproxy_bin)
    if binary is None:
        return None
    with tempfile.TemporaryDirectory(prefix="flowlb-check-") as directory:
        copy = Path(directory) / path.name
        copy.write_text(text, encoding="utf-8")
        result = subprocess.run([binary, "-c", "-f", str(copy)], capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).replace(str(copy), path.name)
    if result.returncode == 0 or not Diagnosis.parse(output).alerts:
        return None
    return one_line_error(output, text, f"{path} does not load")
