"""Loopback harness for the gateway tests (no tests here): a raw upstream CSMS, gateways, stations.

Everything binds 127.0.0.1 port 0; waits are bounded futures and timeouts, never sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ocpp_e2e.gateway import Gateway, load_config
from ocpp_e2e.integrations.connection import (
    AuthorizationKeyStore,
    connection_url,
    identity_from_path,
    request_guard,
    subprotocol_selector,
)

ROOT = Path(__file__).resolve().parent.parent
KEYS = ROOT / "keys-example"
DATA = Path(__file__).resolve().parent / "data" / "integration"
TIMEOUT = 10.0
# What the raw CSMS answers (schema-valid OCPP 2.0.1 payloads); others get {"status": "Accepted"}.
ANSWERS: dict[str, dict[str, Any]] = {
    "BootNotification": {
        "currentTime": "2026-11-22T00:00:00Z",
        "interval": 300,
        "status": "Accepted",
    },
    "Heartbeat": {"currentTime": "2026-11-22T00:00:00Z"},
}


class RawCsms:
    """A CSMS that records every frame it receives (exact text) and lets the test answer."""

    def __init__(
        self,
        versions: Sequence[str] = ("ocpp2.0.1", "ocpp1.6"),
        *,
        keys: AuthorizationKeyStore | None = None,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.ssl_context = ssl_context
        self.versions = versions
        self.keys = keys
        self.port_wanted = port
        self.server: Server | None = None
        self.received: asyncio.Queue[str] = asyncio.Queue()
        self.connections: dict[str, ServerConnection] = {}
        self.offered: list[list[str]] = []
        self.headers: list[dict[str, str]] = []
        self.connected: asyncio.Queue[str] = asyncio.Queue()
        self.auto_answer = True

    async def __aenter__(self) -> RawCsms:
        await self.start()
        return self

    async def start(self) -> None:
        guard = request_guard(prefix="/ocpp", is_known=lambda _i: True, keys=self.keys)

        async def process_request(connection: ServerConnection, request: Any) -> Any:
            self.offered.append(
                [
                    p.strip()
                    for h in request.headers.get_all("Sec-WebSocket-Protocol")
                    for p in h.split(",")
                ]
            )
            self.headers.append(dict(request.headers.raw_items()))
            return await guard(connection, request)

        self.server = await serve(
            self._handle,
            "127.0.0.1",
            self.port_wanted,
            process_request=process_request,
            select_subprotocol=subprotocol_selector(self.versions),
            ssl=self.ssl_context,
        )

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(next(iter(self.server.sockets)).getsockname()[1])

    @property
    def url(self) -> str:
        scheme = "wss" if self.ssl_context is not None else "ws"
        return f"{scheme}://127.0.0.1:{self.port}/ocpp"

    async def _handle(self, connection: ServerConnection) -> None:
        if connection.subprotocol is None:
            await connection.close(1002, "no common subprotocol")
            return
        assert connection.request is not None
        identity = identity_from_path(connection.request.path, "/ocpp")
        self.connections[identity] = connection
        await self.connected.put(identity)
        with contextlib.suppress(ConnectionClosed):
            async for message in connection:
                assert isinstance(message, str)
                await self.received.put(message)
                value = json.loads(message)
                if self.auto_answer and value[0] == 2:
                    payload = ANSWERS.get(value[2], {"status": "Accepted"})
                    await connection.send(json.dumps([3, value[1], payload]))

    async def next(self) -> str:
        return await asyncio.wait_for(self.received.get(), TIMEOUT)


async def recv_text(ws: ClientConnection) -> str:
    message = await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert isinstance(message, str)
    return message


def write_config(folder: Path, text: str) -> Path:
    path = folder / "gateway.yaml"
    path.write_text(text)
    return path


@contextlib.asynccontextmanager
async def running_gateway(config_path: Path) -> AsyncIterator[Gateway]:
    gateway = Gateway(load_config(config_path))
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.stop()


def station_url(gateway: Gateway, identity: str) -> str:
    return connection_url(f"ws://127.0.0.1:{gateway.port}/ocpp", identity)


@contextlib.asynccontextmanager
async def station(
    gateway: Gateway, identity: str, versions: Sequence[str] = ("ocpp2.0.1",), **kwargs: Any
) -> AsyncIterator[ClientConnection]:
    async with connect(
        station_url(gateway, identity),
        subprotocols=list(versions),
        **kwargs,  # type: ignore[arg-type]
    ) as ws:
        yield ws


def run(scenario: Callable[[], Any]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(TIMEOUT * 3):
            await scenario()

    asyncio.run(bounded())


# --------------------------------------------------------------------------- redis-server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str:
    """The redis-server binary; skipped locally without it, a failure in CI (.ci/run installs it)."""
    found = shutil.which("redis-server")
    if found is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    return found


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A private redis-server on a free loopback port; yields its URL."""
    binary = redis_server_binary()
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", folder],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ},
        )
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:  # wait until it accepts connections (bounded by its start)
                if b"Ready to accept connections" in raw:
                    break
            else:
                raise RuntimeError("redis-server exited before it was ready")
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
