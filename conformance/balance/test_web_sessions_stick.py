"""Check `balance/web_sessions_stick`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie

import pytest
import urllib3

from flowlb import policy
from flowlb.checks.applies import does_not_apply
from flowlb.checks.backend import Backend
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.lbclient import echo
from flowlb.spec import ClusterSpec
from flowlb.targets.base import NodeControl, Target

REQUESTS_PER_BROWSER = 10
NEW_BROWSERS_PER_NODE = 4


class Browser:
    """One browser: its own cookie jar over a shared keep-alive pool, sending back every cookie the LB set."""

    def __init__(self, pool: urllib3.HTTPConnectionPool, echoes: bool = True) -> None:
        self.pool = pool
        self.echoes = echoes  # the nodes name themselves (flowlb's mock nodes); real web servers do not
        self.cookies: dict[str, str] = {}

    def get(self, path: str) -> tuple[int, str]:
        """Status (0: no answer) and the node that answered ("" for an answer no node gave)."""
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        try:
            reply = self.pool.request("GET", path, headers=headers, retries=False)
        except urllib3.exceptions.HTTPError:
            return 0, ""  # reset or closed without an answer
        for value in reply.headers.getlist("Set-Cookie"):
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value)
            except CookieError:
                continue
            self.cookies.update({name: morsel.value for name, morsel in jar.items()})
        node = echo(reply)["node"] if reply.status == 200 and self.echoes else ""
        return reply.status, node


def _affinity_required(spec: ClusterSpec) -> None:
    """Skip unless the policy (else the spec) asks for cookie affinity on the web tier."""
    wanted, source = policy.current().web_affinity, "the policy's web_affinity"
    if wanted is None:
        wanted, source = spec.lb.web_affinity, "the spec's lb.web_affinity"
    if wanted != "cookie":
        does_not_apply(f"{source} is {wanted!r}: no web affinity is required")


@pytest.fixture
def web(backend: Callable[[str], Backend], flowlb_spec: ClusterSpec) -> Backend:
    """The backend behind 443, when the policy asks for affinity and it has nodes to choose from."""
    _affinity_required(flowlb_spec)
    servers = backend("https")
    if len(servers.primaries()) < 2:
        does_not_apply(f"{servers.name} (behind 443) has one primary server: a browser has nowhere else to go")
    return servers


def test_browser_stays_on_its_web_node(
    lb: Target, http: Callable[..., urllib3.HTTPConnectionPool], record_property: Callable[[str, object], None],
    request: pytest.FixtureRequest, flowlb_spec: ClusterSpec,
) -> None:
    if not lb.echoes():
        _affinity_required(flowlb_spec)
        runtime: RuntimeAPI = request.getfixturevalue("runtime")  # skips, naming the options, without evidence
        _stays_by_counters(runtime, http("https"), len(flowlb_spec.node_names()), record_property)
        return
    web: Backend = request.getfixturevalue("web")
    pool = http("https")
    browsers = [Browser(pool) for _ in range(NEW_BROWSERS_PER_NODE * len(web.primaries()))]
    first = Counter(browser.get("/flowlb/sticky?first")[1] for browser in browsers)
    record_property("new_browsers_per_node", dict(first))
    assert len([node for node in first if node]) >= 2, (
        f"{len(browsers)} new browsers on 443 all went to {', '.join(first)}: the LB does not balance users over "
        f"the web nodes of {web.name}. Fix: `balance roundrobin` (not `balance source`) with a `cookie` for affinity."
    )
    for index, browser in enumerate(browsers[: len(web.primaries())]):
        seen = Counter(browser.get(f"/flowlb/sticky?b={index}&i={i}")[1] for i in range(REQUESTS_PER_BROWSER))
        assert len(seen) == 1, (
            f"one browser's {REQUESTS_PER_BROWSER} requests on 443 were answered by {dict(seen)}: its UI session "
            f"moves between web nodes. Fix: in {web.name}, `cookie SERVERID insert indirect nocache httponly "
            "secure` and `cookie <name>` on each server line."
        )


@pytest.mark.usefixtures("node_echo")
def test_browser_moves_on_when_its_node_dies(
    web: Backend, node_control: NodeControl, http: Callable[..., urllib3.HTTPConnectionPool],
) -> None:
    pool = http("https")
    browser = Browser(pool)
    status, home = browser.get("/flowlb/sticky?before")
    assert status == 200 and browser.cookies, (
        f"a browser on 443 got {status} and no cookie from the LB: nothing holds it to a web node. Fix: in "
        f"{web.name}, `cookie SERVERID insert indirect nocache httponly secure` and `cookie <name>` per server."
    )
    victim = home
    node_control.kill(victim)
    answers = [browser.get(f"/flowlb/sticky?after={i}") for i in range(REQUESTS_PER_BROWSER)]
    failed = [status for status, _ in answers if status != 200]
    assert not failed, (
        f"{victim} died under a browser holding its cookie; {len(failed)} of {REQUESTS_PER_BROWSER} of the browser's "
        f"next requests failed ({failed}). Fix: `option redispatch` and `retry-on conn-failure` in {web.name}, and "
        "no `option persist`."
    )
    nodes = Counter(node for _, node in answers)
    assert victim not in nodes and len(nodes) == 1, (
        f"after {victim} died, the browser's requests were answered by {dict(nodes)}: it should move to one healthy "
        "node and stay there (the LB re-inserts its cookie)."
    )


def _server_totals(runtime: RuntimeAPI) -> dict[tuple[str, str], int]:
    return {(stat.backend, stat.server): stat.total_sessions for stat in runtime.stats()}


def _grown(runtime: RuntimeAPI, before: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    return {key: total - before.get(key, 0) for key, total in _server_totals(runtime).items()}


def _stays_by_counters(
    runtime: RuntimeAPI, pool: urllib3.HTTPConnectionPool, node_count: int,
    record_property: Callable[[str, object], None],
) -> None:
    browsers = [Browser(pool, echoes=False) for _ in range(NEW_BROWSERS_PER_NODE * node_count)]
    before = _server_totals(runtime)
    statuses = [browser.get("/flowlb/sticky?first")[0] for browser in browsers]
    grown = _grown(runtime, before)
    per_backend: Counter[str] = Counter()
    for (backend, _), count in grown.items():
        per_backend[backend] += count
    carriers = sorted(backend for backend, count in per_backend.items() if count >= len(browsers))
    assert carriers, (f"HAProxy counted the first requests of {len(browsers)} new browsers on 443 (answered "
                      f"{dict(Counter(statuses))}) on no backend: {dict(per_backend)}")
    if len(carriers) > 1:
        pytest.skip(f"inconclusive on a busy LB: {', '.join(carriers)} each grew by {len(browsers)} or more while "
                    f"{len(browsers)} new browsers came to 443; other clients' traffic hides which is the web backend")
    web = carriers[0]
    primaries = [stat.server for stat in runtime.servers(web).values() if not stat.backup]
    if len(primaries) < 2:
        does_not_apply(f"{web} (behind 443) has one primary server: a browser has nowhere else to go")
    first = {server: count for (backend, server), count in grown.items() if backend == web and count}
    record_property("new_browsers_per_server", first)
    assert len(first) >= 2, (
        f"{len(browsers)} new browsers on 443 were all counted on {web}/{', '.join(first)}: the LB does not balance "
        f"users over the web servers. Fix: `balance roundrobin` (not `balance source`) with a `cookie` for affinity."
    )
    for index, browser in enumerate(browsers[:len(primaries)]):
        before = _server_totals(runtime)
        for i in range(REQUESTS_PER_BROWSER):
            browser.get(f"/flowlb/sticky?b={index}&i={i}")
        moved = {server: count for (backend, server), count in _grown(runtime, before).items()
                 if backend == web and count}
        took_all = [server for server, count in moved.items() if count >= REQUESTS_PER_BROWSER]
        assert took_all, (
            f"one browser's {REQUESTS_PER_BROWSER} requests on 443 were counted {moved} in {web} (other clients' "
            "traffic can only add to these), so no web server took them all: its UI session moves between web "
            f"nodes. Fix: in {web}, `cookie SERVERID insert indirect nocache httponly secure` and `cookie <name>` on "
            "each server line."
        )
        if len(took_all) > 1:
            pytest.skip(f"inconclusive on a busy LB: {', '.join(took_all)} each grew by {REQUESTS_PER_BROWSER} or "
                        "more while one browser sent as many requests; other clients' traffic hides where it went")
