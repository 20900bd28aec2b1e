"""Every lint rule as ``rules.toml`` declares it: name, title, level and why, the fix in short.

The level of a finding is looked up here, never decided where the finding is made, so that a report,
the exit code and a SARIF or JUnit file all weigh it alike. A policy may weigh a rule differently;
it passes its choice as ``overrides``::

    info("FLOW033").level                          # "recommended"
    level_of("FLOW033")                            # "recommended"
    level_of("FLOW033", {"FLOW033": "core"})       # "core": the policy's word wins
    check_overrides({"FLOW999": "core"})           # ValueError: names no rule
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from flowlb.levels import LEVELS

NEEDS = ("haproxy", "haproxy-version")
"""What a rule may need to run: a haproxy binary on PATH, or ``--haproxy-version``."""


@dataclass(frozen=True)
class RuleInfo:
    """One rule: its id, a short name, what it flags, its level and why, the fix, and what it needs to run."""

    id: str
    name: str
    title: str
    level: str
    level_reason: str
    help: str
    needs: str = ""


@cache
def rules() -> tuple[RuleInfo, ...]:
    """Every rule, in id order; ``ValueError`` for an entry with a level or a need flowlb does not know."""
    text = resources.files("flowlb.lint").joinpath("rules.toml").read_text(encoding="utf-8")
    found = tuple(RuleInfo(**entry) for entry in tomllib.loads(text)["rule"])
    for entry in found:
        if entry.level not in LEVELS or entry.needs not in ("", *NEEDS):
            raise ValueError(f"rules.toml: {entry.id}: level {entry.level!r} or needs {entry.needs!r} is unknown")
    return tuple(sorted(found, key=lambda entry: entry.id))


def info(rule_id: str) -> RuleInfo:
    """The rule called ``rule_id``; ``KeyError`` when there is none."""
    for entry in rules():
        if entry.id == rule_id:
            return entry
    raise KeyError(rule_id)


def known(rule_id: str) -> bool:
    return any(entry.id == rule_id for entry in rules())


def level_of(rule_id: str, overrides: Mapping[str, str] | None = None) -> str:
    """``core`` or ``recommended``: the override for ``rule_id`` when there is one, else the declared level."""
    if overrides and rule_id in overrides:
        return overrides[rule_id]
    return info(rule_id).level


def check_overrides(overrides: Mapping[str, str]) -> None:
    """``ValueError`` naming the first override for a rule that does not exist or with a level that does not."""
    for rule_id, level in overrides.items():
        if not known(rule_id):
            raise ValueError(f"{rule_id}: no such lint rule")
        if level not in LEVELS:
            raise ValueError(f"{rule_id} = {level!r}: choose from {', '.join(LEVELS)}")
