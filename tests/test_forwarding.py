"""Forwarders made from the target Protocols: every member passes its call on, none is written by hand."""

from __future__ import annotations

import inspect
import threading
from operator import methodcaller
from typing import Any, Protocol

import pytest

from flowlb.node_contract import HealthState
from flowlb.targets.base import FAILOVERS, FAILURES, HAProxyControl, NodeControl, Target, fail_node
from flowlb.targets.forwarding import forwards, members
from flowlb.targets.shared import ClusterHost, SharedTarget

CONTROL = members(NodeControl, HAProxyControl)


class Recorder:
    """Stands in for the object a forwarder passes its calls to: records each call and the thread it ran on."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any], str]] = []

    def record(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> str:
            self.calls.append((name, args, kwargs, threading.current_thread().name))
            return f"{name} done"

        return call

    def __getattr__(self, name: str) -> Any:
        return self.record(name)


def test_the_members_are_the_protocols_methods_each_once() -> None:
    assert list(members(NodeControl)) == ["kill", "hang", "can_cut_off", "cut_off", "restart", "set_health",
                                          "counters", "reset"]
    assert set(members(HAProxyControl)) == {"can_reload", "reload", "replace_config", "haproxy_build",
                                            "config_warnings"}
    assert set(CONTROL) == set(members(NodeControl)) | set(members(HAProxyControl))
    assert HAProxyControl in Target.__mro__  # the Target Protocol offers HAProxy control


class Extra(Protocol):
    def wobble(self, name: str, hard: bool = False) -> int:
        """A member added later: the forwarding class is not edited for it."""


def test_a_new_member_of_the_protocol_is_forwarded_without_touching_the_forwarding_class() -> None:
    @forwards(NodeControl, Extra, through=lambda view, call: call(view.inner))
    class View:
        def __init__(self) -> None:
            self.inner = Recorder()

        def reset(self) -> None:  # its own: kept, not forwarded
            self.inner.calls.append(("own reset", (), {}, ""))

    view: Any = View()
    assert view.wobble("node1", hard=True) == "wobble done"
    view.kill("node2")
    view.reset()
    assert [call[:3] for call in view.inner.calls] == [("wobble", ("node1",), {"hard": True}), ("kill", ("node2",), {}),
                                                      ("own reset", (), {})]
    assert View.wobble.__doc__ == Extra.wobble.__doc__  # type: ignore[attr-defined]
    assert str(inspect.signature(View.wobble)) == str(inspect.signature(Extra.wobble))  # type: ignore[attr-defined]
    assert View.wobble.__qualname__.endswith("View.wobble")  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", [ClusterHost, SharedTarget])
def test_the_shared_cluster_forwards_every_control_member_and_keeps_no_protocol_stub(cls: type) -> None:
    for name, declared in CONTROL.items():
        made = inspect.getattr_static(cls, name)
        assert made is not declared, f"{cls.__name__}.{name} is the Protocol's empty stub"
        assert made.__doc__ == declared.__doc__ or name in vars(cls), name


def test_the_host_runs_every_forwarded_call_on_its_one_thread() -> None:
    host: Any = ClusterHost.__new__(ClusterHost)  # no cluster: a recorder stands in for its target
    from concurrent.futures import ThreadPoolExecutor

    host._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowlb-shared")
    host._target = Recorder()
    try:
        assert host.set_health("node2", HealthState.BOOTSTRAP, delay_ms=5) == "set_health done"
        assert host.reload(3.0) == "reload done"
    finally:
        host._thread.shutdown()
    assert [(name, args, kwargs) for name, args, kwargs, _ in host._target.calls] == [
        ("set_health", ("node2", HealthState.BOOTSTRAP), {"delay_ms": 5}), ("reload", (3.0,), {})]
    assert all(thread.startswith("flowlb-shared") for *_, thread in host._target.calls)


def test_the_view_passes_its_calls_to_the_host_and_keeps_its_own() -> None:
    view: Any = SharedTarget.__new__(SharedTarget)  # no cluster: a recorder stands in for the host's proxy
    view._host = Recorder()
    assert view.counters("node1") == "counters done"
    view.replace_config("global\n")  # its own: the view also remembers the text
    assert view.config_text == "global\n"
    assert [call[:2] for call in view._host.calls] == [("counters", ("node1",)), ("replace_config", ("global\n",))]
    assert methodcaller("echoes")(view) is True  # not control: answered here, not asked of the host


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failure_by_name_calls_the_node_control_member_of_that_name(failure: str) -> None:
    nodes: Any = Recorder()
    fail_node(nodes, failure, "node3")
    assert [call[:2] for call in nodes.calls] == [(failure, ("node3",))]
    assert failure in members(NodeControl)


def test_a_failure_no_member_makes_is_refused_and_load_runs_choose_among_the_failures() -> None:
    with pytest.raises(KeyError):
        fail_node(Recorder(), "reset", "node1")  # a member, but not a failure
    assert set(FAILOVERS) <= set(FAILURES)
