"""Modes that break Flow: STOMP effectively in ``mode http`` (FLOW045), an HTTP frontend sending to a TCP
backend (FLOW046, which HAProxy refuses), a TCP frontend sending to an HTTP backend (FLOW047, which HAProxy
loads, upgrading the connection at the backend and ignoring the frontend's HTTP lines).

Fails when ``mode http`` inherited from ``defaults``, or left last by two ``mode`` lines, goes unseen on
the STOMP sections, when a finding does not name the line that sets the mode, when lint and HAProxy
disagree on which mixes load, or when a careful config (the hardened profile, the operator corpus) gets
one of these findings it does not deserve.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flowlb.haproxy.layout import Layout
from flowlb.haproxy.render import render
from flowlb.lint.rules import Finding
from flowlb.lint.run import lint
from flowlb.spec import load_spec
from tests.conftest import REPO

SPEC = load_spec(None)
HARDENED = render(SPEC, "hardened", Layout.for_spec(SPEC))
KB = render(SPEC, "kb", Layout.for_spec(SPEC))
STOMP_FRONT = "frontend commander-stomp-frontend\n  mode tcp\n"
STOMP_BACK = "backend commander-stomp-backend\n  mode tcp\n"
MODES = ("FLOW045", "FLOW046", "FLOW047")


def _findings(text: str, tmp_path: Path, rules: tuple[str, ...] = MODES) -> list[Finding]:
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    return [f for f in lint(config, SPEC) if f.rule in rules]


def _number(text: str, line: str, after: str = "") -> int:
    """The 1-based number of the first line equal to ``line`` after the line ``after``."""
    lines = text.splitlines()
    start = lines.index(after) if after else 0
    return lines.index(line, start) + 1


def test_stomp_inheriting_mode_http_from_defaults_is_flagged_at_its_section(tmp_path: Path) -> None:
    text = HARDENED.replace("defaults\n  log global\n", "defaults\n  log global\n  mode http\n", 1)
    text = text.replace(STOMP_FRONT, "frontend commander-stomp-frontend\n", 1).replace(
        STOMP_BACK, "backend commander-stomp-backend\n", 1)
    mode = _number(text, "  mode http", "defaults")
    found = _findings(text, tmp_path, ("FLOW045",))
    assert [f.line for f in found] == [_number(text, "frontend commander-stomp-frontend"),
                                       _number(text, "backend commander-stomp-backend")]
    assert all(f"set by `mode http` at line {mode} in defaults" in f.what for f in found), found
    assert all("(it overrides the defaults)" in f.fix for f in found), found


def test_the_last_of_two_mode_lines_wins_and_is_named(tmp_path: Path) -> None:
    text = HARDENED.replace(STOMP_BACK, "backend commander-stomp-backend\n  mode tcp\n  mode http\n", 1)
    found = _findings(text, tmp_path, ("FLOW045",))
    last = _number(text, "  mode http", "backend commander-stomp-backend")
    assert [(f.line, f"set by `mode http` at line {last}" in f.what) for f in found] == [(last, True)], found
    fixed = HARDENED.replace(STOMP_BACK, "backend commander-stomp-backend\n  mode http\n  mode tcp\n", 1)
    assert _findings(fixed, tmp_path, ("FLOW045",)) == []


def test_an_http_frontend_on_a_tcp_backend_is_refused_by_haproxy_and_by_lint(tmp_path: Path) -> None:
    text = HARDENED.replace(STOMP_FRONT, "frontend commander-stomp-frontend\n  mode http\n", 1)
    found = _findings(text, tmp_path, ("FLOW000", "FLOW045", "FLOW046"))
    route = _number(text, "  default_backend commander-stomp-backend")
    assert ("FLOW046", route) in [(f.rule, f.line) for f in found], found
    assert "FLOW045" in {f.rule for f in found}  # the frontend carries STOMP in mode http too
    if shutil.which("haproxy") is not None:  # and HAProxy agrees that it does not load
        refusal = [f for f in found if f.rule == "FLOW000"]
        assert refusal and "incompatible tcp backend" in refusal[0].what, found


def test_a_tcp_frontend_on_an_http_backend_loads_and_names_the_lines_it_ignores(tmp_path: Path) -> None:
    """The article's layout (the kb profile): TLS ends in a TCP frontend that sends to an HTTP backend."""
    secure = "frontend commander-server-frontend-secure\n  mode tcp\n"
    assert secure in KB
    text = KB.replace(secure, secure + "  option forwardfor\n", 1)
    found = _findings(text, tmp_path, ("FLOW000", "FLOW046", "FLOW047"))
    assert {f.rule for f in found} == {"FLOW047"}, found  # loads: no FLOW000, no FLOW046
    server = next(f for f in found if "commander-server-frontend-secure" in f.what)
    forwardfor = _number(text, "  option forwardfor", secure.splitlines()[0])
    assert f"its HTTP lines do nothing: `option forwardfor` (line {forwardfor})" in server.what, server
    assert server.line == _number(text, "  default_backend commander-server-backend", secure.splitlines()[0])


EXPECTED = {  # the only careful configs whose modes disagree: the article's layout, on purpose
    "kbec-00281.cfg": {"FLOW047"},
    "04-tcp-frontends-http-backends.cfg": {"FLOW047"},
}
CAREFUL = [REPO / "fixtures" / "kbec-00281.cfg", *sorted((REPO / "fixtures" / "operator-configs").glob("*.cfg"))]


@pytest.mark.parametrize("path", CAREFUL, ids=[p.name for p in CAREFUL])
def test_no_false_alarms_on_careful_configs(path: Path) -> None:
    found = {f.rule for f in lint(path, SPEC) if f.rule in MODES}
    assert found == EXPECTED.get(path.name, set())


def test_the_hardened_profile_has_no_mode_findings(tmp_path: Path) -> None:
    assert _findings(HARDENED, tmp_path) == []
