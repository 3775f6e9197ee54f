"""ESP end to end over WebSockets (docs/esp.md): a station and a CSMS built on the ``ocpp``
package adapter encrypt their frames to each other through the project's gateway, a relay that
forwards and logs every frame and cannot read a single payload. Waits are bounded; no sleeps."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gateway_harness import running_gateway, write_config
from ocpp.routing import on
from ocpp.v201 import call, call_result
from test_integration_harness import DATA, Csms, bounded, signer, station_session

from ocpp_e2e.esp import (
    EncryptionError,
    EspKeyInfo,
    EspKeyring,
    EspReceiver,
    generate_esp_key,
)
from ocpp_e2e.guard import DecisionEvent, EncryptRule, EspSettings
from ocpp_e2e.integrations.ocpp import (
    CSMS,
    STATION,
    ChargePoint201,
    Guard,
    ResponseRefused,
    Signing,
    SignRule,
)
from ocpp_e2e.model import Kind
from ocpp_e2e.policy import load_policy
from ocpp_e2e.replay import MemoryReplayCache

STATION_ID = "CS-0001"
CSMS_KEY = generate_esp_key("ML-KEM-768+X25519")
STATION_KEY = generate_esp_key("X25519")
STRANGER_KEY = generate_esp_key("X25519")
SECRET = "EMAID-DE-SECRET-4711"


class CsmsCp(ChargePoint201):
    @on("BootNotification")  # type: ignore[untyped-decorator]
    def on_boot(self, **kwargs: Any) -> Any:
        return call_result.BootNotification(
            current_time="2026-12-07T22:40:00Z", interval=300, status="Accepted"
        )

    @on("Authorize")  # type: ignore[untyped-decorator]
    def on_authorize(self, id_token: dict[str, Any], **kwargs: Any) -> Any:
        assert id_token["id_token"] == SECRET  # the application sees the inner frame
        return call_result.Authorize(id_token_info={"status": "Accepted"})


class StationCp(ChargePoint201):
    @on("Reset")  # type: ignore[untyped-decorator]
    def on_reset(self, type: str, **kwargs: Any) -> Any:
        return call_result.Reset(status="Accepted")


def guard(name: str, events: list[DecisionEvent]) -> Guard:
    policy = load_policy(DATA / f"{name}-policy.yaml")
    return Guard(policy, policy.verifier(), replay_cache=MemoryReplayCache(), hooks=[events.append], clock=lambda: datetime.now(UTC))


def csms_esp() -> EspSettings:
    stations = EspKeyring([EspKeyInfo(STATION_KEY.public, STATION_ID)])
    return EspSettings(
        EspReceiver([CSMS_KEY], reply_keys=stations, replay_cache=MemoryReplayCache()),
        peer_keys=stations,
        reply_key=CSMS_KEY,
        encrypt=[EncryptRule()],
    )


def station_esp(csms_key: Any = CSMS_KEY) -> EspSettings:
    csms = EspKeyring([EspKeyInfo(csms_key.public, "csms")])
    return EspSettings(
        EspReceiver(
            [STATION_KEY],
            reply_keys=EspKeyring([EspKeyInfo(CSMS_KEY.public, "csms")]),
            replay_cache=MemoryReplayCache(),
        ),
        peer_keys=csms,
        reply_key=STATION_KEY,
        encrypt=[EncryptRule()],
    )


@contextlib.asynccontextmanager
async def deployment(
    tmp_path: Path, station_settings: EspSettings, events: list[DecisionEvent]
) -> AsyncIterator[tuple[StationCp, Any, Path]]:
    """CSMS <- gateway <- station, all on loopback; yields both ChargePoints and the relay's log."""
    csms_guard = guard("csms", events)
    answers = Signing([SignRule([signer("csms-operator")], kinds=[Kind.REQUEST, Kind.RESPONSE])])
    csms = Csms(
        lambda ident, version, ws: CsmsCp(
            ident, ws, side=CSMS, signing=answers, guard=csms_guard, esp=csms_esp()
        )
    )
    async with csms:
        config = write_config(
            tmp_path,
            f"""\
listen: {{host: 127.0.0.1, port: 0, path: /ocpp}}
upstream: {{url: "ws://127.0.0.1:{csms.port}/ocpp", connectTimeout: 2}}
stations:
  - group: all
    identities: ["CS-*"]
log: {{path: {tmp_path / "relay.jsonl"}}}
""",
        )
        async with running_gateway(config) as gateway:
            url = f"ws://127.0.0.1:{gateway.port}/ocpp/{STATION_ID}"
            station_guard = guard("station", events)
            requests = Signing(
                [SignRule([signer("station-1")], kinds=[Kind.REQUEST, Kind.RESPONSE])]
            )

            def make(ws: Any) -> StationCp:
                return StationCp(
                    STATION_ID,
                    ws,
                    side=STATION,
                    signing=requests,
                    guard=station_guard,
                    esp=station_settings,
                )

            async with station_session(url, make) as station_cp:
                yield station_cp, await csms.charge_point(STATION_ID), tmp_path / "relay.jsonl"  # type: ignore[misc]


