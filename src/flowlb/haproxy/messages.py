"""Turn HAProxy's own output (``haproxy -c`` or a failed start) into one line an operator can act on."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARSING = re.compile(r"parsing \[(?P<file>[^:\]]+):(?P<line>\d+)\]")
_LEVEL = re.compile(r"^\[(?P<level>ALERT|WARNING|NOTICE)\]\s*(\(\d+\))?\s*:\s*(?P<text>.*)$")
_NOISE = ("Error(s) found in configuration file", "Fatal errors found in configuration")


@dataclass(frozen=True)
class Diagnosis:
    """HAProxy's alerts and warnings, split out of its output."""

    alerts: tuple[str, ...]
    warnings: tuple[str, ...]

    @classmethod
    def parse(cls, output: str) -> Diagnosis:
        alerts: list[str] = []
        warnings: list[str] = []
        for raw in output.splitlines():
            match = _LEVEL.match(raw.strip())
            if not match:
                continue
            text = match["text"].removeprefix("config : ").strip()
            if match["level"] == "ALERT" and not any(noise in text for noise in _NOISE):
                alerts.append(text)
            elif match["level"] == "WARNING":
                warnings.append(text)
        return cls(tuple(alerts), tuple(warnings))


def one_line_error(output: str, config_text: str, what: str = "the config does not load") -> str:
    """``what: <HAProxy's first alert> (line N: <that line of the config>)``; never a traceback."""
    diagnosis = Diagnosis.parse(output)
    if not diagnosis.alerts:
        tail = " ".join(line.strip() for line in output.strip().splitlines()[-2:]) or "no output"
        return f"{what}: {tail}"
    alert = diagnosis.alerts[0]
    match = _PARSING.search(alert)
    if match:
        number = int(match["line"])
        lines = config_text.splitlines()
        if 0 < number <= len(lines):
            return f"{what}: {alert} (line {number}: `{lines[number - 1].strip()}`)"
    return f"{what}: {alert}"
