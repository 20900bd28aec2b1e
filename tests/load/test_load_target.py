"""Which LB ``flowlb load`` loads, without starting one: options that do not fit, a live LB's closed ports.

Each refusal is one line and exit code 2 before anything starts: no report directory, no process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import REPO
from tests.support.suite import flowlb_processes

from flowlb.errors import FlowlbError
from flowlb.load.target import TargetChoice
from flowlb.net import free_port
from flowlb.spec import LB_ROLES

CORPUS_CFG = REPO / "fixtures" / "operator-configs" / "24-two-flow-small.cfg"


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        (TargetChoice(kind="external", lb_host="127.0.0.1", failover="kill"),
         "--failover kill needs control of the Flow nodes, which flowlb has not on a live LB"),
        (TargetChoice(kind="external", lb_host="127.0.0.1", failover="hang"), "--failover hang needs control"),
        (TargetChoice(kind="external", lb_host="127.0.0.1", haproxy_cfg=CORPUS_CFG),
         "with --target external the LB already runs its own"),
        (TargetChoice(kind="external", lb_host="127.0.0.1", profile="kb"), "--profile kb renders a config"),
        (TargetChoice(kind="external"), "--target external needs --lb-host"),
        (TargetChoice(kind="local", lb_host="127.0.0.1"), "--lb-host describes a live LB: add --target external"),
        (TargetChoice(kind="auto", lb_ports="stomp=1", ca_file=Path("ca.pem")),
         "--lb-ports, --ca-file describe a live LB: add --target external"),
        (TargetChoice(kind="local", haproxy_cfg=CORPUS_CFG, profile="hardened"),
         "--profile hardened and --haproxy-cfg"),
        (TargetChoice(kind="local", haproxy_cfg=Path("/no/such.cfg")), "--haproxy-cfg /no/such.cfg: no such file"),
        (TargetChoice(kind="local", haproxy_cfg=Path("/dev/null")), "--haproxy-cfg /dev/null: not a regular file"),
    ],
)
def test_options_that_do_not_fit_together_are_one_line(choice: TargetChoice, message: str) -> None:
    with pytest.raises(FlowlbError) as refused:
        choice.refuse_mismatches()
    assert message in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "choice",
    [
        TargetChoice(kind="external", lb_host="lb.staging.example", lb_ports="stomp=61614", lb_name="lb",
                     ca_file=Path("ca.pem")),
        TargetChoice(kind="local", haproxy_cfg=CORPUS_CFG, failover="kill"),
        TargetChoice(kind="containers", profile="kb", failover="hang"),
        TargetChoice(),
    ],
)
def test_options_that_fit_are_accepted(choice: TargetChoice) -> None:
    choice.refuse_mismatches()


def flowlb_load(*args: str, report_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowlb.cli", "load", "--report-dir", str(report_dir), *args],
                          capture_output=True, text=True, cwd=REPO, check=False, timeout=60)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "external", "--lb-host", "127.0.0.1", "--failover", "kill"],
         "flowlb: --failover kill needs control of the Flow nodes"),
        (["--target", "external", "--lb-host", "127.0.0.1", "--haproxy-cfg", str(CORPUS_CFG)],
         "flowlb: --haproxy-cfg runs your config on flowlb's test cluster"),
        (["--target", "local", "--lb-host", "127.0.0.1"], "flowlb: --lb-host describes a live LB"),
        (["--target", "local", "--haproxy-cfg", "/no/such.cfg"], "flowlb: --haproxy-cfg /no/such.cfg: no such file"),
        (["--target", "local", "--haproxy-cfg", str(REPO / "fixtures" / "kbec-00281.cfg")],
         f"flowlb: {REPO / 'fixtures' / 'kbec-00281.cfg'} does not load: parsing [kbec-00281.cfg:4]"),
    ],
    ids=["external-failover", "external-haproxy-cfg", "lb-host-on-local", "missing-cfg", "cfg-does-not-load"],
)
def test_refusals_on_the_command_line_leave_nothing(
    args: list[str], message: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if "does not load" in message:
        request.getfixturevalue("haproxy_bin")  # HAProxy's own reason is asked of haproxy
    result = flowlb_load(*args, "--run-time", "3s", report_dir=tmp_path / "reports")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(message), result.stderr
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())
    assert flowlb_processes() == []


def test_a_live_lb_with_closed_ports_is_one_line_before_locust_starts(tmp_path: Path) -> None:
    closed = [free_port() for _ in LB_ROLES]
    ports = ",".join(f"{role.replace('_', '-')}={port}" for role, port in zip(LB_ROLES, closed, strict=True))
    result = flowlb_load("--target", "external", "--lb-host", "127.0.0.1", "--lb-ports", ports,
                         report_dir=tmp_path / "reports")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == ("flowlb: the LB at 127.0.0.1 accepts no connection on "
                             + ", ".join(f"{role.replace('_', '-')}={port} (Connection refused)"
                                         for role, port in zip(LB_ROLES, closed, strict=True))
                             + " within 3 s: check --lb-host and --lb-ports\n"), result.stderr
    assert "Locust" not in result.stdout + result.stderr
    assert not any((tmp_path / "reports").iterdir())
