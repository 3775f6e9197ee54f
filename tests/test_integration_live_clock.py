"""SPEC §4 over a live connection: a 2.0.1 station's TrustedClock and its BootNotification.

The station's clock follows the CSMS's ``currentTime`` only when the response is ``valid``, permitted
and signed by a key holding a CSMS role, and never steps back by more than clockSkew. Everything
runs on loopback (port 0) through tests/test_integration_harness.py; the station's system clock is
frozen when each scenario starts (``Boot.system``), so every resulting time is exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v201 import ChargePoint as PlainChargePoint201
from ocpp.v201 import call, call_result
from test_integration_clock import heartbeat_response  # signed and verified at 2026-11-22T12:00Z
from test_integration_harness import (
    DATA,
    ROOT,
    TIMEOUT,
    Csms,
    Proxy,
    Transform,
    bounded,
    signer,
    station_session,
)

from ocpp_e2e.integrations.ocpp import (
    CSMS,
    STATION,
    ChargePoint201,
    ClockUpdate,
    DecisionEvent,
    Guard,
    ResponseRefused,
    Signing,
    SignRule,
    TrustedClock,
)
from ocpp_e2e.model import Kind, Outcome, Verification
from ocpp_e2e.policy import Decision, loads_policy
from ocpp_e2e.replay import SQLiteReplayCache

STATION_ID = "CS-0001"
AHEAD = timedelta(minutes=10)
STATION_POLICY = (DATA / "station-policy.yaml").read_text()
# A careless policy that also permits responses signed by the station's own key: the clock must
# still refuse them, because no signer holds a CSMS role.
LENIENT_POLICY = STATION_POLICY.replace(
    "  relay: {usage: networkingNode}\n",
    "  relay: {usage: networkingNode}\n  station: {usage: chargingStation}\n",
).replace(
    "match: {kinds: [response, error]}\n    signers: {roles: [csms-admin], threshold: 1}",
    "match: {kinds: [response, error]}\n    signers: {roles: [csms-admin, station], threshold: 1}",
)
AUDIT_POLICY = STATION_POLICY.replace("mode: enforce", "mode: audit")
SKEW = loads_policy(STATION_POLICY, fmt="yaml", source="station").clock_skew  # PT30S
NOT_VALIDLY_SIGNED = "the response is not validly signed (every signature must be valid)"


def rfc3339(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class RecordingClock(TrustedClock):
    """The station's TrustedClock over a system clock frozen at ``system``; keeps every update."""

    def __init__(self, system: datetime) -> None:
        super().__init__(clock_skew=SKEW, csms_roles=["csms-admin"], source=lambda: system)
        self.updates: list[ClockUpdate] = []

    def update(
        self, current_time: Any, verification: Verification, decision: Decision
    ) -> ClockUpdate:
        result = super().update(current_time, verification, decision)
        self.updates.append(result)
        return result


class BootHandler:
    """CSMS handler: each BootNotification answered Accepted with the next test ``currentTime``."""

    answers: Iterator[str]

    @on("BootNotification")  # type: ignore[untyped-decorator]
    def on_boot_notification(
        self, charging_station: dict[str, Any], reason: str, **kwargs: Any
    ) -> Any:
        return call_result.BootNotification(
            current_time=next(self.answers), interval=300, status="Accepted"
        )


class SignedCsms(BootHandler, ChargePoint201):
    pass


class PlainCsms(BootHandler, PlainChargePoint201):  # type: ignore[misc]
    pass


@dataclass
class Boot:
    """What one BootNotification did at the station."""

    system: datetime  # the station's frozen system time
    result: Any  # the BootNotification response, or the ResponseRefused that call() raised
    clock: RecordingClock
    event: DecisionEvent  # the station's decision on the response


