"""Check `security/request_smuggling_rejected`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

import json

import pytest

from flowlb.checks.raw import exchange, lb_refused
from flowlb.targets.base import Target

POST = b"POST /flowlb/smuggle HTTP/1.1\r\nHost: lb\r\n"
MUST_REJECT = {
    "two-content-lengths": POST + b"Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
    "obfuscated-te": POST + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "te-chunked-identity": POST + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    # whitespace between name and colon: RFC 9112 §5.1 says reject; lenient servers read it as the header
    "te-space-before-colon": POST + b"Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    "cl-space-before-colon": POST + b"Content-Length : 5\r\n\r\nabcde",
}
UNKNOWN_CODING = {"obfuscated-te", "te-chunked-identity"}  # RFC 9112 §6.1 allows 501 for these
CL_AND_TE = POST + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"


@pytest.mark.parametrize("case", list(MUST_REJECT))
def test_ambiguous_framing_is_rejected(lb: Target, case: str) -> None:
    reply = exchange(lb.endpoints.server, MUST_REJECT[case])
    allowed = "a 4xx, a 501 (unknown transfer coding)" if case in UNKNOWN_CODING else "a 4xx"
    answer = f"answered {reply.status}" if reply.status is not None else (
        "closed after a non-HTTP answer" if reply.closed else "left open without an answer")
    assert lb_refused(reply, unknown_transfer_coding=case in UNKNOWN_CODING), (
        f"a request with {case} was {answer} {'by a Flow node' if reply.from_node else 'by the LB'}, not "
        f"refused ({allowed} or a close): a smuggling vector. Fix: keep the LB's strict HTTP parsing (HAProxy: do "
        "not use `option accept-invalid-http-request`)."
    )


@pytest.mark.usefixtures("node_echo")
def test_content_length_with_transfer_encoding_never_reaches_a_node(lb: Target) -> None:
    reply = exchange(lb.endpoints.server, CL_AND_TE)
    if not reply.from_node:
        assert lb_refused(reply), f"answered {reply.status}, expected a 4xx or a close without an answer"
        return
    body = reply.data.split(b"\r\n\r\n", 1)[1]
    headers = {name.lower() for name, _ in json.loads(body)["headers"]}
    assert not {"content-length", "transfer-encoding"} <= headers, (
        "a request with both Content-Length and Transfer-Encoding reached a Flow node with both headers: "
        "the LB and the node may disagree where it ends (request smuggling)."
    )
