"""The conformance suite: checks that a load balancer in front of a Flow cluster does its job.

Options: ``pytest conformance/ --help``, group "flowlb" (the README lists them with their uses).
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Load flowlb's plugin (its options, fixtures and report) unless the installed one already is.

    An installed flowlb registers the plugin as "flowlb" through its pytest11 entry point; this repo's
    pytest config blocks that name (``-p no:flowlb``) so the project's own tests/ run without it. Loading
    the module here instead of ``pytest_plugins = ["flowlb.pytest_plugin"]`` keeps it to one copy either
    way: pluggy refuses a module registered a second time under another name.
    """
    del parser  # the plugin adds its own options as it registers
    # Ctrl-C or SIGTERM while the plugin and the checks load (a second or more) waits for pytest_configure,
    # which stops the run cleanly, instead of printing a traceback; this module imports flowlb's lightest one
    from flowlb.interrupts import hold_signals_until_started

    hold_signals_until_started()
    if pluginmanager.get_plugin("flowlb") is None:
        pluginmanager.import_plugin("flowlb.pytest_plugin")
