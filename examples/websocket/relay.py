"""Demo relaying node relay-1: forwards frames and endorses CSMS commands with a chained signature.

    python examples/websocket/relay.py --port 9100 --upstream ws://127.0.0.1:9000/ocpp

Stations connect to ``ws://127.0.0.1:9100/ocpp/<identity>``; the relay opens the same path on the
CSMS with the same subprotocol and Authorization header, forwards every frame, and adds to each
signed CALL from the CSMS a signature of its own with ``chained: true`` (SPEC §3): it covers the
signatures before it, so the station sees that this node passed the command on unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from _demo import LOG, PREFIX, signer
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ocpp_e2e.context import find_signatures
from ocpp_e2e.integrations.connection import (
    identity_from_path,
    negotiated_ocpp,
    subprotocol_selector,
)
from ocpp_e2e.sign import sign_frame


def endorse(message: str, ocpp: str, station: str, relay: Any) -> str:
    """Add the relay's chained signature to a signed CALL; other frames pass unchanged."""
    value = orjson.loads(message)
    if not (
        isinstance(value, list) and len(value) == 4 and value[0] == 2 and isinstance(value[3], dict)
    ):
        return message
    if find_signatures(value[3])[1] is None:
        return message  # nothing to endorse: a chained signature needs an earlier one
    return sign_frame(message, relay, ocpp=ocpp, station=station, chained=True, timestamp=datetime.now(UTC))


async def run_relay(port: int, upstream: str, ready: asyncio.Future[int] | None = None) -> None:
    """Serve until cancelled; ``ready`` receives the bound port."""
    relay = signer("relay-node")

    async def handler(down: ServerConnection) -> None:
        ocpp = negotiated_ocpp(down)
        if ocpp is None or down.request is None or down.subprotocol is None:
            await down.close(1002, "no common OCPP version")
            return
        station = identity_from_path(down.request.path, PREFIX)
        headers = {}
        if "Authorization" in down.request.headers:
            headers["Authorization"] = down.request.headers["Authorization"]
        url = upstream.rstrip("/") + down.request.path[len(PREFIX) :]
        async with connect(url, subprotocols=[down.subprotocol], additional_headers=headers) as up:

            async def to_csms() -> None:
                async for message in down:
                    await up.send(message)

            async def to_station() -> None:
                async for message in up:
                    assert isinstance(message, str)
                    await down.send(endorse(message, ocpp, station, relay))

            tasks = [asyncio.create_task(to_csms()), asyncio.create_task(to_station())]
            with contextlib.suppress(ConnectionClosed):
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async with serve(
        handler,
        "127.0.0.1",
        port,
        select_subprotocol=subprotocol_selector(["ocpp2.0.1", "ocpp1.6"]),
    ) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        LOG.info(
            "relay: listening on ws://127.0.0.1:%d%s/<identity> -> %s", bound, PREFIX, upstream
        )
        if ready is not None:
            ready.set_result(bound)
        await asyncio.Future()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--upstream", default="ws://127.0.0.1:9000/ocpp")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("ocpp", "websockets"):  # their INFO lines print every frame and connection
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_relay(args.port, args.upstream))


if __name__ == "__main__":
    main()
