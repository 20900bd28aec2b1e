"""The config under test stays in its box: the remap leaves it no line that runs code here or reaches off the machine.

Fails when a line that makes HAProxy run code (Lua, a program, a check script, a shared object) is
not commented out, when a destination off the machine (syslog, DNS, SOCKS, mail, a proxy, OCSP, ACME,
a dispatch or check address) is kept, when a keyword written with escapes, quotes or a variable hides
from the remap, or when such a line is not reported as a rewrite naming it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flowlb.haproxy.config import HAProxyConfig
from flowlb.haproxy.remap import remap_config
from flowlb.haproxy.sandbox import disarmed
from tests.test_remap import MINIMAL, SPEC, layout_for

EXISTING = __file__  # a file that exists here, as a Lua script an attacker ships next to the config would
OFF_BOX = "10.255.0."  # every production address below starts with it; none may survive the remap

CODE = [
    ("global\n  lua-load EXISTING\n", 2),
    ("global\n  lua-load-per-thread EXISTING arg\n", 2),
    ("global\n  lua-prepend-path /srv/lua/?.lua\n", 2),
    ("global\n  external-check preserve-env\n", 2),
    ("global\n  insecure-fork-wanted\n", 2),
    ("global\n  insecure-setuid-wanted\n", 2),
    ("global\n  ssl-engine rdrand\n", 2),
    ("global\n  ssl-provider legacy\n", 2),
    ("global\n  ssl-provider-path /srv/ossl\n", 2),
    ("program evil\n  command /bin/sh -c 'touch /tmp/x'\n", 1),
    ("program evil\n  command /bin/sh -c 'touch /tmp/x'\n", 2),
    ("backend c\n  option external-check\n", 2),
    ("backend c\n  external-check command /srv/check.sh\n", 2),
    ("backend c\n  external-check path /srv\n", 2),
    ("backend c\n  filter opentracing id ot config ot.cfg\n", 2),
    ("global\n  lu\\x61-load EXISTING\n", 2),
    ("global\n  'lua-load' EXISTING\n", 2),
    ('global\n  setenv K lua-load\n  "$K" EXISTING\n', 3),
]


@pytest.mark.parametrize(("config", "line"), CODE, ids=[f"{c[0].split(chr(10))[1].strip()}@{c[1]}" for c in CODE])
def test_code_running_lines_are_commented_out_and_reported(config: str, line: int) -> None:
    config = MINIMAL + config.replace("EXISTING", EXISTING)
    number = MINIMAL.count("\n") + line
    result = remap_config(config, SPEC, layout_for(config), "op.cfg")
    original = config.split("\n")[number - 1]
    assert result.text.split("\n")[number - 1] == original.replace(original.strip(), "# flowlb: " + original.strip())
    reported = {change.line: change for change in result.disarmed}
    assert number in reported and "never runs on the test machine" in reported[number].why
    words = HAProxyConfig.parse(config).lines[number - 1].words
    loads_code_others_use = words[0].startswith(("lua-", "ssl-")) or words[:2] == ("filter", "opentracing")
    assert any(f"line {number} " in reason for reason in result.unavailable) == loads_code_others_use


def test_external_check_says_the_health_checks_are_not_the_configs() -> None:
    config = MINIMAL + "backend c\n  option external-check\n  server s flow1:8000 check\n"
    assert "line 6 `option external-check`" in remap_config(config, SPEC, layout_for(config)).health_checks_changed
    assert remap_config(MINIMAL, SPEC, layout_for(MINIMAL)).health_checks_changed == ""


def test_haproxy_c_gets_the_same_disarmed_text() -> None:
    config = "global\n  lua-load x.lua\n  \\x6cua-load y.lua\nprogram p\n  command true\nbackend b\n  server s a:80\n"
    assert disarmed(config) == ("global\n  # flowlb: lua-load x.lua\n  # flowlb: \\x6cua-load y.lua\n"
                                "# flowlb: program p\n  # flowlb: command true\nbackend b\n  server s a:80\n")


# (config, line, what the line must contain after the remap, or end with when it ends in "$"); every 10.255.0.x
# address must be gone
OUTBOUND = [
    ("backend e\n  \\x73erver flow3 10.255.0.3:8000 check\n", 2, "\\x73erver flow3 127.0.0.1:3"),
    ("backend e\n  se'rv'er flow3 10.255.0.3:8000 check\n", 2, "se'rv'er flow3 127.0.0.1:3"),
    ("backend e\n  server\vflow3 10.255.0.3:8000 check\n", 2, "server\vflow3 127.0.0.1:3"),
    ('global\n  setenv KW server\nbackend e\n  "$KW" flow3 10.255.0.3:8000 check\n', 4, '"$KW" flow3 127.0.0.1:3'),
    ("global\n  lo\\x67 10.255.0.9:514 local0\n", 2, "log stdout format raw local0"),
    ("backend e\n  lo\\x67 10.255.0.9:514 local0\n", 2, "log stdout format raw local0"),
    ("\\x72esolvers dns\n  nameserver ns1 10.255.0.53:53\n", 2, "nameserver ns1 127.0.0.1:39999"),
    ("resolvers dns\n  nameserver ns1 udp@10.255.0.53:53\n", 2, "nameserver ns1 127.0.0.1:39999"),
    ("backend e\n  dispatch 10.255.0.8:8000\n", 2, "dispatch 127.0.0.1:39999"),
    ("backend e\n  server s1 flow1:8000 check socks4 10.255.0.4:1080 check-via-socks4\n", 2,
     "server s1 127.0.0.1:31800 check$"),
    ("backend e\n  server s1 flow1:8000 source 10.255.0.5 usesrc clientip check\n", 2,
     "server s1 127.0.0.1:31800 check$"),
    ("backend e\n  server s1 flow1:8000 check namespace prod\n", 2, "server s1 127.0.0.1:31800 check$"),
    ("backend e\n  server s1 flow1:8000 check agent-check agent-addr 10.255.0.6 agent-port 5555\n", 2,
     "agent-check agent-addr 127.0.0.1 agent-port 39999"),
    ("backend e\n  default-server socks4 10.255.0.4:1080 agent-addr 10.255.0.6 source 10.255.0.5\n", 2,
     "default-server"),
    ("backend e\n  http-check connect addr 10.255.0.5 port 8000\n", 2, "http-check connect"),
    ("backend e\n  tcp-check connect addr 10.255.0.5 via-socks4\n", 2, "tcp-check connect"),
    ("backend e\n  option http_proxy\n", 2, "# flowlb: option http_proxy"),
    ("backend e\n  option transparent\n", 2, "# flowlb: option transparent"),
    ("frontend x\n  http-request set-dst str(10.255.0.2)\n", 2, "# flowlb: http-request set-dst"),
    ("frontend x\n  tcp-request content set-dst-port int(25)\n", 2, "# flowlb: tcp-request content set-dst-port"),
    ("frontend x\n  filter spoe engine e config spoe.cfg\n", 2, "# flowlb: filter spoe"),
    ("frontend x\n  http-request send-spoe-group e g\n", 2, "# flowlb: http-request send-spoe-group"),
    ("log-forward lf\n  dgram-bind 127.0.0.1:5514\n  log 10.255.0.9:514 local0\n", 3, "log stdout format raw local0"),
    ("peers p\n  peer lb1 10.255.0.7:10000\n  log 10.255.0.9:514 local0\n", 3, "log stdout format raw local0"),
    ("fcgi-app php\n  log-stderr 10.255.0.9:514 local0\n", 2, "log-stderr stdout format raw local0"),
    ("ring r\n  backing-file /var/lib/haproxy/r.bin\n", 2, "# flowlb: backing-file"),
    ("global\n  ocsp-update.mode on\n", 2, "# flowlb: ocsp-update.mode on"),
    ("global\n  ocsp-update.httpproxy 10.255.0.8:3128\n", 2, "# flowlb: ocsp-update.httpproxy"),
    ("crt-store s\n  load crt a.pem ocsp-update on\n", 2, "load crt a.pem"),
    ("frontend x\n  ssl-f-use crt a.pem ocsp-update on\n", 2, "ssl-f-use crt a.pem"),
    ("acme le\n  directory https://10.255.0.80/directory\n", 2, "directory https://127.0.0.1:39999/directory"),
]


@pytest.mark.parametrize(("config", "line", "expected"), OUTBOUND, ids=[f"{c[0].split(chr(10))[c[1] - 1].strip()}"
                                                                     for c in OUTBOUND])
def test_every_destination_off_the_machine_is_moved_or_disabled(config: str, line: int, expected: str) -> None:
    config = MINIMAL + config
    number = MINIMAL.count("\n") + line
    result = remap_config(config, SPEC, layout_for(config), "op.cfg")
    new = result.text.split("\n")[number - 1]
    live = new.split("# flowlb: ")[0]  # a commented-out line is what HAProxy no longer reads
    assert new.endswith(expected[:-1]) if expected.endswith("$") else expected in new, new
    assert OFF_BOX not in live and "socks4" not in live and "ocsp-update" not in live, new
    assert number in {change.line for change in result.changes}, result.relevant_lines()
    if "127.0.0.1:3" not in expected:  # not a plain server mapped to its node: named as disarmed
        assert number in {change.line for change in result.disarmed}, result.relevant_lines()


def test_unix_bind_cannot_move_the_runs_sockets() -> None:
    config = MINIMAL + "global\n  unix-bind prefix /etc mode 777\n"
    assert "\n  # flowlb: unix-bind prefix /etc mode 777\n" in remap_config(config, SPEC, layout_for(config)).text


def test_automatic_default_resolvers_are_replaced_by_a_loopback_one() -> None:
    config = MINIMAL + "frontend x\n  http-request do-resolve(txn.ip,default,ipv4) hdr(host)\n"
    result = remap_config(config, SPEC, layout_for(config))
    assert result.text.endswith("resolvers default\n  nameserver flowlb-nowhere 127.0.0.1:39999\n")
    own = MINIMAL + "resolvers default\n  parse-resolv-conf\n"
    result = remap_config(own, SPEC, layout_for(own))
    assert "  nameserver flowlb-resolv-conf 127.0.0.1:39999" in result.text.split("\n")
    assert "resolvers default\n  nameserver flowlb-nowhere" not in result.text


def test_a_disarmed_config_still_loads(haproxy_bin: str, tmp_path: Path) -> None:
    """What the remap leaves of a config full of such lines is a config HAProxy 2.6 accepts."""
    import subprocess
    from dataclasses import replace

    from flowlb.tls import make_certificates

    config = (MINIMAL + "global\n  lua-load EXISTING\n  insecure-fork-wanted\n  external-check\n"
              "  lo\\x67 10.255.0.9:514 local0\n"
              "program p\n  command /bin/true\n"
              "backend e\n  mode http\n  option external-check\n  external-check command /bin/true\n"
              "  dispatch 10.255.0.8:8000\n"
              "  \\x73erver flow3 10.255.0.3:8000 check socks4 10.255.0.4:1080 check-via-socks4\n"
              "  http-check connect addr 10.255.0.5 port 8000\n"
              "frontend x\n  bind :8443\n  mode http\n  http-request do-resolve(txn.ip,default,ipv4) hdr(host)\n"
              "  http-request set-dst var(txn.ip)\n  default_backend e\n").replace("EXISTING", EXISTING)
    certs = make_certificates(tmp_path, SPEC.lb.names)
    layout = replace(layout_for(config), cert_path=str(certs.server_pem), runtime_socket=str(tmp_path / "a.sock"),
                     socket_dir=str(tmp_path))
    path = tmp_path / "h.cfg"
    path.write_text(remap_config(config, SPEC, layout).text)
    result = subprocess.run([haproxy_bin, "-c", "-f", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
