"""Connection handling of the HTTP ports, in-process with a short idle timeout.

Fails if an idle keep-alive connection is never closed, if a connection waiting for a hung health
answer is closed by the idle timer (it must stay open until the client gives up), or if a request
with ``Expect: 100-continue`` does not get its interim response.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from flowlb.mocknode.echo import FlowPortHandler
from flowlb.mocknode.httpproto import HttpConnection
from flowlb.mocknode.state import HealthState, NodeState

IDLE_S = 0.2


@contextlib.asynccontextmanager
async def connected(state: NodeState) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A server port of a node in ``state``, in this process, and one client connection to it."""
    handler = FlowPortHandler(state, "server")
    server = await asyncio.get_running_loop().create_server(
        lambda: HttpConnection(handler, b"X-Flow-Node: inproc\r\n", idle_timeout=IDLE_S), "127.0.0.1", 0
    )
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        try:
            yield reader, writer
        finally:
            writer.close()


def test_idle_keep_alive_connection_is_closed() -> None:
    async def scenario() -> float:
        async with connected(NodeState("inproc")) as (reader, writer):
            writer.write(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            await reader.readuntil(b"\r\n\r\n")
            started = asyncio.get_running_loop().time()
            await asyncio.wait_for(reader.read(), 5)  # the rest of the body, then EOF
            return asyncio.get_running_loop().time() - started

    assert asyncio.run(scenario()) >= IDLE_S * 0.9


def test_connection_waiting_for_a_hung_answer_is_not_closed_by_the_idle_timer() -> None:
    async def scenario() -> None:
        state = NodeState("inproc", health=HealthState.HANG)
        async with connected(state) as (reader, writer):
            writer.write(b"GET /commanderRequest/health HTTP/1.1\r\nHost: x\r\n\r\n")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reader.read(1), IDLE_S * 3)

    asyncio.run(scenario())


def test_expect_100_continue_gets_the_interim_response() -> None:
    async def scenario() -> bytes:
        async with connected(NodeState("inproc")) as (reader, writer):
            writer.write(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
            interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            writer.write(b"abc")
            final = await asyncio.wait_for(reader.readuntil(b"}"), 5)
            return interim + final

    answer = asyncio.run(scenario())
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert b'"body_length": 3' in answer
