"""Login on a mock node, shaped like CloudBees CD/RO's REST sessions API, so load runs can be tested with it.

A real Flow server answers ``POST /rest/v1.0/sessions`` with ``{"userName": ..., "password": ...}``
by a JSON document carrying ``sessionId`` (and ``userName``); later calls carry the session in the
``session`` cookie, whose value is the URL-encoded JSON ``{"username": ..., "sessionId": ...}``
(the shape CloudBees' own GitHub action builds). Without a session the REST API answers 401.

With :class:`LoginConfig` the node does the same: the health URL stays open (HAProxy's checks carry
no session), the sessions endpoint takes the configured user and password, everything else under
``/rest/`` and ``/commanderRequest`` wants the cookie. A session id is signed with a key derived
from the user and password, so every node configured alike accepts the others' sessions, as the
nodes of a real cluster share theirs. Without :class:`LoginConfig` the sessions endpoint still
answers, for any user, and nothing needs a session.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import quote, unquote

from .httpparse import HttpRequest
from .httpproto import HttpResponse

SESSIONS_PATH = "/rest/v1.0/sessions"
SESSION_COOKIE = "session"
PROTECTED_PREFIXES = ("/rest/", "/commanderRequest")


@dataclass(frozen=True)
class LoginConfig:
    """The one user a node accepts; ``password`` never appears in its repr."""

    user: str
    password: str = field(repr=False)
    session_seconds: float = 0.0
    """How long a session lasts (0: for ever), so clients that renew an expired session can be tested."""

    def key(self) -> bytes:
        return hashlib.sha256(f"flowlb-mocknode\0{self.user}\0{self.password}".encode()).digest()


def new_session_id(key: bytes) -> str:
    """A fresh session id any node with the same key accepts: its issue time and a nonce, signed."""
    nonce = f"{time.time():.3f}-{secrets.token_hex(8)}"
    return f"{nonce}.{_signature(key, nonce)}"


def _signature(key: bytes, nonce: str) -> str:
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()[:24]


def session_valid(key: bytes, session_id: str, lifetime_s: float = 0.0) -> bool:
    """The id is one of ours (signed with ``key``) and, with a ``lifetime_s``, no older than that."""
    nonce, _, signature = session_id.rpartition(".")
    if not nonce or not hmac.compare_digest(signature, _signature(key, nonce)):
        return False
    if lifetime_s <= 0:
        return True
    try:
        issued = float(nonce.split("-", 1)[0])
    except ValueError:
        return False
    return time.time() - issued <= lifetime_s


def cookie_value(user: str, session_id: str) -> str:
    """The ``session`` cookie's value: URL-encoded JSON naming the user and the session."""
    return quote(json.dumps({"username": user, "sessionId": session_id}, separators=(",", ":")), safe="")


def session_of(request: HttpRequest) -> str:
    """The session id the request's ``session`` cookie carries, or ``""``."""
    header = request.header("Cookie")
    if not header:
        return ""
    try:
        jar = SimpleCookie(header)
    except CookieError:
        return ""
    morsel = jar.get(SESSION_COOKIE)
    if morsel is None:
        return ""
    try:
        document = json.loads(unquote(morsel.value))
    except ValueError:
        return ""
    session_id = document.get("sessionId") if isinstance(document, dict) else None
    return session_id if isinstance(session_id, str) else ""


def needs_session(path: str, health_path: str) -> bool:
    """Whether ``path`` is part of the REST API that wants a session (the health URL and the login do not)."""
    if path in (health_path, SESSIONS_PATH):
        return False
    return path.startswith(PROTECTED_PREFIXES)


class SessionsEndpoint:
    """``POST /rest/v1.0/sessions``: the login, with a random session key when no user is configured."""

    def __init__(self, config: LoginConfig | None) -> None:
        self.config = config
        self.key = config.key() if config is not None else secrets.token_bytes(32)

    def login(self, request: HttpRequest) -> tuple[HttpResponse, bool]:
        """The answer to a login, and whether it was accepted."""
        if request.method != "POST":
            return HttpResponse.json(405, {"error": f"{SESSIONS_PATH} takes POST, not {request.method}"}), False
        try:
            document = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("userName"), str):
            return HttpResponse.json(400, {"error": 'the body must be JSON {"userName": ..., "password": ...}'}), False
        user = document["userName"]
        password = document.get("password")
        if self.config is not None and not (
            hmac.compare_digest(user.encode(), self.config.user.encode())
            and isinstance(password, str)
            and hmac.compare_digest(password.encode(), self.config.password.encode())
        ):
            return HttpResponse.json(401, {"error": "invalid user name or password"}), False
        session_id = new_session_id(self.key)
        response = HttpResponse.json(200, {"sessionId": session_id, "userName": user})
        cookie = f"{SESSION_COOKIE}={cookie_value(user, session_id)}; Path=/; HttpOnly"
        response.extra_headers = (("Set-Cookie", cookie),)
        return response, True

    def admits(self, request: HttpRequest) -> bool:
        """Whether the request carries a session this node accepts (always, without a configured user)."""
        if self.config is None:
            return True
        return session_valid(self.key, session_of(request), self.config.session_seconds)


def unauthorized() -> HttpResponse:
    return HttpResponse.json(401, {"error": f"login required: POST {SESSIONS_PATH} first"})
