"""A smoke run of a hostile config on the local target: none of its code runs, nothing it names is reached.

The config adds to the hardened profile what a merge request could slip in: a Lua script, a
``program``, an external health check (each would write a marker file), and syslog, DNS, SOCKS4,
agent-check and hidden ``server`` destinations, some spelt with escapes (``\\x73erver``, ``lo\\x67``,
``\\x72esolvers``) so that only a reader that decodes them as HAProxy does sees them. Listeners on
other loopback addresses stand in for the hosts off the machine. Fails when a marker is written, a
listener is reached, or the report does not name each disarmed line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowlb.haproxy.layout import Layout
from flowlb.haproxy.render import render
from flowlb.spec import load_spec
from tests.support.outside import Outside
from tests.support.suite import run_conformance

SPEC = load_spec()
OUTSIDE = [("127.0.0.2", 8000), ("127.0.0.3", 5514), ("127.0.0.4", 5353), ("127.0.0.5", 1080), ("127.0.0.6", 5555)]
HOSTILE = """\
global
  lua-load {dir}/evil.lua
  insecure-fork-wanted
  external-check
  lo\\x67 127.0.0.3:5514 local0
program evil
  command /bin/sh -c "touch {dir}/ran-program"
\\x72esolvers dns
  nameserver ns1 127.0.0.4:5353
backend scripted
  option external-check
  external-check command {dir}/check.sh
  server scripted1 127.0.0.9:9000 check inter 200ms
backend hostile
  lo\\x67 127.0.0.3:5514 local0
  option log-health-checks
  option httpchk GET /
  default-server inter 200ms
  \\x73erver hidden 127.0.0.2:8000 check
  \\x73erver resolved flowdns.invalid:8000 check resolvers dns init-addr none
  server socks 127.0.0.9:9000 check socks4 127.0.0.5:1080 check-via-socks4
  server agent 127.0.0.9:9000 check agent-check agent-addr 127.0.0.6 agent-port 5555 agent-inter 200ms
backend dispatcher
  dispatch 127.0.0.2:8000
"""
# the lines the report must name as disarmed (text as written)
DISARMED = ["lua-load {dir}/evil.lua", "insecure-fork-wanted", "external-check", "lo\\x67 127.0.0.3:5514 local0",
            "program evil", 'command /bin/sh -c "touch {dir}/ran-program"', "nameserver ns1 127.0.0.4:5353",
            "option external-check", "external-check command {dir}/check.sh",
            "server socks 127.0.0.9:9000 check socks4 127.0.0.5:1080 check-via-socks4",
            "server agent 127.0.0.9:9000 check agent-check agent-addr 127.0.0.6 agent-port 5555 agent-inter 200ms",
            "dispatch 127.0.0.2:8000"]


@pytest.mark.local
def test_hostile_config_runs_nothing_and_reaches_nothing(haproxy_bin: str, tmp_path: Path) -> None:
    (tmp_path / "evil.lua").write_text(f'local f = io.open("{tmp_path}/ran-lua", "w")\nf:write("ran")\nf:close()\n')
    check = tmp_path / "check.sh"
    check.write_text(f"#!/bin/sh\ntouch {tmp_path}/ran-check\n")
    check.chmod(0o755)
    config = tmp_path / "hostile.cfg"
    config.write_text(render(SPEC, "hardened", Layout.for_spec(SPEC)) + HOSTILE.format(dir=tmp_path))
    reports = tmp_path / "reports"
    with Outside(OUTSIDE) as outside:
        result = run_conformance("-m", "smoke", "--target", "local", "--haproxy-cfg", str(config),
                                 "--report-dir", str(reports))
        reached = outside.reached()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert sorted(p.name for p in tmp_path.glob("ran-*")) == [], "code from the config ran"
    assert reached == [], f"reached off the machine: {reached}"
    named = json.loads((reports / "latest" / "summary.json").read_text())["run"]["disarmed"]
    lines = config.read_text().split("\n")
    for text in (line.format(dir=tmp_path) for line in DISARMED):
        number = next(n for n, line in enumerate(lines, start=1) if line.strip() == text)
        assert any(entry.startswith(f"line {number}: `{text}`") for entry in named), (text, named)
        assert f"flowlb: disarmed line {number}: `{text}`" in output


@pytest.mark.local
def test_health_checks_skip_when_their_external_check_is_taken_out(haproxy_bin: str, tmp_path: Path) -> None:
    """Without its external check a server is checked otherwise: the checks of health checking say so and skip."""
    config = tmp_path / "scripted.cfg"
    config.write_text(render(SPEC, "hardened", Layout.for_spec(SPEC)) + "global\n  insecure-fork-wanted\n"
                      "  external-check\nbackend scripted\n  option external-check\n"
                      "  external-check command /bin/true\n  server s1 127.0.0.9:9000 check\n")
    result = run_conformance("-k", "health_check_request or every_port_answers", "--target", "local",
                             "--haproxy-cfg", str(config), "-rs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed, 1 skipped" in result.stdout, result.stdout
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1 and "test_health_check_request.py" in skipped[0], skipped
    assert "`external-check` makes health checks run a program, which flowlb does not run" in skipped[0]
