"""How fast one mock Flow node is: HTTP echo requests/s under wrk, and STOMP frames/s.

Starts a node on loopback with OS-picked ports, runs ``wrk -t1 -c50 -d5s`` against the server
port's ``/echo``, then an asyncio STOMP client: ``--sessions`` sessions sending ``--frames`` SEND
frames in total, each with a receipt, pipelined ``--window`` at a time. Everything is bounded in
count and time and stays on 127.0.0.1::

    python3 benchmarks/mocknode_bench.py [--frames 20000] [--sessions 10] [--window 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

from flowlb import paths
from flowlb.node_contract import parse_ready_line

SRC = paths.package_parent()
LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 10.0


def start_node() -> tuple[subprocess.Popen[str], dict[str, int]]:
    """A node subprocess and its bound ports, once it printed its ready line."""
    command = [sys.executable, "-m", "flowlb.mocknode", "--name", "bench", "--host", LOOPBACK]
    for port in ("--web-port", "--server-port", "--stomp-port", "--control-port"):
        command += [port, "0"]
    env = dict(os.environ, PYTHONPATH=str(SRC))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
    line = process.stdout.readline() if ready else ""
    ready = parse_ready_line(line.strip())
    if ready is None:
        process.kill()
        raise SystemExit(f"node did not start within {START_TIMEOUT_S}s: {line!r}")
    return process, ready.ports


def run_wrk(port: int, seconds: int, connections: int) -> float:
    """Requests/s that ``wrk -t1`` measured on the node's ``/echo``."""
    return run_wrk_url(f"http://{LOOPBACK}:{port}/echo", seconds, connections)


def run_wrk_url(url: str, seconds: int, connections: int) -> float:
    """Requests/s that ``wrk -t1`` measured on ``url`` (a loopback address)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed")
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", url]
    print("$", " ".join(command), flush=True)
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=True)
    print(result.stdout, flush=True)
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if match is None:
        raise SystemExit(f"no Requests/sec in wrk output: {result.stdout!r}")
    return float(match.group(1))


async def stomp_session(port: int, frames: int, window: int) -> int:
    """Sends ``frames`` SENDs with receipts, ``window`` at a time; how many receipts came back."""
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    writer.write(b"CONNECT\naccept-version:1.2\nhost:bench\nheart-beat:0,0\n\n\x00")
    connected = await reader.readuntil(b"\x00")
    if not connected.startswith(b"CONNECTED"):
        raise RuntimeError(f"not connected: {connected!r}")
    receipts = 0
    sent = 0
    while sent < frames:
        batch = min(window, frames - sent)
        writer.write(
            b"".join(
                b"SEND\ndestination:/queue/bench\nreceipt:%d\ncontent-length:5\n\nhello\x00" % (sent + i)
                for i in range(batch)
            )
        )
        sent += batch
        pending = batch
        while pending:
            data = await reader.read(65536)
            if not data:
                raise RuntimeError("node closed the session")
            count = data.count(b"\x00")
            pending -= count
            receipts += count
    writer.write(b"DISCONNECT\n\n\x00")
    writer.close()
    return receipts


async def run_stomp(port: int, frames: int, sessions: int, window: int, limit_s: float) -> tuple[int, float]:
    """Total receipts and seconds taken by ``sessions`` concurrent sessions."""
    started = time.perf_counter()
    per_session = frames // sessions
    results = await asyncio.wait_for(
        asyncio.gather(*(stomp_session(port, per_session, window) for _ in range(sessions))), limit_s
    )
    return sum(results), time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wrk-seconds", dest="wrk_seconds", type=int, default=5, help="wrk duration")
    parser.add_argument("--wrk-connections", dest="wrk_connections", type=int, default=50, help="wrk -c")
    parser.add_argument("--frames", dest="frames", type=int, default=20000, help="STOMP SEND frames in total")
    parser.add_argument("--sessions", dest="sessions", type=int, default=10, help="concurrent STOMP sessions")
    parser.add_argument("--window", dest="window", type=int, default=200, help="SENDs in flight per session")
    parser.add_argument("--stomp-limit", dest="stomp_limit", type=float, default=60.0, help="STOMP time limit, s")
    args = parser.parse_args()
    process, ports = start_node()
    try:
        requests_per_s = run_wrk(ports["server"], args.wrk_seconds, args.wrk_connections)
        receipts, seconds = asyncio.run(
            run_stomp(ports["stomp"], args.frames, args.sessions, args.window, args.stomp_limit)
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=START_TIMEOUT_S)
    frames_per_s = receipts / seconds
    print(f"http echo: {requests_per_s:,.0f} requests/s (wrk -t1 -c{args.wrk_connections} -d{args.wrk_seconds}s)")
    print(
        f"stomp: {receipts:,} SEND+RECEIPT round trips in {seconds:.2f}s = {frames_per_s:,.0f} frames/s "
        f"({args.sessions} sessions, window {args.window})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