def boot(
    tmp_path: Path,
    *offsets: timedelta,
    csms_key: str | None = "csms-operator",
    policy: str = STATION_POLICY,
    tamper: Transform | None = None,
) -> list[Boot]:
    """One station connection sending a BootNotification per ``current_times`` entry.

    The CSMS answers each with ``currentTime`` = the station's system time + that offset, signed by ``csms_key`` (None: a plain ``ocpp``
    CSMS); ``tamper`` puts a proxy in the middle that rewrites CSMS→station frames.
    """
    # Near the real time: the CSMS signs with the real time, and its signatures must be fresh
    # at the station's frozen time (maxSignatureAge PT5M, clockSkew PT30S).
    system = datetime.now(UTC).replace(microsecond=0)
    events: list[DecisionEvent] = []
    clock = RecordingClock(system)
    station_policy = loads_policy(policy, fmt="yaml", source="station")
    cache = SQLiteReplayCache(tmp_path / "station-replay.sqlite")
    station_guard = Guard(
        station_policy,
        station_policy.verifier(replay_cache=cache),
        hooks=[events.append],
        clock=clock,
    )
    csms_policy = loads_policy((DATA / "csms-policy.yaml").read_text(), fmt="yaml", source="csms")
    csms_guard = Guard(
        csms_policy,
        csms_policy.verifier(replay_cache=SQLiteReplayCache(tmp_path / "csms-replay.sqlite")), clock=lambda: datetime.now(UTC),
    )
    answers = iter(rfc3339(system + offset) for offset in offsets)

    def make_csms_cp(ident: str, version: str, ws: Any) -> Any:
        cp: BootHandler
        if csms_key is None:
            cp = PlainCsms(ident, ws)
        else:
            signing = Signing([SignRule([signer(csms_key)], kinds=[Kind.RESPONSE])])
            cp = SignedCsms(ident, ws, side=CSMS, signing=signing, guard=csms_guard)
        cp.answers = answers
        return cp

    def make_station(ws: Any) -> ChargePoint201:
        return ChargePoint201(STATION_ID, ws, side=STATION, guard=station_guard)

    results: list[Any] = []

    async def scenario() -> None:
        async with Csms(make_csms_cp) as csms:
            if tamper is None:
                url = csms.url(STATION_ID)
                await run(url)
            else:
                async with Proxy(csms, tamper) as proxy:
                    await run(proxy.url(STATION_ID))

    async def run(url: str) -> None:
        async with station_session(url, make_station) as station:
            for _ in offsets:
                request = call.BootNotification(
                    charging_station={"model": "X1", "vendor_name": "Example"}, reason="PowerUp"
                )
                try:
                    results.append(await station.call(request, suppress=False))
                except ResponseRefused as refused:
                    results.append(refused)

    bounded(scenario)
    return [
        Boot(system, result, clock, event) for result, event in zip(results, events, strict=True)
    ]


def test_clock_starts_at_the_frozen_system_time() -> None:
    system = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    assert RecordingClock(system).now() == system


# --------------------------------------------------------------------------- moves forward


def test_signed_current_time_ahead_moves_the_station_clock_forward_to_it(tmp_path: Path) -> None:
    (done,) = boot(tmp_path, AHEAD)
    ahead = done.system + AHEAD
    assert done.result.status == "Accepted" and done.result.current_time == rfc3339(ahead)
    assert done.event.decision.rule == "csms-responses" and not done.event.enforced
    assert done.clock.updates == [
        ClockUpdate(True, "set from currentTime signed by ops-1", timedelta(minutes=10))
    ]
    assert done.clock.now() == ahead


# --------------------------------------------------------------------------- unsigned


def test_unsigned_current_time_from_a_plain_csms_is_refused_and_leaves_the_clock(
    tmp_path: Path,
) -> None:
    (done,) = boot(tmp_path, AHEAD, csms_key=None)
    assert isinstance(done.result, ResponseRefused) and done.event.enforced
    assert done.result.decision.reason == "no rule permits BootNotification response; default deny"
    assert done.clock.updates == []
    assert done.clock.now() == done.system


def test_unsigned_current_time_let_through_in_audit_mode_still_leaves_the_clock(
    tmp_path: Path,
) -> None:
    (done,) = boot(tmp_path, AHEAD, csms_key=None, policy=AUDIT_POLICY)
    assert done.result.status == "Accepted" and done.event.decision.would_deny
    assert done.clock.updates == [ClockUpdate(False, NOT_VALIDLY_SIGNED, timedelta(0))]
    assert done.clock.now() == done.system


# --------------------------------------------------------------------------- not a CSMS key


def test_current_time_signed_by_the_station_key_is_refused_and_leaves_the_clock(
    tmp_path: Path,
) -> None:
    (done,) = boot(tmp_path, AHEAD, csms_key="station-1")
    assert isinstance(done.result, ResponseRefused) and done.event.enforced
    assert done.result.decision.reason == "no rule permits BootNotification response; default deny"
    assert [s.identity for s in done.event.decision.signers] == ["cs-0001"]
    assert done.clock.updates == []
    assert done.clock.now() == done.system


