"""The cluster spec: the default loads, and every bad input is one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowlb import paths
from flowlb.errors import SpecError
from flowlb.spec import load_spec, parse_spec

MINIMAL = {"nodes": [{"name": "node1", "host": "node1"}]}


def test_default_spec_is_the_article_topology() -> None:
    spec = load_spec()
    assert spec.source == str(paths.default_spec())
    assert spec.node_names() == ["node1", "node2", "node3"]
    assert spec.lb.ports.by_role() == {"http": 80, "https": 443, "server": 8000, "server_tls": 8443, "stomp": 61613}
    assert (spec.node_ports.web, spec.node_ports.server, spec.node_ports.stomp) == (80, 8000, 61613)
    assert spec.health.path == "/commanderRequest/health"
    assert spec.lb.name == "flow-lb.test"


def test_minimal_spec_takes_haproxy_defaults() -> None:
    spec = parse_spec(MINIMAL)
    assert (spec.health.inter_ms, spec.health.fall, spec.health.rise) == (2000, 3, 2)
    assert spec.health.down_after_s == 6.0
    assert spec.profile == "hardened"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({**MINIMAL, "nodez": []}, "nodez: unknown key"),
        ({**MINIMAL, "lb": {"ports": {"htps": 443}}}, "lb.ports.htps: unknown key"),
        ({**MINIMAL, "lb": {"web_affinity": "source"}}, "lb.web_affinity: 'source' is not a policy"),
        ({**MINIMAL, "lb": {"ports": {"https": 70000}}}, "lb.ports.https: 70000 is not a port"),
        ({**MINIMAL, "lb": {"ports": {"https": "443"}}}, "lb.ports.https: '443' is not a port"),
        ({**MINIMAL, "lb": {"ports": {"https": 8000}}}, "lb.ports.server: port 8000 is already used by lb.ports.https"),
        ({}, "nodes: missing"),
        ({"nodes": []}, "nodes: the cluster needs at least one"),
        ({"nodes": [{"host": "a"}]}, "nodes[0].name: missing"),
        ({"nodes": [{"name": "n1"}, {"name": "n1"}]}, "nodes[1].name: duplicate node name 'n1'"),
        ({"nodes": [{"name": "1bad"}]}, "nodes[0].name: '1bad' is not a valid server name"),
        ({"nodes": [{"name": "n1", "host": "bad host"}]}, "nodes[0].host: 'bad host' is not a host name"),
        ({**MINIMAL, "profile": "strict"}, "profile: 'strict' is not a profile"),
        ({**MINIMAL, "health": {"fall": 0}}, "health.fall: 0 is out of range"),
        ({**MINIMAL, "health": {"path": "health"}}, "health.path: 'health' must start with '/'"),
        ({**MINIMAL, "lb": {"names": []}}, "lb.names: at least one DNS name"),
        ({**MINIMAL, "lb": {"names": ["not a name"]}}, "lb.names[0]: 'not a name' is not a DNS name"),
        ({**MINIMAL, "timeouts": {"tunnel_ms": True}}, "timeouts.tunnel_ms: must be a whole number"),
    ],
)
def test_bad_spec_names_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(raw, source="x.toml")
    text = str(caught.value)
    assert text.startswith("cluster spec x.toml: ")
    assert message in text
    assert "\n" not in text


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[lb\nnames = 1")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(broken)
