"""What ``flowlb load`` is asked to run, checked before anything starts: Locust's knobs, the Flow mix, a failover
or a capacity search. Light to import, so the CLI reads its defaults here (:mod:`flowlb.load.runner` runs it)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flowlb import paths
from flowlb.errors import FlowlbError
from flowlb.load import searchoptions
from flowlb.load.credentials import LoadLogin
from flowlb.load.options import parse_weights
from flowlb.load.paths import PATHS

DEFAULT_LOCUSTFILE = paths.folder("loadtests") / "flow.py"
CAPACITY_LOCUSTFILE = paths.folder("loadtests") / "capacity.py"
MAX_RUN_TIME_S = 4 * 3600  # every load loop is bounded


def parse_duration(text: str) -> float:
    """Locust's run-time syntax (``90``, ``30s``, ``5m``, ``1h30m``) in seconds; bad text raises FlowlbError."""
    match = re.fullmatch(r"\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s?)?\s*", text)
    if not text.strip() or match is None:
        raise FlowlbError(f"--run-time {text!r} is not a duration like 30s, 5m or 1h30m")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = float(hours * 3600 + minutes * 60 + seconds)
    if not 0 < total <= MAX_RUN_TIME_S:
        raise FlowlbError(f"--run-time {text!r} must be between 1 s and {MAX_RUN_TIME_S // 3600} h")
    return total


@dataclass
class LoadPlan:
    """What to run: Locust's knobs plus the Flow mix and an optional failover."""

    run_time: str = "30s"
    users: int = 20
    spawn_rate: float = 20.0
    mix: str = ""
    processes: int = 0
    failover: str = ""  # "", "kill" or "hang"
    failover_after: float | None = None  # seconds of load before the failure; default a third of the run
    locustfile: Path = DEFAULT_LOCUSTFILE
    extra: list[str] = field(default_factory=list)
    search: CapacitySearch | None = None  # --find-capacity: a stepped search instead of a fixed load
    login: LoadLogin = field(default_factory=LoadLogin)  # --flow-user, --flow-password-file, --allow-writes
    arrival_rate: float = 0.0  # --arrival-rate: an open model at this many requests per second (flowlb.load.openmodel)
    baseline: Path | None = None  # --baseline: an earlier load report to compare p99 and errors with
    rate_step: float = 0.0  # --find-capacity --arrival-rate: req/s added per step (default: the first rate)
    max_rate: float = 0.0  # ... and where the rate search ends (default: 20 times the first rate)

    def seconds(self) -> float:
        if self.search is not None:
            return self.search.most_seconds()
        return parse_duration(self.run_time)


@dataclass
class CapacitySearch:
    """``--find-capacity``: the steps of users (``searchoptions``) and the SLO each step is judged by."""

    step_users: int = searchoptions.DEFAULTS["step_users"]
    step_seconds: int = searchoptions.DEFAULTS["step_seconds"]
    max_users: int = searchoptions.DEFAULTS["max_users"]
    slo_p95_ms: str = ""

    def steps_asked(self) -> dict[str, int]:
        """The stepping options' values, by their names in ``searchoptions``."""
        return {name: value for name, value in asdict(self).items() if name in searchoptions.DEFAULTS}

    def validate(self) -> None:
        try:
            searchoptions.check(self.steps_asked(), lambda option: option.flag)
            parse_weights(self.slo_p95_ms, PATHS, "--slo-p95-ms")
        except ValueError as exc:
            raise FlowlbError(str(exc)) from None
        if self.most_seconds() > MAX_RUN_TIME_S:
            raise FlowlbError(f"the search could take {self.most_seconds():.0f} s, over {MAX_RUN_TIME_S // 3600} h: "
                              "take bigger steps or fewer users")

    def steps(self) -> int:
        return self.max_users // self.step_users

    def most_seconds(self) -> float:
        """A bound on the whole search: every step ramping (spawn, settle, report lag) and measured."""
        return float(self.steps() * (self.step_seconds + 15))

    def environment(self, output: Path) -> dict[str, str]:
        return {
            **searchoptions.environment(self.steps_asked()),
            "FLOWLB_CAPACITY_FILE": str(output),
            **({"FLOWLB_SLO_P95_MS": self.slo_p95_ms} if self.slo_p95_ms else {}),
        }
