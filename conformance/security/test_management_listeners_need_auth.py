"""Check `security/management_listeners_need_auth`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

import ipaddress

import pytest

from flowlb.checks.applies import does_not_apply
from flowlb.checks.exposure import USUAL_URIS, is_private, serves_stats
from flowlb.haproxy.config import parsed
from flowlb.haproxy.remap import ExtraListener
from flowlb.targets.base import Target


def _uris(lb: Target, listener: ExtraListener) -> list[str]:
    section = parsed(lb.config_text).section_at(listener.line)
    own = [line.value(2) for line in section.own("stats", "uri")] if section is not None else []
    return own + [uri for uri in USUAL_URIS if uri not in own]


def test_management_listeners_are_private_or_need_a_password(
    lb: Target, extra_listeners: list[ExtraListener],
    management_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> None:
    if lb.kind == "external":
        pytest.skip("needs the LB's config to know its listeners outside the five Flow ports: run it on the local "
                    "target with --haproxy-cfg YOUR.cfg (`flowlb lint` reads the file too)")
    if not extra_listeners:
        does_not_apply("the config binds no port outside the five Flow LB ports")
    exposed: list[str] = []
    for listener in extra_listeners:
        if is_private(listener, management_networks):
            continue
        uri = serves_stats(lb.extra_endpoints[listener.port], listener.tls, _uris(lb, listener), lb.ca_file,
                           lb.endpoints.server_name)
        if uri is not None:
            exposed.append(f"{listener.section} bound to {listener.original} (line {listener.line}) serves "
                           f"{uri} without a password")
    assert not exposed, (
        "; ".join(exposed) + ": anyone who reaches that address reads the Flow servers' names, addresses, states "
        "and traffic. Fix: bind it to 127.0.0.1 or a management address, or add `stats auth USER:PASSWORD`."
    )
