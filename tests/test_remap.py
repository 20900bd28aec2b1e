"""Remapping an operator's haproxy.cfg onto the test cluster: addresses move, nothing else does.

Fails when a bind, server, certificate or check port keeps a production value (HAProxy would bind or
dial the real cluster), when any other line changes by a byte, when a line number moves (HAProxy's
"line N" would no longer be the operator's line N), when an unmappable config is accepted silently or
fails with anything but one line naming file and line, or when HAProxy refuses the remapped result.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest

from flowlb.errors import FlowlbError
from flowlb.haproxy.config import HAProxyConfig
from flowlb.haproxy.layout import Layout, ServerAddress
from flowlb.haproxy.messages import Diagnosis
from flowlb.haproxy.operator import OperatorConfig
from flowlb.haproxy.plan import ClusterPlan
from flowlb.haproxy.reload import EMPTY_SERVER_STATE
from flowlb.haproxy.remap import RemapResult, remap_config
from flowlb.spec import load_spec
from flowlb.tls import make_certificates

GOLDEN = Path(__file__).parent / "golden"
SPEC = load_spec()
# paths only written into config text here; the tests that run HAProxy use tmp_path
SOCKET = "/tmp/x.sock"  # noqa: S108
CERT = "/tmp/flowlb-test/server.pem"  # noqa: S108
BINDS = {"http": 20080, "https": 20443, "server": 28000, "server_tls": 28443, "stomp": 21613}
# node1 serves web/server/stomp on 31080/31800/31613, node2 on 32xxx, node3 on 33xxx
NODES = {
    f"node{n}": ServerAddress("127.0.0.1", 1000 * n + 30080, 1000 * n + 30800, 1000 * n + 30613) for n in (1, 2, 3)
}
LAYOUT = Layout(
    binds={role: f"127.0.0.1:{port}" for role, port in BINDS.items()},
    servers=NODES,
    cert_path=CERT,
    runtime_socket=SOCKET,
    log_target="stdout format raw local0",
    harness=True,
)

OPERATOR = """\
# ACME production LB for CloudBees Flow -- owner: ops@corp.example
global
\tlog /dev/log\tlocal0
\tlog 10.20.0.5:514 local1 notice
\tchroot /var/lib/haproxy
\tstats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners
\tstats timeout 30s
\tuser haproxy
\tgroup haproxy
\tdaemon
\tmaxconn 20000
\tssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets

defaults
\tlog\tglobal
\tmode\thttp
\toption\thttplog
\ttimeout connect 5s
\ttimeout client  1m
\ttimeout server  1m
\ttimeout tunnel  1h
\terrorfile 503 /etc/haproxy/errors/flowlb-absent-503.http

frontend www
\tbind *:80
\tbind :443 ssl crt /etc/ssl/private/www.pem crt /etc/ssl/private/www-ecdsa.pem alpn h2,http/1.1  # RSA + ECDSA
\thttp-request redirect scheme https code 301 unless { ssl_fc }
\thttp-request set-header X-Forwarded-Proto "https # not a comment" if { ssl_fc }
\tdefault_backend web

backend web
\tbalance roundrobin
\toption httpchk HEAD /
\tserver flow-a flow1.corp.example:80 check
\tserver flow-b 10.0.0.12:80 check
\tserver flow-c [fd00::13]:80 check

frontend flow-api
\tbind 0.0.0.0:8443 ssl crt /etc/ssl/private/flow.pem alpn h2,http/1.1
\tbind ipv4@:8000
\tdefault_backend flow-servers

backend flow-servers
\toption httpchk GET /commanderRequest/health
\thttp-check expect status 200
\tserver node3 flow3.corp.example:8000 check inter 2s
\tserver node2 flow2.corp.example:8000 check
\tserver node1 flow1.corp.example:8000 check

