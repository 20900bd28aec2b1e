"""A check that does not apply to the config under test: skipped, and not a gap in the verdict.

A check skips for one of two reasons. Either the config has nothing of the kind (no backup server, one
primary server, no stats listener): there is nothing to verify, and the run's verdict is whole without
it. Or the target cannot give the evidence (no runtime API, real Flow servers, no ``--destructive``): the
config was not verified there, and a core check skipped that way makes the run ``partial``::

    if not backups:
        does_not_apply(f"{backend} has no backup server")
"""

from __future__ import annotations

from typing import NoReturn

NOT_APPLICABLE = "does not apply: "
"""How the skip message of a check that does not apply begins (``flowlb.verdict`` reads it)."""


def does_not_apply(reason: str) -> NoReturn:
    """Skip the check: the config under test has nothing it verifies (``reason`` says what it lacks)."""
    __tracebackhide__ = True  # pytest reports the skip at the check's line, not this one
    import pytest  # only checks call this: modules such as topology stay importable without pytest loaded

    pytest.skip(NOT_APPLICABLE + reason)


def not_applicable(message: str) -> bool:
    """Whether a skip ``message`` (pytest's, which may begin ``Skipped: ``) says the check does not apply,
    rather than that it could not run."""
    return message.removeprefix("Skipped: ").startswith(NOT_APPLICABLE)
