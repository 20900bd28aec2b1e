"""Suppressions written in the config itself: ``# flowlb: ignore FLOW033 -- why this finding is accepted``.

A suppression is an HAProxy comment (an unquoted ``#``, which HAProxy and flowlb's parser skip). It
applies to the line it ends, or, alone on its line, to the directive right below it (several such
comment lines may stack above one directive). It names one or more rules, separated by commas or
blanks, and must say why after ``--``::

    # flowlb: ignore FLOW033 -- the API clients retry themselves (ticket OPS-123)
    backend commander-server-backend
      retries 3  # flowlb: ignore FLOW015, FLOW033 -- same reason

A suppressed finding is still reported, as suppressed and with its reason, but no longer counts for the
exit code. A suppression without a reason is itself a core finding (``FLOW900``) and suppresses
nothing; one that names no rule flowlb has, or cannot apply, is ``FLOW901``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from flowlb.haproxy.config import HAProxyConfig, Line
from flowlb.lint import ruleset
from flowlb.lint.rules import Finding

NO_REASON = "FLOW900"
CANNOT_APPLY = "FLOW901"
UNSUPPRESSIBLE = (NO_REASON, CANNOT_APPLY)
"""A suppression cannot hide what is wrong with suppressions themselves."""

_DIRECTIVE = re.compile(r"^\s*flowlb:\s*ignore\b(?P<rest>.*)$", re.IGNORECASE)
_RULE_ID = re.compile(r"^FLOW\d{3}$")
_EXAMPLE = "`# flowlb: ignore FLOW033 -- the clients retry themselves`"


@dataclass(frozen=True)
class Suppression:
    """One ``# flowlb: ignore`` comment that applies: where it is, the line it covers, its rules and reason."""

    line: int
    target: int  # the line it covers; -1: every line (a policy file's waiver)
    rules: tuple[str, ...]
    reason: str
    waiver: str = ""  # where a policy file's waiver says so ("waived by policy.toml until 2027-01-31"); "": a comment

    def covers(self, finding: Finding) -> bool:
        return finding.rule in self.rules and self.target in (-1, finding.line)

    def describe(self) -> str:
        """Where it comes from, in words: ``suppressed at line 12`` or the waiver's own words."""
        return self.waiver or f"suppressed at line {self.line}"


def comment(line: Line) -> str | None:
    """The text after the line's comment sign (HAProxy's unquoted ``#``), or ``None`` without a comment."""
    start = line.tokens[-1].end if line.tokens else 0
    at = line.body.find("#", start)
    return line.body[at + 1 :] if at >= 0 else None


def read(config: HAProxyConfig) -> tuple[list[Suppression], list[Finding]]:
    """The suppressions that apply, and a finding for each one that is malformed or cannot apply."""
    found: list[Suppression] = []
    problems: list[Finding] = []
    for index, line in enumerate(config.lines):
        text = comment(line)
        match = _DIRECTIVE.match(text) if text is not None else None
        if text is None or match is None:
            continue
        names, _, reason = match["rest"].partition("--")
        written = f"`#{text.rstrip()}`"
        rules = [word.upper() for word in re.split(r"[,\s]+", names) if word]
        target = line.number if line.tokens else _directive_below(config.lines, index)
        usable = _usable(rules, written, line.number, target, problems)
        if not reason.strip():
            problems.append(Finding(NO_REASON, line.number, f"{written} gives no reason",
                                    "a suppression hides a finding from every later reader and from CI; without a "
                                    "reason nobody can tell a reviewed exception from a silenced problem, so it "
                                    "suppresses nothing", f"say why after `--`: {_EXAMPLE}"))
        elif usable and target is not None:
            found.append(Suppression(line.number, target, tuple(usable), reason.strip()))
    return found, problems


def _usable(rules: list[str], written: str, number: int, target: int | None, problems: list[Finding]) -> list[str]:
    """The rules of one suppression that can be suppressed; a ``FLOW901`` finding for each that cannot."""
    why = "it suppresses nothing: the finding it was meant for, if any, still counts"
    if not rules:
        problems.append(Finding(CANNOT_APPLY, number, f"{written} names no rule", why,
                                f"name the rule as `flowlb lint` prints it: {_EXAMPLE}"))
        return []
    if target is None:
        problems.append(Finding(CANNOT_APPLY, number, f"{written} is above no directive", why,
                                "put it at the end of the finding's line, or alone on the line right above it"))
        return []
    usable = []
    for rule in rules:
        if not _RULE_ID.match(rule) or not ruleset.known(rule):
            problems.append(Finding(CANNOT_APPLY, number, f"{written} names {rule}, which is no lint rule", why,
                                    f"name the rule as `flowlb lint` prints it: {_EXAMPLE}"))
        elif rule in UNSUPPRESSIBLE:
            problems.append(Finding(CANNOT_APPLY, number, f"{written} names {rule}, which cannot be suppressed",
                                    why, f"fix the suppression that {rule} names instead"))
        else:
            usable.append(rule)
    return usable


def _directive_below(lines: Sequence[Line], index: int) -> int | None:
    """The line of the first directive below ``lines[index]``, across comment lines only (not blank lines)."""
    for line in lines[index + 1 :]:
        if line.tokens:
            return line.number
        if not line.body.strip().startswith("#"):
            return None
    return None