listen stomp
\tmode tcp
\tbind 10.0.0.1:61613 ssl crt-list /etc/haproxy/crt-list.txt
\tbalance leastconn
\tserver flow-a ipv4@flow1.corp.example:61613 check port 8000 addr 10.0.0.11
\tserver node2 flow2.corp.example:61613 check port 8000
\tserver flow-c flow3.corp.example:61613 check port 8000 backup
"""

# what each rewritten line of OPERATOR must become (line number -> new line)
def layout_for(text: str) -> Layout:
    """LAYOUT with one node per node of the config's plan: node i serves on 3i080, 3i800, 3i613."""
    plan = ClusterPlan.of(HAProxyConfig.parse(text), SPEC)
    servers = {name: ServerAddress("127.0.0.1", 1000 * i + 30080, 1000 * i + 30800, 1000 * i + 30613)
               for i, name in enumerate(plan.nodes, start=1)}
    return replace(LAYOUT, servers=servers, extra_binds={p: f"127.0.0.1:{40000 + p % 1000}" for p in plan.extra_ports},
                   dead_port=39999, socket_dir="/tmp/flowlb-run")  # noqa: S108


# the plan: flow1 -> flow-a (1), 10.0.0.12 -> flow-b (2), fd00::13 -> flow-c (3), flow3 -> node3 (4), flow2 -> node2 (5)
OPERATOR_EXPECTED = {
    3: "\tlog stdout format raw local0",
    4: "\tlog stdout format raw local1 notice",
    5: "\t# flowlb: chroot /var/lib/haproxy",
    6: f"\tstats socket {SOCKET} mode 660 level admin expose-fd listeners",
    8: "\t# flowlb: user haproxy",
    9: "\t# flowlb: group haproxy",
    10: "\t# flowlb: daemon",
    22: "\t# flowlb: errorfile 503 /etc/haproxy/errors/flowlb-absent-503.http",
    25: "\tbind 127.0.0.1:20080",
    26: f"\tbind 127.0.0.1:20443 ssl crt {CERT} alpn h2,http/1.1  # RSA + ECDSA",
    34: "\tserver flow-a 127.0.0.1:31080 check",
    35: "\tserver flow-b 127.0.0.1:32080 check",
    36: "\tserver flow-c 127.0.0.1:33080 check",
    39: f"\tbind 127.0.0.1:28443 ssl crt {CERT} alpn h2,http/1.1",
    40: "\tbind 127.0.0.1:28000",
    46: "\tserver node3 127.0.0.1:34800 check inter 2s",
    47: "\tserver node2 127.0.0.1:35800 check",
    48: "\tserver node1 127.0.0.1:31800 check",
    52: f"\tbind 127.0.0.1:21613 ssl crt {CERT}",
    54: "\tserver flow-a 127.0.0.1:31613 check port 31800 addr 127.0.0.1",
    55: "\tserver node2 127.0.0.1:35613 check port 35800",
    56: "\tserver flow-c 127.0.0.1:34613 check port 34800 backup",
}


def assert_only_changed(original: str, result: RemapResult, expected: dict[int, str]) -> None:
    """Exactly the ``expected`` lines differ, each as given; every other line is byte-for-byte the same."""
    before, after = original.removesuffix("\n").split("\n"), result.text.split("\n")
    for number, line in enumerate(before, start=1):
        want = expected.get(number, line)
        assert after[number - 1] == want, f"line {number}: {after[number - 1]!r} != {want!r}"
    rewritten = {c.line: c.new for c in result.changes if c.original}
    assert rewritten == expected
    assert all(c.original == before[c.line - 1] and c.why for c in result.changes if c.original)


