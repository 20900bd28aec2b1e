"""``flowlb lint``: every mutant class is flagged by its rule, the hardened profile is clean, the article
is flagged for every defect in docs/findings.md, and the output is usable (text, JSON, exit codes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowlb.haproxy.layout import Layout
from flowlb.haproxy.render import render
from flowlb.haproxy.version import VERSIONS
from flowlb.lint.run import lint
from flowlb.spec import load_spec
from tests.conftest import REPO, run_flowlb
from tests.support.mutants import Mutant, catalogue, mutated_config

SPEC = load_spec(None)
MUTANTS = catalogue()


def _lint_text(text: str, tmp_path: Path) -> set[str]:
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    return {finding.rule for finding in lint(path, SPEC)}


def test_hardened_profile_has_no_findings(tmp_path: Path) -> None:
    assert _lint_text(render(SPEC, "hardened", Layout.for_spec(SPEC)), tmp_path) == set()


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_every_mutant_is_flagged_by_its_rule(mutant: Mutant, tmp_path: Path) -> None:
    assert mutant.benign or mutant.lint, f"{mutant.name} names no lint rule"
    assert _lint_text(mutated_config(mutant, SPEC), tmp_path) == set(mutant.lint)


# docs/findings.md defect -> rule: 1 anonymous ACL, 2 public stats, 3 TCP check on STOMP, 4 ignored tcplog,
# 5 no timeouts / no tunnel timeout, 7 redirect keeps :80, 8 no XFF/XFP, redispatch, shutdown-sessions, TLS floor
ARTICLE_RULES = {"FLOW001", "FLOW002", "FLOW003", "FLOW026", "FLOW007", "FLOW008", "FLOW011", "FLOW013", "FLOW014",
                 "FLOW015", "FLOW016", "FLOW017", "FLOW000", "FLOW027"}


def test_the_article_is_flagged_for_every_defect_in_facts() -> None:
    found = {finding.rule for finding in lint(REPO / "fixtures" / "kbec-00281.cfg", SPEC)}
    assert found >= ARTICLE_RULES, ARTICLE_RULES - found


def test_kb_profile_still_has_the_articles_defects_but_loads(tmp_path: Path) -> None:
    found = _lint_text(render(SPEC, "kb", Layout.for_spec(SPEC)), tmp_path)
    assert "FLOW000" not in found and "FLOW001" not in found, found
    assert {"FLOW002", "FLOW003", "FLOW008", "FLOW016", "FLOW017"} <= found, found


def test_cli_text_json_and_exit_codes(tmp_path: Path) -> None:
    clean = tmp_path / "clean.cfg"
    clean.write_text(render(SPEC, "hardened", Layout.for_spec(SPEC)))
    ok = run_flowlb("lint", str(clean))
    assert (ok.returncode, ok.stdout.strip()) == (0, f"{clean}: no findings")

    text = run_flowlb("lint", "fixtures/kbec-00281.cfg")
    assert text.returncode == 1
    assert "fixtures/kbec-00281.cfg:15: FLOW002 [core] `stats enable` in backend commander-web-backend" in text.stdout
    assert "    why: " in text.stdout and "    fix: " in text.stdout

    data = json.loads(run_flowlb("lint", "fixtures/kbec-00281.cfg", "--format", "json").stdout)
    assert data["file"] == "fixtures/kbec-00281.cfg"
    assert {"rule", "line", "level", "what", "why", "fix"} <= set(data["findings"][0])


def test_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_flowlb("lint", str(tmp_path / "nope.cfg"))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("flowlb: ")


def test_check_port_nothing_serves_is_flagged(tmp_path: Path) -> None:
    text = render(SPEC, "hardened", Layout.for_spec(SPEC)).replace("check port 8000", "check port 8001", 1)
    assert _lint_text(text, tmp_path) >= {"FLOW028"}


HARDENED = render(SPEC, "hardened", Layout.for_spec(SPEC))


def test_http_check_send_names_the_health_url(tmp_path: Path) -> None:
    """`http-check send meth GET uri ...` (HAProxy 2.2+) is the health request too: no FLOW004 for the right URL."""
    text = HARDENED.replace("option httpchk GET /commanderRequest/health",
                            "option httpchk\n  http-check send meth GET uri /commanderRequest/health ver HTTP/1.1")
    assert text != HARDENED
    assert "FLOW004" not in _lint_text(text, tmp_path)
    wrong = text.replace("uri /commanderRequest/health", "uri /", 1)
    assert "FLOW004" in _lint_text(wrong, tmp_path)


def test_a_flow_server_left_out_of_one_backend_is_flagged(tmp_path: Path) -> None:
    lines = HARDENED.splitlines(keepends=True)
    stomp_node3 = next(i for i, line in enumerate(lines) if "server node3" in line and ":61613" in line)
    assert _lint_text("".join(lines[:stomp_node3] + lines[stomp_node3 + 1:]), tmp_path) == {"FLOW031"}


@pytest.mark.parametrize(
    ("listener", "flagged"),
    [
        ("listen stats\n  bind *:1936\n  mode http\n  stats enable\n  stats uri /\n", True),
        ("listen stats\n  bind 10.0.0.5:8404\n  mode http\n  stats enable\n  stats auth ops:secret\n", False),
        ("listen stats\n  bind 127.0.0.1:8404\n  mode http\n  stats enable\n", False),
        ("frontend metrics\n  bind :8405\n  mode http\n  http-request use-service prometheus-exporter\n", True),
    ],
    ids=["public-no-auth", "auth", "loopback", "exporter"],
)
def test_management_listeners(listener: str, flagged: bool, tmp_path: Path) -> None:
    assert ("FLOW032" in _lint_text(HARDENED + listener, tmp_path)) is flagged


def test_use_backend_routing_is_not_a_wrong_port(tmp_path: Path) -> None:
    """`/commanderRequest` on 443 sent to the Flow servers is routing, not 443 wired to the wrong service."""
    text = HARDENED.replace("  default_backend commander-web-backend",
                            "  use_backend commander-server-backend if { path_beg /commanderRequest }\n"
                            "  default_backend commander-web-backend", 1)
    assert text != HARDENED
    assert "FLOW021" not in _lint_text(text, tmp_path)


@pytest.mark.parametrize(
    ("edit", "rule", "first_version"),
    [
        (("server.pem alpn http/1.1", "server.pem"), "FLOW040", "3.0"),
        (("  timeout connect 5000ms", "  timeout connect 50"), "FLOW042", "3.2"),
        (("  server node2 ", "  server node1 "), "FLOW041", "3.2"),
    ],
    ids=["alpn-h2-default", "unitless-timeout", "duplicate-server"],
)
def test_version_rules_start_at_their_version(edit: tuple[str, str], rule: str, first_version: str,
                                              tmp_path: Path) -> None:
    """Each version rule flags nothing on 2.6, and flags its difference from the line where it starts."""
    text = HARDENED.replace(*edit, 1)
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    for version in VERSIONS:
        found = {finding.rule for finding in lint(path, SPEC, version)}
        expected = tuple(map(int, version.split("."))) >= tuple(map(int, first_version.split(".")))
        assert (rule in found) is expected, (version, sorted(found))


@pytest.mark.parametrize(("text", "rule"), [
    ("", "FLOW044"),
    ("# nothing but a comment\n", "FLOW044"),
    ("defaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n  timeout connect 5s\n"
     "frontend web\n  default_backend nodes\nbackend nodes\n  server node1 10.0.0.1:80 check\n", "FLOW044"),
    ("defaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n  timeout connect 5s\n"
     "frontend other\n  bind :9000\n  default_backend nodes\nbackend nodes\n  server node1 10.0.0.1:80 check\n",
     "FLOW044"),
])
def test_a_file_that_serves_no_lb_port_is_a_finding(text: str, rule: str, tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    result = run_flowlb("lint", str(config))
    assert result.returncode == 1, result.stdout
    assert rule in result.stdout and "no findings" not in result.stdout, result.stdout


def test_stomp_in_http_mode_is_a_finding(tmp_path: Path) -> None:
    text = (REPO / "tests" / "golden" / "hardened.cfg").read_text()
    assert "mode tcp" in text
    config = tmp_path / "haproxy.cfg"
    config.write_text(text.replace("mode tcp", "mode http"))  # the STOMP frontend and backend are the TCP ones
    result = run_flowlb("lint", str(config))
    assert "FLOW045" in result.stdout and "carries STOMP (61613) in `mode http`" in result.stdout, result.stdout



def test_lint_names_a_lua_script_and_does_not_run_it(tmp_path: Path) -> None:
    """A merge request holding the config and a Lua file next to it, linted from there: HAProxy's ``-c`` would
    run the script (a relative path resolves against lint's directory); lint names it and runs none of it."""
    (tmp_path / "ran.lua").write_text('local f = io.open("ran-lua", "w")\nf:write("ran")\nf:close()\n')
    config = tmp_path / "haproxy.cfg"
    config.write_text(render(SPEC, "hardened", Layout.for_spec(SPEC)) + "global\n  lua-load ran.lua\n"
                      "  insecure-fork-wanted\n")
    result = run_flowlb("lint", "haproxy.cfg", cwd=tmp_path)
    assert not (tmp_path / "ran-lua").exists(), "lint ran the config's Lua"
    assert _flagged_code(result.stdout) == ["lua-load ran.lua", "insecure-fork-wanted"], result.stdout
    assert "FLOW000" not in result.stdout, result.stdout


def test_a_refusal_that_may_come_from_the_missing_lua_says_so(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(render(SPEC, "hardened", Layout.for_spec(SPEC)) + "global\n  lua-load ran.lua\n"
                      "backend lua-users\n  mode http\n  http-request lua.flowlb_tag\n")
    refused = [f for f in lint(config, SPEC) if f.rule == "FLOW000"]
    assert len(refused) == 1 and "asked without line(s) " in refused[0].what, refused


def test_lint_and_the_suite_agree_that_a_program_section_loads(tmp_path: Path) -> None:
    """The suite runs HAProxy with ``-W``, where a ``program`` section loads (and is disarmed): lint says the same,
    and names the section as code, instead of FLOW000 ("needs master-worker mode")."""
    config = tmp_path / "haproxy.cfg"
    config.write_text(render(SPEC, "hardened", Layout.for_spec(SPEC)) +
                      'program evil\n  command /bin/sh -c "touch ran-program"\n')
    result = run_flowlb("lint", "haproxy.cfg", cwd=tmp_path)
    assert "FLOW000" not in result.stdout, result.stdout
    assert _flagged_code(result.stdout) == ["program evil", 'command /bin/sh -c "touch ran-program"']
    assert not (tmp_path / "ran-program").exists()


def _flagged_code(output: str) -> list[str]:
    """The lines FLOW043 names, in order."""
    return [line.split(" FLOW043 ")[1].split("`")[1] for line in output.splitlines() if " FLOW043 " in line]
