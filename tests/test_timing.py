"""Reading a server's check interval from the config HAProxy runs."""

from __future__ import annotations

from pathlib import Path

from flowlb.haproxy.timing import check_interval_s, parse_time_s

GOLDEN = Path(__file__).parent / "golden"


def test_time_units() -> None:
    assert parse_time_s("2000") == 2.0
    assert parse_time_s("500ms") == 0.5
    assert parse_time_s("3s") == 3.0
    assert parse_time_s("1m") == 60.0
    assert parse_time_s("fast") is None


def test_server_line_then_backend_then_defaults_then_haproxy_default() -> None:
    config = """
defaults
  default-server inter 3s
backend a
  default-server inter 700ms
  server s1 h:1 check inter 250ms
  server s2 h:1 check
backend b
  server s3 h:1 check
"""
    assert check_interval_s(config, "a", "s1") == 0.25
    assert check_interval_s(config, "a", "s2") == 0.7
    assert check_interval_s(config, "b", "s3") == 3.0
    assert check_interval_s("backend c\n  server s h:1 check\n", "c", "s") == 2.0


def test_the_profiles() -> None:
    assert check_interval_s((GOLDEN / "hardened.cfg").read_text(), "commander-server-backend", "node1") == 1.0
    assert check_interval_s((GOLDEN / "kb.cfg").read_text(), "commander-server-backend", "node1") == 2.0
