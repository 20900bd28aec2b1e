"""The flowlb command: `generate`'s output and files, and one-line errors that leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_flowlb

GOLDEN = Path(__file__).parent / "golden"


def test_generate_prints_the_spec_profile() -> None:
    result = run_flowlb("generate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('# flowlb profile "hardened"')


def test_generate_kb_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "haproxy.cfg"
    result = run_flowlb("generate", "--profile", "kb", "--cert", "/etc/haproxy/server.pem", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text().splitlines()[2:] == (GOLDEN / "kb.cfg").read_text().splitlines()[2:]
    assert [p.name for p in out.parent.iterdir()] == ["haproxy.cfg"]


def test_bad_spec_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text('[[nodes]]\nname = "node1"\n[lb.ports]\nhttps = 99999\n')
    out = tmp_path / "haproxy.cfg"
    result = run_flowlb("generate", "--spec", str(spec), "-o", str(out))
    assert result.returncode == 2
    assert result.stderr == f"flowlb: cluster spec {spec}: lb.ports.https: 99999 is not a port (1-65535)\n"
    assert list(tmp_path.iterdir()) == [spec]


def test_unwritable_output_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_flowlb("generate", "-o", str(blocker / "haproxy.cfg"))
    assert result.returncode == 2
    assert result.stderr.startswith("flowlb: cannot write") and result.stderr.count("\n") == 1


def test_an_empty_or_spaced_cert_path_is_refused_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "haproxy.cfg"
    for cert in ("", "/etc/haproxy/a b.pem"):
        result = run_flowlb("generate", "--cert", cert, "-o", str(out))
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"flowlb: --cert {cert!r}: give the path of a PEM file"), result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_write_that_fails_midway_leaves_no_temporary_file(tmp_path: Path) -> None:
    """The target is a directory: the temporary file is written, the rename fails, the temporary goes."""
    (tmp_path / "haproxy.cfg").mkdir()
    result = run_flowlb("generate", "-o", str(tmp_path / "haproxy.cfg"))
    assert result.returncode == 2 and result.stderr.startswith("flowlb: cannot write"), result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["haproxy.cfg"]


@pytest.mark.parametrize("args", [["up", "--target", "bogus"], ["load", "--processes", "abc"], ["bogus"], ["lint"],
                                  ["generate", "--profile", "nope"], ["matrix", "--versions", "9.9"]])
def test_a_usage_error_is_one_line_and_exit_2(args: list[str]) -> None:
    """Every command's bad option is one line naming it (argparse used to print the usage above it)."""
    result = run_flowlb(*args)
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("flowlb"), result.stderr


def _choices(command: str, flag: str) -> tuple[str, ...] | None:
    """The choices ``flowlb COMMAND`` offers for ``flag``, as its parser holds them."""
    from flowlb.cli import _parser

    subcommands = next(a for a in _parser()._actions if a.dest == "command")
    action = next(a for a in subcommands.choices[command]._actions if flag in a.option_strings)  # type: ignore[index]
    return tuple(action.choices) if action.choices is not None else None


def test_the_choices_come_from_their_owners() -> None:
    """Target names from targets.select, HAProxy lines from haproxy.version, failures from targets.base."""
    from flowlb.haproxy.version import DEBIAN_SUITES, VERSIONS
    from flowlb.targets.base import FAILOVERS
    from flowlb.targets.images import HAPROXY_BASES
    from flowlb.targets.select import CLUSTER_TARGETS, TARGETS

    assert _choices("up", "--target") == CLUSTER_TARGETS == ("auto", "containers", "local")
    assert _choices("load", "--target") == TARGETS == (*CLUSTER_TARGETS, "external")
    assert _choices("lint", "--haproxy-version") == VERSIONS == tuple(HAPROXY_BASES) == tuple(DEBIAN_SUITES)
    assert _choices("load", "--failover") == FAILOVERS
    assert HAPROXY_BASES["3.0"] == "debian:trixie-slim"
    matrix = run_flowlb("matrix", "--help").stdout
    assert f"(default {','.join(VERSIONS)})" in " ".join(matrix.split())


def test_the_lb_ports_help_is_the_syntax_parse_ports_reads_with_the_specs_ports() -> None:
    from flowlb.spec import LBPorts
    from flowlb.targets.external import LB_PORTS_SYNTAX, parse_ports

    assert parse_ports(LB_PORTS_SYNTAX, {}) == LBPorts().by_role()
    assert LB_PORTS_SYNTAX == "http=80,https=443,server=8000,server-tls=8443,stomp=61613"
    assert LB_PORTS_SYNTAX in "".join(run_flowlb("load", "--help").stdout.split())  # argparse wraps at hyphens


def test_flowlb_load_and_the_suite_say_the_same_of_the_options_that_name_the_lb() -> None:
    from flowlb.cli import _parser
    from flowlb.plugin.options import _CLUSTER_OPTIONS, _EXTERNAL_OPTIONS
    from flowlb.targets.external import LB_OPTION_HELP

    subcommands = next(a for a in _parser()._actions if a.dest == "command")
    load = subcommands.choices["load"]  # type: ignore[index]
    suite = {option.flag: option.help for option in (*_CLUSTER_OPTIONS, *_EXTERNAL_OPTIONS)}
    for flag, text in LB_OPTION_HELP.items():
        assert next(a.help for a in load._actions if flag in a.option_strings) == text, flag
        assert suite[flag] == text, flag
