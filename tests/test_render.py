"""The two profiles: golden files pin the output, and HAProxy itself loads both.

Regenerate the golden files after a deliberate change with ``FLOWLB_UPDATE_GOLDEN=1 pytest tests/test_render.py``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from flowlb.haproxy.layout import Layout
from flowlb.haproxy.messages import Diagnosis
from flowlb.haproxy.reload import EMPTY_SERVER_STATE
from flowlb.haproxy.render import render
from flowlb.spec import load_spec
from flowlb.tls import make_certificates

GOLDEN = Path(__file__).parent / "golden"
PROFILES = ("kb", "hardened")


@pytest.mark.parametrize("profile", PROFILES)
def test_output_matches_golden_file(profile: str) -> None:
    spec = load_spec()
    spec = replace(spec, source="fixtures/cluster.toml")
    text = render(spec, profile, Layout.for_spec(spec))
    golden = GOLDEN / f"{profile}.cfg"
    if os.environ.get("FLOWLB_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), f"{profile} output changed; FLOWLB_UPDATE_GOLDEN=1 regenerates {golden}"


@pytest.mark.parametrize("profile", PROFILES)
def test_haproxy_loads_the_profile(profile: str, haproxy_bin: str, tmp_path: Path) -> None:
    spec = load_spec()
    certs = make_certificates(tmp_path, spec.lb.names)
    layout = Layout.for_spec(spec, cert_path=str(certs.server_pem))
    # node hostnames do not resolve here, and HAProxy refuses to start on one that does not
    layout = replace(layout, servers={name: replace(a, host="127.0.0.1") for name, a in layout.servers.items()},
                     socket_dir=str(tmp_path))
    (tmp_path / "server-state").write_text(EMPTY_SERVER_STATE)  # as the harness (and an operator) prepares it
    config = tmp_path / "haproxy.cfg"
    config.write_text(render(spec, profile, layout))
    result = subprocess.run([haproxy_bin, "-c", "-f", str(config)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = Diagnosis.parse(result.stdout + result.stderr).warnings
    if profile == "hardened":
        assert warnings == (), f"hardened must load without warnings: {warnings}"
    else:
        # the article's own mistakes show up as HAProxy warnings: docs/findings.md, article items 4 and 5
        assert any("'option tcplog' directive is ignored in backends" in w for w in warnings)
        assert any("missing timeouts" in w for w in warnings)


def test_kb_keeps_the_article_and_lists_its_differences() -> None:
    spec = load_spec()
    text = render(spec, "kb", Layout.for_spec(spec))
    assert "redirect scheme https if !{ ssl_fc }" in text
    assert text.count("stats enable") == 2
    assert "check port 8000" in text and "http-check expect" not in text
    assert "timeout" not in text.replace("# ", "").split("frontend", 1)[1]
    header = [line for line in text.splitlines() if line.startswith("#  ")]
    assert any("!{ ssl_fc }" in line for line in header)


def test_hardened_fixes_each_defect() -> None:
    spec = load_spec()
    text = render(spec, "hardened", Layout.for_spec(spec))
    stomp_backend = text.split("backend commander-stomp-backend", 1)[1]
    assert "option httpchk GET /commanderRequest/health" in stomp_backend
    assert "http-check expect status 200" in stomp_backend
    assert "on-marked-down shutdown-sessions" in stomp_backend
    assert "stats enable" not in text
    assert "timeout tunnel" in text
    assert "option forwardfor" in text and "X-Forwarded-Proto https" in text
    assert "option redispatch" in text and "retry-on" in text
    assert "ssl-min-ver TLSv1.2" in text
    assert "stats socket" in text
