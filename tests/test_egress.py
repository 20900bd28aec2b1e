"""The egress fence: HAProxy under test reaches 127.0.0.1 and nothing else, whatever its config says.

Listeners on other loopback addresses (127.0.0.2, 127.0.0.3) stand in for the world outside; the
fence must keep everything away from them, and let everything on 127.0.0.1 through.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from flowlb.haproxy.render import render
from flowlb.spec import load_spec
from flowlb.targets import egress, processes
from flowlb.targets.egress import EgressFence
from tests.conftest import require


@pytest.fixture
def fence() -> Iterator[EgressFence]:
    require(os.geteuid() == 0, "root, for the packet filter")
    raised = EgressFence.raise_()
    require(raised.uid is not None, f"an egress fence ({raised.why_off})")
    yield raised
    raised.lower()


class Outside:
    """A TCP and a UDP listener on a loopback address standing in for another host; counts what arrives."""

    def __init__(self, address: str) -> None:
        self.tcp = socket.create_server((address, 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((address, 0))
        self.address, self.port = address, self.tcp.getsockname()[1]
        self.udp_port = self.udp.getsockname()[1]
        self.arrived: list[str] = []
        for sock, kind in ((self.tcp, "tcp"), (self.udp, "udp")):
            sock.settimeout(0.2)
            threading.Thread(target=self._count, args=(sock, kind), daemon=True).start()

    def _count(self, sock: socket.socket, kind: str) -> None:
        while True:
            try:
                if kind == "tcp":
                    conn, peer = sock.accept()
                    conn.close()
                else:
                    _data, peer = sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            self.arrived.append(f"{kind} from {peer}")

    def close(self) -> None:
        self.tcp.close()
        self.udp.close()


def _as_fenced_user(uid: int, code: str) -> str:
    """Run ``code`` as the fenced user, with the system's Python (this one may live where that user cannot go)."""
    require(os.access("/usr/bin/python3", os.X_OK), "/usr/bin/python3")
    process = processes.spawn(["/usr/bin/python3", "-c", code], user=uid)
    out, _ = process.communicate(timeout=30)
    return out.decode()


def test_a_fenced_process_reaches_127_0_0_1_and_nothing_else(fence: EgressFence) -> None:
    assert fence.uid is not None
    inside, outside = Outside("127.0.0.1"), Outside("127.0.0.2")
    try:
        code = (
            "import socket\n"
            "def tcp(a, p):\n"
            "    try:\n"
            "        socket.create_connection((a, p), timeout=3).close(); return 'connected'\n"
            "    except OSError as e:\n"
            "        return type(e).__name__\n"
            "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"try: u.sendto(b'x', ('127.0.0.2', {outside.udp_port}))\n"
            "except OSError: pass\n"
            f"print(tcp('127.0.0.1', {inside.port}), tcp('127.0.0.2', {outside.port}))\n"
        )
        assert _as_fenced_user(fence.uid, code).split() == ["connected", "ConnectionRefusedError"]
        assert outside.arrived == [] and len(inside.arrived) == 1
    finally:
        inside.close()
        outside.close()


def test_the_fence_is_gone_after_the_run_and_a_dead_runs_rules_are_swept(fence: EgressFence) -> None:
    uid = fence.uid
    assert f"--uid-owner {uid}" in subprocess.run(["iptables", "-S", "OUTPUT"], capture_output=True,
                                                   text=True, check=True).stdout
    fence.lower()
    assert f"--uid-owner {uid}" not in subprocess.run(["iptables", "-S", "OUTPUT"], capture_output=True,
                                                       text=True, check=True).stdout
    # a rule a killed run left: its owner (a process that has ended) is provably gone
    child = subprocess.run([sys.executable, "-c", "from flowlb.targets.egress import EgressFence as F; "
                            "f = F.raise_(); print(f.uid)"], capture_output=True, text=True, check=True)
    left = child.stdout.strip()
    assert f"--uid-owner {left}" in subprocess.run(["iptables", "-S", "OUTPUT"], capture_output=True,
                                                    text=True, check=True).stdout
    assert egress.remove_stale_rules(["iptables", "ip6tables"]) >= 1
    assert f"--uid-owner {left}" not in subprocess.run(["iptables", "-S", "OUTPUT"], capture_output=True,
                                                        text=True, check=True).stdout


def test_haproxy_on_the_local_target_cannot_reach_past_127_0_0_1(haproxy_bin: str) -> None:
    """A server line the remap never saw (the config is handed over raw) is health-checked at 127.0.0.2:
    the check fails at the fence, and nothing arrives there."""
    require(os.geteuid() == 0, "root, for the packet filter")
    from flowlb.targets.local import LocalTarget

    outside = Outside("127.0.0.2")
    try:
        def config(layout: object) -> str:
            return render(load_spec(), "hardened", layout) + (  # type: ignore[arg-type]
                f"\nbackend escape\n  mode tcp\n  server away {outside.address}:{outside.port} check inter 100\n"
            )

        with LocalTarget(load_spec(), "hardened", config_source=config) as target:
            assert target.egress_fence.startswith("HAProxy runs as uid"), target.egress_fence
            stat = target._api.server("escape", "away")
            assert not stat.is_up, stat
        assert outside.arrived == []
    finally:
        outside.close()


def test_haproxy_in_a_container_cannot_reach_this_machine_or_past_its_network(docker_engine: None) -> None:
    """The containers target: a server line at the network's gateway (this machine, seen from inside) is
    health-checked there; the fence rejects it and nothing arrives at the listener standing there."""
    require(os.geteuid() == 0, "root, for the packet filter")
    from flowlb.targets.containers import ContainersTarget

    listeners: list[Outside] = []

    def config(layout: Any) -> str:
        node = next(iter(layout.servers.values())).host  # an address on the run's own network
        gateway = str(next(ipaddress.ip_network(f"{node}/24", strict=False).hosts()))
        listeners.append(Outside(gateway))
        return render(load_spec(), "hardened", layout) + (
            f"\nbackend escape\n  mode tcp\n  server away {gateway}:{listeners[0].port} check inter 100\n"
        )

    try:
        with ContainersTarget(load_spec(), "hardened", config_source=config) as target:
            assert target.egress_fence.startswith("the packet filter rejects"), target.egress_fence
            stat = target._api.server("escape", "away")
            assert not stat.is_up, stat
        assert listeners and listeners[0].arrived == []
    finally:
        for listener in listeners:
            listener.close()