def test_kb_golden_every_address_moves_and_nothing_else() -> None:
    original = (GOLDEN / "kb.cfg").read_text()
    result = remap_config(original, SPEC, LAYOUT, "kb.cfg")
    lines = original.split("\n")
    expected: dict[int, str] = {}
    for number, line in enumerate(lines, start=1):
        new = line
        for role, port in SPEC.lb.ports.by_role().items():
            new = re.sub(rf"bind \*:{port}\b", f"bind 127.0.0.1:{BINDS[role]}", new)
        for name, node in NODES.items():
            new = new.replace(f"{name}:80 ", f"127.0.0.1:{node.web_port} ")
            new = new.replace(f"{name}:8000 ", f"127.0.0.1:{node.server_port} ")
            if f"server {name} {name}:61613 " in new:
                new = new.replace(f"{name}:61613 ", f"127.0.0.1:{node.stomp_port} ")
                new = new.replace("check port 8000", f"check port {node.server_port}")
        new = new.replace("crt /etc/haproxy/server.pem", f"crt {CERT}")
        if new != line:
            expected[number] = new
    assert len(expected) == 5 + 9 + 0  # five binds (three with crt), nine servers
    assert_only_changed(original, result, expected)
    # kb has no `global`: one is appended, so no line number moves
    assert result.text.split("\n")[len(lines) - 1 :] == [
        "# flowlb harness: runtime API for evidence",
        "global",
        f"  stats socket {SOCKET} mode 600 level admin",
        "",
    ]
    assert [c.line for c in result.changes if not c.original] == [len(lines), len(lines) + 1, len(lines) + 2]
    for production_value in ("*:", "node1:", "node2:", "node3:", "/etc/haproxy/server.pem", "port 8000"):
        assert production_value not in "\n".join(c.new for c in result.changes)


def test_hardened_golden_socket_and_log_move_too() -> None:
    original = (GOLDEN / "hardened.cfg").read_text()
    result = remap_config(original, SPEC, LAYOUT, "hardened.cfg")
    changed = {c.line: c.new for c in result.changes}
    lines = original.split("\n")

    def line_of(text: str) -> int:
        return next(number for number, line in enumerate(lines, start=1) if line.startswith(text))

    assert changed[line_of("  log /dev/log")] == "  log stdout format raw local0 info"
    assert changed[line_of("  stats socket")] == f"  stats socket {SOCKET} mode 600 level admin"
    assert len(changed) == 2 + 5 + 9  # log, stats socket, five binds, nine servers: nothing added
    assert result.text.count("\n") == original.count("\n")
    for number, line in enumerate(original.split("\n"), start=1):
        if number not in changed:
            assert result.text.split("\n")[number - 1] == line
    stomp_server = changed[line_of("  server node1 node1:61613")]
    assert "on-marked-down shutdown-sessions" in stomp_server and "check port 31800" in stomp_server


def test_production_layout_changes_nothing_in_the_generated_configs() -> None:
    for name in ("kb.cfg", "hardened.cfg"):
        original = (GOLDEN / name).read_text()
        result = remap_config(original, SPEC, Layout.for_spec(SPEC), name)
        assert (result.text, result.changes) == (original, ()), result.relevant_lines()


def test_operator_config_is_mapped_and_otherwise_kept() -> None:
    result = remap_config(OPERATOR, SPEC, layout_for(OPERATOR), "acme.cfg")
    assert_only_changed(OPERATOR, result, OPERATOR_EXPECTED)
    assert not [c for c in result.changes if not c.original], "a stats socket exists: nothing to add"
    whys = {c.line: c.why for c in result.changes}
    assert "bind :443 -> test address 127.0.0.1:20443" in whys[26]
    assert "second certificate /etc/ssl/private/www-ecdsa.pem dropped" in whys[26]
    assert "crt-list /etc/haproxy/crt-list.txt -> the test certificate" in whys[52]
    assert "node flow-a's web port" in whys[34] and "node node2's server port" in whys[47]
    assert "node node3's stomp port" in whys[56]
    assert "does not exist here" in whys[22]


def test_relevant_lines_show_new_next_to_old() -> None:
    result = remap_config(OPERATOR, SPEC, layout_for(OPERATOR), "acme.cfg")
    lines = result.relevant_lines().splitlines()
    assert len(lines) == len(OPERATOR_EXPECTED)
    assert lines[0] == " 3: log stdout format raw local0   (was: log /dev/log\tlocal0)"
    assert "54: server flow-a 127.0.0.1:31613 check port 31800 addr 127.0.0.1   (was: server flow-a " in lines[-3]
    added = remap_config(MINIMAL, SPEC, layout_for(MINIMAL)).relevant_lines()
    assert added.splitlines()[-1] == f"7: stats socket {SOCKET} mode 600 level admin   (added)"


