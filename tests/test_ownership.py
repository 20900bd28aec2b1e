"""Runs own what they make: a leftover sweep removes only what a provably dead owner left, and a leak
check counts only what its own test started, whatever else runs on the same Docker engine."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import docker.errors
import pytest

from flowlb.targets import ownership
from flowlb.targets.ownership import RUN_ID_ENV, Owner
from tests.conftest import REPO, require
from tests.support.suite import flowlb_containers, new_run_id, run_conformance


def test_an_owner_reads_the_same_after_a_round_trip_through_its_label() -> None:
    me = ownership.this_process()
    assert Owner.parse(me.label()) == me and me.pid == os.getpid() and me.started


def test_only_an_owner_in_this_boot_and_namespace_that_has_ended_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    me = ownership.this_process()
    started = ownership._start_time(child.pid)
    assert started is not None
    label = Owner(me.boot, me.pid_namespace, child.pid, started).label()
    assert not ownership.provably_gone(label), "a live process was judged gone"
    assert child.stdin is not None
    child.stdin.close()
    child.wait()
    assert ownership.provably_gone(label)
    elsewhere = Owner(me.boot, "4026000000", child.pid, started).label()
    assert not ownership.provably_gone(elsewhere), "an owner in another PID namespace was judged from here"
    assert not ownership.provably_gone(Owner("another-boot", me.pid_namespace, child.pid, started).label())
    assert not ownership.provably_gone("12345") and not ownership.provably_gone("")  # an older flowlb's pid label


def test_a_bad_run_id_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUN_ID_ENV, "a b;rm")
    with pytest.raises(Exception, match=r"^FLOWLB_RUN_ID='a b;rm' is not a run id"):
        ownership.run_id()


class _RacingEngine:
    """A Docker client whose containers another run removes while the sweep looks at them."""

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self.containers = self
        self.networks = self
        self.api = self

    def list(self, all: bool = False, sparse: bool = False, filters: Any = None) -> list[Any]:
        if all and not sparse:
            raise docker.errors.NotFound("No such container: gone")  # docker-py inspects each one it lists
        if not all:
            return []  # networks
        return [type("Sparse", (), {"id": "c1", "attrs": {"Labels": self.labels}})()]

    conflict = False  # the other run's removal is under way, not done (the engine answers 409)

    def remove_container(self, container: str, force: bool = False, v: bool = False) -> None:
        if self.conflict:
            response = type("Response", (), {"status_code": 409, "reason": "Conflict"})()
            raise docker.errors.APIError(f"removal of container {container} is already in progress",
                                         response=response, explanation="removal of container c1 is already in "
                                         "progress")  # fmt: skip
        raise docker.errors.NotFound(f"No such container: {container}")


@pytest.mark.parametrize("conflict", [False, True], ids=["removed", "being removed"])
def test_the_sweep_tolerates_containers_that_another_run_removes_meanwhile(conflict: bool) -> None:
    """Two runs that start together sweep the same dead owner's leftovers: the engine answers the second
    'removal of container ... is already in progress' (409), which failed that run's start."""
    from flowlb.targets.containers import remove_leftovers

    me = ownership.this_process()
    dead = Owner(me.boot, me.pid_namespace, 1 << 22, "1").label()  # no such pid here
    engine: Any = _RacingEngine({"flowlb": "true", ownership.OWNER_LABEL: dead})
    engine.conflict = conflict
    assert remove_leftovers(engine) == 0


@pytest.fixture
def other_kept_cluster(docker_engine: None) -> Iterator[str]:
    """A cluster another run kept (``--keep-cluster``): its owner is gone, it is nobody's leftover."""
    other = new_run_id()
    kept = run_conformance("-m", "smoke", "--target", "containers", "--keep-cluster", env={RUN_ID_ENV: other})
    try:
        assert kept.returncode == 0, kept.stdout[-2000:]
        assert flowlb_containers(other), "the other run kept nothing"
        yield other
    finally:
        _remove_run(other)


