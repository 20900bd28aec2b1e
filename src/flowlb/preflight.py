"""What each TLS port of the LB answers at the start of a run, so that a dead port fails its checks at once.

Plain STOMP on 61613 (a single missing ``ssl``) used to cost some twenty checks their own timeouts: each
waited 5-20 s for a TLS handshake or a CONNECTED that never came. One probe per TLS role, all at once and
each bounded, now says whether the port completes a TLS handshake and, for 61613, gives a STOMP session.
A check marked ``needs_role`` fails at set-up, naming the probe's finding, instead of waiting::

    states = probe(endpoints, ca_file, vhost)        # a few ms on a healthy LB, at most STOMP_WITHIN_S
    why_dead(states, "stomp", SESSION)                # "" when 61613 gave a STOMP session over TLS

The smoke check (``smoke/every_port_answers``) reports the same finding as its own failure.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from flowlb.errors import FlowlbError
from flowlb.net import Endpoint
from flowlb.spec import TLS_ROLES, LBPorts
from flowlb.stompclient import StompError, StompSession, open_session
from flowlb.targets.base import Endpoints
from flowlb.tls import handshake

TLS = "tls"
SESSION = "session"
LAYERS = (TLS, SESSION)
"""What a check can need of a port: a completed TLS handshake, or (61613) a STOMP session over it."""

HANDSHAKE_WITHIN_S = 5.0  # as long as a TLS check waits for one handshake
STOMP_WITHIN_S = 10.0  # as long as a check waits for CONNECTED (StompSession's timeout)



@dataclass(frozen=True)
class RoleState:
    """One TLS role at the start of the run: why it completed no TLS handshake, why it gave no STOMP
    session (61613 only); "" for what worked."""

    role: str
    port: int
    tls: str = ""
    session: str = ""

    def why(self, layer: str) -> str:
        usual = LBPorts().by_role().get(self.role, self.role)  # the port an operator knows it by
        where = f"the LB's {usual} port ({self.role}, reached at port {self.port})"
        if self.tls:
            return f"{where} completed no TLS handshake at the start of the run: {self.tls}"
        if layer == SESSION and self.session:
            return f"{where} gave no STOMP session over TLS at the start of the run: {self.session}"
        return ""


def probe(endpoints: Endpoints, ca_file: Path | None, vhost: str | None = None,
          open_stomp: Callable[..., StompSession] = open_session,
          handshake_within: float = HANDSHAKE_WITHIN_S) -> dict[str, RoleState]:
    """Probe every TLS role at once: a handshake (certificate not judged here), and a STOMP session on 61613."""
    ports = endpoints.by_role()

    def one(role: str) -> RoleState:
        endpoint = ports[role]
        tls = _handshake_fails(endpoint.host, endpoint.port, endpoints.server_name, handshake_within)
        session = ""
        if role == "stomp" and not tls:
            session = _session_fails(endpoint, ca_file, vhost, endpoints.server_name, open_stomp)
        return RoleState(role, endpoint.port, tls, session)

    roles = [role for role in TLS_ROLES if role in ports]
    with ThreadPoolExecutor(max_workers=max(1, len(roles))) as pool:
        return dict(zip(roles, pool.map(one, roles), strict=True))


def why_dead(states: Mapping[str, RoleState], role: str, layer: str) -> str:
    """Why a check needing ``layer`` on ``role`` cannot run; "" when it can (or the role was not probed)."""
    state = states.get(role)
    return state.why(layer) if state is not None else ""


def _handshake_fails(host: str, port: int, server_name: str, within: float) -> str:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # whether TLS ends here at all; tls/ checks judge the certificate
    try:
        handshake(host, port, context, server_name, timeout=within)
    except TimeoutError:
        return f"no answer to a TLS ClientHello within {within:g} s (is `ssl crt` missing on its bind?)"
    except (ssl.SSLError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def _session_fails(endpoint: Endpoint, ca_file: Path | None, vhost: str | None, server_name: str,
                   open_stomp: Callable[..., StompSession]) -> str:
    try:
        open_stomp(endpoint, ca_file, vhost=vhost, timeout=STOMP_WITHIN_S, server_name=server_name).close()
    except (StompError, FlowlbError, OSError) as exc:
        return str(exc)
    return ""
