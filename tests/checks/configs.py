"""Config fixtures the checks' fast tests share: small configs bound to loopback test addresses, as the harness
renders them, and the layout that says which address is which LB role."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flowlb.haproxy.layout import Layout, ServerAddress

GOLDEN = Path(__file__).parent.parent / "golden"

BINDS = {"server": "127.0.0.1:18000", "server_tls": "127.0.0.1:18443", "stomp": "127.0.0.1:18613",
         "https": "127.0.0.1:18444"}
NODES = {name: ServerAddress(f"127.0.0.{index + 11}", 8080, 8000, 61613)
         for index, name in enumerate(("node1", "node2", "node3"))}
LAYOUT = Layout(binds=BINDS, servers=NODES)

CAREFUL = """\
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 4000s
  timeout tunnel 1h

frontend plain
  bind 127.0.0.1:18000
  timeout http-request 10s
  default_backend flow

frontend secure
  bind 127.0.0.1:18443 ssl crt /etc/haproxy/server.pem
  default_backend other
  default_backend flow

backend flow
  server node1 127.0.0.11:8000 check inter 1s fall 3 rise 2
  server node2 127.0.0.12:8000 check

frontend stomp
  mode tcp
  bind 127.0.0.2:18613,127.0.0.1:18613 ssl crt /etc/haproxy/server.pem
  default_backend stomp_nodes

backend stomp_nodes
  mode tcp
  server node1 127.0.0.11:61613 check
"""
"""Flow's ports with a header timeout, a long `timeout server` and `timeout tunnel 1h` in defaults."""


def without(text: str, *lines: str) -> str:
    """``text`` without the lines whose stripped text is one of ``lines`` (a careful config made careless)."""
    return "".join(line for line in text.splitlines(keepends=True) if line.strip() not in lines)


def target(config_text: str, layout: Layout | None = LAYOUT) -> Any:
    """What the checks read of a target: the config it runs and the layout that bound it."""
    return SimpleNamespace(config_text=config_text, layout=layout)
