"""The capacity search's stepping options: one table, read by ``flowlb load`` and by Locust alike."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from tests.support.suite import REPO

from flowlb.cli import _parser
from flowlb.errors import FlowlbError
from flowlb.load import searchoptions
from flowlb.load.plan import CapacitySearch
from flowlb.load.searchoptions import SEARCH_OPTIONS


def test_each_option_has_one_name_spelled_for_each_side() -> None:
    spelled = {(o.name, o.flag, o.locust_flag, o.locust_dest, o.variable) for o in SEARCH_OPTIONS}
    assert ("step_users", "--step-users", "--capacity-step-users", "capacity_step_users",
            "FLOWLB_CAPACITY_STEP_USERS") in spelled
    assert [o.name for o in SEARCH_OPTIONS] == ["step_users", "step_seconds", "max_users"]
    assert CapacitySearch().steps_asked() == searchoptions.DEFAULTS == {"step_users": 10, "step_seconds": 10,
                                                                        "max_users": 200}


def test_flowlb_load_takes_its_options_defaults_and_help_from_the_table() -> None:
    parser = _parser()
    assert searchoptions.from_cli(parser.parse_args(["load"])) == searchoptions.DEFAULTS
    given = parser.parse_args(["load", "--step-users", "7", "--step-seconds", "3", "--max-users", "21"])
    assert searchoptions.from_cli(given) == {"step_users": 7, "step_seconds": 3, "max_users": 21}
    load_help = next(action for action in parser._subparsers._group_actions  # type: ignore[union-attr]
                     ).choices["load"].format_help()
    for option in SEARCH_OPTIONS:
        assert f"{option.flag} {option.name.upper()}" in load_help
    assert "users added at each step (10)" in " ".join(load_help.split())


@pytest.mark.parametrize(("values", "message"), [
    ({"step_users": 0}, "--step-users 0: give a number from 1 to 100000"),
    ({"step_seconds": 3601}, "--step-seconds 3601: give a number from 1 to 3600"),
    ({"step_users": 50, "max_users": 20}, "--max-users 20 is below one step of 50 users"),
])
def test_a_value_outside_its_range_is_one_line_naming_the_flag_the_user_gave(values: dict[str, int],
                                                                           message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        searchoptions.check({**searchoptions.DEFAULTS, **values}, lambda option: option.flag)
    with pytest.raises(FlowlbError, match=f"^{message}$"):
        CapacitySearch(**{**searchoptions.DEFAULTS, **values}).validate()
    locust_message = message.replace("--", "--capacity-")
    with pytest.raises(ValueError, match=f"^{locust_message}$"):
        searchoptions.check({**searchoptions.DEFAULTS, **values}, lambda option: option.locust_flag)


def test_the_careful_edges_of_each_range_pass() -> None:
    for option in SEARCH_OPTIONS:
        for value in (option.low, option.high):
            values = {**searchoptions.DEFAULTS, option.name: value}
            values["max_users"] = max(values["max_users"], values["step_users"])
            searchoptions.check(values, lambda option: option.flag)


LOCUST_SIDE = """
import json, sys
from locust.argument_parser import get_empty_argument_parser
from flowlb.load.capacity import SearchPlan
from flowlb.load.options import add_arguments
parser = get_empty_argument_parser(add_help=False)
add_arguments(parser)
parsed = parser.parse_args([])
plan = SearchPlan.from_options(parsed)
print(json.dumps({"plan": [plan.step_users, plan.step_seconds, plan.max_users],
                  "help": parser.format_help()}))
"""


def test_what_flowlb_load_hands_to_locust_is_what_its_search_plan_reads() -> None:
    """flowlb load passes its values as the variables of Locust's options; Locust's side reads the same table."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"),
           **CapacitySearch(step_users=7, step_seconds=3, max_users=21).environment(REPO / "unused.json")}
    result = subprocess.run([sys.executable, "-c", LOCUST_SIDE], capture_output=True, text=True, env=env,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["plan"] == [7, 3, 21]
    shown = " ".join(seen["help"].split())
    for option in SEARCH_OPTIONS:
        assert option.locust_flag in shown and f"{option.help} (default {option.default})" in shown
