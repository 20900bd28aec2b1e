"""One-mistake configs: a careful config with one line changed (``fixtures/one-mistake/mutations.toml``).

Each mutation names its base, the change, the rule of the cause that must come first and the line it
must name; what fails is a recorded run of the suite (``recorded/<name>.json``) or, where none is
recorded, the mutation's own ``fails`` list::

    for mistake in mistakes():
        text, line = mistake.apply()
        results = mistake.outcomes()
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from flowlb.causes import CheckOutcome, outcomes_from_summary
from tests.support.suite import REPO

FOLDER = REPO / "fixtures" / "one-mistake"


@dataclass(frozen=True)
class Mistake:
    name: str
    base: str
    old: str
    new: str
    cause: str
    at: str = ""
    fails: tuple[str, ...] = ()
    like: str = ""
    unexplained: tuple[str, ...] = ()
    seen: bool = True

    def base_text(self) -> str:
        return (REPO / self.base).read_text(encoding="utf-8")

    def apply(self) -> tuple[str, int]:
        """The mutated config and the number of the line its cause must name."""
        base = self.base_text()
        assert base.count(self.old) == 1, f"{self.name}: `old` occurs {base.count(self.old)} times in {self.base}"
        text = base.replace(self.old, self.new)
        at = self.at or self.new.split("\n", 1)[0]
        assert at and text.count(at) == 1, f"{self.name}: `at` occurs {text.count(at)} times in the mutated file"
        return text, text[: text.index(at) + len(at)].count("\n") + 1  # the last line of `at`

    @property
    def recorded(self) -> Path:
        return FOLDER / "recorded" / f"{self.name}.json"

    def base_failures(self) -> set[str]:
        """What the base itself fails in a recorded run (``recorded/<prefix>-base.json``); none when not recorded."""
        path = FOLDER / "recorded" / f"{self.name.split('-', 1)[0]}-base.json"
        return {r.check for r in recorded(path) if r.failed} if path.exists() else set()

    def outcomes(self) -> tuple[list[CheckOutcome], bool]:
        """The run's outcomes (recorded, ``True``); else those of the recorded run of the same mistake on
        another base (``like``), or the synthetic failures of ``fails`` (``False``)."""
        if self.recorded.exists():
            return recorded(self.recorded), True
        if self.like:  # what that base fails by itself is no failure of this mistake
            source = next(mistake for mistake in mistakes() if mistake.name == self.like)
            own = source.base_failures()
            return [CheckOutcome(r.check, "passed") if r.check in own else r for r in recorded(source.recorded)], False
        return [CheckOutcome(check, "failed", "synthetic") for check in self.fails], False


def recorded(path: Path) -> list[CheckOutcome]:
    return outcomes_from_summary(json.loads(path.read_text(encoding="utf-8")))


def mistakes() -> list[Mistake]:
    raw = tomllib.loads((FOLDER / "mutations.toml").read_text(encoding="utf-8"))["mutation"]
    return [Mistake(**{**entry, "fails": tuple(entry.get("fails", ())),
                       "unexplained": tuple(entry.get("unexplained", ()))}) for entry in raw]


def record(summary: Path, name: str) -> Path:
    """Keep what the tests read of a run's ``summary.json`` (each test's check, outcome and message) as
    ``recorded/<name>.json``."""
    run = json.loads(summary.read_text(encoding="utf-8"))
    kept = {
        "run": {key: run["run"].get(key, "") for key in ("target", "config", "haproxy")},
        "counts": run["counts"],
        "checks": [{"check_id": row["check_id"], "nodeid": row["nodeid"], "outcome": row["outcome"],
                    "message": row["message"][:600]} for row in run["checks"]],
    }
    path = FOLDER / "recorded" / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(kept, indent=1) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":  # python -m tests.support.one_mistake NAME REPORT_DIR/latest/summary.json
    import sys

    print(record(Path(sys.argv[2]), sys.argv[1]))
