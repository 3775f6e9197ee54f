"""Issue #12: the sans-IO guard under faults, over real WebSockets on loopback.

Each test injects one fault (a replay cache locked by another process, a failing or hanging signer,
a failing cache, failing and slow hooks, unreadable and oversized frames) and shows the exact
outcome and that the connection keeps serving afterwards. Waits are bounded; no sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ocpp.exceptions import InternalError, SecurityError
from ocpp.routing import on
from ocpp.v21 import call as call21
from ocpp.v21 import call_result as result21
from ocpp.v201 import call, call_result
from test_integration_harness import DATA, Csms, bounded, signer, station_session
from websockets.asyncio.client import connect

from ocpp_e2e.errors import SigningError
from ocpp_e2e.guard import DecisionEvent, GuardSettings
from ocpp_e2e.integrations.connection import client_subprotocols
from ocpp_e2e.integrations.ocpp import (
    CSMS,
    STATION,
    ChargePoint21,
    ChargePoint201,
    Guard,
    ResponseFailed,
    Signing,
    SignRule,
)
from ocpp_e2e.keys import KeySigner
from ocpp_e2e.model import Kind, Outcome
from ocpp_e2e.policy import load_policy
from ocpp_e2e.replay import MemoryReplayCache, SQLiteReplayCache

STATION_ID = "CS-0001"


def make_guard(
    name: str,
    *,
    cache: Any = None,
    hooks: list[Any] | None = None,
    settings: GuardSettings | None = None,
) -> Guard:
    policy = load_policy(DATA / f"{name}-policy.yaml")
    return Guard(
        policy,
        policy.verifier(),
        replay_cache=cache if cache is not None else MemoryReplayCache(),
        hooks=hooks or [],
        settings=settings, clock=lambda: datetime.now(UTC),
    )


class CsmsCp(ChargePoint201):
    @on("Heartbeat")  # type: ignore[untyped-decorator]
    def on_heartbeat(self, **kwargs: Any) -> Any:
        return call_result.Heartbeat(current_time="2026-11-22T00:00:00Z")

    @on("StatusNotification")  # type: ignore[untyped-decorator]
    def on_status(self, **kwargs: Any) -> Any:
        return call_result.StatusNotification()


class StationCp(ChargePoint201):
    @on("Reset")  # type: ignore[untyped-decorator]
    def on_reset(self, type: str, **kwargs: Any) -> Any:
        return call_result.Reset(status="Accepted")


def station_requests(*signers: Any) -> Signing:
    return Signing([SignRule(list(signers) or [signer("station-1")], kinds=[Kind.REQUEST])])


CSMS_ANSWERS = Signing([SignRule([signer("csms-operator")], kinds=[Kind.RESPONSE, Kind.ERROR])])
CSMS_COMMANDS = Signing(
    [SignRule([signer("csms-operator")], kinds=[Kind.REQUEST, Kind.RESPONSE, Kind.ERROR])]
)


def csms_server(guard: Guard, signing: Signing = CSMS_ANSWERS) -> Csms:
    return Csms(
        lambda ident, version, ws: CsmsCp(ident, ws, side=CSMS, signing=signing, guard=guard)
    )


@contextlib.asynccontextmanager
async def station(
    csms: Csms, guard: Guard, signing: Signing | None = None
) -> AsyncIterator[StationCp]:
    def make(ws: Any) -> StationCp:
        return StationCp(
            STATION_ID, ws, side=STATION, signing=signing or station_requests(), guard=guard
        )

    async with station_session(csms.url(STATION_ID), make) as cp:
        yield cp  # type: ignore[misc]


class Ticker:
    """A task that wakes every 50 ms and records the longest gap between two wake-ups."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.05)
            now = loop.time()
            self.longest = max(self.longest, now - last)
            last = now

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


LOCK_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


# --------------------------------------------------------------------------- never block the loop


