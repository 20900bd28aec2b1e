"""A private RabbitMQ with its STOMP plugin on loopback, for benchmarks and the external-target proof.

Debian's ``rabbitmq-server`` runs as a service for the whole machine; this starts its own node
instead (own node name, data directory, cookie and ``epmd`` port, plugins file enabling only STOMP),
listening on 127.0.0.1 only, and stops it with everything it started::

    with RabbitMQ.start() as broker:
        broker.stomp_port          # STOMP (plain TCP) on 127.0.0.1
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from flowlb.errors import TargetError
from flowlb.net import free_port

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
START_TIMEOUT_S = 90.0



def _stomp_answers(port: int, address: str = "127.0.0.1") -> bool:
    """True when a STOMP CONNECT on ``address:port`` gets CONNECTED (the plugin is up, not just the socket)."""
    try:
        with socket.create_connection((address, port), timeout=2) as sock:
            sock.sendall(b"CONNECT\naccept-version:1.2\nhost:/\n\n\0")
            return sock.recv(64).startswith(b"CONNECTED")
    except OSError:
        return False


class RabbitMQ:
    """One RabbitMQ node of this process's own, STOMP on loopback; a context manager that stops it."""

    def __init__(self, directory: Path, process: subprocess.Popen[bytes], stomp_port: int, epmd_port: int) -> None:
        self.directory = directory
        self.process = process
        self.stomp_port = stomp_port
        self.epmd_port = epmd_port

    @classmethod
    def start(cls, timeout: float = START_TIMEOUT_S, addresses: tuple[str, ...] = ("127.0.0.1",)) -> RabbitMQ:
        """Start a node and wait until STOMP answers; TargetError (with the log's tail) if it does not.

        ``addresses``: the loopback addresses STOMP listens on, all on the same port (one broker standing in for
        the brokers of several Flow nodes, each on its own address)."""
        if not SERVER.is_file():
            raise TargetError("RabbitMQ is not installed: apt-get install rabbitmq-server (or run scripts/setup.sh)")
        directory = Path(tempfile.mkdtemp(prefix="flowlb-rabbitmq-"))
        stomp_port, amqp_port, epmd_port, dist_port = (free_port() for _ in range(4))
        (directory / "enabled_plugins").write_text("[rabbitmq_stomp].\n")
        (directory / "rabbitmq.conf").write_text(
            "\n".join([
                f"listeners.tcp.default = 127.0.0.1:{amqp_port}",
                *(f"stomp.listeners.tcp.{index} = {address}:{stomp_port}"
                  for index, address in enumerate(addresses, start=1)),
                "stomp.default_user = guest",
                "stomp.default_pass = guest",
                "management_agent.disable_metrics_collector = true",
                "log.console = false",
                "",
            ])
        )
        env = {
            **os.environ,
            "HOME": str(directory),
            "RABBITMQ_NODENAME": f"flowlb{stomp_port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_DIST_PORT": str(dist_port),
            "ERL_EPMD_PORT": str(epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(directory / "log"),
            "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(directory / "rabbitmq.pid"),
            "RABBITMQ_USE_LONGNAME": "false",
        }
        log = (directory / "server.out").open("wb")
        process = subprocess.Popen([str(SERVER)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        broker = cls(directory, process, stomp_port, epmd_port)
        deadline = time.monotonic() + timeout
        while not all(_stomp_answers(stomp_port, address) for address in addresses):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (directory / "server.out").read_text(errors="replace")[-600:]
                broker.stop()
                raise TargetError(f"RabbitMQ did not come up within {timeout:.0f} s: {tail.strip()[-300:]}")
            time.sleep(0.2)  # polling the port for readiness; the deadline bounds it
        return broker

    def stop(self) -> None:
        """Stop the node, its process group and its ``epmd``; remove its directory."""
        for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
            if self.process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run([epmd, "-port", str(self.epmd_port), "-kill"], capture_output=True, timeout=10,
                           env={**os.environ, "ERL_EPMD_PORT": str(self.epmd_port)}, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RabbitMQ:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
