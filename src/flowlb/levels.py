"""How much a failed check or a lint finding weighs, and which verdicts fail a run (``--fail-on``).

Every check (``checks/catalogue.toml``) and every lint rule has a level, decided once with a reason:

- **core**: the LB does not load, is insecure, or loses traffic in normal operation or after a failure
  it detects;
- **recommended**: what CloudBees' own deployments and hardening add (in-flight retries, cookie affinity,
  server state across reloads, long timeouts, ``hard-stop-after``, upload size).

A run's verdict is ``fail`` when a core check failed, ``partial`` when none failed but a core check was
skipped (a live LB without a runtime API), else ``pass``; recommended failures are warnings beside it::

    verdict = run_verdict(core_failed=0, core_skipped=2)       # "partial"
    exit_code(verdict, warnings=3, fail_on={"core"})            # 0
    exit_code(verdict, warnings=3, fail_on={"recommended"})     # 1
"""

from __future__ import annotations

from collections.abc import Iterable

CORE = "core"
RECOMMENDED = "recommended"
LEVELS = (CORE, RECOMMENDED)

PASS, FAIL, PARTIAL = "pass", "fail", "partial"

FAIL_ON = (CORE, "partial", RECOMMENDED)
"""What ``--fail-on`` accepts: a core failure always fails; ``partial`` and ``recommended`` add to it."""


def run_verdict(core_failed: int, core_skipped: int) -> str:
    """``fail`` on any core failure, ``partial`` when core checks were skipped, else ``pass``."""
    if core_failed:
        return FAIL
    return PARTIAL if core_skipped else PASS


def exit_code(verdict: str, warnings: int, fail_on: Iterable[str] = (CORE,)) -> int:
    """1 when the run fails by ``fail_on`` (a core failure always does), else 0."""
    chosen = set(fail_on)
    if verdict == FAIL:
        return 1
    if verdict == PARTIAL and "partial" in chosen:
        return 1
    return 1 if warnings and RECOMMENDED in chosen else 0


def parse_fail_on(values: Iterable[str]) -> set[str]:
    """``--fail-on`` given once or more, or as a comma list: the set it names; ValueError names a wrong word."""
    chosen = {CORE}
    for value in values:
        for word in filter(None, (part.strip() for part in value.split(","))):
            if word not in FAIL_ON:
                raise ValueError(f"--fail-on {word!r}: choose from {', '.join(FAIL_ON)}")
            chosen.add(word)
    return chosen
