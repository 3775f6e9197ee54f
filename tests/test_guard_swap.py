"""Issue #12: the policy, verifier and settings of a running guard are swapped atomically, from a
local file or a signed upgrade (SPEC §7), while connections keep running."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocpp.routing import on
from ocpp.v201 import call_result
from test_integration_harness import DATA, bounded, signer
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ocpp_e2e.guard import CSMS, DecisionEvent, Deliver, Guard, GuardSettings
from ocpp_e2e.integrations.connection import client_subprotocols, subprotocol_selector
from ocpp_e2e.integrations.ocpp import ChargePoint201
from ocpp_e2e.policy import load_policy, loads_policy, sign_policy
from ocpp_e2e.replay import MemoryReplayCache
from ocpp_e2e.sign import sign_frame

ROOT = Path(__file__).resolve().parent.parent
QUORUM = ROOT / "policies" / "policy-admin-quorum.yaml"
STATION_ID = "CS-0001"


class CsmsCp(ChargePoint201):
    @on("Heartbeat")  # type: ignore[untyped-decorator]
    def on_heartbeat(self, **kwargs: Any) -> Any:
        return call_result.Heartbeat(current_time="2026-11-22T00:00:00Z")


@contextlib.asynccontextmanager
async def guarded_csms(guard: Guard) -> AsyncIterator[ClientConnection]:
    """A guarded CSMS and a raw station client connected to it."""

    async def handler(ws: ServerConnection) -> None:
        cp = CsmsCp(STATION_ID, ws, side=CSMS, guard=guard)
        with contextlib.suppress(ConnectionClosed):
            await cp.start()

    async with serve(
        handler, "127.0.0.1", 0, select_subprotocol=subprotocol_selector(["ocpp2.0.1"])
    ) as server:
        port = int(next(iter(server.sockets)).getsockname()[1])
        url = f"ws://127.0.0.1:{port}/ocpp/{STATION_ID}"
        async with connect(url, subprotocols=client_subprotocols("2.0.1")) as ws:
            yield ws


async def heartbeat(ws: ClientConnection, message_id: str) -> list[Any]:
    await ws.send(f'[2, "{message_id}", "Heartbeat", {{}}]')
    answer = json.loads(await ws.recv())
    assert isinstance(answer, list)
    return answer


def version_2_without_heartbeats() -> dict[str, Any]:
    v1 = load_policy(QUORUM).to_dict()
    v2 = {**v1, "version": 2}
    v2["rules"] = [
        {**r, "match": {**r["match"], "actions": ["BootNotification", "StatusNotification"]}}
        if r["id"] == "liveness-unsigned"
        else r
        for r in v1["rules"]
    ]
    return v2


def test_a_signed_upgrade_and_a_local_file_replace_the_policy_of_a_running_connection() -> None:
    events: list[DecisionEvent] = []
    policy = load_policy(QUORUM)
    guard = Guard(
        policy, policy.verifier(), replay_cache=MemoryReplayCache(), hooks=[events.append], clock=lambda: datetime.now(UTC)
    )
    v2 = version_2_without_heartbeats()
    signed = sign_policy(v2, [signer("policy-admin-1"), signer("policy-admin-2")], timestamp=datetime.now(UTC))
    only_one = sign_policy({**v2, "version": 3}, signer("policy-admin-1"), timestamp=datetime.now(UTC))

    async def scenario() -> None:
        async with guarded_csms(guard) as ws:
            assert (await heartbeat(ws, "a"))[0] == 3
            refused = guard.upgrade(json.dumps(only_one).encode())
            assert not refused.accepted and "needs 2 signers" in refused.reason
            assert (await heartbeat(ws, "b"))[0] == 3  # still v1
            accepted = guard.upgrade(json.dumps(signed).encode())
            assert accepted.accepted, accepted.reason
            denied = await heartbeat(ws, "c")
            assert denied[:4] == [
                4,
                "c",
                "SecurityError",
                "no rule permits Heartbeat request; default deny",
            ]
            back = guard.install_file(QUORUM)  # the operator's local decision: no admin check
            assert back.version == 1
            assert (await heartbeat(ws, "d"))[0] == 3

    bounded(scenario)
    assert [(e.message_id, e.decision.policy_version, e.enforced) for e in events] == [
        ("a", 1, False),
        ("b", 1, False),
        ("c", 2, True),
        ("d", 1, False),
    ]


def test_a_broken_local_file_leaves_the_active_policy_in_place(tmp_path: Path) -> None:
    policy = load_policy(QUORUM)
    guard = Guard(policy, policy.verifier(), replay_cache=MemoryReplayCache(), clock=lambda: datetime.now(UTC))
    broken = tmp_path / "broken.yaml"
    broken.write_text("type: SignaturePolicy\nid: x\nversion: 0\nrules: []\n")
    try:
        guard.install_file(broken)
    except ValueError as exc:
        assert "version" in str(exc)
    else:  # pragma: no cover - the assertion below reports it
        raise AssertionError("a broken policy file was installed")
    assert guard.policy is policy


class SlowCache:
    """A replay cache that yields to the loop several times per check, so swaps land mid-frame."""

    survives_restart = True

    def __init__(self) -> None:
        self.inner = MemoryReplayCache()

    async def check_and_add_async(
        self, key_id: str, digest: bytes, expires: datetime, now: datetime
    ) -> bool:
        for _ in range(3):
            await asyncio.sleep(0)
        return self.inner.check_and_add(key_id, digest, expires, now)


def test_each_frame_is_judged_wholly_under_one_configuration_while_swaps_happen() -> None:
    text = (DATA / "csms-policy.yaml").read_text()
    v1 = loads_policy(text.replace("liveness-unsigned", "liveness-v1"), fmt="yaml", source="v1")
    v2 = loads_policy(
        text.replace("liveness-unsigned", "liveness-v2").replace("version: 1", "version: 2"),
        fmt="yaml",
        source="v2",
    )
    events: list[DecisionEvent] = []
    guard = Guard(v1, v1.verifier(), replay_cache=SlowCache(), hooks=[events.append], clock=lambda: datetime.now(UTC))
    conn = guard.connection(STATION_ID, ocpp="2.0.1", side=CSMS)
    station = signer("station-1")
    frames = [
        sign_frame(f'[2, "m{i}", "Heartbeat", {{}}]', station, ocpp="2.0.1", station=STATION_ID, timestamp=datetime.now(UTC))
        for i in range(60)
    ]

    async def swapper() -> None:
        for i in range(200):
            new = v2 if i % 2 == 0 else v1
            guard.swap(new, settings=GuardSettings(max_unsigned_bytes=1000 + new.version))
            await asyncio.sleep(0)

    async def arrive(i: int, frame: str) -> Any:
        for _ in range(i % 7):  # frames arrive over several turns of the loop
            await asyncio.sleep(0)
        return await conn.receive(frame)

    async def scenario() -> list[Any]:
        swapping = asyncio.create_task(swapper())
        actions = await asyncio.gather(*(arrive(i, f) for i, f in enumerate(frames)))
        await swapping
        return list(actions)

    actions = asyncio.run(scenario())
    assert all(isinstance(a, Deliver) for a in actions)
    pairs = {(e.decision.policy_version, e.decision.rule) for e in events}
    assert pairs == {(1, "liveness-v1"), (2, "liveness-v2")}  # swaps did land mid-stream
    assert guard.settings.max_unsigned_bytes == 1000 + guard.policy.version
