"""A fake HAProxy runtime API for the checks' fast tests, answering from a config's text.

Its servers are the config's ``server`` lines (addresses as written, ``backup`` as flagged), all UP unless told
otherwise; their session totals (``stot``) move only when a test counts a request on them::

    runtime = ConfigRuntime(CAREFUL)
    runtime.count("flow", "node2")            # one more session on flow/node2
"""

from __future__ import annotations

from flowlb.haproxy.config import HAProxyConfig
from flowlb.haproxy.runtime import RuntimeAPI, ServerStat


class ConfigRuntime(RuntimeAPI):
    """``show stat`` and ``show servers state`` of the HAProxy that runs ``config_text``."""

    def __init__(self, config_text: str, fall: int = 0, rise: int = 0) -> None:
        super().__init__("/nonexistent")
        self.config = HAProxyConfig.parse(config_text)
        self.fall, self.rise = fall, rise
        self.totals: dict[tuple[str, str], int] = {}
        self.status: dict[tuple[str, str], str] = {}
        self.stat_calls = 0

    def _servers(self) -> list[tuple[str, str, bool, tuple[str, int]]]:
        return [(proxy.name, server.name, server.backup, (server.address.host, server.address.port or 0))
                for proxy in self.config.of_kind("backend", "listen") for server in proxy.servers()
                if server.address is not None]

    def count(self, backend: str, server: str, sessions: int = 1) -> None:
        self.totals[(backend, server)] = self.totals.get((backend, server), 0) + sessions

    def stats(self) -> list[ServerStat]:
        self.stat_calls += 1
        return [ServerStat(backend, server, self.status.get((backend, server), "UP"), 0,
                           self.totals.get((backend, server), 0), "L7OK", "200", 0, check_rise=self.rise,
                           check_fall=self.fall, backup=backup)
                for backend, server, backup, _ in self._servers()]

    def server_addresses(self, backend: str) -> dict[str, tuple[str, int]]:
        return {server: address for name, server, _, address in self._servers() if name == backend}
