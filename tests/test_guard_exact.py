"""Issue #12, SPEC v2 §2 and §3 over real WebSockets on loopback.

§2: frames without signatures are read exactly (integers of any size, exact decimals for `where`
conditions), passed on unchanged, and their size limit is a setting; only configured frames are
signed. §3: R binds the CALL's first signature, so a relay cannot move a renumbered signed answer
to an identical later command. Refusals lead with the verification cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v201 import call, call_result
from test_integration_harness import DATA, Csms, bounded, signer, station_session
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ocpp_e2e.guard import DecisionEvent, GuardSettings
from ocpp_e2e.integrations.connection import client_subprotocols, subprotocol_selector
from ocpp_e2e.integrations.ocpp import (
    CSMS,
    STATION,
    ChargePoint201,
    Guard,
    ResponseRefused,
    Signing,
    SignRule,
)
from ocpp_e2e.model import Kind, Outcome
from ocpp_e2e.policy import load_policy, loads_policy
from ocpp_e2e.replay import MemoryReplayCache, SQLiteReplayCache
from ocpp_e2e.sign import sign_frame

STATION_ID = "CS-0001"

# A station policy that lets some commands through unsigned, with `where` conditions on numbers.
UNSIGNED_POLICY = """
type: SignaturePolicy
id: unsigned-commands
version: 1
mode: enforce
default: deny
maxSignatureAge: PT5M
rules:
  - id: unsigned-housekeeping
    effect: permit
    match: {actions: [ClearChargingProfile, SendLocalList, Heartbeat], kinds: [request]}
    signers: none
  - id: unsigned-limits-of-at-least-4200
    effect: permit
    match: {actions: [SetChargingProfile], kinds: [request]}
    signers: none
    where:
      - {path: "chargingProfile.chargingSchedule[*].chargingSchedulePeriod[*].limit", op: gte, value: 4200}