def test_a_replay_cache_locked_by_another_process_fails_closed_within_the_bound_and_never_stalls_the_loop(
    tmp_path: Path,
) -> None:
    bound = 0.5
    events: list[DecisionEvent] = []
    cache = SQLiteReplayCache(tmp_path / "replay.sqlite", busy_timeout=bound)
    csms_guard = make_guard(
        "csms", cache=cache, hooks=[events.append], settings=GuardSettings(replay_timeout=bound)
    )

    async def scenario() -> None:
        holder = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            LOCK_HOLDER,
            str(tmp_path / "replay.sqlite"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert holder.stdin is not None and holder.stdout is not None
        async with csms_server(csms_guard) as csms, station(csms, make_guard("station")) as cp:
            assert await holder.stdout.readline() == b"locked\n"
            with Ticker() as ticker:
                with pytest.raises(InternalError) as refused:
                    await cp.call(call.Heartbeat(), suppress=False)
                holder.stdin.write(b"release\n")
                await holder.stdin.drain()
                assert await holder.wait() == 0
                # the same connection keeps serving once the lock is gone
                result = await cp.call(call.Heartbeat(), suppress=False)
            assert result.current_time == "2026-11-22T00:00:00Z"
            assert "replay cache unavailable" in refused.value.description
            assert ticker.longest < bound, f"the loop stalled {ticker.longest:.3f} s"

    bounded(scenario)
    cache.close()
    failed = [e for e in events if e.failure is not None]
    assert [(e.failure, e.action, e.enforced) for e in failed] == [
        ("replay-cache-unavailable", "Heartbeat", True)
    ]
    assert failed[0].decision.reason.startswith("replay cache unavailable: no answer within 0.5 s")
    assert events[-1].failure is None and events[-1].decision.rule == "liveness-unsigned"


class FailingCache:
    """A replay cache that fails while ``broken`` (an I/O error, a network cache down)."""

    survives_restart = True

    def __init__(self) -> None:
        self.broken = True
        self.inner = MemoryReplayCache()

    async def check_and_add_async(
        self, key_id: str, digest: bytes, expires: datetime, now: datetime
    ) -> bool:
        if self.broken:
            raise OSError("disk I/O error")
        return self.inner.check_and_add(key_id, digest, expires, now)


def test_a_failing_replay_cache_answers_internal_error_and_the_connection_keeps_serving() -> None:
    cache = FailingCache()

    async def scenario() -> None:
        async with (
            csms_server(make_guard("csms", cache=cache)) as csms,
            station(csms, make_guard("station")) as cp,
        ):
            with pytest.raises(InternalError) as refused:
                await cp.call(call.Heartbeat(), suppress=False)
            assert refused.value.description == "replay cache unavailable"
            cache.broken = False
            assert (await cp.call(call.Heartbeat(), suppress=False)).current_time

    bounded(scenario)


def test_a_failing_replay_cache_on_the_caller_side_fails_the_waiting_call() -> None:
    cache = FailingCache()

    async def scenario() -> None:
        async with csms_server(make_guard("csms", cache=cache), CSMS_COMMANDS) as csms:
            station_signing = Signing(
                [SignRule([signer("station-1")], kinds=[Kind.REQUEST, Kind.RESPONSE])]
            )
            async with station(csms, make_guard("station"), station_signing):
                cp = await csms.charge_point(STATION_ID)
                with pytest.raises(ResponseFailed, match="replay cache unavailable"):
                    await cp.call(call.Reset(type="Immediate"), suppress=False)
                cache.broken = False
                assert (await cp.call(call.Reset(type="Immediate"), suppress=False)).status

    bounded(scenario)


# --------------------------------------------------------------------------- signers


class FlakySigner:
    """An HSM that times out on the first signature, then works (a synchronous, remote signer)."""

    def __init__(self, inner: KeySigner, failures: int = 1) -> None:
        self.inner = inner
        self.failures = failures
        self.key_id = inner.key_id
        self.algorithm = inner.algorithm
        self.public_key_der = inner.public_key_der
        self.certificates = inner.certificates

    def sign(self, data: bytes) -> bytes:
        if self.failures:
            self.failures -= 1
            raise TimeoutError("HSM did not answer")
        return self.inner.sign(data)


class AsyncSigner:
    """A KMS-like signer whose ``sign`` is a coroutine; ``hang`` makes it never answer."""

    def __init__(self, inner: KeySigner, *, hang: bool = False) -> None:
        self.inner = inner
        self.hang = hang
        self.calls = 0
        self.key_id = inner.key_id
        self.algorithm = inner.algorithm
        self.public_key_der = inner.public_key_der
        self.certificates = inner.certificates

    async def sign(self, data: bytes) -> bytes:
        self.calls += 1
        if self.hang:
            await asyncio.Event().wait()
        await asyncio.sleep(0)
        return self.inner.sign(data)


def test_an_answer_whose_signer_fails_becomes_internal_error_and_the_connection_keeps_serving() -> (
    None
):
    flaky = FlakySigner(signer("station-1"))
    answers = Signing([SignRule([flaky], kinds=[Kind.RESPONSE, Kind.ERROR])])

    async def scenario() -> None:
        async with (
            csms_server(make_guard("csms"), CSMS_COMMANDS) as csms,
            station(csms, make_guard("station"), answers),
        ):
            cp = await csms.charge_point(STATION_ID)
            with pytest.raises(InternalError) as failed:
                await cp.call(call.Reset(type="Immediate"), suppress=False)
            assert failed.value.description == "the answer could not be signed"
            result = await cp.call(call.Reset(type="Immediate"), suppress=False)
            assert result.status == "Accepted"

    bounded(scenario)


def test_an_async_signer_signs_calls_verified_by_the_peer() -> None:
    kms = AsyncSigner(signer("station-1"))
    events: list[DecisionEvent] = []

    async def scenario() -> None:
        async with (
            csms_server(make_guard("csms", hooks=[events.append])) as csms,
            station(csms, make_guard("station"), station_requests(kms)) as cp,
        ):
            result = await cp.call(
                call.StatusNotification(
                    timestamp="2026-11-22T00:00:00Z",
                    connector_status="Available",
                    evse_id=1,
                    connector_id=1,
                ),
                suppress=False,
            )
            assert result is not None

    bounded(scenario)
    assert kms.calls == 1
    assert [s.identity for s in events[-1].decision.signers] == ["cs-0001"]
    assert events[-1].verification.signatures[0].outcome is Outcome.VALID


def test_a_hanging_async_signer_fails_the_call_within_the_bound_and_the_connection_keeps_serving() -> (
    None
):
    kms = AsyncSigner(signer("station-1"), hang=True)
    signing = station_requests(kms)

    async def scenario() -> None:
        async with csms_server(make_guard("csms")) as csms:
            settings = GuardSettings(sign_timeout=0.2)
            guard = make_guard("station", settings=settings)
            async with station(csms, guard, signing) as cp:
                with pytest.raises(SigningError, match=r"did not answer within 0\.2 s"):
                    await cp.call(call.Heartbeat(), suppress=False)
                kms.hang = False
                assert (await cp.call(call.Heartbeat(), suppress=False)).current_time

    bounded(scenario)


# --------------------------------------------------------------------------- hooks


def test_sync_and_async_hooks_see_every_decision_and_failing_or_slow_ones_change_nothing() -> None:
    seen: list[DecisionEvent] = []

    async def async_hook(event: DecisionEvent) -> None:
        await asyncio.sleep(0)
        seen.append(event)

    def failing_hook(event: DecisionEvent) -> None:
        raise RuntimeError("metrics backend down")

    async def slow_hook(event: DecisionEvent) -> None:
        await asyncio.Event().wait()

    settings = GuardSettings(hook_timeout=0.1, max_unsigned_bytes=4096)
    guard = make_guard("csms", hooks=[failing_hook, slow_hook, async_hook], settings=settings)

    async def scenario() -> None:
        async with csms_server(guard) as csms, station(csms, make_guard("station")) as cp:
            assert (await cp.call(call.Heartbeat(), suppress=False)).current_time
            async with connect(
                csms.url("CS-RAW"), subprotocols=client_subprotocols("2.0.1")
            ) as raw:
                await raw.send('[2, "dup", "Heartbeat", {"a": 1, "a": 2}]')
                dup = json.loads(await raw.recv())
                await raw.send('[2, "big", "DataTransfer", {"vendorId": "' + "x" * 5000 + '"}]')
                big = json.loads(await raw.recv())
                await raw.send('[2, "ok", "Heartbeat", {}]')
                ok = json.loads(await raw.recv())
        assert dup[:3] == [4, "dup", "SecurityError"]
        assert "duplicate member name" in dup[3]
        assert big[:3] == [4, "big", "SecurityError"]
        assert "more than the limit of" in big[3]
        assert ok[0] == 3

    bounded(scenario)
    assert [(e.message_id if e.failure else e.action, e.failure) for e in seen] == [
        ("Heartbeat", None),
        ("dup", "unreadable"),
        ("big", "oversized"),
        ("Heartbeat", None),
    ]
    assert all(e.enforced for e in seen if e.failure)


# --------------------------------------------------------------------------- OCPP 2.1


class Station21(ChargePoint21):
    @on("Reset")  # type: ignore[untyped-decorator]
    def on_reset(self, type: str, **kwargs: Any) -> Any:
        return result21.Reset(status="Accepted")


class Csms21(ChargePoint21):
    @on("Heartbeat")  # type: ignore[untyped-decorator]
    def on_heartbeat(self, **kwargs: Any) -> Any:
        return result21.Heartbeat(current_time="2026-11-22T00:00:00Z")


def test_ocpp_21_signed_command_and_signed_answer_over_websockets() -> None:
    station_events: list[DecisionEvent] = []
    csms_events: list[DecisionEvent] = []
    answers = Signing([SignRule([signer("station-1")], kinds=[Kind.REQUEST, Kind.RESPONSE])])

    async def scenario() -> None:
        csms = Csms(
            lambda ident, version, ws: Csms21(
                ident,
                ws,
                side=CSMS,
                signing=CSMS_COMMANDS,
                guard=make_guard("csms", hooks=[csms_events.append]),
            ),
            versions=("ocpp2.1",),
        )
        async with csms:

            def make(ws: Any) -> Station21:
                return Station21(
                    STATION_ID,
                    ws,
                    side=STATION,
                    signing=answers,
                    guard=make_guard("station", hooks=[station_events.append]),
                )

            async with station_session(csms.url(STATION_ID), make, versions=("2.1",)) as cp:
                assert (await cp.call(call21.Heartbeat(), suppress=False)).current_time
                at_csms = await csms.charge_point(STATION_ID)
                result = await at_csms.call(call21.Reset(type="Immediate"), suppress=False)
                assert result.status == "Accepted"

    bounded(scenario)
    reset = station_events[-1]
    assert (reset.action, reset.decision.rule) == ("Reset", "csms-commands")
    assert reset.verification.context["ocpp"] == "2.1"
    assert [(e.action, e.kind, e.decision.rule) for e in csms_events] == [
        ("Heartbeat", Kind.REQUEST, "liveness-unsigned"),
        ("Reset", Kind.RESPONSE, "station-responses"),
    ]


def test_an_unsigned_21_command_is_refused_with_security_error() -> None:
    async def scenario() -> None:
        csms = Csms(
            lambda ident, version, ws: Csms21(
                ident, ws, side=CSMS, signing=Signing(), guard=make_guard("csms")
            ),
            versions=("ocpp2.1",),
        )
        async with csms:

            def make(ws: Any) -> Station21:
                errors = Signing([SignRule([signer("station-1")], kinds=[Kind.ERROR])])
                return Station21(
                    STATION_ID, ws, side=STATION, signing=errors, guard=make_guard("station")
                )

            async with station_session(csms.url(STATION_ID), make, versions=("2.1",)):
                at_csms = await csms.charge_point(STATION_ID)
                with pytest.raises(SecurityError) as refused:
                    await at_csms.call(call21.Reset(type="Immediate"), suppress=False)
                assert refused.value.details["rule"] is None
                assert refused.value.description == "no rule permits Reset request; default deny"

    bounded(scenario)
