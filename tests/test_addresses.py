"""The per-process loopback address of tests.support.addresses: loopback, bindable, and one per pid."""

from __future__ import annotations

import ipaddress
import socket

from tests.support.addresses import own_loopback


def test_every_pid_gets_its_own_loopback_address() -> None:
    pids = range(1, 4_194_304, 97)  # up to Linux's largest pid_max
    addresses = [own_loopback(pid) for pid in pids]
    assert len(set(addresses)) == len(addresses)
    assert all(ipaddress.ip_address(address).is_loopback for address in addresses)
    assert not any(address.endswith((".0", ".255")) or address.startswith("127.0.") for address in addresses)


def test_this_process_can_listen_on_its_own_address() -> None:
    with socket.create_server((own_loopback(), 0)) as server:
        assert server.getsockname()[0] == own_loopback()
