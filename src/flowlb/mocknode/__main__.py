"""Command line: ``python3 -m flowlb.mocknode --name node1 [--host 0.0.0.0] [--web-port 80] ...``."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys

from .login import LoginConfig
from .node import NodeConfig, serve
from .stompheartbeat import parse_heartbeat

_NODE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
PASSWORD_VARIABLE = "FLOWLB_MOCKNODE_PASSWORD"  # noqa: S105 - the variable's name, not a password
PASSWORD_FILE_OPTION = "--login-password-file"  # noqa: S105 - an option's name


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
        allow_abbrev=False,  # "--login-pass" must never be read as the file option, with the password as its path
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
    group.add_argument("--login-user", dest="login_user", default="",
                       help="require a login as this user: 401 on the REST API without a session, ERROR on a STOMP "
                       f"CONNECT without its login/passcode; the password comes from ${PASSWORD_VARIABLE} or "
                       f"{PASSWORD_FILE_OPTION}, never from the command line")
    group.add_argument(PASSWORD_FILE_OPTION, dest="login_password_file", default="",
                       help="file holding the password of --login-user (its first line)")
    group.add_argument("--session-seconds", dest="session_seconds", type=_seconds, default=0.0,
                       help="with --login-user: how long a session lasts (default 0: for ever)")
    words = sys.argv[1:] if argv is None else argv
    for word in words:
        if word.startswith("--login-pass") and word.split("=", 1)[0] != PASSWORD_FILE_OPTION:
            parser.error(f"{word.split('=', 1)[0]}: a password is never taken from the command line; "
                         f"set ${PASSWORD_VARIABLE} or give {PASSWORD_FILE_OPTION}")
    args = parser.parse_args(words)
    login = _login(parser, args.login_user, args.login_password_file, args.session_seconds)
    return NodeConfig(
        name=args.name,
        host=args.host,
        web_port=args.web_port,
        server_port=args.server_port,
        stomp_port=args.stomp_port,
        control_port=args.control_port,
        heartbeat=args.heartbeat,
        login=login,
    )


def _login(parser: argparse.ArgumentParser, user: str, password_file: str,
           session_seconds: float = 0.0) -> LoginConfig | None:
    """The required login, its password from the file or the environment; None when no user is named."""
    if not user:
        if password_file:
            parser.error(f"{PASSWORD_FILE_OPTION} without --login-user")
        return None
    if password_file:
        try:
            with open(password_file, encoding="utf-8") as handle:
                password = handle.readline().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as error:
            parser.error(f"{PASSWORD_FILE_OPTION} {password_file}: {getattr(error, 'strerror', None) or error}")
    else:
        password = os.environ.get(PASSWORD_VARIABLE, "")
    if not password:
        parser.error(f"--login-user {user} needs a password: set ${PASSWORD_VARIABLE} or give {PASSWORD_FILE_OPTION}")
    return LoginConfig(user, password, session_seconds)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86400:  # NaN too
        raise argparse.ArgumentTypeError(f"give seconds from 0 to 86400, not {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Runs one node until SIGTERM or SIGINT; returns the exit code."""
    return asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