def relayed(log: Path) -> list[str]:
    return [json.loads(line)["frame"] for line in log.read_text().splitlines() if line.strip()]


def test_both_directions_travel_encrypted_through_a_relay_that_cannot_read_them(
    tmp_path: Path,
) -> None:
    events: list[DecisionEvent] = []

    async def scenario() -> None:
        async with deployment(tmp_path, station_esp(), events) as (station, csms, log):
            boot = await station.call(
                call.BootNotification(
                    charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
                )
            )
            assert boot.status == "Accepted"
            auth = await station.call(
                call.Authorize(id_token={"id_token": SECRET, "type": "eMAID"})
            )
            assert auth.id_token_info["status"] == "Accepted"
            reset = await csms.call(call.Reset(type="Immediate"))
            assert reset.status == "Accepted"
        frames = relayed(log)
        assert len(frames) == 6
        for text in frames:
            outer = json.loads(text)
            assert outer[2] == "DataTransfer" if outer[0] == 2 else outer[2]["status"] == "Accepted"
            for secret in (
                SECRET,
                "BootNotification",
                "Authorize",
                "Reset",
                "Immediate",
                "PowerUp",
            ):
                assert secret not in text

    bounded(scenario)
    # The guards judged the inner frames, signed as plaintext frames are: all permitted.
    judged = [(e.action, e.kind.value if e.kind else None, e.decision.allowed) for e in events]
    assert ("BootNotification", "request", True) in judged
    assert ("Authorize", "request", True) in judged
    assert ("Reset", "request", True) in judged
    assert ("Reset", "response", True) in judged


def test_a_request_the_csms_cannot_decrypt_is_answered_with_the_esp_outcome(
    tmp_path: Path,
) -> None:
    events: list[DecisionEvent] = []

    async def scenario() -> None:
        # The station encrypts to a key that is not the CSMS's: wrong-recipient.
        async with deployment(tmp_path, station_esp(STRANGER_KEY), events) as (station, _c, log):
            # The CSMS's refusal is a plaintext, unsigned CALLERROR: the station's own policy
            # (errors must be signed by the CSMS) refuses it in turn, so the call fails.
            with pytest.raises(ResponseRefused, match="BootNotification error"):
                await station.call(
                    call.BootNotification(
                        charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
                    )
                )
        refusal = json.loads(relayed(log)[1])
        assert refusal[:3] == [4, refusal[1], "SecurityError"]
        assert refusal[4]["esp"] == "wrong-recipient"

    bounded(scenario)
    assert any(e.failure == "esp-wrong-recipient" for e in events)


def test_a_call_that_must_be_encrypted_is_never_sent_without_a_key(tmp_path: Path) -> None:
    settings = station_esp()
    settings = EspSettings(
        settings.receiver, peer_keys=EspKeyring(), reply_key=STATION_KEY, encrypt=[EncryptRule()]
    )
    events: list[DecisionEvent] = []

    async def scenario() -> None:
        async with deployment(tmp_path, settings, events) as (station, _c, log):
            with pytest.raises(EncryptionError, match="not sent in plaintext"):
                await station.call(call.Heartbeat())
        assert relayed(log) == []

    bounded(scenario)
