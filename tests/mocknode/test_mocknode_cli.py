"""The node's command line: ready line, clean exit on signals, one-line bind errors.

Fails if the ready line is missing or reports ports other than the bound ones, if SIGTERM or
SIGINT leaves a non-zero exit code or a traceback, or if a port that is taken produces anything but
the one-line ``cannot listen on`` error and exit code 2.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from flowlb import paths

SRC = paths.package_parent()


def run_node(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    command = [sys.executable, "-m", "flowlb.mocknode", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_node_with_exit_code_0(node_factory, signal_number) -> None:
    node = node_factory("sig")
    with socket.create_connection(("127.0.0.1", node.ports["server"]), timeout=node.timeout):
        assert node.request("web", "GET", "/x")[0] == 200
        node.process.send_signal(signal_number)
        assert node.process.wait(timeout=node.timeout) == 0
    assert "Traceback" not in node.process.stderr.read()


def test_ready_line_ports_are_the_bound_ports(node_process) -> None:
    for port in node_process.ports.values():
        socket.create_connection(("127.0.0.1", port), timeout=node_process.timeout).close()
    assert set(node_process.ports) == {"web", "server", "stomp", "control"}


def test_taken_port_is_a_one_line_error_and_exit_code_2(node_process) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_node(
            "--name", "busy", "--host", "127.0.0.1", "--web-port", "0", "--server-port", str(port),
            "--stomp-port", "0", "--control-port", "0", timeout=node_process.timeout,
        )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"flowlb-mocknode: cannot listen on 127.0.0.1:{port}: [Errno 98] Address already in use\n"


@pytest.mark.parametrize(
    "args", [["--name", "bad name"], ["--name", "n", "--web-port", "70000"], ["--name", "n", "--heartbeat", "5"]]
)
def test_bad_arguments_are_usage_errors(node_process, args) -> None:
    result = run_node(*args, timeout=node_process.timeout)
    assert result.returncode == 2
    assert "usage:" in result.stderr
    assert "Traceback" not in result.stderr
