"""One mock Flow node: its four listeners, switching the server port off and on, and shutdown.

Example::

    node = MockNode(NodeConfig(name="node1", host="127.0.0.1", web_port=0, server_port=0,
                               stomp_port=0, control_port=0))
    await node.start()          # raises ListenError when a port is taken
    print(node.state.ports)     # {"web": 40211, "server": 40212, ...}
    await node.set_health(HealthState.REFUSE, 0)
    await node.stop()
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass

from ..node_contract import ready_line
from .control import ControlHandler
from .echo import FlowPortHandler
from .httpproto import HttpConnection, RequestHandler
from .login import LoginConfig, SessionsEndpoint
from .state import HealthState, NodeState
from .stompbroker import StompBroker
from .stompserver import StompSession

LISTEN_BACKLOG = 1024


@dataclass(frozen=True)
class NodeConfig:
    """Where a node listens and how it heart-beats; port 0 picks a free port."""

    name: str
    host: str = "0.0.0.0"
    web_port: int = 80
    server_port: int = 8000
    stomp_port: int = 61613
    control_port: int = 9000
    heartbeat: tuple[int, int] = (10000, 10000)
    login: LoginConfig | None = None
    """The user the REST API and STOMP want (401 / ERROR without); None: no login needed."""


class ListenError(Exception):
    """A listener could not be opened; the message says which address and why."""


class MockNode:
    """Runs the web, server, STOMP and control listeners of one node in the current event loop."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.state = NodeState(config.name)
        self._broker = StompBroker(config.name)
        self._headers = f"Server: flowlb-mocknode/{config.name}\r\nX-Flow-Node: {config.name}\r\n".encode()
        self._servers: dict[str, asyncio.Server] = {}
        self._http_connections: dict[str, set[HttpConnection]] = {"web": set(), "server": set(), "control": set()}
        self._stomp_sessions: set[StompSession] = set()
        sessions = SessionsEndpoint(config.login)
        self._handlers: dict[str, RequestHandler] = {
            "web": FlowPortHandler(self.state, "web", sessions),
            "server": FlowPortHandler(self.state, "server", sessions),
            "control": ControlHandler(self.state, self),
        }

    async def start(self) -> None:
        """Opens every listener and records the bound ports in ``state.ports``."""
        wanted = {
            "web": self.config.web_port,
            "server": self.config.server_port,
            "stomp": self.config.stomp_port,
            "control": self.config.control_port,
        }
        try:
            for port_name, port in wanted.items():
                self.state.ports[port_name] = await self._listen(port_name, port)
        except ListenError:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Closes every listener and every open connection."""
        for server in self._servers.values():
            server.close()
        self._servers.clear()
        for connections in self._http_connections.values():
            for connection in list(connections):
                connection.close()
        for session in list(self._stomp_sessions):
            session.close()
        await asyncio.sleep(0)  # let the transports run their close callbacks

    async def set_health(self, health: HealthState, delay_ms: int) -> None:
        """Switches the health state; REFUSE closes the server port, leaving REFUSE reopens it.

        Raises:
            OSError: the server port could not be reopened; the node stays in REFUSE.
        """
        refusing = self.state.health is HealthState.REFUSE
        if health is HealthState.REFUSE and not refusing:
            self.state.health = health
            self._close_server_port()
        elif refusing and health is not HealthState.REFUSE:
            try:
                await self._listen("server", self.state.ports["server"])
            except ListenError as error:
                raise OSError(str(error)) from error
        self.state.health = health
        self.state.delay_ms = delay_ms

    async def reset(self) -> None:
        """Healthy, no delay, every counter zeroed."""
        await self.set_health(HealthState.HEALTHY, 0)
        self.state.reset_counters()

    def _close_server_port(self) -> None:
        server = self._servers.pop("server", None)
        if server is not None:
            server.close()
        for connection in list(self._http_connections["server"]):
            connection.close()

    async def _listen(self, port_name: str, port: int) -> int:
        """Opens one listener and returns the port it is bound to."""
        try:
            sock = _listening_socket(self.config.host, port)
        except OSError as error:
            raise ListenError(f"cannot listen on {self.config.host}:{port}: {error}") from None
        loop = asyncio.get_running_loop()
        factory: Callable[[], asyncio.Protocol]
        if port_name == "stomp":
            factory = lambda: StompSession(  # noqa: E731
                self.state, self._broker, self.config.heartbeat, self._stomp_sessions, self.config.login
            )
        else:
            handler = self._handlers[port_name]
            registry = self._http_connections[port_name]
            factory = lambda: HttpConnection(handler, self._headers, registry)  # noqa: E731
        self._servers[port_name] = await loop.create_server(factory, sock=sock)
        bound: int = sock.getsockname()[1]
        return bound


def _listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening, non-blocking TCP socket with SO_REUSEADDR, so a port can be reopened at once."""
    addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = addresses[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def serve(config: NodeConfig) -> int:
    """Runs a node until SIGTERM or SIGINT; the process exit code."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stopping.set)
    node = MockNode(config)
    try:
        await node.start()
    except ListenError as error:
        print(f"flowlb-mocknode: {error}", file=sys.stderr, flush=True)
        return 2
    if not stopping.is_set():
        print(ready_line(node.state.name, node.state.ports), flush=True)
        await stopping.wait()
    await node.stop()
    return 0