def test_a_leak_check_counts_no_cluster_of_another_run(other_kept_cluster: str) -> None:
    """Another pytest-xdist worker's kept cluster, its owner gone, counted as this test's leak in CI."""
    from flowlb.errors import HAProxyConfigError
    from flowlb.spec import load_spec
    from flowlb.targets.containers import ContainersTarget

    with pytest.raises(HAProxyConfigError):
        ContainersTarget(load_spec(), "hardened", config_source=lambda layout: "frontend x\n  bogus\n")
    assert flowlb_containers() == []
    assert len(flowlb_containers(other_kept_cluster)) == 8, "the other run's kept cluster (7 containers, 1 network)"


@pytest.mark.timeout(240)
def test_a_run_in_another_pid_namespace_removes_no_live_cluster(docker_engine: None) -> None:
    """flowlb in a CI container sharing the host's engine saw the host's owners as dead pids: 7 containers to 0."""
    require(shutil.which("unshare") is not None, "unshare (util-linux)")
    require(os.geteuid() == 0, "root, for a PID namespace of our own")
    held = new_run_id()
    holder = subprocess.Popen(
        [sys.executable, "-m", "flowlb.cli", "up", "--target", "containers", "--hold"], cwd=REPO,
        env={**os.environ, RUN_ID_ENV: held}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        output = []
        for line in holder.stdout:  # bounded by the test's timeout; `up` prints this line once it is up
            output.append(line)
            if line.startswith("holding"):
                break
        assert holder.poll() is None, "".join(output)
        before = flowlb_containers(held)
        assert len(before) == 8, f"the held cluster is not up: {before}"
        other = subprocess.run(
            ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-m", "flowlb.cli", "up", "--target",
             "containers"], cwd=REPO, env={**os.environ, RUN_ID_ENV: new_run_id()}, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert other.returncode == 0, other.stdout[-2000:] + other.stderr[-2000:]
        assert flowlb_containers(held) == before, "a run in another PID namespace removed a live cluster"
    finally:
        holder.send_signal(signal.SIGINT)
        holder.wait(timeout=60)
        _remove_run(held)
    assert flowlb_containers(held) == []


def _remove_run(run: str) -> None:
    """Remove what the run ``run`` left (a kept cluster, or what a failed test could not tear down)."""
    client = docker.from_env()
    try:
        selector = {"label": f"{ownership.RUN_LABEL}={run}"}
        for container in client.containers.list(all=True, sparse=True, filters=selector):
            client.api.remove_container(container.id, force=True, v=True)
        for network in client.networks.list(filters=selector):
            network.remove()
    finally:
        client.close()


@pytest.mark.parametrize("where", ["network", "container"])
def test_an_interrupt_inside_an_engine_call_leaves_nothing(docker_engine: None, monkeypatch: pytest.MonkeyPatch,
                                                           own_run: str, where: str) -> None:
    """Ctrl-C inside ``network.create()`` or a container's start, after the engine made the object and before the
    target held it: an interrupted ``flowlb matrix`` left its suite's network and run directory behind."""
    import tempfile

    from flowlb.spec import load_spec
    from flowlb.targets import containers

    def made_then_interrupted(real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            made = real(*args, **kwargs)
            if where == "container":
                args[0]._container = None  # as if the interrupt came before testcontainers kept the container
            raise KeyboardInterrupt("signal 2")
            return made  # pragma: no cover

        return call

    if where == "network":
        monkeypatch.setattr(containers, "_create_network", made_then_interrupted(containers._create_network))
    else:
        monkeypatch.setattr(containers.NodeAddress, "start", made_then_interrupted(containers.NodeAddress.start))
    with pytest.raises(KeyboardInterrupt):
        containers.ContainersTarget(load_spec(), "hardened")
    assert flowlb_containers(own_run) == []
    assert os.listdir(tempfile.gettempdir()) == [], "the run directory"
