"""The shared local cluster of the mutant sweep: each run's config by a reload, and nothing of one run in the next."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from multiprocessing.managers import BaseManager
from pathlib import Path

import pytest

from flowlb.errors import HAProxyConfigError, TargetError
from flowlb.haproxy.operator import OperatorConfig
from flowlb.haproxy.reload import running_pid
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.node_contract import HealthState
from flowlb.spec import load_spec
from flowlb.targets.readiness import server_ready
from flowlb.targets.shared import SharedCluster, SharedTarget, attach, connect
from tests.support.mutants import Mutant, catalogue, mutated_config
from tests.support.suite import REPO

CONTROL = Mutant("control", "", (), ())


@pytest.fixture(scope="module")
def shared(haproxy_bin: str) -> Iterator[SharedCluster]:
    with SharedCluster() as cluster:
        yield cluster


def load(shared: SharedCluster, tmp_path: Path, mutant: Mutant = CONTROL) -> SharedTarget:
    """The mutant's config (the hardened profile by default) loaded into the shared cluster."""
    config = tmp_path / f"{mutant.name}.cfg"
    config.write_text(mutated_config(mutant, load_spec()))
    attached = attach(shared.ticket, load_spec(), "hardened", OperatorConfig.load(config, load_spec()))
    assert isinstance(attached, SharedTarget), attached
    return attached


def run_check(check: str, *args: str) -> subprocess.CompletedProcess[str]:
    """One conformance check file, run as a user runs it."""
    return subprocess.run([sys.executable, "-m", "pytest", f"conformance/{check}", "-q", "-p", "no:cacheprovider",
                           "--report-dir", "none", *args], capture_output=True, text=True, cwd=REPO, check=False,
                          timeout=120)


def master_pid(target: SharedTarget) -> str:
    """The master's own line in ``show proc`` (its PID): the same across reloads, new after a restart."""
    master = RuntimeAPI(Path(str(target.layout.runtime_socket)).parent / "master.sock")
    return next(line.split()[0] for line in master.command("show proc").splitlines() if "master" in line)


def test_each_run_loads_its_config_by_a_reload_not_a_restart(shared: SharedCluster, tmp_path: Path) -> None:
    first = load(shared, tmp_path)
    worker, master = running_pid(first.evidence()), master_pid(first)
    balance_source = next(m for m in catalogue() if m.name == "13-balance-source")
    second = load(shared, tmp_path, balance_source)
    assert master_pid(second) == master
    assert running_pid(second.evidence()) not in (None, worker)
    assert "balance source" in second.config_text
    assert second.rendered is not None and second.rendered.text == second.config_text  # what runs, from the host
    assert second.profile == "operator:13-balance-source.cfg"
    running = Path(str(second.layout.runtime_socket)).parent / "haproxy.cfg"
    assert running.read_text() == second.config_text


def test_nothing_of_one_run_reaches_the_next(shared: SharedCluster, tmp_path: Path) -> None:
    """A run that killed a node, failed another's health and drained a server (kept across a reload) leaves a fresh
    start behind."""
    first = load(shared, tmp_path)
    names = first.node_names()
    first.kill(names[0])
    first.set_health(names[1], HealthState.BOOTSTRAP)
    backend = "commander-server-backend"
    first.evidence().command(f"set server {backend}/{names[2]} state maint")
    first.reload(10.0)  # as the reload check does: the drain is saved to the file the next worker reads
    assert first.evidence().server(backend, names[2]).status == "MAINT"  # and the new worker read it
    first.close()
    del first  # the connection that restarted nothing goes; the next run's load restarts the node

    second = load(shared, tmp_path)
    stats = second.evidence().stats()
    assert stats and all(server_ready(stat) for stat in stats), [(s.server, s.status) for s in stats]
    del second
    third = load(shared, tmp_path)  # the node the second load restarted outlived the second's connection
    assert [third.counters(name)["name"] for name in names] == names


