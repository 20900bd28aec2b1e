"""Who the load users are on a real Flow cluster, and whether they may write there.

A real CloudBees CD/RO cluster answers its REST API only within a session, and its STOMP broker
wants CONNECT's ``login`` and ``passcode``. ``--flow-user NAME`` names the account; its password
comes from ``$FLOWLB_FLOW_PASSWORD`` or the first line of ``--flow-password-file FILE``, never from
the command line, where ``ps`` and shell history would show it: there is no ``--flow-password``,
and any word that looks like one is refused without being read.

Writes (``runProcedure``, ``/commanderRequest``) run only where they may: always on flowlb's own
mock cluster (:data:`OWN_CLUSTERS`, the one place that says so), elsewhere only with
``--allow-writes``. ``locust -f loadtests/flow.py`` without ``flowlb load`` knows nothing of the
target, so it is read-only unless told otherwise.

This module imports no Locust: ``flowlb load`` reads it in its own process too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

USER_OPTION = "--flow-user"
PASSWORD_VARIABLE = "FLOWLB_FLOW_PASSWORD"  # noqa: S105 - the variable's name
PASSWORD_FILE_OPTION = "--flow-password-file"  # noqa: S105 - the option's name
USER_VARIABLE = "FLOWLB_FLOW_USER"
PASSWORD_FILE_VARIABLE = "FLOWLB_FLOW_PASSWORD_FILE"  # noqa: S105 - the variable's name
ALLOW_WRITES_VARIABLE = "FLOWLB_ALLOW_WRITES"
REFUSAL_FILE_VARIABLE = "FLOWLB_REFUSAL_FILE"
"""Where a refused login's one line is written, so ``flowlb load`` can say it and publish no report."""
OWN_CLUSTERS = frozenset({"local", "containers"})
"""Targets whose Flow nodes are flowlb's own mocks: writes there harm nobody, so they are on by default."""
REFUSED_EXIT_CODE = 2
"""Locust's exit code when the cluster refused the login: the run could not run at all (1 stays the SLO's)."""
MAX_PASSWORD_FILE_BYTES = 64 * 1024
WRITE_MARK = "flowlb_writes"

HELP_USER = (f"log in as this CloudBees CD user (REST sessions API and STOMP CONNECT); the password comes from "
             f"${PASSWORD_VARIABLE} or {PASSWORD_FILE_OPTION}, never from the command line (there is no "
             "--flow-password)")
HELP_PASSWORD_FILE = f"file whose first line is the password of {USER_OPTION} (instead of ${PASSWORD_VARIABLE})"
HELP_ALLOW_WRITES = ("also send writes (runProcedure, /commanderRequest POSTs); without it the API mix is read-only, "
                     "except on flowlb's own mock cluster")


@dataclass(frozen=True)
class FlowLogin:
    """A Flow account; the password never appears in a repr, a log line or a report."""

    user: str
    password: str = field(repr=False)


def add_arguments(parser: Any) -> None:
    """The options on Locust's parser, each with its ``FLOWLB_*`` variable (the password has none but its own)."""
    group = parser.add_argument_group("Flow login and writes", "a real CloudBees CD cluster: its account, and "
                                      "whether the load may write there")
    group.add_argument(USER_OPTION, env_var=USER_VARIABLE, default="", help=HELP_USER)
    group.add_argument(PASSWORD_FILE_OPTION, env_var=PASSWORD_FILE_VARIABLE, default="", help=HELP_PASSWORD_FILE)
    group.add_argument("--allow-writes", env_var=ALLOW_WRITES_VARIABLE, action="store_true", default=False,
                       help=HELP_ALLOW_WRITES)


def add_load_options(parser: Any) -> None:
    """The same options on ``flowlb load``'s own parser."""
    group = parser.add_argument_group("Flow login and writes")
    group.add_argument(USER_OPTION, default="", help=HELP_USER)
    group.add_argument(PASSWORD_FILE_OPTION, type=Path, help=HELP_PASSWORD_FILE)
    group.add_argument("--allow-writes", action="store_true", help=HELP_ALLOW_WRITES)


def refuse_password_arguments(argv: Iterable[str]) -> None:
    """``ValueError`` for any word that would put a password on the command line, without repeating its value.

    argparse would take ``--flow-password X`` as an abbreviation of ``--flow-password-file`` (and
    echo ``X`` in its error), so every ``--flow-pass...`` but the file option itself is refused here.
    """
    for word in argv:
        if word == "--":
            continue
        name = word.split("=", 1)[0]
        if name.startswith("--flow-pass") and name != PASSWORD_FILE_OPTION:
            raise ValueError(f"{name}: a password is never taken from the command line (ps and shell history "
                             f"would show it); set ${PASSWORD_VARIABLE} or give {PASSWORD_FILE_OPTION} FILE")


def read_password_file(path: str | Path) -> str:
    """The first line of ``path`` without its line end; one-line ``ValueError`` when it cannot be read or is empty."""
    where = f"{PASSWORD_FILE_OPTION} {path}"
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PASSWORD_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"{where}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_PASSWORD_FILE_BYTES:
        raise ValueError(f"{where}: larger than {MAX_PASSWORD_FILE_BYTES} bytes; is it really a password file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{where}: not UTF-8 text") from None
    password = text.splitlines()[0] if text else ""
    if not password:
        raise ValueError(f"{where}: its first line is empty")
    return password


def login_from(user: str, password_file: str | Path | None,
               environ: Mapping[str, str] = os.environ) -> FlowLogin | None:
    """The account from the options and the environment, None without ``--flow-user``; one-line ``ValueError``."""
    if not user:
        if password_file:
            raise ValueError(f"{PASSWORD_FILE_OPTION} without {USER_OPTION}: name the user the password is for")
        return None
    if password_file:
        return FlowLogin(user, read_password_file(password_file))
    password = environ.get(PASSWORD_VARIABLE, "")
    if not password:
        raise ValueError(f"{USER_OPTION} {user} needs a password: set ${PASSWORD_VARIABLE} or give "
                         f"{PASSWORD_FILE_OPTION} FILE")
    return FlowLogin(user, password)


def writes_allowed(target_kind: str, allow_writes: bool) -> bool:
    """Writes run on flowlb's own mock cluster, and elsewhere only when the operator allowed them."""
    return allow_writes or target_kind in OWN_CLUSTERS


@dataclass(frozen=True)
class LoadLogin:
    """``flowlb load``'s login and writes options, as its plan carries them (no password: that stays in the
    environment or its file)."""

    user: str = ""
    password_file: str = ""
    allow_writes: bool = False

    def check(self, environ: Mapping[str, str] = os.environ) -> None:
        """The account can be read (``ValueError`` in one line otherwise), before any cluster starts."""
        login_from(self.user, self.password_file, environ)

    def variables(self, target_kind: str) -> dict[str, str]:
        """What Locust is handed for these options on ``target_kind``."""
        variables = {ALLOW_WRITES_VARIABLE: "true"} if writes_allowed(target_kind, self.allow_writes) else {}
        if self.user:
            variables[USER_VARIABLE] = self.user
        if self.password_file:
            variables[PASSWORD_FILE_VARIABLE] = str(Path(self.password_file).resolve())
        return variables


Task = TypeVar("Task", bound=Callable[..., Any])


def writes(task: Task) -> Task:
    """Mark a Locust task as a write: it runs only where :func:`writes_allowed`."""
    setattr(task, WRITE_MARK, True)
    return task


def read_only(tasks: list[Any]) -> list[Any]:
    """A user class's task list without its writes."""
    return [task for task in tasks if not getattr(task, WRITE_MARK, False)]
