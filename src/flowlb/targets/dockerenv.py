"""Docker on these machines: settings testcontainers needs, and whether an engine answers.

Import this before ``testcontainers``: the machines have ``/.dockerenv``, so testcontainers would
think it runs in a container and report a non-loopback gateway as the container host, and the
reaper image cannot be pulled without a registry (see docs/findings.md).
"""

from __future__ import annotations

import ipaddress
import os
import socket

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
os.environ.setdefault("TC_HOST", "localhost")
os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
os.environ.setdefault("DOCKER_HOST", "unix:///var/run/docker.sock")

LABEL = "flowlb"  # every container, network and image flowlb makes carries this label
OWNER_LABEL = "flowlb.owner-pid"


def docker_answers(timeout: float = 3.0) -> bool:
    """True when a Docker engine answers on ``DOCKER_HOST``."""
    try:
        import docker

        client = docker.from_env(timeout=timeout)
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
