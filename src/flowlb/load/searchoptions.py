"""The capacity search's stepping options, one table that ``flowlb load`` and Locust both read.

Each option has one name (``step_users``) and is spelled from it on each side: ``flowlb load
--find-capacity --step-users``, and ``--capacity-step-users`` / ``FLOWLB_CAPACITY_STEP_USERS`` among
Locust's own options (``locust -f loadtests/capacity.py``; the prefix keeps them apart from Locust's
``--users``). ``flowlb load`` hands its values to Locust through those variables (:func:`environment`).
The default, the bounds and the help are written here once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SearchOption:
    """One stepping option: its name, default, accepted range and what it does."""

    name: str  # the field of plan.CapacitySearch and capacity.SearchPlan
    default: int
    low: int
    high: int
    help: str

    @property
    def flag(self) -> str:
        """``flowlb load``'s spelling: ``--step-users``."""
        return "--" + self.name.replace("_", "-")

    @property
    def locust_flag(self) -> str:
        """Locust's spelling: ``--capacity-step-users``."""
        return "--capacity-" + self.name.replace("_", "-")

    @property
    def locust_dest(self) -> str:
        """Where Locust's parsed options keep it: ``capacity_step_users``."""
        return "capacity_" + self.name

    @property
    def variable(self) -> str:
        """The environment variable Locust reads it from: ``FLOWLB_CAPACITY_STEP_USERS``."""
        return "FLOWLB_CAPACITY_" + self.name.upper()


SEARCH_OPTIONS = (
    SearchOption("step_users", 10, 1, 100_000, "users added at each step"),
    SearchOption("step_seconds", 10, 1, 3600, "seconds each step is measured, once its users are running"),
    SearchOption("max_users", 200, 1, 1_000_000, "the search ends here if the SLO still holds"),
)
DEFAULTS = {option.name: option.default for option in SEARCH_OPTIONS}


def add_cli_options(parser: Any) -> None:
    """``flowlb load``'s ``--step-users``, ``--step-seconds`` and ``--max-users``."""
    for option in SEARCH_OPTIONS:
        parser.add_argument(option.flag, type=int, default=option.default,
                            help=f"with --find-capacity: {option.help} ({option.default})")


def add_locust_options(group: Any) -> None:
    """Locust's ``--capacity-step-users`` (``FLOWLB_CAPACITY_STEP_USERS``) and the others, on its parser's group."""
    for option in SEARCH_OPTIONS:
        group.add_argument(option.locust_flag, env_var=option.variable, type=int, default=option.default,
                           help=f"{option.help} (default {option.default})")


def check(values: Mapping[str, int], spelled: Callable[[SearchOption], str]) -> None:
    """Each value within its option's range, and the ceiling at least one step; ``ValueError`` with one line
    naming the option as ``spelled`` spells it (the flag the user gave, or its variable)."""
    by_name = {option.name: option for option in SEARCH_OPTIONS}
    for option in SEARCH_OPTIONS:
        value = values[option.name]
        if not option.low <= value <= option.high:
            raise ValueError(f"{spelled(option)} {value!r}: give a number from {option.low} to {option.high}")
    if values["max_users"] < values["step_users"]:
        raise ValueError(f"{spelled(by_name['max_users'])} {values['max_users']} is below one step of "
                         f"{values['step_users']} users")


def environment(values: Mapping[str, int]) -> dict[str, str]:
    """The values as the variables Locust reads them from."""
    return {option.variable: str(values[option.name]) for option in SEARCH_OPTIONS}


def from_cli(options: Any) -> dict[str, int]:
    """The values from ``flowlb load``'s parsed options."""
    return {option.name: int(getattr(options, option.name)) for option in SEARCH_OPTIONS}


def from_locust(options: Any) -> dict[str, int]:
    """The values from Locust's parsed options."""
    return {option.name: int(getattr(options, option.locust_dest)) for option in SEARCH_OPTIONS}
