"""Docker on these machines: the settings testcontainers needs, and whether an engine answers.

The machines have ``/.dockerenv``, so testcontainers would think it runs in a container and report a
non-loopback gateway as the container host, and the reaper image cannot be pulled without a registry
(docs/findings.md). :func:`configure_testcontainers` sets testcontainers' own configuration when the
containers target starts; nothing here changes the environment, so a Locust worker or any other
process that imports flowlb inherits nothing from it.
"""

from __future__ import annotations

import ipaddress
import os
import socket

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

LABEL = "flowlb"  # every container, network and image flowlb makes carries this label
KEPT_LABEL = "flowlb.kept"  # a cluster left running on purpose (--keep-cluster)


def docker_host() -> str:
    """Where the Docker engine answers: ``$DOCKER_HOST``, else the local socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def configure_testcontainers() -> None:
    """No reaper (its image cannot be pulled), containers reached on the loopback host through the engine."""
    from testcontainers.core.config import ConnectionMode, testcontainers_config

    testcontainers_config.ryuk_disabled = True
    testcontainers_config.tc_host_override = "localhost"
    testcontainers_config.connection_mode_override = ConnectionMode.docker_host


def docker_answers(timeout: float = 3.0) -> bool:
    """True when a Docker engine answers on ``DOCKER_HOST``."""
    try:
        import docker

        client = docker.DockerClient(base_url=docker_host(), timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure means "no usable engine"
        return False


def is_loopback(host: str) -> bool:
    """True when ``host`` resolves only to loopback addresses: the only place test traffic may go."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)
