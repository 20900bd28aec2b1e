"""The load scenarios against their ceilings, in one run on one local cluster, printed as a table.

1. wrk on 8443 (keep-alive TLS through HAProxy): the ceiling;
2. the Flow API scenario (``FlowApiUser``) and a bare FastHttpUser (``bare_fasthttp.py``), one Locust
   process each, same users and time: the scenario's overhead;
3. the STOMP scenario (``FlowStompUser``) through HAProxy + TLS to the mock nodes, and the same
   scenario straight to a private RabbitMQ (STOMP plugin, plaintext, loopback);
4. one mock node's own capacity on HTTP (wrk) and STOMP (pipelined SEND+RECEIPT), from
   ``mocknode_bench.py``.

Goals (exit code 1 when one is missed): scenario >= 90 % of bare; a mock node >= 2x what one
Locust process sends on its path; STOMP through the LB >= 50 % of straight to RabbitMQ.
Everything stays on 127.0.0.1 and every run is bounded::

    python benchmarks/load_bench.py [--seconds 10] [--users 50] [--stomp-users 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))  # the shared test helpers (tests.support): a private RabbitMQ

import mocknode_bench  # noqa: E402
from tests.support.brokers import RabbitMQ  # noqa: E402

from flowlb.load.results import Figures, LoadResult  # noqa: E402
from flowlb.load.runner import locust_environment  # noqa: E402
from flowlb.spec import load_spec  # noqa: E402
from flowlb.targets.select import start_target  # noqa: E402


def run_locust(locustfile: Path, host: str, users: int, seconds: int, env: dict[str, str], name: str,
               work: Path, classes: list[str]) -> Figures:
    """One headless Locust process; its figures over all requests."""
    prefix = work / name
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", host,
               "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--stop-timeout", "2",
               "--only-summary", "--json-file", str(prefix), "--loglevel", "WARNING", *classes]
    print("$", " ".join(command[2:]), flush=True)
    subprocess.run(command, env=env, timeout=seconds + 90, check=False, stdout=subprocess.DEVNULL)
    return LoadResult.read(prefix.with_suffix(".json")).total()


def mock_node_capacity(seconds: int) -> tuple[float, float]:
    """HTTP requests/s (wrk) and STOMP SEND+RECEIPT/s (pipelined) of one mock node on its own."""
    process, ports = mocknode_bench.start_node()
    try:
        http = mocknode_bench.run_wrk(ports["server"], seconds, 50)
        receipts, took = asyncio.run(mocknode_bench.run_stomp(ports["stomp"], 40000, 10, 200, 60.0))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    return http, receipts / took


def row(label: str, figures: Figures | None, rate: float | None = None, note: str = "") -> str:
    if figures is None:
        return f"| {label} | {rate:,.0f} | | | | | {note} |"
    return (f"| {label} | {figures.rps:,.0f} | {figures.p50_ms:g} | {figures.p95_ms:g} | {figures.p99_ms:g} "
            f"| {figures.failures} | {note} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each measurement (default 10)")
    parser.add_argument("--users", type=int, default=50,
                        help="Locust users on 8443 (default 50, as in docs/findings.md)")
    parser.add_argument("--stomp-users", type=int, default=20, help="Locust STOMP users (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowlb-bench-") as temporary:  # removed however the run ends
        return measure(args, Path(temporary))


def measure(args: argparse.Namespace, work: Path) -> int:
    """Every row of the table, measured with ``work`` for Locust's files; the exit code."""
    seconds = args.seconds
    spec = load_spec(None)
    flow = REPO / "loadtests" / "flow.py"
    target = start_target("local", spec, "hardened")
    try:
        https = target.endpoints.server_tls
        host = f"https://{https.host}:{https.port}"
        ceiling = mocknode_bench.run_wrk_url(f"{host}/commanderRequest/health", seconds, 50)
        api = run_locust(flow, host, args.users, seconds, locust_environment(target), "api", work, ["FlowApiUser"])
        bare = run_locust(HERE / "bare_fasthttp.py", host, args.users, seconds, dict(os.environ), "bare", work, [])
        stomp_lb = run_locust(flow, host, args.stomp_users, seconds, locust_environment(target), "stomp-lb", work,
                              ["FlowStompUser"])
    finally:
        target.close()
    with RabbitMQ.start() as broker:
        direct_env = {**os.environ, "FLOWLB_STOMP_HOST": "127.0.0.1", "FLOWLB_STOMP_PORT": str(broker.stomp_port),
                      "FLOWLB_STOMP_PLAIN": "1", "FLOWLB_STOMP_VHOST": "/"}
        stomp_direct = run_locust(flow, "https://127.0.0.1:1", args.stomp_users, seconds, direct_env,
                                  "stomp-rabbitmq", work, ["FlowStompUser"])
    node_http, node_stomp = mock_node_capacity(min(seconds, 5))

    goals = [
        ("Flow API scenario >= 90% of bare FastHttpUser", api.rps / bare.rps if bare.rps else 0, 0.90),
        ("mock node HTTP >= 2x one Locust process on 8443", node_http / api.rps if api.rps else 0, 2.0),
        ("mock node STOMP >= 2x one Locust process on 61613", node_stomp / stomp_lb.rps if stomp_lb.rps else 0, 2.0),
        ("STOMP via HAProxy+TLS >= 50% of straight to RabbitMQ",
         stomp_lb.rps / stomp_direct.rps if stomp_direct.rps else 0, 0.50),
    ]
    print()
    print(f"one local cluster (HAProxy hardened, 3 mock nodes), {seconds} s per row, {os.cpu_count()} cores")
    print("| path and client | req/s | p50 ms | p95 ms | p99 ms | failures | note |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    print(row("8443 keep-alive, wrk -t1 -c50 (ceiling)", None, ceiling))
    print(row(f"8443 Flow API scenario, Locust 1 process, {args.users} users", api))
    print(row(f"8443 bare FastHttpUser, Locust 1 process, {args.users} users", bare))
    print(row(f"61613 STOMP scenario via HAProxy+TLS -> mock, {args.stomp_users} users", stomp_lb,
              note="SEND+RECEIPT and SEND->MESSAGE"))
    print(row(f"STOMP scenario straight to RabbitMQ (plain), {args.stomp_users} users", stomp_direct))
    print(row("one mock node, HTTP :8000, wrk -t1 -c50", None, node_http))
    print(row("one mock node, STOMP SEND+RECEIPT pipelined", None, node_stomp))
    print()
    missed = 0
    for what, measured, goal in goals:
        verdict = "met" if measured >= goal else "MISSED"
        missed += verdict == "MISSED"
        print(f"{verdict:>6}: {what} (measured {measured:.2f}, goal {goal:.2f})")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
