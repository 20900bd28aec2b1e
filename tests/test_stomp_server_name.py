"""STOMP sessions verify the LB's certificate against its name (``--lb-name``), not the address dialled.

stomp.py verifies against the host it dials. A live LB reached by address with a certificate for its name
passed every HTTP check (they verify against the name) and failed every STOMP check. Fails when the context
stomp.py uses ignores :func:`flowlb.stomptls.verify_as`, or when it stops verifying altogether.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from flowlb import stomptls


@pytest.fixture
def named_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A TLS server on 127.0.0.1 whose certificate names only flow-lb.test; its port and CA file."""
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("flow-lb.test").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1], ca_file
    listener.close()
    stomptls.SERVER_NAMES.pop("127.0.0.1", None)


def _handshake_as_stomp_does(port: int, ca_file: Path) -> None:
    """What stomp.py's transport does: a context from its ``ssl``, wrapped with the dialled host."""
    context = stomptls._SSLForStomp("ssl").SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(ca_file))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock, \
            context.wrap_socket(sock, server_hostname="127.0.0.1"):
        pass


def test_the_dialled_address_does_not_verify_a_certificate_for_the_name(named_server: tuple[int, Path]) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake_as_stomp_does(*named_server)


def test_verify_as_makes_the_session_verify_against_the_lb_name(named_server: tuple[int, Path]) -> None:
    stomptls.verify_as("127.0.0.1", "flow-lb.test")
    _handshake_as_stomp_does(*named_server)


def test_a_wrong_name_still_fails(named_server: tuple[int, Path]) -> None:
    stomptls.verify_as("127.0.0.1", "other.test")
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake_as_stomp_does(*named_server)
