"""A config with more Flow hosts than the test cluster runs (16): one line naming the limit, exit 2.

Fails when the limit is swallowed: the suite and lint then reported HAProxy's word on the unmapped file
("unable to stat SSL certificate", a certificate that exists only on the real LB) as "does not load" / FLOW000.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flowlb.errors import ClusterTooBig
from flowlb.haproxy.operator import OperatorConfig
from flowlb.lint.run import lint
from flowlb.spec import load_spec
from tests.support.suite import run_conformance

SPEC = load_spec(None)
HEAD = """global
    maxconn 100
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend flow-tls
    bind :8443 ssl crt /etc/haproxy/only-on-the-lb.pem
    default_backend flow
backend flow
"""
SERVERS = {
    "server-template": "    server-template flow 100 10.0.0.1:8000 check\n",
    "200-servers": "".join(f"    server flow{n} 10.0.{n // 200}.{n % 200 + 1}:8000 check\n" for n in range(200)),
}


@pytest.fixture(params=list(SERVERS))
def too_big(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / "big.cfg"
    path.write_text(HEAD + SERVERS[request.param])
    return path


def test_the_limit_is_named_not_haproxys_word_on_the_unmapped_file(too_big: Path) -> None:
    with pytest.raises(ClusterTooBig) as refused:
        OperatorConfig.load(too_big, SPEC)
    assert str(refused.value).startswith(f"{too_big}: the config has "), refused.value
    assert "flowlb's test cluster runs at most 16" in str(refused.value)


def test_lint_maps_the_file_whatever_its_size(too_big: Path, haproxy_bin: str) -> None:
    findings = [f for f in lint(too_big, SPEC) if f.rule == "FLOW000"]
    assert findings == [], findings


def test_the_suite_says_so_in_one_line_and_exit_2(tmp_path: Path, haproxy_bin: str) -> None:
    path = tmp_path / "big.cfg"
    path.write_text(HEAD + SERVERS["server-template"])
    result = run_conformance("--target", "local", "--haproxy-cfg", str(path))
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    assert f"flowlb: {path}: the config has " in output and "runs at most 16" in output, output[-2000:]
    assert "does not load" not in output and "Traceback" not in output, output[-2000:]
