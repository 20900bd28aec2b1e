"""HAProxy's output turned into one line with its reason and the offending config line."""

from __future__ import annotations

from flowlb.haproxy.messages import Diagnosis, one_line_error

REFUSED = """\
[NOTICE]   (9342) : haproxy version is 2.6.12-1+deb12u4
[ALERT]    (9342) : config : parsing [/tmp/kb.cfg:3] : error detected while parsing a 'redirect' rule : no such ACL : '{ssl_fc}'.
[WARNING]  (9342) : config : parsing [/tmp/kb.cfg:9] : backend 'x' : 'option tcplog' directive is ignored in backends.
[ALERT]    (9342) : config : Error(s) found in configuration file : /tmp/kb.cfg
[ALERT]    (9342) : config : Fatal errors found in configuration.
"""
CONFIG = "frontend a\n  mode http\n  redirect scheme https if !{ssl_fc}\n"


def test_first_alert_with_the_offending_line() -> None:
    line = one_line_error(REFUSED, CONFIG)
    assert line == (
        "the config does not load: parsing [/tmp/kb.cfg:3] : error detected while parsing a 'redirect' rule : "
        "no such ACL : '{ssl_fc}'. (line 3: `redirect scheme https if !{ssl_fc}`)"
    )


def test_alerts_and_warnings_are_split() -> None:
    diagnosis = Diagnosis.parse(REFUSED)
    assert len(diagnosis.alerts) == 1
    assert len(diagnosis.warnings) == 1


def test_start_failure_without_a_line_number() -> None:
    output = "[ALERT]    (1) : Starting frontend f: cannot bind socket (Address already in use) [127.0.0.1:80]\n"
    assert one_line_error(output, "") == (
        "the config does not load: Starting frontend f: cannot bind socket (Address already in use) [127.0.0.1:80]"
    )


def test_no_alert_falls_back_to_the_last_lines() -> None:
    assert one_line_error("Segmentation fault\n", "") == "the config does not load: Segmentation fault"
