"""One STOMP session on the node's STOMP port: CONNECT, SEND, SUBSCRIBE and the rest.

Anything malformed gets an ERROR frame with a ``message`` header and the connection is closed;
other sessions carry on.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable

from .login import LoginConfig
from .state import NodeState
from .stompbroker import ACK_MODES, StompBroker, Subscription
from .stompframe import HEARTBEAT, Frame, FrameDecoder, FrameError, encode_frame, escape_header
from .stompheartbeat import HeartbeatTimers, negotiate, parse_heartbeat

SUPPORTED_VERSIONS = ("1.2", "1.1", "1.0")
"""Best first."""
RESERVED_MESSAGE_HEADERS = frozenset(
    {"destination", "message-id", "subscription", "ack", "receipt", "transaction", "content-length", "content-type"}
)
"""SEND headers that are not copied into MESSAGE as custom headers."""


class StompProtocolError(Exception):
    """A well-formed frame that breaks the protocol: ERROR, then close."""


class StompSession(asyncio.Protocol):
    """One client connection on the STOMP port.

    Example::

        await loop.create_server(lambda: StompSession(state, broker, (10000, 10000)), sock=sock)
    """

    def __init__(
        self,
        state: NodeState,
        broker: StompBroker,
        heartbeat: tuple[int, int],
        registry: set[StompSession] | None = None,
        login: LoginConfig | None = None,
    ) -> None:
        self._state = state
        self._login = login
        self._counters = state.stomp
        self._broker = broker
        self._heartbeat = heartbeat
        self._registry = registry
        self._loop = asyncio.get_running_loop()
        self._decoder = FrameDecoder()
        self._transport: asyncio.Transport | None = None
        self._batch: list[bytes] | None = None
        self._timers: HeartbeatTimers | None = None
        self._connected = False
        self._closing = False
        self._escape = False
        self._subscriptions: dict[str, Subscription] = {}
        self.version = ""
        """The negotiated protocol version, once connected."""
        self._commands: dict[str, Callable[[Frame, dict[str, str]], None]] = {
            "SEND": self._on_send,
            "SUBSCRIBE": self._on_subscribe,
            "UNSUBSCRIBE": self._on_unsubscribe,
            "ACK": self._on_ack,
            "NACK": self._on_ack,
            "BEGIN": self._on_transaction,
            "COMMIT": self._on_transaction,
            "ABORT": self._on_transaction,
            "DISCONNECT": self._on_disconnect,
        }

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._counters.connections += 1
        if self._registry is not None:
            self._registry.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self._registry is not None:
            self._registry.discard(self)
        if self._timers is not None:
            self._timers.cancel()
        for subscription in self._subscriptions.values():
            self._broker.unsubscribe(subscription)
        self._subscriptions.clear()
        if self._connected:
            self._connected = False
            self._counters.sessions_open -= 1

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        if self._timers is not None:
            self._timers.received()
        decoder = self._decoder
        decoder.feed(data)
        self._batch = []
        frame: Frame | None = None
        try:
            while not self._closing:
                item = decoder.next_item()
                if item is None:
                    break
                if item is HEARTBEAT:
                    continue
                assert isinstance(item, Frame)
                frame = item
                self._on_frame(frame)
        except FrameError as error:
            self._fail(str(error), None)
        except StompProtocolError as error:
            self._fail(str(error), frame)
        finally:
            self._flush()

    def pause_writing(self) -> None:
        if self._transport is not None and not self._closing:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._closing:
            self._transport.resume_reading()

    # Delivery, called by the broker

    def deliver(self, subscription: Subscription, message_id: str, headers: list[tuple[str, str]], body: bytes) -> None:
        """Sends one MESSAGE to this session."""
        if self._closing:
            return
        message_headers = [
            ("destination", subscription.destination),
            ("message-id", message_id),
            ("subscription", subscription.id),
        ]
        if subscription.ack != "auto":
            message_headers.append(("ack", message_id))
        message_headers.append(("content-length", str(len(body))))
        message_headers.extend(headers)
        self._send(encode_frame("MESSAGE", message_headers, body, self._escape))

    def close(self) -> None:
        """Closes the connection without a frame, as when the node shuts down."""
        self._closing = True
        if self._transport is not None:
            self._transport.close()

    # Frames

    def _on_frame(self, frame: Frame) -> None:
        command = frame.command
        headers = frame.header_map()
        if command in ("CONNECT", "STOMP"):
            self._counters.count_received(command)
            if self._connected:
                raise StompProtocolError(f"{command} on a session that is already connected")
            self._on_connect(frame, headers)
            return
        action = self._commands.get(command)
        self._counters.count_received(command if action is not None else "(unknown)")
        if action is None:
            raise StompProtocolError(f"unknown command {command!r}")
        if not self._connected:
            raise StompProtocolError(f"{command} before CONNECT; send CONNECT or STOMP first")
        action(frame, headers)
        receipt = headers.get("receipt")
        if receipt is not None:
            self._send(b"RECEIPT\nreceipt-id:%s\n\n\x00" % self._header_text(receipt).encode())
        if command == "DISCONNECT":
            self._closing = True

    def _on_connect(self, frame: Frame, headers: dict[str, str]) -> None:
        offered = [version.strip() for version in headers.get("accept-version", "1.0").split(",")]
        version = next((candidate for candidate in SUPPORTED_VERSIONS if candidate in offered), None)
        if version is None:
            self._fail(
                f"no common protocol version: client accepts {','.join(offered)}",
                frame,
                [("version", ",".join(SUPPORTED_VERSIONS))],
            )
            return
        try:
            client_heartbeat = parse_heartbeat(headers.get("heart-beat", "0,0"))
        except ValueError as error:
            raise StompProtocolError(str(error)) from None
        if self._login is not None and not _credentials_match(self._login, headers):
            self._fail(f"login refused for user {headers.get('login', '')!r}: wrong login or passcode", frame)
            return
        self.version = version
        self._escape = version != "1.0"
        self._decoder.unescape = self._escape
        self._connected = True
        self._counters.sessions_open += 1
        self._counters.sessions_total += 1
        sx, sy = self._heartbeat
        connected = [
            ("version", version),
            ("server", f"flowlb-mocknode/{self._state.name}"),
            ("session", self._broker.new_session_id()),
            ("heart-beat", f"{sx},{sy}"),
        ]
        self._send(encode_frame("CONNECTED", connected, b"", escape=False))
        send_ms, expect_ms = negotiate(self._heartbeat, client_heartbeat)
        if send_ms or expect_ms:
            self._timers = HeartbeatTimers(self._loop, send_ms, expect_ms, self._send_eol, self._on_silence)

    def _on_send(self, frame: Frame, headers: dict[str, str]) -> None:
        destination = _required(frame, headers, "destination")
        forwarded = [(name, value) for name, value in headers.items() if name not in RESERVED_MESSAGE_HEADERS]
        content_type = headers.get("content-type")
        if content_type is not None:
            forwarded.insert(0, ("content-type", content_type))
        self._broker.publish(destination, forwarded, frame.body)

    def _on_subscribe(self, frame: Frame, headers: dict[str, str]) -> None:
        destination = _required(frame, headers, "destination")
        subscription_id = headers.get("id") if self.version != "1.0" else headers.get("id", destination)
        if subscription_id is None:
            raise StompProtocolError("SUBSCRIBE needs an 'id' header")
        ack = headers.get("ack", "auto")
        if ack not in ACK_MODES:
            raise StompProtocolError(f"SUBSCRIBE ack must be one of {', '.join(sorted(ACK_MODES))}, not {ack!r}")
        if subscription_id in self._subscriptions:
            raise StompProtocolError(f"subscription id {subscription_id!r} is already in use on this session")
        subscription = Subscription(self, subscription_id, destination, ack)
        self._subscriptions[subscription_id] = subscription
        self._broker.subscribe(subscription)

    def _on_unsubscribe(self, frame: Frame, headers: dict[str, str]) -> None:
        subscription_id = headers.get("id") if self.version != "1.0" else headers.get("id", headers.get("destination"))
        if subscription_id is None:
            raise StompProtocolError("UNSUBSCRIBE needs an 'id' header")
        subscription = self._subscriptions.pop(subscription_id, None)
        if subscription is not None:
            self._broker.unsubscribe(subscription)

    def _on_ack(self, frame: Frame, headers: dict[str, str]) -> None:
        if "id" not in headers and "message-id" not in headers:
            raise StompProtocolError(f"{frame.command} needs an 'id' (1.2) or 'message-id' (1.0, 1.1) header")

    def _on_transaction(self, frame: Frame, headers: dict[str, str]) -> None:
        _required(frame, headers, "transaction")

    def _on_disconnect(self, frame: Frame, headers: dict[str, str]) -> None:
        pass  # the receipt, if asked for, is sent; then the connection is closed

    # Output

    def _fail(self, message: str, frame: Frame | None, extra: list[tuple[str, str]] | None = None) -> None:
        """Sends ERROR (with the offending frame's receipt, if any) and closes the connection."""
        headers = [("message", message.replace("\n", " ")), ("content-type", "text/plain")]
        headers.extend(extra or [])
        receipt = frame.header("receipt") if frame is not None else None
        if receipt is not None:
            headers.append(("receipt-id", receipt))
        body = message.encode()
        if frame is not None:
            body += b"\n\nThe offending frame was " + frame.command.encode()
        self._counters.errors += 1
        self._send(encode_frame("ERROR", headers, body, self._escape))
        self._closing = True

    def _header_text(self, text: str) -> str:
        return escape_header(text) if self._escape else text

    def _send(self, data: bytes) -> None:
        self._counters.frames_sent += 1
        self._write(data)

    def _send_eol(self) -> None:
        self._write(b"\n")

    def _write(self, data: bytes) -> None:
        if self._batch is not None:
            self._batch.append(data)
        elif self._transport is not None:
            self._transport.write(data)
            if self._timers is not None:
                self._timers.wrote()

    def _flush(self) -> None:
        batch, self._batch = self._batch, None
        if batch and self._transport is not None:
            self._transport.write(b"".join(batch) if len(batch) > 1 else batch[0])
            if self._timers is not None:
                self._timers.wrote()
        if self._closing and self._transport is not None:
            self._transport.close()

    def _on_silence(self) -> None:
        self._fail("no data or heart-beat from the client within twice the negotiated interval", None)
        self._flush()


def _credentials_match(login: LoginConfig, headers: dict[str, str]) -> bool:
    """CONNECT's ``login`` and ``passcode`` headers are the node's user and password."""
    return hmac.compare_digest(headers.get("login", "").encode(), login.user.encode()) and hmac.compare_digest(
        headers.get("passcode", "").encode(), login.password.encode()
    )


def _required(frame: Frame, headers: dict[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        raise StompProtocolError(f"{frame.command} needs a '{name}' header")
    return value
