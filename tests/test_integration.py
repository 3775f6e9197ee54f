"""Issue #8 acceptance: ocpp-e2e inside the ``ocpp`` package over real WebSockets on loopback."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ocpp.exceptions import SecurityError
from ocpp.routing import on
from ocpp.v16 import ChargePoint as PlainChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as PlainChargePoint201
from ocpp.v201 import call, call_result
from test_integration_harness import (
    DATA,
    Csms,
    Proxy,
    bounded,
    on_call,
    signer,
    station_session,
)
from websockets.exceptions import InvalidStatus

from ocpp_e2e.integrations.connection import (
    AuthorizationKeyStore,
    ScryptParameters,
    authorization_key_hex,
    basic_auth_header,
    generate_authorization_key,
    parse_authorization_key,
)
from ocpp_e2e.integrations.ocpp import (
    CSMS,
    STATION,
    ChargePoint16,
    ChargePoint201,
    DecisionEvent,
    Guard,
    ResponseRefused,
    Signing,
    SignRule,
)
from ocpp_e2e.model import Kind, Outcome
from ocpp_e2e.policy import load_policy, loads_policy
from ocpp_e2e.replay import SQLiteReplayCache
from ocpp_e2e.sign import sign_frame

STATION_ID = "CS-0001"
GRID_PROFILE: dict[str, Any] = {
    "id": 7,
    "stackLevel": 0,
    "chargingProfilePurpose": "ChargingStationExternalConstraints",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": [
        {
            "id": 1,
            "chargingRateUnit": "W",
            "startSchedule": "2026-11-22T00:00:00Z",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}],
        }
    ],
}
FIRMWARE = {
    "location": "https://fw.example.com/cs-1.2.3.bin",
    "retrieveDateTime": "2026-11-22T01:00:00Z",
}


def guard(tmp_path: Path, name: str, events: list[DecisionEvent], *, audit: bool = False) -> Guard:
    text = (DATA / f"{name}-policy.yaml").read_text()
    if audit:
        text = text.replace("mode: enforce", "mode: audit")
    policy = loads_policy(text, fmt="yaml", source=name)
    cache = SQLiteReplayCache(tmp_path / f"{name}-replay.sqlite")
    return Guard(policy, policy.verifier(replay_cache=cache), hooks=[events.append], clock=lambda: datetime.now(UTC))


# --------------------------------------------------------------------------- station handlers


class Handlers201:
    """OCPP 2.0.1 station handlers shared by the plain and the adapted station."""

    received: list[tuple[str, dict[str, Any]]]

    @on("SetChargingProfile")  # type: ignore[untyped-decorator]
    def on_set_charging_profile(
        self, evse_id: int, charging_profile: dict[str, Any], **kwargs: Any
    ) -> Any:
        self.received.append(
            ("SetChargingProfile", {"charging_profile": charging_profile, **kwargs})
        )
        return call_result.SetChargingProfile(status="Accepted")

    @on("UpdateFirmware")  # type: ignore[untyped-decorator]
    def on_update_firmware(self, request_id: int, firmware: dict[str, Any], **kwargs: Any) -> Any:
        self.received.append(("UpdateFirmware", {"firmware": firmware, **kwargs}))
        return call_result.UpdateFirmware(status="Accepted")


class Station201(Handlers201, ChargePoint201):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received = []


class PlainStation201(Handlers201, PlainChargePoint201):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received = []


def station_signing() -> Signing:
    return Signing([SignRule([signer("station-1")], kinds=[Kind.RESPONSE, Kind.ERROR])])


def csms_signing(*rules: SignRule) -> Signing:
    return Signing([*rules, SignRule([signer("csms-operator")], kinds=[Kind.RESPONSE, Kind.ERROR])])


GRID_RULE = SignRule(
    [signer("grid-operator")], actions=["SetChargingProfile"], kinds=[Kind.REQUEST]
)


def adapted_csms(signing: Signing, guard_: Guard) -> Csms:
    return Csms(
        lambda ident, version, ws: ChargePoint201(
            ident, ws, side=CSMS, signing=signing, guard=guard_
        )
    )


def grid_call() -> Any:
    return call.SetChargingProfile(evse_id=1, charging_profile=GRID_PROFILE)


# --------------------------------------------------------------------------- signed and accepted


def test_signed_grid_command_is_accepted_and_its_signed_response_verified_at_the_csms(
    tmp_path: Path,
) -> None:
    csms_events: list[DecisionEvent] = []
    station_events: list[DecisionEvent] = []

    async def scenario() -> None:
        async with adapted_csms(
            csms_signing(GRID_RULE), guard(tmp_path, "csms", csms_events)
        ) as csms:
            station_guard = guard(tmp_path, "station", station_events)

            def make(ws: Any) -> Station201:
                return Station201(
                    STATION_ID, ws, side=STATION, signing=station_signing(), guard=station_guard
                )

            async with station_session(csms.url(STATION_ID), make) as station:
                cp = await csms.charge_point(STATION_ID)
                result = await cp.call(grid_call(), suppress=False)
                assert result.status == "Accepted"
                assert station.received[0][1]["charging_profile"]["charging_schedule"][0][
                    "charging_schedule_period"
                ] == [{"start_period": 0, "limit": 11000}]

    bounded(scenario)
    at_station = station_events[0]
    assert (at_station.action, at_station.decision.rule, at_station.enforced) == (
        "SetChargingProfile",
        "grid-limit",
        False,
    )
    assert [s.identity for s in at_station.decision.signers] == ["dso-example"]
    at_csms = csms_events[0]
    assert (at_csms.kind, at_csms.decision.rule) == (Kind.RESPONSE, "station-responses")
    assert [s.identity for s in at_csms.decision.signers] == ["cs-0001"]


def test_application_handler_sees_the_payload_without_signatures(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with adapted_csms(csms_signing(GRID_RULE), guard(tmp_path, "csms", [])) as csms:
            station_guard = guard(tmp_path, "station", [])

            def make(ws: Any) -> Station201:
                return Station201(
                    STATION_ID, ws, side=STATION, signing=station_signing(), guard=station_guard
                )

            async with station_session(csms.url(STATION_ID), make) as station:
                cp = await csms.charge_point(STATION_ID)
                await cp.call(grid_call(), suppress=False)
                assert "custom_data" not in station.received[0][1]

    bounded(scenario)


def test_four_eyes_firmware_update_with_two_signers_is_accepted(tmp_path: Path) -> None:
    events: list[DecisionEvent] = []
    four_eyes = SignRule(
        [signer("csms-operator"), signer("security-officer")],
        actions=["UpdateFirmware"],
        kinds=[Kind.REQUEST],
    )

    async def scenario() -> None:
        async with adapted_csms(csms_signing(four_eyes), guard(tmp_path, "csms", [])) as csms:
            station_guard = guard(tmp_path, "station", events)

            def make(ws: Any) -> Station201:
                return Station201(
                    STATION_ID, ws, side=STATION, signing=station_signing(), guard=station_guard
                )

            async with station_session(csms.url(STATION_ID), make):
                cp = await csms.charge_point(STATION_ID)
                result = await cp.call(
                    call.UpdateFirmware(request_id=1, firmware=FIRMWARE), suppress=False
                )
                assert result.status == "Accepted"

    bounded(scenario)
    assert events[0].decision.rule == "firmware-four-eyes"
    assert sorted(s.identity for s in events[0].decision.signers) == ["ops-1", "secoff-1"]


def test_signed_201_command_is_accepted_by_a_plain_ocpp_station(tmp_path: Path) -> None:
    events: list[DecisionEvent] = []

    async def scenario() -> None:
        async with (
            adapted_csms(
                csms_signing(GRID_RULE), guard(tmp_path, "csms", events, audit=True)
            ) as csms,
            station_session(
                csms.url(STATION_ID), lambda ws: PlainStation201(STATION_ID, ws)
            ) as station,
        ):
            cp = await csms.charge_point(STATION_ID)
            result = await cp.call(grid_call(), suppress=False)
            assert result.status == "Accepted"
            custom = station.received[0][1]["custom_data"]
            assert custom["vendor_id"] == "org.ocpp-e2e" and len(custom["signatures"]) == 1

    bounded(scenario)
    # The plain station does not sign its answer: the audit-mode CSMS reports, and lets it through.
    assert events[0].decision.would_deny and not events[0].enforced


# --------------------------------------------------------------------------- refused


def refused_call(
    tmp_path: Path, make_csms: Any, request: Any, events: list[DecisionEvent]
) -> tuple[Any, Any]:
    """Send ``request`` from ``make_csms`` to an adapted station; return (error, station)."""
    outcome: dict[str, Any] = {}

    async def scenario() -> None:
        async with make_csms() as csms:
            station_guard = guard(tmp_path, "station", events)

            def make(ws: Any) -> Station201:
                return Station201(
                    STATION_ID, ws, side=STATION, signing=station_signing(), guard=station_guard
                )

            async with station_session(csms.url(STATION_ID), make) as station:
                cp = await csms.charge_point(STATION_ID)
                with pytest.raises(SecurityError) as info:
                    await cp.call(request, suppress=False)
                outcome["error"], outcome["station"] = info.value, station

    bounded(scenario)
    return outcome["error"], outcome["station"]


def plain_csms() -> Csms:
    return Csms(lambda ident, version, ws: PlainChargePoint201(ident, ws))


def test_unsigned_command_is_refused_with_security_error_before_the_handler(tmp_path: Path) -> None:
    events: list[DecisionEvent] = []
    error, station = refused_call(tmp_path, plain_csms, grid_call(), events)
    assert station.received == []
    assert error.details["reason"] == "no rule permits SetChargingProfile request; default deny"
    assert events[0].enforced and events[0].decision.rule is None


def test_command_signed_by_the_wrong_role_is_refused(tmp_path: Path) -> None:
    events: list[DecisionEvent] = []
    wrong = SignRule(
        [signer("csms-operator")], actions=["SetChargingProfile"], kinds=[Kind.REQUEST]
    )
    make = lambda: adapted_csms(csms_signing(wrong), guard(tmp_path, "csms", []))  # noqa: E731
    error, station = refused_call(tmp_path, make, grid_call(), events)
    assert station.received == []
    assert error.details["reason"] == "no rule permits SetChargingProfile request; default deny"
    assert [s.identity for s in events[0].decision.signers] == ["ops-1"]


def test_firmware_update_with_one_of_two_signers_is_refused(tmp_path: Path) -> None:
    events: list[DecisionEvent] = []
    one = SignRule([signer("csms-operator")], actions=["UpdateFirmware"], kinds=[Kind.REQUEST])
    make = lambda: adapted_csms(csms_signing(one), guard(tmp_path, "csms", []))  # noqa: E731
    error, station = refused_call(
        tmp_path, make, call.UpdateFirmware(request_id=1, firmware=FIRMWARE), events
    )
    assert station.received == []
    assert error.details["reason"] == "no rule permits UpdateFirmware request; default deny"
    firmware_rule = next(r for r in events[0].decision.rules if r.rule == "firmware-four-eyes")
    assert not firmware_rule.applies


def test_command_tampered_in_the_middle_is_refused_as_invalid(tmp_path: Path) -> None:
    events: list[DecisionEvent] = []

    def lower_limit(message: str) -> list[str]:
        # 4300 still satisfies the policy's limit rule: only the signature can catch the change.
        return [message.replace('"limit":11000', '"limit":4300')]

    async def scenario() -> None:
        async with (
            adapted_csms(csms_signing(GRID_RULE), guard(tmp_path, "csms", [])) as csms,
            Proxy(csms, on_call("SetChargingProfile", lower_limit)) as proxy,
        ):
            station_guard = guard(tmp_path, "station", events)

            def make(ws: Any) -> Station201:
                return Station201(
                    STATION_ID, ws, side=STATION, signing=station_signing(), guard=station_guard
                )

            async with station_session(proxy.url(STATION_ID), make) as station:
                cp = await csms.charge_point(STATION_ID)
                # The station's signed SecurityError answers the CALL it received, whose
                # digest R differs from the one the CSMS sent: the CSMS refuses that answer too.
                with pytest.raises(ResponseRefused) as info:
                    await cp.call(grid_call(), suppress=False)
                assert station.received == []
                assert info.value.verification.payload["errorCode"] == "SecurityError"

    bounded(scenario)
    assert events[0].enforced
    assert events[0].verification.signatures[0].outcome is Outcome.INVALID
    assert "is invalid" in events[0].decision.reason


def test_command_replayed_in_the_middle_is_refused(tmp_path: Path) -> None:
    events: list[DecisionEvent] = []
    second: list[asyncio.Future[None]] = []

    def record(event: DecisionEvent) -> None:
        events.append(event)
        if len(events) == 2:
            second[0].set_result(None)

    def replay_later(message: str) -> list[str]:
        # The message id is not signed (relays may renumber), so a replay with a new id is a
        # fresh-looking frame: only the replay cache refuses it.
        value = json.loads(message)
        value[1] = "replayed-" + value[1][:20]
        return [message, json.dumps(value)]

    async def scenario() -> None:
        async with (
            adapted_csms(csms_signing(GRID_RULE), guard(tmp_path, "csms", [])) as csms,
            Proxy(csms, on_call("SetChargingProfile", replay_later)) as proxy,
        ):
            second.append(asyncio.get_running_loop().create_future())
            station_guard = guard(tmp_path, "station", [])
            station_guard.hooks = [record]

            def make(ws: Any) -> Station201:
                return Station201(
                    STATION_ID, ws, side=STATION, signing=station_signing(), guard=station_guard
                )

            async with station_session(proxy.url(STATION_ID), make) as station:
                cp = await csms.charge_point(STATION_ID)
                assert (await cp.call(grid_call(), suppress=False)).status == "Accepted"
                await second[0]
                assert len(station.received) == 1

    bounded(scenario)
    assert events[1].verification.signatures[0].outcome is Outcome.REPLAYED
    assert events[1].enforced


def test_frame_with_a_duplicate_member_is_refused_before_the_handler(tmp_path: Path) -> None:
    events: list[DecisionEvent] = []

    def duplicate(message: str) -> list[str]:
        return [message.replace('"evseId":1', '"evseId":1,"evseId":2')]

    async def scenario() -> None:
        async with (
            adapted_csms(csms_signing(GRID_RULE), guard(tmp_path, "csms", [])) as csms,
            Proxy(csms, on_call("SetChargingProfile", duplicate)) as proxy,
        ):
            station_guard = guard(tmp_path, "station", events)

            def make(ws: Any) -> Station201:
                return Station201(
                    STATION_ID, ws, side=STATION, signing=station_signing(), guard=station_guard
                )

            async with station_session(proxy.url(STATION_ID), make) as station:
                cp = await csms.charge_point(STATION_ID)
                # The station cannot read the frame, so it cannot pair and sign its answer:
                # an unsigned SecurityError, which this CSMS's policy refuses in turn.
                with pytest.raises(ResponseRefused) as info:
                    await cp.call(grid_call(), suppress=False)
                assert station.received == []
                details = info.value.verification.payload["errorDetails"]
                assert "duplicate member" in details["reason"]

    bounded(scenario)


# --------------------------------------------------------------------------- relaying node


def test_chained_signature_of_the_relaying_node_is_verified_at_the_station(tmp_path: Path) -> None:
    events: list[DecisionEvent] = []
    relay = signer("relay-node")

    def endorse(message: str) -> list[str]:
        return [sign_frame(message, relay, ocpp="2.0.1", station=STATION_ID, chained=True, timestamp=datetime.now(UTC))]

    async def scenario() -> None:
        async with (
            adapted_csms(csms_signing(GRID_RULE), guard(tmp_path, "csms", [])) as csms,
            Proxy(csms, on_call("SetChargingProfile", endorse)) as proxy,
        ):
            station_guard = guard(tmp_path, "station", events)

            def make(ws: Any) -> Station201:
                return Station201(
                    STATION_ID, ws, side=STATION, signing=station_signing(), guard=station_guard
                )

            async with station_session(proxy.url(STATION_ID), make):
                cp = await csms.charge_point(STATION_ID)
                assert (await cp.call(grid_call(), suppress=False)).status == "Accepted"

    bounded(scenario)
    sigs = events[0].verification.signatures
    assert [(s.outcome, s.identity, s.chained) for s in sigs] == [
        (Outcome.VALID, "dso-example", False),
        (Outcome.VALID, "relay-1", True),
    ]
    assert "relay" in next(s for s in events[0].decision.signers if s.identity == "relay-1").roles


def test_relay_that_drops_the_grid_signature_leaves_a_malformed_chain_and_is_refused(
    tmp_path: Path,
) -> None:
    events: list[DecisionEvent] = []
    relay = signer("relay-node")

    def endorse_then_drop(message: str) -> list[str]:
        value = json.loads(
            sign_frame(message, relay, ocpp="2.0.1", station=STATION_ID, chained=True, timestamp=datetime.now(UTC))
        )
        del value[3]["customData"]["signatures"][0]
        return [json.dumps(value)]

    def make_station(ws: Any) -> Station201:
        return Station201(
            STATION_ID,
            ws,
            side=STATION,
            signing=station_signing(),
            guard=guard(tmp_path, "station", events),
        )

    async def scenario() -> None:
        async with (
            adapted_csms(csms_signing(GRID_RULE), guard(tmp_path, "csms", [])) as csms,
            Proxy(csms, on_call("SetChargingProfile", endorse_then_drop)) as proxy,
            station_session(proxy.url(STATION_ID), make_station),
        ):
            cp = await csms.charge_point(STATION_ID)
            # The station's signed SecurityError answers the CALL it received, whose first
            # signature (the relay's) is not the one the CSMS sent: SPEC §3 R differs, so the
            # dropped signature shows at the CSMS too.
            with pytest.raises(ResponseRefused, match="is invalid"):
                await cp.call(grid_call(), suppress=False)

    bounded(scenario)
    only = events[0].verification.signatures[0]
    assert (only.outcome, only.reason) == (
        Outcome.MALFORMED,
        "the first signature cannot be chained",
    )
    assert events[0].enforced


# --------------------------------------------------------------------------- responses at the CSMS


def test_response_signed_by_another_station_raises_response_refused(tmp_path: Path) -> None:
    events: list[DecisionEvent] = []
    impostor = Signing([SignRule([signer("station-2")], kinds=[Kind.RESPONSE])])

    async def scenario() -> None:
        async with adapted_csms(csms_signing(GRID_RULE), guard(tmp_path, "csms", events)) as csms:
            station_guard = guard(tmp_path, "station", [])

            def make(ws: Any) -> Station201:
                return Station201(
                    STATION_ID, ws, side=STATION, signing=impostor, guard=station_guard
                )

            async with station_session(csms.url(STATION_ID), make):
                cp = await csms.charge_point(STATION_ID)
                with pytest.raises(ResponseRefused) as info:
                    await cp.call(grid_call(), suppress=False)
                assert info.value.action == "SetChargingProfile"
                assert (
                    info.value.decision.reason
                    == "no rule permits SetChargingProfile response; default deny"
                )

    bounded(scenario)
    # cs-0002's chargingStation usage does not count on cs-0001's connection (SPEC §5).
    assert events[0].decision.signers[0].roles == frozenset()


def test_unsigned_response_raises_response_refused_in_enforce_mode(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with (
            adapted_csms(csms_signing(GRID_RULE), guard(tmp_path, "csms", [])) as csms,
            station_session(csms.url(STATION_ID), lambda ws: PlainStation201(STATION_ID, ws)),
        ):
            cp = await csms.charge_point(STATION_ID)
            with pytest.raises(ResponseRefused, match="response to SetChargingProfile refused"):
                await cp.call(grid_call(), suppress=False)

    bounded(scenario)


def test_enforce_mode_without_a_replay_cache_is_refused(tmp_path: Path) -> None:
    policy = load_policy(DATA / "station-policy.yaml")
    with pytest.raises(Exception, match="needs a replay cache that survives restarts"):
        Guard(policy, policy.verifier(), clock=lambda: datetime.now(UTC))


# --------------------------------------------------------------------------- OCPP 1.6 onboarding


class Station16(ChargePoint16):
    def __init__(self, *args: Any, key_holder: dict[str, bytes], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_holder = key_holder

    @on("ChangeConfiguration")  # type: ignore[untyped-decorator]
    def on_change_configuration(self, key: str, value: str, **kwargs: Any) -> Any:
        if key != "AuthorizationKey":
            return result16.ChangeConfiguration(status="NotSupported")
        self.key_holder["next"] = parse_authorization_key(value)
        return result16.ChangeConfiguration(status="Accepted")


class Csms16(ChargePoint16):
    def __init__(self, *args: Any, onboarded: set[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.onboarded = onboarded

    @on("BootNotification")  # type: ignore[untyped-decorator]
    def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> Any:
        status = "Accepted" if self.id in self.onboarded else "Pending"
        return result16.BootNotification(
            current_time="2026-11-22T00:00:00Z", interval=300, status=status
        )


def test_basic_auth_onboarding_installs_a_new_key_and_refuses_the_old_one(tmp_path: Path) -> None:
    store = AuthorizationKeyStore(ScryptParameters(n=2**10))
    factory_key = generate_authorization_key()
    store.set(STATION_ID, factory_key)
    held: dict[str, bytes] = {}
    csms_guard = guard(tmp_path, "csms", [])
    station_guard = guard(tmp_path, "station", [])
    csms_commands = SignRule([signer("csms-operator")], kinds=[Kind.REQUEST, Kind.RESPONSE])
    onboarded: set[str] = set()

    def make_csms_cp(ident: str, version: str, ws: Any) -> Csms16:
        assert version == "1.6"
        return Csms16(
            ident,
            ws,
            side=CSMS,
            signing=Signing([csms_commands]),
            guard=csms_guard,
            onboarded=onboarded,
        )

    def make_station(ws: Any) -> Station16:
        return Station16(
            STATION_ID,
            ws,
            side=STATION,
            signing=station_signing(),
            guard=station_guard,
            key_holder=held,
        )

    def auth(key: bytes) -> dict[str, str]:
        return {"Authorization": basic_auth_header(STATION_ID, key)}

    async def scenario() -> None:
        async with Csms(make_csms_cp, keys=store, known=store.__contains__) as csms:
            url = csms.url(STATION_ID)
            async with station_session(
                url, make_station, versions=["1.6"], headers=auth(factory_key)
            ) as station:
                boot = call16.BootNotification(
                    charge_point_vendor="Example", charge_point_model="X1"
                )
                assert (await station.call(boot, suppress=False)).status == "Pending"
                cp = await csms.charge_point(STATION_ID)
                new_key = generate_authorization_key()
                change = call16.ChangeConfiguration(
                    key="AuthorizationKey", value=authorization_key_hex(new_key)
                )
                assert (await cp.call(change, suppress=False)).status == "Accepted"
                store.set(STATION_ID, new_key)  # OCPP-J 1.6 §6.2.2: from now on only the new key
                onboarded.add(STATION_ID)
            assert held["next"] == new_key
            csms.forget(STATION_ID)
            async with station_session(
                url, make_station, versions=["1.6"], headers=auth(held["next"])
            ) as station:
                boot = call16.BootNotification(
                    charge_point_vendor="Example", charge_point_model="X1"
                )
                assert (await station.call(boot, suppress=False)).status == "Accepted"
            with pytest.raises(InvalidStatus) as info:
                async with station_session(
                    url, make_station, versions=["1.6"], headers=auth(factory_key)
                ):
                    pass
            assert info.value.response.status_code == 401

    bounded(scenario)


def test_signed_16_command_reaches_the_handler_after_the_signatures_are_removed(
    tmp_path: Path,
) -> None:
    events: list[DecisionEvent] = []
    held: dict[str, bytes] = {}
    csms_commands = SignRule([signer("csms-operator")], kinds=[Kind.REQUEST, Kind.RESPONSE])

    async def scenario() -> None:
        csms_guard = guard(tmp_path, "csms", [])

        def make_cp(ident: str, version: str, ws: Any) -> ChargePoint16:
            return ChargePoint16(
                ident, ws, side=CSMS, signing=Signing([csms_commands]), guard=csms_guard
            )

        station_guard = guard(tmp_path, "station", events)
        async with Csms(make_cp) as csms:

            def make(ws: Any) -> Station16:
                return Station16(
                    STATION_ID,
                    ws,
                    side=STATION,
                    signing=station_signing(),
                    guard=station_guard,
                    key_holder=held,
                )

            async with station_session(csms.url(STATION_ID), make, versions=["1.6"]):
                cp = await csms.charge_point(STATION_ID)
                key = generate_authorization_key()
                change = call16.ChangeConfiguration(
                    key="AuthorizationKey", value=authorization_key_hex(key)
                )
                assert (await cp.call(change, suppress=False)).status == "Accepted"
                assert held["next"] == key

    bounded(scenario)
    assert events[0].verification.carrier == "top" and events[0].decision.rule == "csms-commands"


def test_signed_16_command_is_refused_by_a_plain_16_station_schema(tmp_path: Path) -> None:
    # OCPP 1.6 schemas forbid unknown members: a plain 1.6 peer cannot take signed frames.
    csms_commands = SignRule([signer("csms-operator")], kinds=[Kind.REQUEST])

    class Plain16(PlainChargePoint16):  # type: ignore[misc]
        @on("ChangeConfiguration")  # type: ignore[untyped-decorator]
        def on_change_configuration(self, key: str, value: str, **kwargs: Any) -> Any:
            return result16.ChangeConfiguration(status="Accepted")

    async def scenario() -> None:
        csms_guard = guard(tmp_path, "csms", [], audit=True)

        def make_cp(ident: str, version: str, ws: Any) -> ChargePoint16:
            return ChargePoint16(
                ident, ws, side=CSMS, signing=Signing([csms_commands]), guard=csms_guard
            )

        async with (
            Csms(make_cp) as csms,
            station_session(
                csms.url(STATION_ID), lambda ws: Plain16(STATION_ID, ws), versions=["1.6"]
            ),
        ):
            cp = await csms.charge_point(STATION_ID)
            with pytest.raises(Exception, match="Additional properties are not allowed"):
                await cp.call(
                    call16.ChangeConfiguration(key="HeartbeatInterval", value="60"),
                    suppress=False,
                )

    bounded(scenario)


def test_unknown_identity_gets_404_from_the_csms(tmp_path: Path) -> None:
    store = AuthorizationKeyStore(ScryptParameters(n=2**10))

    async def scenario() -> None:
        async with Csms(
            lambda i, v, ws: PlainChargePoint201(i, ws), keys=store, known=store.__contains__
        ) as csms:
            with pytest.raises(InvalidStatus) as info:
                async with station_session(
                    csms.url("CS-9999"), lambda ws: PlainChargePoint201("CS-9999", ws)
                ):
                    pass
            assert info.value.response.status_code == 404

    bounded(scenario)
