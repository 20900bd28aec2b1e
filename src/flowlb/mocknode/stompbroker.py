"""The node's in-memory STOMP destinations: who subscribes to what, and delivery of sent messages.

Messages are delivered to the subscribers present at the time of the SEND, on this node only, and
dropped when there are none: nothing is queued or redelivered.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Protocol

ACK_MODES = frozenset({"auto", "client", "client-individual"})


class MessageSink(Protocol):
    """A session that can receive MESSAGE frames."""

    def deliver(self, subscription: Subscription, message_id: str, headers: list[tuple[str, str]], body: bytes) -> None:
        """Sends one MESSAGE for ``subscription``."""
        ...


@dataclass(eq=False, slots=True)
class Subscription:
    """One SUBSCRIBE of one session; compared by identity."""

    sink: MessageSink
    id: str
    destination: str
    ack: str = "auto"


class StompBroker:
    """Destinations and id sequences of one node.

    Example::

        broker = StompBroker("node1")
        broker.subscribe(Subscription(session, "sub-0", "/queue/a"))
        broker.publish("/queue/a", [("content-type", "text/plain")], b"hello")
    """

    def __init__(self, node_name: str) -> None:
        self.node_name = node_name
        self._destinations: dict[str, dict[Subscription, None]] = {}
        self._message_ids = itertools.count(1)
        self._session_ids = itertools.count(1)

    def new_session_id(self) -> str:
        """A session id unique on this node, e.g. ``node1-session-7``."""
        return f"{self.node_name}-session-{next(self._session_ids)}"

    def subscribe(self, subscription: Subscription) -> None:
        """Starts delivering messages sent to the subscription's destination."""
        self._destinations.setdefault(subscription.destination, {})[subscription] = None

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stops delivering to ``subscription``; unknown subscriptions are ignored."""
        subscribers = self._destinations.get(subscription.destination)
        if subscribers is not None:
            subscribers.pop(subscription, None)
            if not subscribers:
                del self._destinations[subscription.destination]

    def publish(self, destination: str, headers: list[tuple[str, str]], body: bytes) -> int:
        """Delivers a message to every current subscriber and says how many there were."""
        subscribers = self._destinations.get(destination)
        if not subscribers:
            return 0
        message_id = f"{self.node_name}-message-{next(self._message_ids)}"
        for subscription in list(subscribers):
            subscription.sink.deliver(subscription, message_id, headers, body)
        return len(subscribers)