def test_station_key_permitted_by_a_careless_policy_still_cannot_set_the_clock(
    tmp_path: Path,
) -> None:
    (done,) = boot(tmp_path, AHEAD, csms_key="station-1", policy=LENIENT_POLICY)
    assert done.result.status == "Accepted" and done.event.decision.rule == "csms-responses"
    assert [s.roles for s in done.event.decision.signers] == [frozenset({"station"})]
    assert done.clock.updates == [
        ClockUpdate(False, "no signer of the response holds a CSMS role", timedelta(0))
    ]
    assert done.clock.now() == done.system


# --------------------------------------------------------------------------- backwards


def test_signed_current_time_more_than_clock_skew_in_the_past_leaves_the_clock(
    tmp_path: Path,
) -> None:
    (done,) = boot(tmp_path, -SKEW - timedelta(seconds=1))
    behind = done.system - SKEW - timedelta(seconds=1)
    assert done.result.status == "Accepted" and done.event.decision.rule == "csms-responses"
    assert done.clock.updates == [
        ClockUpdate(
            False,
            f"currentTime {rfc3339(behind)} is more than clockSkew before the clock's latest time",
            timedelta(0),
        )
    ]
    assert done.clock.now() == done.system


def test_signed_current_time_exactly_clock_skew_in_the_past_moves_the_clock_back_to_it(
    tmp_path: Path,
) -> None:
    (done,) = boot(tmp_path, -SKEW)
    assert done.clock.updates == [ClockUpdate(True, "set from currentTime signed by ops-1", -SKEW)]
    assert done.clock.now() == done.system - SKEW


def test_two_signed_steps_back_on_one_connection_never_pass_clock_skew(tmp_path: Path) -> None:
    # 10 s back is within clockSkew; another 25 s back would read 35 s before the latest time
    # the clock has shown (its system time), so it is refused: the steps do not add up.
    first, second = boot(tmp_path, -timedelta(seconds=10), -timedelta(seconds=35))
    assert [u.applied for u in first.clock.updates] == [True, False]
    assert second.result.status == "Accepted" and second.event.decision.rule == "csms-responses"
    assert first.clock.now() == first.system - timedelta(seconds=10)


# --------------------------------------------------------------------------- tampered


def later_current_time(message: str) -> list[str]:
    """The man in the middle: a CALLRESULT's currentTime moved a day later."""
    value = json.loads(message)
    if value[0] == 3 and "currentTime" in value[2]:
        when = datetime.fromisoformat(value[2]["currentTime"]) + timedelta(days=1)
        value[2]["currentTime"] = rfc3339(when)
        return [json.dumps(value, separators=(",", ":"))]
    return [message]


def test_current_time_tampered_in_the_middle_is_refused_as_invalid_and_leaves_the_clock(
    tmp_path: Path,
) -> None:
    (done,) = boot(tmp_path, AHEAD, tamper=later_current_time)
    ahead = done.system + AHEAD
    assert isinstance(done.result, ResponseRefused) and done.event.enforced
    assert done.result.verification.payload["currentTime"] == rfc3339(ahead + timedelta(days=1))
    assert [s.outcome for s in done.result.verification.signatures] == [Outcome.INVALID]
    assert "is invalid" in done.result.decision.reason
    assert done.clock.updates == []
    assert done.clock.now() == done.system


def test_current_time_tampered_in_the_middle_and_let_through_in_audit_mode_leaves_the_clock(
    tmp_path: Path,
) -> None:
    (done,) = boot(tmp_path, AHEAD, tamper=later_current_time, policy=AUDIT_POLICY)
    assert done.result.status == "Accepted" and done.event.decision.would_deny
    assert done.clock.updates == [ClockUpdate(False, NOT_VALIDLY_SIGNED, timedelta(0))]
    assert done.clock.now() == done.system


# --------------------------------------------------------------------------- docs/integration.md


def doc_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "integration.md").read_text(), re.S)


def test_documented_connection_url_example_gives_the_documented_url() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(doc_blocks()[0], "docs/integration.md", "exec"), namespace)  # our own docs
    url = namespace["connection_url"]("wss://csms.example.com/ocppj", "RDAM 123")
    assert url == "wss://csms.example.com/ocppj/RDAM%20123"


