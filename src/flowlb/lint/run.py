"""Lint one haproxy.cfg: does HAProxy load it (``haproxy -c``), then every Flow rule; text or JSON out.

HAProxy is asked about the file as it would run on the test cluster (certificate paths and server
addresses mapped, as for ``--haproxy-cfg``), so a ``crt`` that only exists on the real LB is not a
finding; what HAProxy refuses is (``FLOW000``), with its own message and line. It is asked without
the lines that run code (``FLOW043``): ``haproxy -c`` would run the config's Lua.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict
from pathlib import Path

from flowlb.checks import catalogue
from flowlb.errors import FlowlbError
from flowlb.haproxy.config import HAProxyConfig
from flowlb.haproxy.layout import Layout, ServerAddress
from flowlb.haproxy.operator import haproxy_refusal
from flowlb.haproxy.plan import ClusterPlan
from flowlb.haproxy.remap import read_config_file, remap_config
from flowlb.haproxy.sandbox import code_lines
from flowlb.interrupts import temporary_directory
from flowlb.lint.rules import RULES, Finding
from flowlb.lint.versions import version_findings
from flowlb.spec import ClusterSpec
from flowlb.tls import make_certificates


def haproxy_check(text: str, path: Path, spec: ClusterSpec) -> Finding | None:
    """``FLOW000`` when HAProxy refuses the file; ``None`` when it loads (or no haproxy binary is here).

    The file is mapped as ``--haproxy-cfg`` maps it, so what exists only on the real LB (certificates,
    hostnames, interfaces) is no finding; a file that cannot be mapped is judged as written.
    """
    if shutil.which("haproxy") is None:
        return None
    with temporary_directory("flowlb-lint-") as directory:
        certs = make_certificates(Path(directory), spec.lb.names)
        try:
            plan = ClusterPlan.of(HAProxyConfig.parse(text), spec)
            layout = Layout(
                binds={role: f"127.0.0.1:{port}" for role, port in spec.lb.ports.by_role().items()},
                servers={name: ServerAddress("127.0.0.1", spec.node_ports.web, spec.node_ports.server,
                                             spec.node_ports.stomp) for name in plan.nodes},
                cert_path=str(certs.server_pem),
                runtime_socket=str(Path(directory) / "admin.sock"),
                log_target="stdout format raw local0",
                harness=True,
                extra_binds={port: f"127.0.0.1:{port}" for port in plan.extra_ports},
                ca_path=str(certs.ca_file),
                socket_dir=directory,
            )
            candidate = remap_config(text, spec, layout, str(path)).text
        except FlowlbError:
            candidate = text  # not mappable: let HAProxy judge the file as written
        refusal = haproxy_refusal(candidate, path)
    if refusal is None:
        return None
    line = _line_of(refusal)
    needed = [code.line.number for code in code_lines(HAProxyConfig.parse(text)) if code.others_may_need_it]
    if needed:  # HAProxy was asked without the code, which the line it names may need
        listed = ", ".join(str(number) for number in needed)
        refusal += f" (asked without line(s) {listed}: flowlb runs no code from the config; see FLOW043)"
    return Finding("FLOW000", line, refusal, "HAProxy refuses to start with this file: the LB is down",
                   "fix the line HAProxy names (`haproxy -c -f FILE` shows the same)")


def _line_of(message: str) -> int:
    match = re.search(r":(\d+)\]", message)
    return int(match.group(1)) if match else 0


def lint(path: Path, spec: ClusterSpec, haproxy_version: str | None = None) -> list[Finding]:
    """Every finding for the file at ``path``, by line; with ``haproxy_version``, also what that HAProxy line
    does differently with it."""
    text = read_config_file(path)
    config = HAProxyConfig.parse(text)
    findings = [finding for rule in RULES for finding in rule(config, spec)]
    if haproxy_version is not None:
        findings += version_findings(config, haproxy_version)
    refusal = haproxy_check(text, path, spec)
    if refusal is not None:
        findings.append(refusal)
    return sorted(findings, key=lambda f: (f.line, f.rule))


def as_text(path: Path, findings: list[Finding]) -> str:
    if not findings:
        return f"{path}: no findings\n"
    out = []
    for f in findings:
        out += [f"{path}:{f.line}: {f.rule} {f.what}", f"    why: {f.why}", f"    fix: {f.fix}"]
        shown = ", ".join(check.id for check in catalogue.checks_showing(f.rule))
        if shown:
            out.append(f"    seen live by: {shown}")
    out.append(f"{len(findings)} finding(s) in {path}")
    return "\n".join(out) + "\n"


def as_json(path: Path, findings: list[Finding]) -> str:
    rows = [{**asdict(f), "checks": [c.id for c in catalogue.checks_showing(f.rule)]} for f in findings]
    return json.dumps({"file": str(path), "findings": rows}, indent=2) + "\n"