"""


class Station(ChargePoint201):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    @on("ClearChargingProfile")  # type: ignore[untyped-decorator]
    def on_clear(self, **kwargs: Any) -> Any:
        self.received.append(("ClearChargingProfile", kwargs))
        return call_result.ClearChargingProfile(status="Accepted")

    # A 1.4 MB list takes the `ocpp` package's schema validation seconds; the guard's part is
    # what this file tests.
    @on("SendLocalList", skip_schema_validation=True)  # type: ignore[untyped-decorator]
    def on_send_local_list(self, **kwargs: Any) -> Any:
        self.received.append(("SendLocalList", kwargs))
        return call_result.SendLocalList(status="Accepted")

    @on("SetChargingProfile")  # type: ignore[untyped-decorator]
    def on_profile(self, **kwargs: Any) -> Any:
        self.received.append(("SetChargingProfile", kwargs))
        return call_result.SetChargingProfile(status="Accepted")

    @on("Reset")  # type: ignore[untyped-decorator]
    def on_reset(self, type: str, **kwargs: Any) -> Any:
        return call_result.Reset(status="Accepted")


def unsigned_guard(settings: GuardSettings | None = None, hooks: Any = ()) -> Guard:
    policy = loads_policy(UNSIGNED_POLICY, fmt="yaml", source="unsigned")
    return Guard(
        policy, policy.verifier(), replay_cache=MemoryReplayCache(), settings=settings, hooks=hooks, clock=lambda: datetime.now(UTC)
    )


@contextlib.asynccontextmanager
async def guarded_station(guard: Guard) -> AsyncIterator[tuple[list[Station], int]]:
    """A guarded station that accepts a connection from a raw "CSMS" client (frames as text)."""
    stations: list[Station] = []

    async def handler(ws: ServerConnection) -> None:
        cp = Station(STATION_ID, ws, side=STATION, guard=guard)
        stations.append(cp)
        with contextlib.suppress(ConnectionClosed):
            await cp.start()

    async with serve(
        handler,
        "127.0.0.1",
        0,
        select_subprotocol=subprotocol_selector(["ocpp2.0.1"]),
        max_size=None,
    ) as server:
        yield stations, int(next(iter(server.sockets)).getsockname()[1])


@contextlib.asynccontextmanager
async def raw_csms(port: int) -> AsyncIterator[ClientConnection]:
    url = f"ws://127.0.0.1:{port}/ocpp/{STATION_ID}"
    async with connect(url, subprotocols=client_subprotocols("2.0.1"), max_size=None) as ws:
        yield ws


async def exchange(ws: ClientConnection, frame: str) -> list[Any]:
    await ws.send(frame)
    answer = json.loads(await ws.recv())
    assert isinstance(answer, list)
    return answer


def profile_frame(message_id: str, limit: str) -> str:
    return (
        f'[2, "{message_id}", "SetChargingProfile", {{"evseId": 1, "chargingProfile": {{"id": 1, '
        '"stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": '
        '"Absolute", "chargingSchedule": [{"id": 1, "chargingRateUnit": "W", '
        '"startSchedule": "2026-11-22T00:00:00Z", "chargingSchedulePeriod": '
        f'[{{"startPeriod": 0, "limit": {limit}}}]}}]}}}}]'
    )


# --------------------------------------------------------------------------- SPEC §2


def test_an_unsigned_command_with_an_integer_beyond_2_53_reaches_the_handler_exactly() -> None:
    async def scenario() -> None:
        async with guarded_station(unsigned_guard()) as (stations, port), raw_csms(port) as ws:
            frame = '[2, "c1", "ClearChargingProfile", {"chargingProfileId": 1152921504606846977}]'
            answer = await exchange(ws, frame)
            assert answer == [3, "c1", {"status": "Accepted"}]
            assert stations[0].received == [
                ("ClearChargingProfile", {"charging_profile_id": 2**60 + 1})
            ]

    bounded(scenario)


def test_where_conditions_compare_exact_decimals_of_unsigned_frames() -> None:
    # 4199.99999999999999999 reads as the double 4200.0: compared as a double it would pass
    # "gte 4200"; read exactly (SPEC §2) it is below 4200 and refused.
    async def scenario() -> None:
        async with guarded_station(unsigned_guard()) as (stations, port), raw_csms(port) as ws:
            below = await exchange(ws, profile_frame("p1", "4199.99999999999999999"))
            above = await exchange(ws, profile_frame("p2", "4200.00000000000000001"))
            assert below[:3] == [4, "p1", "SecurityError"]
            assert below[3] == "no rule permits SetChargingProfile request; default deny"
            assert above == [3, "p2", {"status": "Accepted"}]
            assert [name for name, _ in stations[0].received] == ["SetChargingProfile"]

    bounded(scenario)


def local_list(entries: int) -> str:
    items = ",".join(
        f'{{"idToken": {{"idToken": "TOKEN{i:012d}", "type": "ISO14443"}}, '
        f'"idTokenInfo": {{"status": "Accepted"}}}}'
        for i in range(entries)
    )
    return (
        '[2, "big", "SendLocalList", {"versionNumber": 7, "updateType": "Full", '
        f'"localAuthorizationList": [{items}]}}]'
    )


def test_the_size_limit_of_unsigned_frames_is_a_setting() -> None:
    big = local_list(14_000)
    assert 1_300_000 < len(big.encode()) < 2_000_000
    events: list[DecisionEvent] = []

    async def scenario() -> None:
        roomy = unsigned_guard(GuardSettings(max_unsigned_bytes=2 << 20))
        async with guarded_station(roomy) as (stations, port), raw_csms(port) as ws:
            assert await exchange(ws, big) == [3, "big", {"status": "Accepted"}]
            ((_name, kwargs),) = stations[0].received
            assert len(kwargs["local_authorization_list"]) == 14_000
        strict = unsigned_guard(hooks=[events.append])  # the default: 1 MiB
        async with guarded_station(strict) as (stations, port), raw_csms(port) as ws:
            refused = await exchange(ws, big)
            assert refused[:3] == [4, "big", "SecurityError"]
            assert "more than the limit of 1048576 bytes" in refused[3]
            assert stations[0].received == []

    bounded(scenario)
    assert [(e.failure, e.action, e.enforced) for e in events] == [
        ("oversized", "SendLocalList", True)
    ]


def test_a_signed_frame_with_an_integer_beyond_2_53_is_refused_as_not_i_json() -> None:
    frame = '[2, "s1", "ClearChargingProfile", {"chargingProfileId": 1}]'
    signed = json.loads(
        sign_frame(frame, signer("csms-operator"), ocpp="2.0.1", station=STATION_ID, timestamp=datetime.now(UTC))
    )
    signed[3]["chargingProfileId"] = 2**60

    async def scenario() -> None:
        async with guarded_station(unsigned_guard()) as (stations, port), raw_csms(port) as ws:
            refused = await exchange(ws, json.dumps(signed))
            assert refused[:3] == [4, "s1", "SecurityError"]
            assert "beyond ±(2^53−1)" in refused[3]
            assert stations[0].received == []

    bounded(scenario)


def test_only_configured_frames_are_signed_the_rest_leave_as_the_application_wrote_them() -> None:
    # The CSMS signs Reset only; its unsigned ClearChargingProfile with a 2^60 id goes out as
    # written (it used to fail before sending: nothing signs integers beyond 2^53).
    sent: list[str] = []

    async def scenario() -> None:
        text = (DATA / "csms-policy.yaml").read_text() + (
            "  - id: unsigned-clear-answers\n"
            "    effect: permit\n"
            "    match: {actions: [ClearChargingProfile], kinds: [response]}\n"
            "    signers: none\n"
        )
        csms_policy = loads_policy(text, fmt="yaml", source="csms")
        csms_guard = Guard(csms_policy, csms_policy.verifier(), replay_cache=MemoryReplayCache(), clock=lambda: datetime.now(UTC))
        signing = Signing(
            [SignRule([signer("csms-operator")], actions=["Reset"], kinds=[Kind.REQUEST])]
        )
        csms = Csms(
            lambda i, v, ws: ChargePoint201(i, ws, side=CSMS, signing=signing, guard=csms_guard)
        )
        async with csms:

            def make(ws: Any) -> Station:
                return Station(STATION_ID, ws, side=STATION, guard=unsigned_guard())

            async with station_session(csms.url(STATION_ID), make) as station:
                cp = await csms.charge_point(STATION_ID)
                original = cp._connection.send

                async def spy(message: str) -> None:
                    sent.append(message)
                    await original(message)

                cp._connection.send = spy
                result = await cp.call(
                    call.ClearChargingProfile(charging_profile_id=2**60), suppress=False
                )
                assert result.status == "Accepted"
                assert station.received == [
                    ("ClearChargingProfile", {"charging_profile_id": 2**60})
                ]

    bounded(scenario)
    (text,) = sent
    assert "signatures" not in text and str(2**60) in text


# --------------------------------------------------------------------------- SPEC §3 R


class AnswerMover:
    """A relay between station and CSMS that keeps the station's first answer and later delivers
    it, renumbered, as the answer to the next (identical) command."""

    def __init__(self, upstream: Csms) -> None:
        self.upstream = upstream
        self.kept: str | None = None
        self.holding = asyncio.Event()
        self.server: Server | None = None

    def url(self, identity: str) -> str:
        assert self.server is not None
        return self.upstream.url(identity, int(next(iter(self.server.sockets)).getsockname()[1]))

    def up(self, message: str) -> str | None:
        value = json.loads(message)
        if value[0] != 3:
            return message
        if self.kept is None:
            self.kept = message
            self.holding.set()
            return None
        moved = json.loads(self.kept)
        moved[1] = value[1]  # renumbered: the message id is not signed
        return json.dumps(moved)

    async def handle(self, down: ServerConnection) -> None:
        assert down.request is not None and down.subprotocol is not None
        url = f"ws://127.0.0.1:{self.upstream.port}{down.request.path}"
        async with connect(url, subprotocols=[down.subprotocol]) as up:

            async def pump(src: Any, dst: Any, change: Callable[[str], str | None]) -> None:
                async for message in src:
                    out = change(message)
                    if out is not None:
                        await dst.send(out)

            tasks = [
                asyncio.create_task(pump(down, up, self.up)),
                asyncio.create_task(pump(up, down, lambda m: m)),
            ]
            with contextlib.suppress(ConnectionClosed):
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def test_a_relay_cannot_move_a_renumbered_signed_answer_to_an_identical_later_command(
    tmp_path: Path,
) -> None:
    events: list[DecisionEvent] = []
    commands = Signing(
        [SignRule([signer("csms-operator")], kinds=[Kind.REQUEST, Kind.RESPONSE, Kind.ERROR])]
    )
    answers = Signing([SignRule([signer("station-1")], kinds=[Kind.RESPONSE, Kind.ERROR])])

    async def scenario() -> None:
        csms_policy = load_policy(DATA / "csms-policy.yaml")
        csms_guard = Guard(
            csms_policy,
            csms_policy.verifier(),
            replay_cache=MemoryReplayCache(),
            hooks=[events.append], clock=lambda: datetime.now(UTC),
        )
        csms = Csms(
            lambda i, v, ws: ChargePoint201(
                i, ws, side=CSMS, signing=commands, guard=csms_guard, response_timeout=1
            )
        )
        station_policy = load_policy(DATA / "station-policy.yaml")
        station_guard = Guard(
            station_policy, station_policy.verifier(), replay_cache=MemoryReplayCache(), clock=lambda: datetime.now(UTC)
        )
        async with csms:
            mover = AnswerMover(csms)
            async with serve(
                mover.handle, "127.0.0.1", 0, select_subprotocol=subprotocol_selector(["ocpp2.0.1"])
            ) as server:
                mover.server = server

                def make(ws: Any) -> Station:
                    return Station(
                        STATION_ID, ws, side=STATION, signing=answers, guard=station_guard
                    )

                async with station_session(mover.url(STATION_ID), make):
                    cp = await csms.charge_point(STATION_ID)
                    with pytest.raises(asyncio.TimeoutError):  # its answer is kept by the relay
                        await cp.call(call.Reset(type="Immediate"), suppress=False)
                    await mover.holding.wait()
                    with pytest.raises(ResponseRefused) as refused:
                        await cp.call(call.Reset(type="Immediate"), suppress=False)
        moved = refused.value.verification.signatures[0]
        assert moved.outcome is Outcome.INVALID
        assert refused.value.decision.reason.startswith(
            "signature #0 from known key cs-0001 is invalid"
        )

    bounded(scenario)
    assert [(e.kind, e.decision.effect.value) for e in events] == [(Kind.RESPONSE, "deny")]


# --------------------------------------------------------------------------- reasons


def test_a_replayed_command_is_refused_with_the_replay_named_first(tmp_path: Path) -> None:
    station_policy = load_policy(DATA / "station-policy.yaml")
    cache = SQLiteReplayCache(tmp_path / "replay.sqlite")
    guard = Guard(station_policy, station_policy.verifier(), replay_cache=cache, clock=lambda: datetime.now(UTC))
    signed = json.loads(
        sign_frame(
            '[2, "r1", "Reset", {"type": "Immediate"}]',
            signer("csms-operator"),
            ocpp="2.0.1",
            station=STATION_ID, timestamp=datetime.now(UTC),
        )
    )

    async def scenario() -> None:
        async with guarded_station(guard) as (_stations, port), raw_csms(port) as ws:
            first = await exchange(ws, json.dumps(signed))
            signed[1] = "r2"  # the replay, renumbered
            again = await exchange(ws, json.dumps(signed))
        assert first == [3, "r1", {"status": "Accepted"}]
        assert again[:3] == [4, "r2", "SecurityError"]
        assert again[3].startswith("signature #0 of ops-1 is replayed: this signature of ops-1 ")
        assert again[3].endswith("; no rule permits Reset request; default deny")

    bounded(scenario)
    cache.close()
