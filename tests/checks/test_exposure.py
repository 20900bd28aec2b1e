"""What an LB shows beyond Flow's ports: which ports accept, and whether one serves a status page without a password.

Judged against tiny loopback servers (plain and TLS) with canned answers, and ports that refuse. Fails when a
refused port counts as open, a status page behind a 401 or under a URI not tried counts as served, an ordinary
200 page counts as a status page, or a loopback/socket/management-network listener stops counting as private.
"""

from __future__ import annotations

import ipaddress

import pytest

from flowlb.checks.exposure import accepting, is_private, serves_stats
from flowlb.haproxy.remap import ExtraListener
from flowlb.tls import CertificateFiles
from tests.checks.servers import http_server, refusing_port

STATS = b"<html><title>Statistics Report for HAProxy on lb</title></html>"
STUB_STATUS = b"Active connections: 1\nserver accepts handled requests\n 1 1 1\nReading: 0 Writing: 1 Waiting: 0\n"


def test_only_ports_that_accept_are_open() -> None:
    """Breaks if a refused connect counts as open, or an accepting port is missed when several are tried at once."""
    with http_server({}) as open_port, refusing_port() as closed:
        assert accepting({1936: open_port, 2181: closed}, timeout=2.0) == [1936]
        assert accepting({2181: closed}, timeout=2.0) == []
    assert accepting({}, timeout=2.0) == []


def test_a_stats_page_on_a_usual_uri_is_found_past_an_ordinary_home_page() -> None:
    """Breaks if a 200 that is no status page counts, or the scan stops at the first URI."""
    with http_server({"/": (200, b"<html>welcome</html>"), "/stats": (200, STATS)}) as endpoint:
        assert serves_stats(endpoint, tls=False) == "/stats"


@pytest.mark.parametrize(("answers", "uris"), [
    ({"/stats": (401, STATS)}, None),  # behind a password: HAProxy answers 401 with its page's title nowhere else
    ({"/": (200, b"<html>welcome</html>")}, None),
    ({"/hidden": (200, STATS)}, None),  # not a URI an operator would usually choose, and not asked for
], ids=["401", "no-status-page", "unusual-uri"])
def test_no_stats_page_is_reported_where_none_is_served_freely(answers: dict[str, tuple[int, bytes]],
                                                                uris: list[str] | None) -> None:
    """Breaks if a 401 or any 200 counts as a served status page, or URIs outside the list are guessed."""
    with http_server(answers) as endpoint:
        assert serves_stats(endpoint, tls=False, uris=uris) is None


def test_the_configs_own_stats_uri_is_tried_and_nginx_counts_too() -> None:
    """Breaks if the URIs the config names are ignored, or only HAProxy's page is recognised."""
    with http_server({"/hidden": (200, STUB_STATUS)}) as endpoint:
        assert serves_stats(endpoint, tls=False, uris=["/", "/hidden"]) == "/hidden"


def test_a_port_that_refuses_serves_nothing() -> None:
    """Breaks if a connection error escapes instead of meaning "no page"."""
    with refusing_port() as closed:
        assert serves_stats(closed, tls=False, timeout=2.0) is None


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_a_stats_page_over_tls_is_found_with_or_without_verifying(certificates: CertificateFiles) -> None:
    """Breaks if TLS is not spoken with ``tls``, or an unverifiable certificate hides the page."""
    with http_server({"/metrics": (200, b"# HELP haproxy_process_nbthread\n")}, certificates.server_pem) as endpoint:
        assert serves_stats(endpoint, tls=True) == "/metrics"
        assert serves_stats(endpoint, tls=True, ca_file=certificates.ca_file, server_name="lb.test") == "/metrics"
        assert serves_stats(endpoint, tls=False, timeout=2.0) is None  # plaintext to a TLS port gets no page


def _listener(original: str) -> ExtraListener:
    return ExtraListener(port=1936, original=original, section="listen stats", line=1, tls=False)


@pytest.mark.parametrize(("original", "private"), [
    ("127.0.0.1:1936", True), ("[::1]:1936", True), ("/run/haproxy/stats.sock", True), ("unix@stats.sock", True),
    ("10.1.2.3:1936", True),  # inside the management network
    ("10.9.0.1:1936", False), ("*:1936", False), (":1936", False), ("lb.example:1936", False),
])
def test_what_counts_as_a_private_listener(original: str, private: bool) -> None:
    """Breaks if a wildcard, a name or an address outside the management networks counts as private, or loopback,
    a socket or an address inside them does not."""
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [ipaddress.ip_network("10.1.0.0/16")]
    assert is_private(_listener(original), networks) is private