def test_documented_station_boots_sets_its_clock_and_takes_a_grid_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The block reads the demo policy and key relative to the repository root and writes
    # replay.sqlite beside them: run it in tmp_path with the two directories linked in.
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "keys-example").symlink_to(ROOT / "keys-example")
    monkeypatch.chdir(tmp_path)
    block = next(b for b in doc_blocks() if "class Station(ChargePoint201)" in b)
    namespace: dict[str, Any] = {}
    exec(compile(block, "docs/integration.md", "exec"), namespace)  # our own docs
    clock: TrustedClock = namespace["guard"].clock
    events: list[DecisionEvent] = []
    # The station's clock goes 20 s ahead of the CSMS's: the CSMS's signatures (real time) stay
    # within maxSignatureAge afterwards, and the station's, dated by its trusted clock, within
    # the CSMS's clockSkew (PT30S).
    ahead = timedelta(seconds=20)
    csms_policy = loads_policy((DATA / "csms-policy.yaml").read_text(), fmt="yaml", source="csms")
    csms_guard = Guard(
        csms_policy,
        csms_policy.verifier(replay_cache=SQLiteReplayCache(tmp_path / "csms-replay.sqlite")), clock=lambda: datetime.now(UTC),
    )
    signing = Signing(
        [
            SignRule(
                [signer("grid-operator")], actions=["SetChargingProfile"], kinds=[Kind.REQUEST]
            ),
            SignRule([signer("csms-operator")], kinds=[Kind.RESPONSE]),
        ]
    )
    profile = {
        "id": 7,
        "stackLevel": 0,
        "chargingProfilePurpose": "ChargingStationExternalConstraints",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}],
            }
        ],
    }

    def make_csms_cp(ident: str, version: str, ws: Any) -> SignedCsms:
        cp = SignedCsms(ident, ws, side=CSMS, signing=signing, guard=csms_guard)
        cp.answers = iter([rfc3339(datetime.now(UTC).replace(microsecond=0) + ahead)])
        return cp

    async def scenario() -> None:
        booted = asyncio.get_running_loop().create_future()

        def record(event: DecisionEvent) -> None:
            # The adapter consults the clock right after its hooks, before it awaits anything.
            events.append(event)
            if event.action == "BootNotification" and not booted.done():
                booted.set_result(None)

        namespace["guard"].hooks.append(record)
        async with Csms(make_csms_cp) as csms:
            station = asyncio.create_task(namespace["main"](f"ws://127.0.0.1:{csms.port}/ocpp"))
            try:
                cp = await csms.charge_point("CS-0001")
                await booted
                request = call.SetChargingProfile(evse_id=1, charging_profile=profile)
                assert (await cp.call(request, suppress=False)).status == "Accepted"
            finally:
                station.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await station

    bounded(scenario)
    assert [(e.action, e.kind, e.decision.rule) for e in events] == [
        ("BootNotification", Kind.RESPONSE, "csms-responses"),
        ("SetChargingProfile", Kind.REQUEST, "grid-limit"),
    ]
    # The offset is currentTime (whole seconds, so up to 1 s early) minus the system time when the
    # response came, less than TIMEOUT later: these bounds hold however slow the machine is.
    assert ahead - timedelta(seconds=TIMEOUT + 1) < clock.offset <= ahead


# --------------------------------------------------------------------------- TrustedClock alone


def test_clock_used_without_the_adapter_never_steps_back_from_its_present_reading() -> None:
    # The adapter reads the clock just before every update; a station using TrustedClock
    # directly may not have read it for an hour. The present reading still counts as shown.
    system = [datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)]
    clock = TrustedClock(clock_skew=SKEW, source=lambda: system[0])
    assert clock.now() == system[0]
    system[0] += timedelta(hours=1)
    verification, decision = heartbeat_response("2026-11-22T12:50:00Z", signer("csms-operator"))
    result = clock.update("2026-11-22T12:50:00Z", verification, decision)
    assert result == ClockUpdate(
        False,
        "currentTime 2026-11-22T12:50:00Z is more than clockSkew before the clock's latest time",
        timedelta(0),
    )
    assert clock.now() == datetime(2026, 11, 22, 13, 0, 0, tzinfo=UTC)