MINIMAL = "frontend f\n  bind :80\nbackend flowsrv\n  server f1 flow1:8000 check\n"


def test_bind_without_address_takes_the_one_free_port() -> None:
    config = (
        "frontend a\n  bind :80,:443 ssl crt /x.pem\n  bind :8000\n  bind :8443\n"
        "frontend s\n  bind ssl crt /home//server.pem\n"
    ) + MINIMAL.split("\n", 2)[2]
    result = remap_config(config, SPEC, layout_for(config))
    lines = result.text.splitlines()
    assert lines[1] == f"  bind 127.0.0.1:20080,127.0.0.1:20443 ssl crt {CERT}"
    assert lines[5] == f"  bind 127.0.0.1:21613 ssl crt {CERT}"


def test_crlf_comments_and_quotes_survive() -> None:
    config = 'global\r\n  # stats socket /old.sock\r\n  stats socket "/run/a b.sock" level admin # ops\r\n'
    config += "backend flowsrv\r\n  server f1 flow1:8000\r\n"
    result = remap_config(config, SPEC, replace(layout_for(config), runtime_socket="/tmp/with space.sock"))  # noqa: S108
    assert result.text.startswith(
        'global\r\n  # stats socket /old.sock\r\n  stats socket "/tmp/with space.sock" level admin # ops\r\n'
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("frontend f\n  bind :443\n", "op.cfg: the config has no server on a Flow node port (web=80, server=8000, "
         "stomp=61613): nothing to test behind the LB"),
        ("frontend f\n  bind ssl crt /home//server.pem\n", "op.cfg:2: bind without an address: cannot tell "
         "which LB port it is; write e.g. `bind :443 ssl crt /home//server.pem`"),
        ("frontend a\n  bind 10.0.0.1:443\nfrontend b\n  bind 10.0.0.2:443\n", "op.cfg:4: port 443 is also bound "
         "by frontend a (line 2); the test cluster has one address per port"),
        ("frontend f\n  bind :8000-8010\n", "op.cfg:2: bind address ':8000-8010' has no single port (a range or a "
         "variable)"),
    ],
    ids=["no-flow-server", "bind-no-address", "port-in-two-frontends", "port-range"],
)  # fmt: skip
def test_unmappable_config_is_one_line_naming_file_and_line(config: str, message: str) -> None:
    if "no-flow" not in message and "nothing to test" not in message:
        config += MINIMAL.split("\n", 2)[2]
    with pytest.raises(FlowlbError) as caught:
        remap_config(config, SPEC, layout_for(MINIMAL), "op.cfg")
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("config", "line", "expected"),
    [
        ("backend c\n  source 10.0.0.5\n  server s2 flow1:80 check source 10.0.0.6\n", 3,
         "  server s2 127.0.0.1:31080 check"),
        ("listen stats\n  bind 10.1.1.1:1936\n", 2, "  bind 127.0.0.1:40936"),
        ("backend b\n  server s1 flow1:8080 check\n", 2, "  server s1 127.0.0.1:39999 check"),
        ("backend b\n  server s1 flow1:80 check port 9000\n", 2, "  server s1 127.0.0.1:31080 check port 39999"),
        ("defaults\n  default-server check port 8000 inter 3s\nbackend c\n  server s2 flow1:61613\n", 4,
         "  server s2 127.0.0.1:31613 port 31800"),
        ("backend c\n  http-check connect port 8000\n  server s2 flow1:61613 check\n", 3,
         "  server s2 127.0.0.1:31613 check port 31800"),
        ("frontend f\n  bind /run/haproxy/www.sock\n", 2, "  bind /tmp/flowlb-run/bind-6.sock"),
        ("frontend f\n  bind :::443 v4v6 ssl crt /x.pem\n", 2, f"  bind 127.0.0.1:20443 ssl crt {CERT}"),
        ("resolvers dns\n  nameserver ns1 10.0.0.2:53\n", 2, "  nameserver ns1 127.0.0.1:39999"),
        ("peers lbs\n  peer lb1 10.0.0.5:10000\n", 2, "  peer lb1 127.0.0.1:20001"),
        ("backend b\n  server-template fl 3 flow9.corp.example:8000 check\n", 2,
         "  server-template fl 3 127.0.0.1:32800 check"),
    ],
    ids=["source", "stats-listener", "other-server-port", "check-port-elsewhere", "default-server-port", "connect-port",
         "unix-socket", "ipv6-v4v6", "resolvers", "peers", "server-template"],
)  # fmt: skip
def test_what_operators_write_is_mapped(config: str, line: int, expected: str) -> None:
    config = MINIMAL + config
    offset = MINIMAL.count("\n")
    result = remap_config(config, SPEC, layout_for(config), "op.cfg")
    assert result.text.split("\n")[offset + line - 1] == expected


