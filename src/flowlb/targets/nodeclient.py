"""A client for the mock Flow node's control API (health state, counters, reset)."""

from __future__ import annotations

from typing import Any, cast

import requests

from flowlb.errors import TargetError
from flowlb.node_contract import Counters, HealthState


class MockNodeClient:
    """Talks to one mock node's control port; never routed through the LB."""

    def __init__(self, name: str, host: str, port: int, timeout: float = 5.0) -> None:
        self.name = name
        self.base = f"http://{host}:{port}"
        self.timeout = timeout
        self.session = requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.session.request(method, self.base + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise TargetError(f"mock node {self.name}: control API at {self.base} does not answer: {exc}") from None
        if response.status_code != 200:
            raise TargetError(f"mock node {self.name}: {method} {path} gave {response.status_code}: {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def ready(self) -> bool:
        try:
            return bool(self._call("GET", "/ready").get("ready"))
        except TargetError:
            return False

    def set_health(self, state: HealthState, delay_ms: int = 0) -> None:
        self._call("PUT", "/health", json={"state": HealthState(state).value, "delay_ms": delay_ms})

    def counters(self) -> Counters:
        return cast(Counters, self._call("GET", "/counters"))

    def reset(self) -> None:
        self._call("POST", "/reset")

    def close(self) -> None:
        self.session.close()
