"""``--haproxy-image``: the suite runs on an image shaped like the official ``haproxy`` ones.

Fails when an image whose HAProxy runs as a non-root user cannot bind the LB's ports, read the
test key or open the runtime socket, when the report does not name the image, or when a missing
image or a clash with ``--haproxy-version`` is anything but one line and exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import docker
import pytest

from flowlb.spec import load_spec
from flowlb.targets import dockerenv
from flowlb.targets.images import ensure_images
from tests.support.suite import REPO, flowlb_containers, run_conformance

OFFICIAL_LIKE = REPO / "tests" / "support" / "official-like"


@pytest.fixture(scope="module")
def official_like_image(docker_engine: None) -> str:
    """flowlb's HAProxy image re-shaped as the official one: user haproxy, docker-entrypoint.sh, CMD."""
    client = docker.DockerClient(base_url=dockerenv.docker_host())
    try:
        base = ensure_images(client).haproxy
        tag = f"flowlb-test/haproxy-official-like:{base.rsplit(':', 1)[-1]}"
        client.images.build(path=str(OFFICIAL_LIKE), tag=tag, buildargs={"BASE": base},
                            labels={dockerenv.LABEL: "true"}, rm=True)
        return tag
    finally:
        client.close()


def test_non_root_image_serves_every_role(official_like_image: str, tmp_path: Path) -> None:
    from flowlb.targets.containers import ContainersTarget

    with ContainersTarget(load_spec(), "hardened", haproxy_image=official_like_image) as target:
        assert target._haproxy is not None
        uid = target._haproxy.get_wrapped_container().exec_run(["id", "-u"]).output.decode().strip()
        assert uid != "0", "the official-like image must run HAProxy as a non-root user"
    checks = "every_port_answers or protocol_through_the_lb or config_loads or flow_servers_up or session_is_tls"
    result = run_conformance("--target", "containers", "--haproxy-image", official_like_image, "-k", checks,
                             "--report-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    run = json.loads((tmp_path / "latest" / "summary.json").read_text())["run"]
    assert run["haproxy_image"] == official_like_image and run["haproxy"][0].isdigit()
    assert flowlb_containers() == []


def test_missing_image_is_one_line(docker_engine: None) -> None:
    result = run_conformance("--target", "containers", "--haproxy-image", "flowlb-test/no-such-image:0")
    assert result.returncode == 2, result.stdout[-2000:]
    line = [x for x in (result.stdout + result.stderr).splitlines() if "no-such-image" in x]
    assert line and "could not be pulled" in line[0], result.stdout[-2000:]
    assert flowlb_containers() == []


def test_image_and_version_together_is_one_line(docker_engine: None) -> None:
    result = run_conformance("--target", "containers", "--haproxy-image", "haproxy:3.2", "--haproxy-version", "3.0")
    assert result.returncode == 2
    assert "give one" in result.stdout + result.stderr
