"""Reading which HAProxy ran: ``haproxy -vv`` and a live LB's ``show info``.

Fails when the version or either OpenSSL line is not read from real output, or when output that names
no version is taken for one.
"""

from __future__ import annotations

from flowlb.haproxy.version import from_show_info, local_build, parse_vv

VV = """HAProxy version 3.0.11-1+deb13u4 2025/10/02 - https://haproxy.org/
Status: long-term supported branch - will stop receiving fixes around Q2 2029.
Built with OpenSSL version : OpenSSL 3.5.1 1 Jul 2025
Running on OpenSSL version : OpenSSL 3.5.4 30 Sep 2025
"""


def test_vv_gives_version_and_both_openssl_lines() -> None:
    build = parse_vv(VV)
    assert build is not None
    assert (build.version, build.openssl_built, build.openssl_running) == (
        "3.0.11-1+deb13u4", "OpenSSL 3.5.1 1 Jul 2025", "OpenSSL 3.5.4 30 Sep 2025")
    assert build.line == "HAProxy 3.0.11-1+deb13u4 (OpenSSL 3.5.4 30 Sep 2025)"


def test_3_2_names_its_ssl_library() -> None:
    build = parse_vv("HAProxy version 3.2.26-1 2026/10/14\nBuilt with SSL library version : OpenSSL 3.6.5\n"
                     "Running on SSL library version : OpenSSL 3.6.5\n")
    assert build is not None and build.openssl_running == "OpenSSL 3.6.5"


def test_no_version_is_none() -> None:
    assert parse_vv("haproxy: command not found") is None
    assert from_show_info("Name: HAProxy\nUptime: 0d\n") is None


def test_show_info_gives_the_version_only() -> None:
    build = from_show_info("Name: HAProxy\nVersion: 2.8.3-1\nRelease_date: 2023/09/07\n")
    assert build is not None and build.version == "2.8.3-1" and build.openssl_running == ""


def test_the_local_binary(haproxy_bin: str) -> None:
    build = local_build(haproxy_bin)
    assert build is not None and build.version[0].isdigit() and build.openssl_running.startswith("OpenSSL")