def test_a_refused_config_says_why_and_the_cluster_goes_on(shared: SharedCluster, tmp_path: Path) -> None:
    broken = Mutant("broken", "", (), ())
    config = tmp_path / "broken.cfg"
    config.write_text(mutated_config(broken, load_spec()).replace("  balance roundrobin\n", "  balance nonsense\n", 1))
    operator = OperatorConfig.load(config, load_spec())
    with pytest.raises(HAProxyConfigError, match=r"broken.cfg does not load: .*line \d+: `balance nonsense`"):
        attach(shared.ticket, load_spec(), "hardened", operator)
    good = load(shared, tmp_path)
    assert "balance nonsense" not in good.config_text and good.evidence().answers()


def test_a_config_for_other_nodes_gets_a_cluster_of_its_own(shared: SharedCluster) -> None:
    five = REPO / "fixtures/operator-configs/06-five-flow-servers.cfg"
    reason = attach(shared.ticket, load_spec(), "hardened", OperatorConfig.load(five, load_spec()))
    assert isinstance(reason, str) and "nodes" in reason
    result = run_check("balance/test_spread_by_haproxy_counters.py", "--target", "local", "--haproxy-cfg", str(five),
                       "--shared-cluster", str(shared.ticket))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "does not fit the shared cluster" in result.stdout


@pytest.mark.parametrize("args", [["--target", "local"], ["--target", "containers"]], ids=["no-ticket", "containers"])
def test_a_bad_shared_cluster_is_one_line_and_exit_2(args: list[str], tmp_path: Path, haproxy_bin: str) -> None:
    ticket = tmp_path / "ticket.json"
    ticket.write_text('{"address": "/nonexistent/cluster.sock", "authkey": "00"}')
    result = run_check("loads/test_config_loads.py", *args, "--shared-cluster", str(ticket))
    assert result.returncode == 2, result.stdout[-2000:]
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "flowlb:" in line]
    assert lines and "--shared-cluster" in lines[0] and "Traceback" not in result.stdout + result.stderr


class _Elsewhere(BaseManager):
    """A manager server with a key of its own, standing in for a shared cluster whose ticket was not this one."""


@pytest.fixture
def wrong_key_ticket(tmp_path: Path) -> Iterator[Path]:
    """A ticket whose address answers, with an authkey that is not the server's."""
    _Elsewhere.register("host", callable=lambda: None)
    server = _Elsewhere(address=str(tmp_path / "cluster.sock"), authkey=b"the-real-key").get_server()

    def serve() -> None:
        with contextlib.suppress(SystemExit):  # serve_forever ends with sys.exit(0), in its thread
            server.serve_forever()

    threading.Thread(target=serve, daemon=True).start()
    ticket = tmp_path / "ticket.json"
    ticket.write_text(json.dumps({"address": str(tmp_path / "cluster.sock"), "authkey": b"another-key".hex()}))
    try:
        yield ticket
    finally:
        server.stop_event.set()


def test_a_ticket_with_the_wrong_authkey_is_one_line(wrong_key_ticket: Path) -> None:
    """It was an AuthenticationError traceback in every check."""
    with pytest.raises(TargetError, match="refused this ticket's authkey"):
        connect(wrong_key_ticket)


def test_the_suite_with_a_wrong_authkey_ends_in_one_line_and_exit_2(wrong_key_ticket: Path, haproxy_bin: str) -> None:
    result = run_check("loads/test_config_loads.py", "--target", "local", "--shared-cluster", str(wrong_key_ticket))
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    assert f"flowlb: --shared-cluster {wrong_key_ticket}: the shared cluster there refused" in output, output[-2000:]
    assert "Traceback" not in output and "AuthenticationError" not in output, output[-2000:]


def descendants(pid: int) -> set[int]:
    """The live processes below ``pid``."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def test_closing_the_shared_cluster_leaves_nothing(haproxy_bin: str) -> None:
    cluster = SharedCluster()
    directory, owner = cluster.ticket.parent, cluster.pid
    below = descendants(owner)
    assert len(below) >= 5, below  # HAProxy's master and worker, three mock nodes
    cluster.close()
    cluster.close()
    assert not directory.exists()
    assert not {owner, *below} & {int(p.name) for p in Path("/proc").glob("[0-9]*")}
