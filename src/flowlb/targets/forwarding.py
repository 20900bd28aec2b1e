"""Forwarders made from Protocols: a class that passes calls on to another object gets one method per member.

The shared cluster has two halves that each pass node control and HAProxy control on: the cluster's
owner (``ClusterHost``, to its target, on one thread) and a run's view of it (``SharedTarget``, to
the owner, through a manager). Their forwarders are made here from the Protocols of
:mod:`flowlb.targets.base`, so a new member means editing the Protocol and its implementations only::

    @forwards(NodeControl, HAProxyControl, through=lambda view, call: call(view.host))
    class View(NodeControl, HAProxyControl): ...
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from operator import methodcaller
from typing import Any, TypeVar

C = TypeVar("C", bound=type)
Through = Callable[[Any, methodcaller], Any]
"""How a forwarder passes its call on: given the forwarding object and the call (name and arguments), the result."""


def members(*protocols: type) -> dict[str, Callable[..., Any]]:
    """The methods the Protocols declare, by name, in the order declared (a name twice: the first Protocol's)."""
    found: dict[str, Callable[..., Any]] = {}
    for protocol in protocols:
        for name, value in vars(protocol).items():
            if not name.startswith("_") and inspect.isfunction(value):
                found.setdefault(name, value)
    return found


def forwards(*protocols: type, through: Through) -> Callable[[C], C]:
    """A class decorator: every member of ``protocols`` the class does not define itself passes its call on
    ``through``; the forwarder keeps the member's name, docstring and signature."""

    def decorate(cls: C) -> C:
        for name, declared in members(*protocols).items():
            if name not in vars(cls):
                setattr(cls, name, _forwarder(cls, name, declared, through))
        return cls

    return decorate


def _forwarder(cls: type, name: str, declared: Callable[..., Any], through: Through) -> Callable[..., Any]:
    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        return through(self, methodcaller(name, *args, **kwargs))

    functools.update_wrapper(forward, declared)
    forward.__module__, forward.__qualname__ = cls.__module__, f"{cls.__qualname__}.{name}"
    return forward
