"""The last line of defence: HAProxy under test sends nothing past 127.0.0.1, whatever its config says.

The remap disarms every outbound line it knows of; this fence holds for the ones it does not. Where
flowlb runs as root and the machine has iptables, the local target runs HAProxy under a user id of
the run's own, and one packet-filter rule per address family rejects whatever that user sends to
anything but 127.0.0.1 or ::1: another host, the machine's own other addresses, 127.0.0.2 and the
rest of the loopback range alike. The rules carry their owner (:mod:`ownership`); a run removes its
own at the end, and a later run those of an owner that is provably gone. Elsewhere (not root, no
iptables) there is no fence, and :attr:`EgressFence.why_off` says why::

    fence = EgressFence.raise_()
    processes.spawn([...haproxy...], user=fence.uid)
    ...
    fence.lower()
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
from dataclasses import dataclass, field

from flowlb.targets import ownership

_COMMENT = "flowlb-egress"
_UIDS = (3_000_000_000, 3_100_000_000)  # far above any account's uid; a run picks one at random
_LOOPBACK = {"iptables": "127.0.0.1/32", "ip6tables": "::1/128"}


@dataclass
class EgressFence:
    """Packet-filter rules that keep HAProxy's traffic on this run's own addresses; off where ``why_off`` says."""

    uid: int | None = None  # the user the local target's HAProxy runs as, when fenced
    why_off: str = ""
    _rules: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def on(self) -> bool:
        return bool(self._rules)

    @classmethod
    def raise_(cls) -> EgressFence:
        """A fence around a user id of this run's own (the local target's HAProxy runs as it), or one that
        is off, with the reason, where the machine allows none."""
        tools, why_off = _tools()
        if why_off:
            return cls(why_off=why_off)
        uid = random.randrange(*_UIDS)
        rules = [(tool, ["OUTPUT", "-m", "owner", "--uid-owner", str(uid), "!", "-d", _LOOPBACK[tool]])
                 for tool in tools]
        return cls(uid=uid)._install(rules, "-A")

    @classmethod
    def around_network(cls, subnet: str) -> EgressFence:
        """A fence around the containers target's network: what its containers send past the subnet (the
        world, through the engine's NAT) or to this machine itself (its other services) is rejected.

        Published ports still work: the engine's proxy connects from the network's gateway, inside.
        """
        _, why_off = _tools()
        if why_off:
            return cls(why_off=why_off)
        rules = [("iptables", ["DOCKER-USER", "-s", subnet, "!", "-d", subnet]),
                 ("iptables", ["INPUT", "-s", subnet, "-m", "conntrack", "--ctstate", "NEW"])]
        return cls()._install(rules, "-I")

    def _install(self, rules: list[tuple[str, list[str]]], how: str) -> EgressFence:
        comment = ["-m", "comment", "--comment", f"{_COMMENT} owner={ownership.this_process().label()}"]
        try:
            for tool, match in rules:
                spec = [*match, *comment, "-j", "REJECT"]
                _run(tool, how, *spec)
                self._rules.append((tool, spec))
        except (OSError, subprocess.SubprocessError) as exc:
            self.lower()
            return EgressFence(why_off=f"the packet filter refused the rule ({_reason(exc)})")
        return self

    def lower(self) -> None:
        """Remove this fence's rules (idempotent)."""
        while self._rules:
            tool, spec = self._rules.pop()
            with contextlib.suppress(OSError, subprocess.SubprocessError):  # else a later run sweeps it
                _run(tool, "-D", *spec)


def _tools() -> tuple[list[str], str]:
    """The packet-filter commands at hand (stale rules of dead runs removed), or why there is no fence."""
    if os.geteuid() != 0:
        return [], "flowlb does not run as root"
    tools = [tool for tool in _LOOPBACK if shutil.which(tool)]
    if "iptables" not in tools:
        return [], "no iptables on this machine"
    remove_stale_rules(tools)
    return tools, ""


def _reason(exc: BaseException) -> str:
    stderr = getattr(exc, "stderr", "") or ""
    return stderr.strip().splitlines()[-1] if stderr.strip() else str(exc)


def remove_stale_rules(tools: list[str]) -> int:
    """Remove fence rules whose owner is provably gone (a run killed before its teardown); return how many."""
    removed = 0
    for tool in tools:
        try:
            listing = _run(tool, "-S")
        except (OSError, subprocess.SubprocessError):
            continue
        for line in listing.splitlines():
            owner = _owner_of(line)
            if owner is not None and ownership.provably_gone(owner):
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    _run(tool, "-D", *_split_rule(line.removeprefix("-A ")))  # "-A CHAIN ..." as listed
                    removed += 1
    return removed


def _owner_of(rule: str) -> str | None:
    marker = f'"{_COMMENT} owner='
    if marker not in rule:
        return None
    return rule.split(marker, 1)[1].split('"', 1)[0]


def _split_rule(rule: str) -> list[str]:
    """``iptables -S`` quotes the comment; everything else is plain words."""
    words: list[str] = []
    quoted = rule.split('"')
    for index, part in enumerate(quoted):
        words += [part] if index % 2 else part.split()
    return words


def _run(tool: str, *args: str) -> str:
    result = subprocess.run([tool, "-w", "5", *args], capture_output=True, text=True, timeout=15, check=True)
    return result.stdout
