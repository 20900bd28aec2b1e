"""The mutant catalogue: realistic operator mistakes, each with the checks that must catch it.

A mutant is a TOML file in ``fixtures/mutants/``: a description, the check files that must fail,
and text edits applied to the hardened profile. A ``benign = true`` entry is a legitimate change
(leastconn vs roundrobin) that its checks must NOT flag (each ``old`` must occur exactly once, so a
mutant cannot silently stop applying when the profile changes)::

    description = "STOMP backend checked with a bare TCP connect"
    caught_by = ["stomp/test_follows_health.py"]
    [[edit]]
    old = "..."
    new = "..."
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from flowlb import paths
from flowlb.errors import FlowlbError
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.render import render
from flowlb.spec import ClusterSpec


@dataclass(frozen=True)
class Edit:
    old: str
    new: str


@dataclass(frozen=True)
class Mutant:
    """One broken config and the conformance check files that must catch it."""

    name: str
    description: str
    caught_by: tuple[str, ...]
    edits: tuple[Edit, ...]
    benign: bool = False  # a legitimate change: the checks in caught_by must all PASS
    lint: tuple[str, ...] = ()  # the `flowlb lint` rules that must flag it statically (none for a benign one)

    def apply(self, config: str) -> str:
        """The config with this mutant's edits; every ``old`` must occur exactly once."""
        for edit in self.edits:
            found = config.count(edit.old)
            if found != 1:
                raise FlowlbError(f"mutant {self.name}: {edit.old!r} occurs {found} times in the config, not once")
            config = config.replace(edit.old, edit.new)
        return config


def load_mutant(path: Path) -> Mutant:
    """Read one mutant file; errors name the file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        mutant = Mutant(
            name=path.stem,
            description=str(raw["description"]),
            caught_by=tuple(str(check) for check in raw["caught_by"]),
            edits=tuple(Edit(str(e["old"]), str(e["new"])) for e in raw["edit"]),
            benign=bool(raw.get("benign", False)),
            lint=tuple(str(rule) for rule in raw.get("lint", [])),
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise FlowlbError(f"mutant {path}: {type(exc).__name__}: {exc}") from None
    missing = [check for check in mutant.caught_by if not (paths.folder("conformance") / check).is_file()]
    if not mutant.caught_by or missing:
        raise FlowlbError(f"mutant {path}: caught_by names no check file or missing ones: {missing}")
    return mutant


def catalogue(directory: Path | None = None) -> list[Mutant]:
    """Every mutant, in file-name order."""
    return [load_mutant(path) for path in sorted((directory or paths.mutants()).glob("*.toml"))]


def mutated_config(mutant: Mutant, spec: ClusterSpec) -> str:
    """The hardened profile for ``spec``'s production layout, broken by ``mutant``."""
    return mutant.apply(render(spec, "hardened", Layout.for_spec(spec)))
