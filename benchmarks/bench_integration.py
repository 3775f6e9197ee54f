"""What the ocpp-e2e adapter adds to the ``ocpp`` package: Heartbeat round trips over loopback.

Run: ``.venv/bin/python benchmarks/bench_integration.py [ROUND_TRIPS_PER_ROUND] [ROUNDS]``

Every round runs three configurations one after the other (interleaved, so that a change in the
machine's load hits all three alike): the plain ``ocpp`` package on both sides; ``ChargePoint201``
on both sides with the durable SQLite replay cache that ``mode: enforce`` needs; and the same with
the in-memory cache. In the signed runs the station signs each Heartbeat (Ed25519 with its
certificate chain), the CSMS verifies it, decides by policy, signs the response, and the station
verifies and decides that: two guarded messages per round trip.

Reported, for each configuration: the round-trip time at p50 and p99 over all calls, and the time
the guard itself spends per message (``GuardConnection.receive`` + ``send``, measured in process)
at p50 and p99 — the added latency per message. The load average is printed with the results.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint as PlainChargePoint
from ocpp.v201 import call, call_result
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ocpp_e2e.guard import GuardConnection
from ocpp_e2e.integrations.connection import client_subprotocols, subprotocol_selector
from ocpp_e2e.integrations.ocpp import CSMS, STATION, ChargePoint201, Guard, Signing, SignRule
from ocpp_e2e.keys import KeySigner, load_private_key
from ocpp_e2e.model import Kind
from ocpp_e2e.pki.validate import pem_chain_der
from ocpp_e2e.policy import load_policy
from ocpp_e2e.replay import MemoryReplayCache, SQLiteReplayCache

ROOT = Path(__file__).resolve().parent.parent
KEYS = ROOT / "keys-example"
POLICIES = ROOT / "tests" / "data" / "integration"
STATION_ID = "cs-0001"
CONFIGS = ("plain", "sqlite", "memory")


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


class Timed(GuardConnection):
    """A guard connection that records the time spent in each receive and send (seconds)."""

    spent: list[float]

    async def receive(self, data: str | bytes) -> Any:
        start = time.perf_counter()
        try:
            return await super().receive(data)
        finally:
            self.spent.append(time.perf_counter() - start)

    async def send(self, message: str) -> str:
        start = time.perf_counter()
        try:
            return await super().send(message)
        finally:
            self.spent.append(time.perf_counter() - start)


def _timed(cp: Any, spent: list[float]) -> Any:
    e2e = cp.e2e
    timed = Timed(e2e.guard, e2e.station, e2e.ocpp, e2e.side, e2e.signing)
    timed.spent = spent
    cp.e2e = timed
    return cp


def _guard(name: str, cache: Any) -> Guard:
    policy = load_policy(POLICIES / f"{name}-policy.yaml")
    return Guard(policy, policy.verifier(), replay_cache=cache, clock=lambda: datetime.now(UTC))


async def _run(config: str, rounds: int, folder: Path) -> tuple[list[float], list[float]]:
    """(round-trip seconds per call, guard seconds per message) for one configuration."""
    responses = Signing([SignRule([_signer("csms-operator")], kinds=[Kind.RESPONSE])])
    requests = Signing([SignRule([_signer("station-1")], kinds=[Kind.REQUEST])])
    caches: list[Any] = []
    if config == "sqlite":
        caches = [
            SQLiteReplayCache(folder / "csms.sqlite"),
            SQLiteReplayCache(folder / "st.sqlite"),
        ]
    elif config == "memory":
        caches = [MemoryReplayCache(), MemoryReplayCache()]
    spent: list[float] = []

    async def handler(ws: ServerConnection) -> None:
        if caches:
            guard = _guard("csms", caches[0])
            cp: Any = _timed(
                SignedCsms(STATION_ID, ws, side=CSMS, signing=responses, guard=guard), spent
            )
        else:
            cp = PlainCsms(STATION_ID, ws)
        with contextlib.suppress(ConnectionClosed):
            await cp.start()

    times: list[float] = []
    async with serve(
        handler, "127.0.0.1", 0, select_subprotocol=subprotocol_selector(["ocpp2.0.1"])
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        url = f"ws://127.0.0.1:{port}/ocpp/{STATION_ID}"
        async with connect(url, subprotocols=client_subprotocols("2.0.1")) as ws:
            if caches:
                guard = _guard("station", caches[1])
                station: Any = _timed(
                    ChargePoint201(STATION_ID, ws, side=STATION, signing=requests, guard=guard),
                    spent,
                )
            else:
                station = PlainChargePoint(STATION_ID, ws)
            loop = asyncio.create_task(station.start())
            for _ in range(20):  # warm-up: caches, first certificate validation
                await station.call(call.Heartbeat(), suppress=False)
            del spent[:]
            for _ in range(rounds):
                start = time.perf_counter()
                await station.call(call.Heartbeat(), suppress=False)
                times.append(time.perf_counter() - start)
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await loop
    for cache in caches:
        if isinstance(cache, SQLiteReplayCache):
            cache.close()
    # Each guarded message costs one receive on one side and one send on the other.
    per_message = [a + b for a, b in zip(spent[0::2], spent[1::2], strict=False)]
    return times, per_message


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    per_round = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    rtt: dict[str, list[float]] = {c: [] for c in CONFIGS}
    guard: dict[str, list[float]] = {c: [] for c in CONFIGS}
    medians: dict[str, list[float]] = {c: [] for c in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            for config in CONFIGS:
                folder = Path(tmp) / f"{config}{i}"
                folder.mkdir()
                times, spent = asyncio.run(_run(config, per_round, folder))
                rtt[config] += times
                guard[config] += spent
                medians[config].append(statistics.median(times))
    load = os.getloadavg()
    print(
        f"{rounds} interleaved rounds x {per_round} Heartbeat round trips over loopback "
        f"(2 guarded messages each); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    plain = statistics.median(medians["plain"])
    print(
        f"{'run':38} {'RTT p50':>9} {'RTT p99':>9} {'vs plain':>9} {'guard p50':>10} {'guard p99':>10}"
    )
    for config, label in (
        ("plain", "plain ocpp package"),
        ("sqlite", "signed, SQLite replay cache (enforce)"),
        ("memory", "signed, memory replay cache"),
    ):
        ratio = statistics.median(medians[config]) / plain
        if config == "plain":
            g50 = g99 = "—"
        else:
            g50 = f"{_pct(guard[config], 0.50):.3f} ms"
            g99 = f"{_pct(guard[config], 0.99):.3f} ms"
        print(
            f"{label:38} {_pct(rtt[config], 0.50):6.3f} ms {_pct(rtt[config], 0.99):6.3f} ms "
            f"{ratio:8.2f}x {g50:>10} {g99:>10}"
        )
    added50 = (_pct(rtt["sqlite"], 0.50) - _pct(rtt["plain"], 0.50)) / 2
    added99 = (_pct(rtt["sqlite"], 0.99) - _pct(rtt["plain"], 0.99)) / 2
    print(
        f"added per message with the SQLite cache, from round trips: p50 {added50:.3f} ms, "
        f"p99 {added99:.3f} ms (target p50 <= 1 ms)"
    )


if __name__ == "__main__":
    main()
