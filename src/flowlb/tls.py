"""Certificates for a test run and the TLS client contexts the checks use.

A fresh CA and an LB certificate are made per run with ``trustme`` (a small, well-kept library
from the python-trio project, so that no certificate code is written by hand here)::

    material = make_certificates(Path(run_dir), ["flow-lb.test", "localhost"])
    ctx = client_context(material.ca_file)        # verifies the LB against the run's CA
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class CertificateFiles:
    """Where a run's TLS material lives: the CA clients trust and the PEM HAProxy serves."""

    ca_file: Path
    server_pem: Path
    names: tuple[str, ...]


def make_certificates(directory: Path, names: list[str] | tuple[str, ...]) -> CertificateFiles:
    """Create a CA and an RSA-2048 LB certificate whose SANs are ``names`` (plus 127.0.0.1).

    ``server.pem`` holds the certificate chain and the private key, as HAProxy's ``crt`` expects.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="flowlb test CA", key_type=trustme.KeyType.RSA)
    identities = list(dict.fromkeys([*names, "127.0.0.1"]))
    leaf = ca.issue_cert(*identities, key_type=trustme.KeyType.RSA)
    ca_file = directory / "ca.pem"
    server_pem = directory / "server.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    leaf.private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    server_pem.chmod(0o644)  # HAProxy in a container runs as another user and must read it
    return CertificateFiles(ca_file=ca_file, server_pem=server_pem, names=tuple(names))


def client_context(
    ca_file: Path,
    minimum: ssl.TLSVersion | None = None,
    maximum: ssl.TLSVersion | None = None,
) -> ssl.SSLContext:
    """A client context that verifies the peer's chain and name against ``ca_file``."""
    context = ssl.create_default_context(cafile=str(ca_file))
    if minimum is not None:
        context.minimum_version = minimum
    if maximum is not None:
        context.maximum_version = maximum
    return context


def legacy_client_context(version: ssl.TLSVersion, ca_file: Path | None = None) -> ssl.SSLContext:
    """A client that really offers only ``version`` (e.g. TLS 1.0), despite OpenSSL 3's own floor.

    OpenSSL 3 refuses TLS 1.0/1.1 on the client side at its default security level, so a check
    that "TLS 1.0 is refused" would pass for the wrong reason without ``@SECLEVEL=0``.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers("ALL:@SECLEVEL=0")
    context.minimum_version = version
    context.maximum_version = version
    if ca_file is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.load_verify_locations(cafile=str(ca_file))
    return context



def handshake(host: str, port: int, context: ssl.SSLContext, server_name: str | None, timeout: float = 5.0) -> str:
    """Complete a TLS handshake and return the negotiated version; raises ``ssl.SSLError``/``OSError``."""
    with (
        socket.create_connection((host, port), timeout=timeout) as sock,
        context.wrap_socket(sock, server_hostname=server_name) as tls,
    ):
        return str(tls.version())


def accepts_legacy_version(version: ssl.TLSVersion) -> bool:
    """Prove this machine's client can really negotiate ``version``, against a loopback server of our own.

    Without this, "the LB refuses TLS 1.0" could pass because the *client* never offered it.
    """
    ca = trustme.CA()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.set_ciphers("ALL:@SECLEVEL=0")
    server.minimum_version = server.maximum_version = version
    ca.issue_cert("127.0.0.1").configure_cert(server)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            listener.settimeout(5)
            try:
                conn, _ = listener.accept()
                with server.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            return handshake("127.0.0.1", port, legacy_client_context(version), None) == _NAMES[version]
        except (OSError, ssl.SSLError):
            return False
        finally:
            thread.join(5)


_NAMES = {ssl.TLSVersion.TLSv1: "TLSv1", ssl.TLSVersion.TLSv1_1: "TLSv1.1"}
