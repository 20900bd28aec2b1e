"""What ``loadtests/flow.py`` hooks into Locust's events: the options, the login, the mix, the open model and
the SLO gates.

A bad option value stops Locust with one line (``flowlb: --flow-mix: ...``) and exit code 1, before
any user starts, instead of a traceback from inside an event handler.
"""

from __future__ import annotations

import sys
from typing import Any

from locust.runners import WorkerRunner

from flowlb.load import credentials, locustfixes, login, mix, openmodel, options, slo

locustfixes.apply()  # before Locust starts its CSV writer


def add_options(parser: Any) -> None:
    """``events.init_command_line_parser``: the Flow options (and no password on Locust's command line)."""
    try:
        credentials.refuse_password_arguments(sys.argv[1:])
    except ValueError as exc:
        raise SystemExit(f"flowlb: {exc}") from None
    options.add_arguments(parser)
    credentials.add_arguments(parser)
    openmodel.add_arguments(parser)


def init(environment: Any, users: dict[str, Any]) -> None:
    """``events.init``: check the login, keep writes off where they may not run, weigh the scenarios, and
    install the SLO gates or let a capacity search judge."""
    try:
        login.install(environment)
        parsed = environment.parsed_options
        if parsed is not None and not parsed.allow_writes:
            for user_class in users.values():
                user_class.tasks = credentials.read_only(user_class.tasks)
        mix.apply(environment, users)
        shape = environment.shape_class
        if shape is None and openmodel.install(environment, users):
            slo.install(environment)  # --arrival-rate: generators instead of users; the gates still judge
        elif callable(getattr(shape, "configure", None)):
            if not isinstance(environment.runner, WorkerRunner):
                shape.configure(environment)  # the search judges every step against the SLO itself
        else:
            slo.install(environment)
    except ValueError as exc:
        raise SystemExit(f"flowlb: {exc}") from None
