"""HTTPS plumbing for the 8443 scenarios: a FastHttpUser that verifies the LB against the run's CA.

Locust's FastHttpUser does not verify certificates by default (docs/findings.md); here verification
is on unless ``--insecure`` is given, against ``--ca-file`` (or the system store without one).
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import gevent.ssl
from locust import FastHttpUser
from locust.env import Environment


class _NamedContext(gevent.ssl.SSLContext):
    """A client context that sends and verifies ``server_name`` (``--lb-name``) whatever host was dialled."""

    server_name = ""

    def wrap_socket(self, sock: Any, *args: Any, server_hostname: str | None = None, **kwargs: Any) -> Any:
        return super().wrap_socket(sock, *args, server_hostname=self.server_name or server_hostname, **kwargs)


def _verifying_context(ca_file: str, server_name: str = "", cafile: str | None = None) -> gevent.ssl.SSLContext:
    """An SSL context trusting ``ca_file`` only (geventhttpclient passes its own ``cafile``: ignored), verifying
    the certificate for ``server_name`` when given (an LB reached by its address)."""
    context = _NamedContext(gevent.ssl.PROTOCOL_TLS_CLIENT)
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    else:
        context.load_default_certs()
    context.server_name = server_name
    return context


class FlowHttpsUser(FastHttpUser):
    """Abstract: FastHttpUser on keep-alive connections with certificate verification from the options."""

    abstract = True

    def __init__(self, environment: Environment) -> None:
        options: Any = environment.parsed_options
        self.insecure = bool(options.insecure)
        if not self.insecure:
            self.ssl_context_factory = partial(_verifying_context, options.ca_file, getattr(options, "lb_name", ""))
        self.message_size = int(options.message_size)
        super().__init__(environment)


def job_request(size: int) -> str:
    """A runProcedure-like JSON body of about ``size`` bytes."""
    parameter = {"name": "payload", "value": ""}
    body = {"projectName": "flowlb", "procedureName": "load", "actualParameter": [parameter]}
    parameter["value"] = "x" * max(0, size - len(json.dumps(body)))
    return json.dumps(body)


def commander_request(size: int) -> str:
    """An ectool-like XML ``/commanderRequest`` body of about ``size`` bytes."""
    head = '<?xml version="1.0"?><requests version="2.2" timeout="180"><request requestId="1"><getProperty>'
    tail = "</getProperty></request></requests>"
    name = "/myJob/flowlb" + "x" * max(0, size - len(head) - len(tail) - 40)
    return f"{head}<propertyName>{name}</propertyName>{tail}"