def test_the_operator_config_reads_once_fails_early_and_renders_purely(tmp_path: Path) -> None:
    with pytest.raises(FlowlbError, match=r"^.*/absent\.cfg: no such file$"):
        OperatorConfig.load(tmp_path / "absent.cfg", SPEC)
    bad = tmp_path / "bad.cfg"
    bad.write_text("frontend f\n  bind :8000-8010\nbackend b\n  server s flow1:8000\n")
    with pytest.raises(FlowlbError, match=r"bad\.cfg"):
        OperatorConfig.load(bad, SPEC)  # before any target starts
    good = tmp_path / "good.cfg"
    good.write_text(OPERATOR)
    operator = OperatorConfig.load(good, SPEC)
    good.unlink()
    first = operator.render(layout_for(OPERATOR))
    assert first == remap_config(OPERATOR, SPEC, layout_for(OPERATOR), str(good))
    assert operator.render(replace(layout_for(OPERATOR), cert_path="/elsewhere.pem")) != first
    assert operator.render(layout_for(OPERATOR)) == first  # rendering for another layout changed nothing
    assert operator.label == "operator:good.cfg"
    with pytest.raises(FrozenInstanceError):
        operator.text = ""  # type: ignore[misc]


def _local_layout(tmp_path: Path) -> Layout:
    certs = make_certificates(tmp_path, SPEC.lb.names)
    (tmp_path / "server-state").write_text(EMPTY_SERVER_STATE)  # as the targets prepare it
    return replace(LAYOUT, cert_path=str(certs.server_pem), runtime_socket=str(tmp_path / "admin.sock"),
                   ca_path=str(certs.ca_file), socket_dir=str(tmp_path))


@pytest.mark.parametrize("name", ["hardened", "operator"])
def test_haproxy_loads_the_remapped_config(name: str, haproxy_bin: str, tmp_path: Path) -> None:
    original = OPERATOR if name == "operator" else (GOLDEN / "hardened.cfg").read_text()
    config = tmp_path / "haproxy.cfg"
    layout = replace(layout_for(original), **{k: getattr(_local_layout(tmp_path), k)
                                              for k in ("cert_path", "runtime_socket", "ca_path", "socket_dir")})
    config.write_text(remap_config(original, SPEC, layout).text)
    result = subprocess.run([haproxy_bin, "-c", "-f", str(config)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    if name == "hardened":
        assert Diagnosis.parse(result.stdout + result.stderr).warnings == ()


@pytest.mark.local
def test_local_target_runs_the_operators_file(haproxy_bin: str) -> None:
    from flowlb.targets.local import LocalTarget

    target = LocalTarget(SPEC, "hardened", operator=OperatorConfig.load(GOLDEN / "hardened.cfg", SPEC))
    try:
        assert target.rendered is not None and target.rendered.text == target.config_text
        assert target.profile == "operator:hardened.cfg"
        assert str(target.socket_path) in target.config_text
        assert "/etc/haproxy/server.pem" not in target.config_text
        stats = target.evidence().stats()
        assert len(stats) == 9 and all(s.status == "UP" for s in stats)
    finally:
        target.close()
