"""The operator's policy file (``--policy``): the numbers a run holds the LB to, levels, and waivers.

A TOML file, every key checked before anything starts; a mistake is a one-line ``FlowlbError``
naming the file and the key (``fixtures/policy.example.toml`` shows every key)::

    [policy]                       # any number of flowlb.policy, by its lower-case name
    header_timeout_max_s = 5
    management_networks = ["10.9.0.0/16"]
    web_affinity = "none"          # or "cookie"

    [levels]                       # a check id or a lint rule, and the level it weighs at here
    "balance/web_sessions_stick" = "core"

    [[waiver]]                     # a known failure that does not fail the run until it expires
    id = "requests/long_request_answered"
    reason = "CHG-1234: timeouts raised in the next change window"
    expires = 2025-09-30

    loaded = load(Path("policy.toml"))
    loaded.policy.header_timeout_max_s, loaded.levels, loaded.waivers, loaded.sha256
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import math
import re
import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn

from flowlb.errors import FlowlbError
from flowlb.inputs import read_input
from flowlb.levels import LEVELS
from flowlb.policy import Policy
from flowlb.spec import WEB_AFFINITIES

LINT_RULE = re.compile(r"^FLOW\d{3}$")
TABLES = ("policy", "levels", "waiver")
WAIVER_KEYS = ("id", "reason", "expires")


@dataclass(frozen=True)
class Waiver:
    """A failure the operator accepts for now: the check (or lint rule), why, and the last day it holds."""

    id: str
    reason: str
    expires: date

    def expired(self, today: date) -> bool:
        """Whether ``today`` is past the waiver's last day."""
        return self.expires < today


@dataclass(frozen=True)
class PolicyFile:
    """A policy file as loaded: where it is, its sha256, the policy, the levels it sets and its waivers."""

    path: str
    sha256: str
    policy: Policy = field(default_factory=Policy)
    levels: dict[str, str] = field(default_factory=dict)
    waivers: tuple[Waiver, ...] = ()


def load(path: Path, checks: Collection[str] | None = None) -> PolicyFile:
    """The policy file at ``path``; ``checks`` are the check ids it may name (default: the catalogue's)."""
    text = read_input(path, "policy")
    return parse(text, str(path), checks)


def parse(text: str, where: str, checks: Collection[str] | None = None) -> PolicyFile:
    """A policy file's ``text`` (``where`` names it in errors)."""
    if checks is None:
        from flowlb.checks import catalogue

        checks = {check.id for check in catalogue.checks()}
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FlowlbError(f"{where}: not valid TOML: {exc}") from None
    for key in raw:
        if key not in TABLES:
            _fail(where, key, f"unknown key; a policy file has {', '.join(f'[{t}]' for t in TABLES[:2])} "
                              "and [[waiver]]")
    return PolicyFile(
        path=where,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        policy=_policy(where, _table(where, raw, "policy")),
        levels=_levels(where, _table(where, raw, "levels"), checks),
        waivers=_waivers(where, raw.get("waiver", []), checks),
    )


def _fail(where: str, key: str, why: str) -> NoReturn:
    raise FlowlbError(f"{where}: {key}: {why}")


def _table(where: str, raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        _fail(where, name, f"must be a table ([{name}])")
    return value


def _policy(where: str, table: dict[str, Any]) -> Policy:
    kinds = {item.name: item.type for item in dataclasses.fields(Policy)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = f"policy.{key}"
        if key not in kinds:
            _fail(where, name, f"unknown key (one of: {', '.join(kinds)})")
        elif key == "management_networks":
            values[key] = _networks(where, name, value)
        elif key == "web_affinity":
            if value not in WEB_AFFINITIES:
                _fail(where, name, f"{value!r} is not one of {', '.join(WEB_AFFINITIES)}")
            values[key] = value
        else:
            values[key] = _number(where, name, value, whole=kinds[key] == "int")
    return Policy(**values)


def _number(where: str, name: str, value: Any, whole: bool) -> float | int:
    """A positive number (a whole one for ``whole``); TOML's booleans are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        _fail(where, name, f"{value!r} is not a {'whole number' if whole else 'number'}")
    number: float | int = value
    if not (math.isfinite(number) and number > 0):
        _fail(where, name, f"{value!r} must be above 0")
    return number if whole else float(number)


def _networks(where: str, name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        _fail(where, name, "must be a list of CIDRs, e.g. [\"10.9.0.0/16\"]")
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError as exc:
            _fail(where, name, str(exc))
    return tuple(value)


def _known(where: str, name: str, ident: Any, checks: Collection[str]) -> str:
    """``ident`` when it is a check id of ``checks`` or a lint rule (``FLOW011``)."""
    if not isinstance(ident, str) or not (ident in checks or LINT_RULE.match(ident)):
        _fail(where, name, f"{ident!r} is neither a check id (such as redirect/redirect_to_https) nor a lint rule "
                           "(FLOWnnn)")
    return str(ident)


def _levels(where: str, table: dict[str, Any], checks: Collection[str]) -> dict[str, str]:
    levels = {}
    for key, value in table.items():
        name = f'levels."{key}"' if "/" in key else f"levels.{key}"
        _known(where, name, key, checks)
        if value not in LEVELS:
            _fail(where, name, f"{value!r} is not a level (one of: {', '.join(LEVELS)})")
        levels[key] = str(value)
    return levels


def _waivers(where: str, entries: Any, checks: Collection[str]) -> tuple[Waiver, ...]:
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        _fail(where, "waiver", "must be an array of tables ([[waiver]])")
    waivers: list[Waiver] = []
    for number, entry in enumerate(entries, 1):
        name = f"waiver {number}"
        for key in entry:
            if key not in WAIVER_KEYS:
                _fail(where, f"{name}.{key}", f"unknown key (a waiver has {', '.join(WAIVER_KEYS)})")
        for key in WAIVER_KEYS:
            if key not in entry:
                _fail(where, name, f"missing {key} (a waiver has {', '.join(WAIVER_KEYS)})")
        ident = _known(where, f"{name}.id", entry["id"], checks)
        reason, expires = entry["reason"], entry["expires"]
        if not isinstance(reason, str) or not reason.strip():
            _fail(where, f"{name}.reason", "must say why (a non-empty string)")
        if isinstance(expires, datetime) or not isinstance(expires, date):
            _fail(where, f"{name}.expires", f"{expires!r} is not a date (write it as 2025-09-30, unquoted)")
        if any(waiver.id == ident for waiver in waivers):
            _fail(where, f"{name}.id", f"{ident} is waived twice")
        waivers.append(Waiver(ident, reason.strip(), expires))
    return tuple(waivers)
