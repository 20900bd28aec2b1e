"""The two images the containers target runs, built from ``docker/`` once and cached by content.

Tags carry a hash of what goes into the image, so a changed Dockerfile or mock node rebuilds it and
an unchanged one is reused (rebuilding on every run is slow). The Debian base is made locally by
``docker/make-base-image.sh`` when it is missing, since no registry can be reached.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from flowlb import paths
from flowlb.errors import TargetError
from flowlb.haproxy.version import DEBIAN_SUITES
from flowlb.targets.dockerenv import LABEL

DEFAULT_BASE = "debian:bookworm-slim"


@dataclass(frozen=True)
class Images:
    """The image tags a run uses."""

    haproxy: str
    flownode: str


HAPROXY_BASES = {version: f"debian:{suite}-slim" for version, suite in DEBIAN_SUITES.items()}
"""The HAProxy LTS lines Debian ships, by the Debian image whose package gives each."""


def ensure_images(
    client: docker.DockerClient,
    base: str | None = None,
    haproxy_version: str | None = None,
    haproxy_image: str | None = None,
) -> Images:
    """Build whatever image is missing; return the tags. Raises :class:`TargetError` on failure.

    ``haproxy_version`` (one of ``VERSIONS``) picks the Debian release the HAProxy image is built from; the
    mock node image stays on ``base`` (bookworm by default) whatever HAProxy runs. ``haproxy_image``
    is the user's own HAProxy image instead, pulled when the engine does not have it.
    """
    base = base or os.environ.get("FLOWLB_BASE_IMAGE", DEFAULT_BASE)
    haproxy_base = HAPROXY_BASES[haproxy_version] if haproxy_version else base
    package = paths.package_parent() / "flowlb"
    node_sources = [package / "__init__.py", package / "node_contract.py", *sorted((package / "mocknode").glob("*.py"))]
    docker_dir = paths.folder("docker")
    images = Images(
        haproxy=f"flowlb/haproxy:{_digest([docker_dir / 'haproxy/Dockerfile'], haproxy_base)}",
        flownode=f"flowlb/flownode:{_digest([docker_dir / 'flownode/Dockerfile', *node_sources], base)}",
    )
    if haproxy_image:
        _ensure_pulled(client, haproxy_image)
        images = Images(haproxy=haproxy_image, flownode=images.flownode)
    elif not _exists(client, images.haproxy):
        _ensure_base(client, haproxy_base)
        _build(client, images.haproxy, docker_dir / "haproxy", "Dockerfile", haproxy_base)
    if not _exists(client, images.flownode):
        _ensure_base(client, base)
        _build(client, images.flownode, paths.project_root(), "docker/flownode/Dockerfile", base)
    return images


def _digest(paths: list[Path], base: str) -> str:
    digest = hashlib.sha256(base.encode())
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _ensure_pulled(client: docker.DockerClient, image: str) -> None:
    if _exists(client, image):
        return
    repository, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
    try:
        client.images.pull(repository, tag=tag)
    except docker.errors.APIError as exc:
        reason = str(exc.explanation or exc).splitlines()[0]
        raise TargetError(f"--haproxy-image {image}: not in the Docker engine and it could not be pulled "
                          f"({reason})") from None


def _ensure_base(client: docker.DockerClient, base: str) -> None:
    if _exists(client, base):
        return
    script = paths.folder("docker") / "make-base-image.sh"
    result = subprocess.run(["bash", str(script), base], capture_output=True, text=True, check=False)
    if result.returncode != 0 or not _exists(client, base):
        last = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
        raise TargetError(f"base image {base} is missing and {script.name} failed: {last}")


def _build(client: docker.DockerClient, tag: str, context: Path, dockerfile: str, base: str) -> None:
    try:
        client.images.build(
            path=str(context),
            dockerfile=dockerfile,
            tag=tag,
            buildargs={"BASE": base},
            labels={LABEL: "true"},
            rm=True,
            forcerm=True,
        )
    except docker.errors.BuildError as exc:
        lines = [str(item.get("stream") or item.get("error") or "").strip() for item in exc.build_log]
        last = next((line for line in reversed(lines) if line), str(exc))
        raise TargetError(f"building image {tag} failed: {last}") from None
    except docker.errors.APIError as exc:
        raise TargetError(f"building image {tag} failed: {exc.explanation or exc}") from None
