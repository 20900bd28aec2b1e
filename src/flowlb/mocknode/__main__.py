"""Command line: ``python3 -m flowlb.mocknode --name node1 [--host 0.0.0.0] [--web-port 80] ...``."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

from .node import NodeConfig, serve
from .stompheartbeat import parse_heartbeat

_NODE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _node_name(text: str) -> str:
    if _NODE_NAME.fullmatch(text) is None:
        raise argparse.ArgumentTypeError("a node name is 1-64 letters, digits, '.', '_' or '-'")
    return text


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to 65535 (0 picks a free one), not {text!r}")
    return int(text)


def _heartbeat(text: str) -> tuple[int, int]:
    try:
        return parse_heartbeat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_args(argv: list[str] | None = None) -> NodeConfig:
    """The node configuration from the command line."""
    parser = argparse.ArgumentParser(
        prog="python3 -m flowlb.mocknode",
        description="A mock CloudBees Flow node: web and server HTTP ports, STOMP, and a control API.",
    )
    group = parser.add_argument_group("node")
    group.add_argument("--name", dest="name", type=_node_name, required=True, help="node name reported everywhere")
    group.add_argument("--host", dest="host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    group.add_argument("--web-port", dest="web_port", type=_port, default=80, help="web (Apache) HTTP port")
    group.add_argument("--server-port", dest="server_port", type=_port, default=8000, help="Flow server HTTP port")
    group.add_argument("--stomp-port", dest="stomp_port", type=_port, default=61613, help="STOMP port")
    group.add_argument("--control-port", dest="control_port", type=_port, default=9000, help="control API port")
    group.add_argument(
        "--heartbeat",
        dest="heartbeat",
        type=_heartbeat,
        default=(10000, 10000),
        help="STOMP heart-beat the node offers, 'send,receive' in ms (default 10000,10000; 0,0 disables)",
    )
    args = parser.parse_args(argv)
    return NodeConfig(
        name=args.name,
        host=args.host,
        web_port=args.web_port,
        server_port=args.server_port,
        stomp_port=args.stomp_port,
        control_port=args.control_port,
        heartbeat=args.heartbeat,
    )


def main(argv: list[str] | None = None) -> int:
    """Runs one node until SIGTERM or SIGINT; returns the exit code."""
    return asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
