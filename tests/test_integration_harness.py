"""Loopback harness for the issue #8 integration tests (no tests here): CSMS, stations, a proxy.

Everything runs on 127.0.0.1 with port 0; waits are futures bounded by ``TIMEOUT``, never sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

from ocpp.charge_point import ChargePoint as OcppChargePoint
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ocpp_e2e.integrations.connection import (
    AuthorizationKeyStore,
    client_subprotocols,
    connection_url,
    identity_from_path,
    negotiated_ocpp,
    request_guard,
    subprotocol_selector,
)
from ocpp_e2e.keys import KeySigner, load_private_key
from ocpp_e2e.pki.validate import pem_chain_der

ROOT = Path(__file__).resolve().parent.parent
KEYS = ROOT / "keys-example"
DATA = Path(__file__).resolve().parent / "data" / "integration"
TIMEOUT = 10.0
PREFIX = "/ocpp"


def signer(name: str) -> KeySigner:
    """A signer from keys-example with its certificate chain attached."""
    chain = pem_chain_der((KEYS / f"{name}.chain.pem").read_bytes())
    return KeySigner(load_private_key(KEYS / f"{name}.key.pem"), certificates=chain)


def bounded(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run one async scenario with a hard time bound."""

    async def run() -> None:
        async with asyncio.timeout(TIMEOUT):
            await scenario()

    asyncio.run(run())


MakeCp = Callable[[str, str, ServerConnection], OcppChargePoint]


class Csms:
    """A websockets server that runs one ``ocpp`` ChargePoint per connected station."""

    def __init__(
        self,
        make_cp: MakeCp,
        *,
        keys: AuthorizationKeyStore | None = None,
        known: Callable[[str], bool] = lambda identity: True,
        versions: Sequence[str] = ("ocpp2.0.1", "ocpp1.6"),
    ) -> None:
        self.make_cp = make_cp
        self.keys = keys
        self.known = known
        self.versions = versions
        self.server: Server | None = None
        self._connected: dict[str, asyncio.Future[OcppChargePoint]] = {}

    async def __aenter__(self) -> Csms:
        self.server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=request_guard(prefix=PREFIX, is_known=self.known, keys=self.keys),
            select_subprotocol=subprotocol_selector(self.versions),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(next(iter(self.server.sockets)).getsockname()[1])

    def url(self, identity: str, port: int | None = None) -> str:
        return connection_url(f"ws://127.0.0.1:{port or self.port}{PREFIX}", identity)

    def _future(self, identity: str) -> asyncio.Future[OcppChargePoint]:
        return self._connected.setdefault(identity, asyncio.get_running_loop().create_future())

    async def charge_point(self, identity: str) -> OcppChargePoint:
        """The CSMS-side ChargePoint of the next (or current) connection of ``identity``."""
        return await self._future(identity)

    def forget(self, identity: str) -> None:
        self._connected.pop(identity, None)

    async def _handle(self, connection: ServerConnection) -> None:
        version = negotiated_ocpp(connection)
        if version is None:
            await connection.close(1002, "no common OCPP subprotocol")
            return
        assert connection.request is not None
        identity = identity_from_path(connection.request.path, PREFIX)
        cp = self.make_cp(identity, version, connection)
        future = self._future(identity)
        if not future.done():
            future.set_result(cp)
        with contextlib.suppress(ConnectionClosed):
            await cp.start()


@contextlib.asynccontextmanager
async def station_session(
    url: str,
    make_cp: Callable[[ClientConnection], OcppChargePoint],
    *,
    versions: Sequence[str] = ("2.0.1",),
    headers: dict[str, str] | None = None,
) -> AsyncIterator[OcppChargePoint]:
    """Connect a station ChargePoint and run its receive loop for the duration of the block."""
    async with connect(
        url, subprotocols=client_subprotocols(*versions), additional_headers=headers
    ) as ws:
        cp = make_cp(ws)
        task = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await task


Transform = Callable[[str], list[str]]


class Proxy:
    """A man in the middle (or a relaying node): forwards frames, rewriting CSMS→station ones."""

    def __init__(self, upstream: Csms, to_station: Transform) -> None:
        self.upstream = upstream
        self.to_station = to_station
        self.server: Server | None = None

    async def __aenter__(self) -> Proxy:
        self.server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            select_subprotocol=subprotocol_selector(self.upstream.versions),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    def url(self, identity: str) -> str:
        assert self.server is not None
        port = int(next(iter(self.server.sockets)).getsockname()[1])
        return self.upstream.url(identity, port)

    async def _handle(self, downstream: ServerConnection) -> None:
        assert downstream.request is not None and downstream.subprotocol is not None
        url = f"ws://127.0.0.1:{self.upstream.port}{downstream.request.path}"
        async with connect(url, subprotocols=[downstream.subprotocol]) as upstream:

            async def up() -> None:
                async for message in downstream:
                    await upstream.send(message)

            async def down() -> None:
                async for message in upstream:
                    assert isinstance(message, str)
                    for out in self.to_station(message):
                        await downstream.send(out)

            tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
            with contextlib.suppress(ConnectionClosed):
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def passthrough(message: str) -> list[str]:
    return [message]


def on_call(action: str, rewrite: Callable[[str], list[str]]) -> Transform:
    """A transform that hands every CALL of ``action`` to ``rewrite`` and forwards the rest."""

    def transform(message: str) -> list[str]:
        value = json.loads(message)
        if value[0] == 2 and value[2] == action:
            return rewrite(message)
        return [message]

    return transform
