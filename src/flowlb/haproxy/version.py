"""Which HAProxy ran, and with which OpenSSL: what a report must say it tested.

Read from ``haproxy -vv`` (a local binary or inside the HAProxy container), or from the runtime API's
``show info`` on a live LB (which gives the version but not the OpenSSL)::

    parse_vv(output).version     # "2.6.12-1+deb12u4"
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

DEBIAN_SUITES = {"2.6": "bookworm", "3.0": "trixie", "3.2": "sid"}
"""The HAProxy LTS lines flowlb runs (``--haproxy-version``, ``flowlb matrix``) and lints for, each by the Debian
suite whose ``haproxy`` package gives it (the containers target builds its image from that suite)."""
VERSIONS = tuple(DEBIAN_SUITES)

_VERSION = re.compile(r"^HA-?Proxy version (\S+)", re.MULTILINE)
# "OpenSSL version" up to 3.0, "SSL library version" from 3.1 on
_BUILT = re.compile(r"^Built with (?:OpenSSL|SSL library) version : (.+)$", re.MULTILINE)
_RUNNING = re.compile(r"^Running on (?:OpenSSL|SSL library) version : (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class HAProxyBuild:
    """HAProxy's version and the OpenSSL it was built with and runs on ("" where unknown)."""

    version: str
    openssl_built: str = ""
    openssl_running: str = ""

    @property
    def line(self) -> str:
        """One line for a report header: ``HAProxy 2.6.12 (OpenSSL 3.0.19)``."""
        openssl = self.openssl_running or self.openssl_built
        return f"HAProxy {self.version}" + (f" ({openssl})" if openssl else "")


def parse_vv(output: str) -> HAProxyBuild | None:
    """The build ``haproxy -vv`` describes; ``None`` when the output names no version."""
    version = _VERSION.search(output)
    if version is None:
        return None
    built, running = _BUILT.search(output), _RUNNING.search(output)
    return HAProxyBuild(version[1], built[1].strip() if built else "", running[1].strip() if running else "")


def local_build(binary: str) -> HAProxyBuild | None:
    """The build of the ``haproxy`` binary at ``binary``."""
    try:
        result = subprocess.run([binary, "-vv"], capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_vv(result.stdout + result.stderr)


def from_show_info(text: str) -> HAProxyBuild | None:
    """The version a live LB's runtime API reports (``show info``: ``Version: 2.8.3-...``)."""
    match = re.search(r"^Version: (\S+)", text, re.MULTILINE)
    return HAProxyBuild(match[1]) if match else None
