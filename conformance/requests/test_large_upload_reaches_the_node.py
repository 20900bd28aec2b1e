"""Check `requests/large_upload_reaches_the_node`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import urllib3

from flowlb.checks.upload import GeneratedBody
from flowlb.lbclient import echo

UPLOAD_BYTES = 256 * 1024 * 1024
FIX = ("Fix: no `http-request deny` on Content-Length or `req.body_size` below Flow's largest upload (CloudBees' "
       "ingress allows 10 GB), and no `option http-buffer-request` in front of uploads.")


@pytest.mark.usefixtures("node_echo")
def test_large_upload_reaches_the_node_intact(
    http: Callable[..., urllib3.HTTPConnectionPool], record_property: Callable[[str, object], None]
) -> None:
    pool = http("server_tls", timeout=urllib3.Timeout(connect=5.0, read=120.0))
    body = GeneratedBody(UPLOAD_BYTES)
    try:
        reply = pool.request("POST", "/flowlb/upload", body=body, headers={
            "Content-Length": str(UPLOAD_BYTES), "Content-Type": "application/octet-stream"})
    except urllib3.exceptions.HTTPError as exc:
        pytest.fail(f"a {UPLOAD_BYTES >> 20} MiB upload on 8443 broke off after {body.sent >> 20} MiB: {exc}. {FIX}")
    assert reply.status == 200, (
        f"a {UPLOAD_BYTES >> 20} MiB upload on 8443 got {reply.status} instead of reaching a Flow server. {FIX}"
    )
    arrived = echo(reply)
    record_property("upload_node", arrived["node"])
    assert arrived["body_length"] == UPLOAD_BYTES and arrived["body_sha256"] == body.sha256.hexdigest(), (
        f"the node received {arrived['body_length']} bytes (sha256 {arrived['body_sha256']}) of the "
        f"{UPLOAD_BYTES} sent (sha256 {body.sha256.hexdigest()}): the LB altered the upload."
    )
