"""The operator's policy file: every key checked before a run starts, each mistake one line naming it.

Fails when a policy file's value does not reach the policy it loads, or when an unknown key, a wrong type,
a missing waiver field or an unknown check id is accepted instead of refused with a line that names it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from flowlb import paths, policy
from flowlb.errors import FlowlbError
from flowlb.policyfile import Waiver, load, parse

CHECKS = {"redirect/redirect_to_https", "requests/long_request_answered"}


def test_values_levels_and_waivers_are_read() -> None:
    loaded = parse("""
[policy]
header_timeout_max_s = 5
upload_max_bytes = 1_000_000
management_networks = ["10.9.0.0/16"]
web_affinity = "none"

[levels]
"redirect/redirect_to_https" = "recommended"
FLOW011 = "core"

[[waiver]]
id = "requests/long_request_answered"
reason = "CHG-1: timeouts raised next window"
expires = 2030-01-31
""", "p.toml", CHECKS)
    assert loaded.policy.header_timeout_max_s == 5.0 and loaded.policy.upload_max_bytes == 1_000_000
    assert loaded.policy.stomp_idle_min_s == policy.STOMP_IDLE_MIN_S  # what the file does not set keeps its default
    assert loaded.policy.management_networks == ("10.9.0.0/16",) and loaded.policy.web_affinity == "none"
    assert loaded.levels == {"redirect/redirect_to_https": "recommended", "FLOW011": "core"}
    assert loaded.waivers == (Waiver("requests/long_request_answered", "CHG-1: timeouts raised next window",
                                     date(2030, 1, 31)),)
    assert len(loaded.sha256) == 64


def test_an_empty_file_is_the_default_policy() -> None:
    loaded = parse("", "p.toml", CHECKS)
    assert loaded.policy == policy.Policy() and not loaded.levels and not loaded.waivers


def test_a_waiver_expires_after_its_last_day() -> None:
    waiver = Waiver("x", "why", date(2025, 3, 1))
    assert not waiver.expired(date(2025, 3, 1)) and waiver.expired(date(2025, 3, 2))


WAIVER = '[[waiver]]\nid = "redirect/redirect_to_https"\nreason = "r"\nexpires = 2030-01-01\n'


@pytest.mark.parametrize(("text", "message"), [
    ("[polcy]\n", "p.toml: polcy: unknown key"),
    ("[policy]\nheader_timeout_max = 5\n", "p.toml: policy.header_timeout_max: unknown key (one of: "),
    ("[policy]\nheader_timeout_max_s = '5'\n", "p.toml: policy.header_timeout_max_s: '5' is not a number"),
    ("[policy]\nheader_timeout_max_s = true\n", "p.toml: policy.header_timeout_max_s: True is not a number"),
    ("[policy]\nheader_timeout_max_s = 0\n", "p.toml: policy.header_timeout_max_s: 0 must be above 0"),
    ("[policy]\nstomp_idle_min_s = nan\n", "p.toml: policy.stomp_idle_min_s: nan must be above 0"),
    ("[policy]\nupload_max_bytes = 1.5\n", "p.toml: policy.upload_max_bytes: 1.5 is not a whole number"),
    ("[policy]\nmanagement_networks = '10.0.0.0/8'\n", "p.toml: policy.management_networks: must be a list"),
    ("[policy]\nmanagement_networks = ['10.0.0.0/33']\n", "p.toml: policy.management_networks: '10.0.0.0/33'"),
    ("[policy]\nweb_affinity = 'source'\n", "p.toml: policy.web_affinity: 'source' is not one of cookie, none"),
    ("policy = 3\n", "p.toml: policy: must be a table"),
    ("[levels]\n'redirect/nope' = 'core'\n", "p.toml: levels.\"redirect/nope\": 'redirect/nope' is neither a check"),
    ("[levels]\n'redirect/redirect_to_https' = 'optional'\n", "'optional' is not a level (one of: core, recommended)"),
    ("[[waiver]]\nid = 'redirect/redirect_to_https'\nreason = 'r'\n", "p.toml: waiver 1: missing expires"),
    ("[[waiver]]\nid = 'redirect/redirect_to_https'\nexpires = 2030-01-01\n", "p.toml: waiver 1: missing reason"),
    (WAIVER + "owner = 'me'\n", "p.toml: waiver 1.owner: unknown key (a waiver has id, reason, expires)"),
    (WAIVER.replace("2030-01-01", "'2030-01-01'"), "p.toml: waiver 1.expires: '2030-01-01' is not a date"),
    (WAIVER.replace("2030-01-01", "2030-01-01T10:00:00"), "waiver 1.expires: datetime.datetime(2030, 1, 1, 10"),
    (WAIVER.replace('"r"', '"  "'), "p.toml: waiver 1.reason: must say why"),
    (WAIVER.replace("redirect/redirect_to_https", "redirect/typo"), "p.toml: waiver 1.id: 'redirect/typo' is"),
    (WAIVER + WAIVER, "p.toml: waiver 2.id: redirect/redirect_to_https is waived twice"),
    ("waiver = 1\n", "p.toml: waiver: must be an array of tables"),
    ("[policy\n", "p.toml: not valid TOML: "),
])
def test_a_mistake_is_one_line_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(FlowlbError) as error:
        parse(text, "p.toml", CHECKS)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_file_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(FlowlbError, match=r"nope.toml: no such file"):
        load(tmp_path / "nope.toml")


def test_the_shipped_example_loads_against_the_catalogue() -> None:
    loaded = load(paths.project_root() / "fixtures" / "policy.example.toml")
    assert loaded.waivers and loaded.levels
    assert loaded.policy.header_timeout_max_s == policy.HEADER_TIMEOUT_MAX_S
