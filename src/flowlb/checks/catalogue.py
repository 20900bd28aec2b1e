"""The check catalogue: every conformance check, declared once, and what the rest of flowlb reads of it.

The report takes each check's title, what it guards and its fix from here; ``flowlb lint`` says which
checks show a finding live; the mutant sweep and the operator corpus test link mutants and lint rules
to checks through it; the README's table of checks is generated from it. It is the only text of a check: a
check's test file points at its entry and says nothing of its own (``tests/test_check_texts.py``)::

    check = by_file("redirect/test_redirect_drops_port_80.py")
    check.id, check.area, check.fix, check.lint, check.level
    check.roles                         # ("http",): the LB ports it uses, by role
    checks_showing("FLOW011")           # the checks a FLOW011 finding makes fail
    checks_using("stomp")               # the checks a broken 61613 makes fail
    print(markdown_table())             # the README's table of checks
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Check:
    """One conformance check: its id, file, area, title, what it guards, its fix, lint rules, level and finding.

    ``roles`` are the LB ports it sends traffic to, by role (``spec.LB_ROLES``); empty when it uses none.
    """

    id: str
    file: str
    title: str
    guards: str
    fix: str
    lint: tuple[str, ...]
    level: str
    level_reason: str
    finding: str = ""
    roles: tuple[str, ...] = ()

    @property
    def area(self) -> str:
        return self.file.split("/", 1)[0]


@cache
def checks() -> tuple[Check, ...]:
    """Every check, in catalogue order (area, then file)."""
    text = resources.files("flowlb.checks").joinpath("catalogue.toml").read_text(encoding="utf-8")
    return tuple(
        Check(entry["id"], entry["file"], entry["title"], entry["guards"], entry["fix"], tuple(entry["lint"]),
              entry["level"], entry["level_reason"], entry.get("finding", ""), tuple(entry["roles"]))
        for entry in tomllib.loads(text)["check"]
    )


def by_file(file: str) -> Check | None:
    """The check in ``file`` (relative to ``conformance/``, or a pytest node id starting with it)."""
    path = file.split("::", 1)[0].removeprefix("conformance/")
    return next((check for check in checks() if check.file == path), None)


def by_id(check_id: str) -> Check | None:
    """The check named ``check_id`` (``redirect/redirect_to_https``)."""
    return next((check for check in checks() if check.id == check_id), None)


def checks_showing(rule: str) -> list[Check]:
    """The checks that fail, live, for the cause a lint ``rule`` flags."""
    return [check for check in checks() if rule in check.lint]


def checks_using(role: str) -> list[Check]:
    """The checks that send traffic to the LB port of ``role`` (``https``, ``stomp``...)."""
    return [check for check in checks() if role in check.roles]


def markdown_table() -> str:
    """The README's table: one row per check, with its level, what it proves and the lint rules that see its cause."""
    rows = ["| check | level | proves | lint |", "| --- | --- | --- | --- |"]
    for check in checks():
        rules = ", ".join(check.lint) or "(live only)"
        rows.append(f"| `{check.id}` | {check.level} | {_short(check.title).rstrip('.')} | {rules} |")
    return "\n".join(rows)


def _short(title: str) -> str:
    """A title without its area prefix (``Redirect (80): ...`` -> ``...``)."""
    head, colon, rest = title.partition(": ")
    return rest if colon and len(head) < 40 else title


if __name__ == "__main__":
    print(markdown_table())
