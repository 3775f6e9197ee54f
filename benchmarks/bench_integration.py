"""What the ocpp-e2e adapter adds to the ``ocpp`` package: 1,000 Heartbeat round trips, loopback.

Run: ``.venv/bin/python benchmarks/bench_integration.py [ROUND_TRIPS]``

Both runs use real websockets on 127.0.0.1 and the ``ocpp`` package on both sides. The plain run
uses ``ocpp.v201.ChargePoint``; the signed run uses ``ChargePoint201`` on both sides: the station
signs each Heartbeat (Ed25519 with its certificate chain), the CSMS verifies it, decides by policy,
signs the response (Ed25519 with chain), and the station verifies and decides that. The signed run
is done twice: with the durable SQLite replay cache that ``mode: enforce`` needs (one committed
write per message), and with the in-memory cache, to show what the disk write costs. Two messages
per round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint as PlainChargePoint
from ocpp.v201 import call, call_result
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ocpp_e2e.integrations.connection import client_subprotocols, subprotocol_selector
from ocpp_e2e.integrations.ocpp import CSMS, STATION, ChargePoint201, Guard, Signing, SignRule
from ocpp_e2e.keys import KeySigner, load_private_key
from ocpp_e2e.model import Kind
from ocpp_e2e.pki.validate import pem_chain_der
from ocpp_e2e.policy import load_policy
from ocpp_e2e.replay import MemoryReplayCache, ReplayCache, SQLiteReplayCache

ROOT = Path(__file__).resolve().parent.parent
KEYS = ROOT / "keys-example"
POLICIES = ROOT / "tests" / "data" / "integration"
STATION_ID = "cs-0001"


def _signer(name: str) -> KeySigner:
    chain = pem_chain_der((KEYS / f"{name}.chain.pem").read_bytes())
    return KeySigner(load_private_key(KEYS / f"{name}.key.pem"), certificates=chain)


class _Heartbeats:
    @on("Heartbeat")  # type: ignore[untyped-decorator]
    def on_heartbeat(self, **kwargs: Any) -> Any:
        return call_result.Heartbeat(current_time="2026-11-22T00:00:00Z")


class PlainCsms(_Heartbeats, PlainChargePoint):  # type: ignore[misc]
    pass


class SignedCsms(_Heartbeats, ChargePoint201):
    pass


def _guard(name: str, folder: Path | None) -> Guard:
    policy = load_policy(POLICIES / f"{name}-policy.yaml")
    cache: ReplayCache = (
        SQLiteReplayCache(folder / f"{name}.sqlite") if folder else MemoryReplayCache()
    )
    return Guard(policy, policy.verifier(replay_cache=cache))


async def _run(signed: bool, rounds: int, folder: Path | None) -> float:
    """Seconds for ``rounds`` round trips; ``folder`` holds SQLite replay caches (None: memory)."""
    responses = Signing([SignRule([_signer("csms-operator")], kinds=[Kind.RESPONSE])])
    requests = Signing([SignRule([_signer("station-1")], kinds=[Kind.REQUEST])])
    csms_guard = _guard("csms", folder) if signed else None
    station_guard = _guard("station", folder) if signed else None

    async def handler(ws: ServerConnection) -> None:
        if csms_guard is not None:
            cp: Any = SignedCsms(STATION_ID, ws, side=CSMS, signing=responses, guard=csms_guard)
        else:
            cp = PlainCsms(STATION_ID, ws)
        with contextlib.suppress(ConnectionClosed):
            await cp.start()

    async with serve(
        handler, "127.0.0.1", 0, select_subprotocol=subprotocol_selector(["ocpp2.0.1"])
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        url = f"ws://127.0.0.1:{port}/ocpp/{STATION_ID}"
        async with connect(url, subprotocols=client_subprotocols("2.0.1")) as ws:
            if station_guard is not None:
                station: Any = ChargePoint201(
                    STATION_ID, ws, side=STATION, signing=requests, guard=station_guard
                )
            else:
                station = PlainChargePoint(STATION_ID, ws)
            loop = asyncio.create_task(station.start())
            for _ in range(20):  # warm-up: caches, first certificate validation
                await station.call(call.Heartbeat(), suppress=False)
            start = time.perf_counter()
            for _ in range(rounds):
                await station.call(call.Heartbeat(), suppress=False)
            elapsed = time.perf_counter() - start
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await loop
    return elapsed


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    plain: list[float] = []
    disk: list[float] = []
    memory: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(3):
            plain.append(asyncio.run(_run(False, rounds, None)))
            folder = Path(tmp) / f"run{i}"
            folder.mkdir()
            disk.append(asyncio.run(_run(True, rounds, folder)))
            memory.append(asyncio.run(_run(True, rounds, None)))
    p = statistics.median(plain)
    print(f"{rounds} Heartbeat round trips over loopback (2 messages each), median of 3 runs")
    print(f"  plain ocpp package:             {p * 1000 / rounds:.3f} ms per round trip")
    for label, runs in (("SQLite replay cache", disk), ("memory replay cache", memory)):
        s = statistics.median(runs)
        added = (s - p) / rounds * 1000
        print(
            f"  signed, {label}: {s * 1000 / rounds:.3f} ms per round trip, "
            f"{s / p:.2f}x plain, adds {added / 2:.3f} ms per message (target <= 1 ms)"
        )


if __name__ == "__main__":
    main()
