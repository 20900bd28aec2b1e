"""The lines of a config that make HAProxy run code on the machine that loads it, and the text without them.

A config under test comes from anyone who can open a merge request, and flowlb runs HAProxy as
root, so none of these may run here: the remap comments them out for a run, :func:`disarmed` for
``haproxy -c`` (lint, and HAProxy's reason for a config that cannot be mapped), and lint names each
one (``FLOW043``). They are, from HAProxy's keyword lists (2.6 to 3.2):

* ``program`` sections (the master forks and runs ``command``), every line of them;
* ``lua-load``, ``lua-load-per-thread``, ``lua-prepend-path`` (Lua runs at load and in tasks, and
  may connect out with ``core.tcp()`` or the HTTP client);
* ``external-check``, ``insecure-fork-wanted``, ``insecure-setuid-wanted`` in ``global`` and
  ``option external-check``, ``external-check command|path`` in proxies (a script per health check);
* ``ssl-engine``, ``ssl-provider``, ``ssl-provider-path`` (OpenSSL loads a shared object);
* ``filter opentracing`` (loads a tracer plugin, a shared object named in its own file).
"""

from __future__ import annotations

from dataclasses import dataclass

from flowlb.haproxy.config import HAProxyConfig, Line, parsed

COMMENT_OUT = "# flowlb: "
_GLOBAL = {
    "lua-load": "runs a Lua script",
    "lua-load-per-thread": "runs a Lua script",
    "lua-prepend-path": "chooses where Lua loads code from",
    "external-check": "lets health checks run programs",
    "insecure-fork-wanted": "lets HAProxy start programs",
    "insecure-setuid-wanted": "lets HAProxy run setuid programs",
    "ssl-engine": "loads an OpenSSL engine (a shared object)",
    "ssl-provider": "loads an OpenSSL provider (a shared object)",
    "ssl-provider-path": "chooses where OpenSSL loads providers from",
}
_PROXY = {
    ("option", "external-check"): "health checks run a program",
    ("external-check", "command"): "names the program health checks run",
    ("external-check", "path"): "sets the PATH of health check programs",
    ("filter", "opentracing"): "loads a tracer plugin (a shared object)",
}
HEALTH_CHECK_KEYWORDS = frozenset({"external-check"})  # lines whose absence changes how servers are checked


@dataclass(frozen=True)
class CodeLine:
    """A line that would run code here: the line and what it does."""

    line: Line
    what: str

    @property
    def why(self) -> str:
        return f"{self.what}: code from the config under test never runs on the test machine"

    @property
    def others_may_need_it(self) -> bool:
        """Other lines may use what this one loads (Lua actions and fetches, an engine's or provider's ciphers):
        without it HAProxy may refuse the config, and the run says why instead of failing ``loads``."""
        return self.line.keyword.startswith(("lua-", "ssl-engine", "ssl-provider")) or self.line.starts(
            "filter", "opentracing")

    @property
    def changes_health_checks(self) -> bool:
        return self.line.keyword in HEALTH_CHECK_KEYWORDS or self.line.starts("option", "external-check")


def code_lines(config: HAProxyConfig) -> list[CodeLine]:
    """Every line of ``config`` that makes HAProxy run code (see the module's list), in file order."""
    found: list[CodeLine] = []
    for section in config.sections:
        if section.kind == "program":
            header = config.lines[section.number - 1]
            found.append(CodeLine(header, f"starts the program `{section.name}` from the master process"))
            found += [CodeLine(line, f"belongs to the program `{section.name}`") for line in section.lines]
            continue
        for line in section.lines:
            what = _GLOBAL.get(line.keyword) if section.kind == "global" else _PROXY.get((line.value(0), line.value(1)))
            if what is not None:
                found.append(CodeLine(line, what))
    return found


def disarmed(text: str) -> str:
    """``text`` with every line that runs code commented out; no line moves."""
    config = parsed(text)
    numbers = {code.line.number for code in code_lines(config)}
    out = []
    for line in config.lines:
        body = line.body
        if line.number in numbers:
            start = line.tokens[0].start
            body = body[:start] + COMMENT_OUT + body[start:]
        out.append(body + line.eol)
    return "".join(out)
