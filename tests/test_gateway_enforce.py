"""The gateway enforcing policies per direction, signing on behalf, audit mode, shared Redis replay
protection, and the attack classes of the integration tests, on real WebSockets (issue 17)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gateway_harness import (
    KEYS,
    RawCsms,
    recv_text,
    redis_server,
    run,
    running_gateway,
    station,
    write_config,
)
from ocpp.exceptions import SecurityError
from ocpp.routing import on
from ocpp.v201 import ChargePoint as PlainChargePoint201
from ocpp.v201 import call, call_result
from test_integration_harness import Csms, signer, station_session
from typer.testing import CliRunner

from ocpp_e2e.cli import app
from ocpp_e2e.gateway import Gateway
from ocpp_e2e.gateway.enforce import RelaySigning
from ocpp_e2e.gateway.redis_cache import RedisReplayCache
from ocpp_e2e.integrations.ocpp import STATION, ChargePoint201, Guard, Signing, SignRule
from ocpp_e2e.keys import KeySigner, generate_private_key
from ocpp_e2e.model import Direction, Kind, Outcome
from ocpp_e2e.policy import load_policy
from ocpp_e2e.replay import MemoryReplayCache
from ocpp_e2e.sign import sign_frame

HERE = Path(__file__).resolve().parent
GATEWAY_DATA = HERE / "data" / "gateway"
STATION_POLICY = HERE / "data" / "integration" / "station-policy.yaml"
ID = "CS-0001"


def profile(limit: int = 11000) -> dict[str, Any]:
    return {
        "evseId": 1,
        "chargingProfile": {
            "id": 7,
            "stackLevel": 0,
            "chargingProfilePurpose": "ChargingStationExternalConstraints",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [
                {
                    "id": 1,
                    "chargingRateUnit": "W",
                    "startSchedule": "2026-11-22T00:00:00Z",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
                }
            ],
        },
    }


def signed(value: list[Any], *names: str, call: str | None = None) -> str:
    text = json.dumps(value)
    for name in names:
        text = sign_frame(text, [signer(name)], ocpp="2.0.1", station=ID, call=call,
                          chained=text.count('"signatures"') > 0, timestamp=datetime.now(UTC))  # fmt: skip
    return text


def config_text(upstream: str, *, sign: str = "", cache: str = "", audit: bool = False) -> str:
    commands = GATEWAY_DATA / "csms-commands.yaml"
    reports = GATEWAY_DATA / "station-reports.yaml"
    if audit:
        commands = Path("csms-commands-audit.yaml")
    return f"""\
listen: {{host: 127.0.0.1, port: 0}}
upstream: {{url: "{upstream}", connectTimeout: 2}}
stations:
  - group: depot
    identities: ["CS-*"]
    policies: {{toStation: "{commands}", toCSMS: "{reports}"}}
{sign}{cache or "replayCache: {type: sqlite, path: replay.sqlite}"}
log: {{path: frames.jsonl}}
"""


@contextlib.asynccontextmanager
async def setup(tmp_path: Path, **options: Any) -> AsyncIterator[tuple[RawCsms, Gateway, Any, Any]]:
    if options.get("audit"):
        text = (
            (GATEWAY_DATA / "csms-commands.yaml")
            .read_text()
            .replace("mode: enforce", "mode: audit")
        )
        (tmp_path / "csms-commands-audit.yaml").write_text(text)
    async with RawCsms() as csms:
        csms.auto_answer = False
        path = write_config(tmp_path, config_text(csms.url, **options))
        async with running_gateway(path) as gateway, station(gateway, ID) as ws:
            upstream = csms.connections[await csms.connected.get()]
            yield csms, gateway, ws, upstream


# A routine command the policy lets through unsigned: what a station receives next after a refusal.
SENTINEL = '[2,"sentinel","TriggerMessage",{"requestedMessage":"Heartbeat"}]'


# --------------------------------------------------------------------------- CSMS -> station


def _replayed(first: str) -> list[str]:
    again = json.loads(first)
    again[1] = "a2"
    return [first, json.dumps(again)]


def _tampered() -> list[str]:
    return [
        signed([2, "a1", "SetChargingProfile", profile()], "grid-operator").replace(
            "11000", "11001"
        )
    ]


def _chain_without_first() -> list[str]:
    both = json.loads(
        signed([2, "a1", "SetChargingProfile", profile()], "grid-operator", "relay-node")
    )
    sigs = both[3]["customData"]["signatures"]
    both[3]["customData"]["signatures"] = sigs[1:]
    return [json.dumps(both)]


def _unknown_key() -> list[str]:
    stranger = KeySigner(generate_private_key("Ed25519"))
    text = json.dumps([2, "a1", "SetChargingProfile", profile()])
    return [sign_frame(text, [stranger], ocpp="2.0.1", station=ID, timestamp=datetime.now(UTC))]


FIRMWARE = {
    "requestId": 1,
    "firmware": {
        "location": "https://fw.example.com/1.bin",
        "retrieveDateTime": "2026-11-22T01:00:00Z",
    },
}
ATTACKS: dict[str, tuple[Callable[[], list[str]], str]] = {
    "unsigned grid command": (
        lambda: [json.dumps([2, "a1", "SetChargingProfile", profile()])],
        "no rule permits",
    ),
    "grid command signed by the CSMS operator (wrong role)": (
        lambda: [signed([2, "a1", "SetChargingProfile", profile()], "csms-operator")],
        "no rule permits",
    ),
    "grid limit below the policy's floor": (
        lambda: [signed([2, "a1", "SetChargingProfile", profile(2000)], "grid-operator")],
        "no rule permits",
    ),
    "firmware update with one of two signers": (
        lambda: [signed([2, "a1", "UpdateFirmware", FIRMWARE], "csms-operator")],
        "no rule permits",
    ),
    "command tampered after signing": (_tampered, "invalid"),
    "signed command replayed under a new message id": (
        lambda: _replayed(signed([2, "a1", "SetChargingProfile", profile()], "grid-operator")),
        "replayed",
    ),
    "relay dropped the first signature of a chain": (_chain_without_first, "malformed"),
    "command signed by an unknown key": (_unknown_key, "no rule permits"),
    "duplicate member": (
        lambda: ['[2,"a1","Reset",{"type":"Immediate","type":"OnIdle"}]'],
        "duplicate",
    ),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_from_the_csms_side_is_answered_with_security_error_and_never_reaches_the_station(
    tmp_path: Path, attack: str
) -> None:
    make, cause = ATTACKS[attack]
    frames = make()

    async def scenario() -> None:
        async with setup(tmp_path) as (csms, _gateway, ws, upstream):
            *delivered, attack_frame = frames
            for text in delivered:  # the original of a replay passes, byte for byte
                await upstream.send(text)
                assert await recv_text(ws) == text
            await upstream.send(attack_frame)
            answer = json.loads(await csms.next())
            assert answer[0] == 4 and answer[2] == "SecurityError"
            assert answer[1] == ("a2" if attack.startswith("signed command replayed") else "a1")
            assert cause in answer[3] + json.dumps(answer[4])
            await upstream.send(SENTINEL)
            assert await recv_text(ws) == SENTINEL  # the refused frame never arrived before it

    run(scenario)


# --------------------------------------------------------------------------- station -> CSMS


def test_refused_answers_are_replaced_by_a_callerror_to_the_caller_and_valid_ones_pass(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with setup(tmp_path) as (csms, _gateway, ws, upstream):
            for n, (who, expected) in enumerate(
                [(None, "SecurityError"), ("station-2", "SecurityError"), ("station-1", None)]
            ):
                command = signed([2, f"g{n}", "SetChargingProfile", profile()], "grid-operator")
                await upstream.send(command)
                assert await recv_text(ws) == command
                answer = json.dumps([3, f"g{n}", {"status": "Accepted"}])
                if who is not None:
                    answer = sign_frame(
                        answer, [signer(who)], ocpp="2.0.1", station=ID, call=command, timestamp=datetime.now(UTC)
                    )
                await ws.send(answer)
                got = await csms.next()
                if expected is None:
                    assert got == answer  # a valid signed answer passes byte for byte
                else:
                    value = json.loads(got)
                    assert value[:3] == [4, f"g{n}", expected]
                    assert value[3].startswith("response refused by the gateway: ")

    run(scenario)


def test_station_reports_liveness_pass_unsigned_meter_values_need_the_station_signature(
    tmp_path: Path,
) -> None:
    meter = [2, "m1", "MeterValues", {"evseId": 1, "meterValue": [
        {"timestamp": "2026-11-22T00:00:00Z", "sampledValue": [{"value": 12.5}]}]}]  # fmt: skip

    async def scenario() -> None:
        async with setup(tmp_path) as (csms, _gateway, ws, _upstream):
            await ws.send('[2,"h1","Heartbeat",{}]')
            assert await csms.next() == '[2,"h1","Heartbeat",{}]'
            await ws.send(json.dumps(meter))
            refused = json.loads(await recv_text(ws))
            assert refused[:3] == [4, "m1", "SecurityError"]
            good = sign_frame(json.dumps(meter), [signer("station-1")], ocpp="2.0.1", station=ID, timestamp=datetime.now(UTC))
            await ws.send(good)
            assert await csms.next() == good

    run(scenario)


# --------------------------------------------------------------------------- signing on behalf

SIGN_RULES = f"""\
    sign:
      - {{direction: toStation, actions: [Reset], signer: "{KEYS}/csms-operator.key.pem", certificates: "{KEYS}/csms-operator.chain.pem"}}
      - {{direction: toStation, actions: [SetChargingProfile], signer: "file:{KEYS}/relay-node.key.pem", certificates: "{KEYS}/relay-node.chain.pem"}}
"""


def test_gateway_signs_on_behalf_and_adds_a_chained_signature_to_signed_frames(
    tmp_path: Path,
) -> None:
    verifier = load_policy(STATION_POLICY).verifier(replay_cache=MemoryReplayCache())

    async def scenario() -> None:
        async with setup(tmp_path, sign=SIGN_RULES) as (csms, _gateway, ws, upstream):
            await upstream.send('[2,"r1","Reset",{"type":"Immediate"}]')
            got = await recv_text(ws)
            checked = verifier.verify_frame(got, ocpp="2.0.1", station=ID, now=datetime.now(UTC))
            assert [(r.outcome, r.identity) for r in checked.verification.signatures] == [
                (Outcome.VALID, "ops-1")
            ]
            command = signed([2, "g1", "SetChargingProfile", profile()], "grid-operator")
            await upstream.send(command)
            relayed = await recv_text(ws)
            checked = verifier.verify_frame(relayed, ocpp="2.0.1", station=ID, now=datetime.now(UTC))
            sigs = checked.verification.signatures
            assert [(r.outcome, r.identity) for r in sigs] == [
                (Outcome.VALID, "dso-example"),
                (Outcome.VALID, "relay-1"),
            ]
            assert json.loads(relayed)[3]["customData"]["signatures"][1]["chained"] is True
            # The station binds its answer to the CALL as it received it (SPEC §3 R): it passes.
            answer = sign_frame('[3,"g1",{"status":"Accepted"}]', [signer("station-1")],
                                ocpp="2.0.1", station=ID, call=relayed, timestamp=datetime.now(UTC))  # fmt: skip
            await ws.send(answer)
            assert await csms.next() == answer

    run(scenario)


def test_a_signer_that_fails_answers_internal_error_and_the_connection_keeps_serving(
    tmp_path: Path,
) -> None:
    class FailingSigner:
        """An HSM that cannot be reached."""

        def __init__(self) -> None:
            real = signer("csms-operator")
            self.key_id, self.algorithm = real.key_id, real.algorithm
            self.public_key_der, self.certificates = real.public_key_der, real.certificates

        def sign(self, data: bytes) -> bytes:
            raise ConnectionError("HSM unreachable")

    async def scenario() -> None:
        async with setup(tmp_path, sign=SIGN_RULES) as (csms, gateway, ws, upstream):
            # the operator's key now sits in an HSM that cannot be reached
            to_station = gateway.rules.groups["depot"][Direction.TO_STATION]
            to_station.signing = RelaySigning([SignRule([FailingSigner()], actions=["Reset"])])
            await upstream.send('[2,"r1","Reset",{"type":"Immediate"}]')
            answer = json.loads(await csms.next())
            assert answer[:3] == [4, "r1", "InternalError"]
            assert "ConnectionError: HSM unreachable" in answer[3]
            await upstream.send(SENTINEL)
            assert await recv_text(ws) == SENTINEL

    run(scenario)


# --------------------------------------------------------------------------- audit mode and log


def test_audit_mode_forwards_everything_logs_the_decision_and_audit_reads_the_log(
    tmp_path: Path,
) -> None:
    unsigned = json.dumps([2, "a1", "SetChargingProfile", profile()])

    async def scenario() -> None:
        async with setup(tmp_path, audit=True) as (_csms, _gateway, ws, upstream):
            await upstream.send(unsigned)
            assert await recv_text(ws) == unsigned

    run(scenario)
    line = json.loads((tmp_path / "frames.jsonl").read_text().splitlines()[-1])
    assert line["frame"] == unsigned
    assert line["gateway"]["effect"] == "deny" and line["gateway"]["mode"] == "audit"
    assert line["gateway"]["action"] == "forwarded"
    # `ocpp-e2e audit` reads the gateway's log as it is and finds the same violation again.
    policy = GATEWAY_DATA / "csms-commands.yaml"
    log = str(tmp_path / "frames.jsonl")
    result = CliRunner().invoke(app, ["audit", log, "--policy", str(policy), "--json"])
    assert result.exit_code == 1, result.output
    findings = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
    assert any("SetChargingProfile" in json.dumps(f) for f in findings), result.output
    summary = findings[-1]
    assert (summary["frames"], summary["unreadableLines"]) == (1, 0)
    assert summary["verdicts"]["deny"] == 1


# --------------------------------------------------------------------------- a CSMS on `ocpp`


class PlainCsms201(PlainChargePoint201):  # type: ignore[misc]
    @on("BootNotification")  # type: ignore[untyped-decorator]
    def on_boot(self, charging_station: Any, reason: str, **kwargs: Any) -> Any:
        return call_result.BootNotification(
            current_time="2026-11-22T00:00:00Z", interval=300, status="Accepted"
        )


class GuardedStation(ChargePoint201):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resets: list[str] = []

    @on("Reset")  # type: ignore[untyped-decorator]
    def on_reset(self, type: str, **kwargs: Any) -> Any:
        self.resets.append(type)
        return call_result.Reset(status="Accepted")


def test_ocpp_package_csms_and_station_through_the_gateway_signing_and_refusing(
    tmp_path: Path,
) -> None:
    policy = load_policy(STATION_POLICY)
    guard = Guard(policy, policy.verifier(replay_cache=MemoryReplayCache()), clock=lambda: datetime.now(UTC))
    signing = Signing([SignRule([signer("station-1")], kinds=[Kind.RESPONSE, Kind.ERROR])])

    async def scenario() -> None:
        async with Csms(lambda ident, version, ws: PlainCsms201(ident, ws)) as csms:
            # The gateway also answers for the CSMS: its responses get the operator's signature,
            # which the station's own guard requires.
            answers = f"""\
      - {{direction: toStation, kinds: [response, error], signer: "{KEYS}/csms-operator.key.pem", certificates: "{KEYS}/csms-operator.chain.pem"}}
"""
            path = write_config(
                tmp_path, config_text(csms.url(ID).rsplit("/", 1)[0], sign=SIGN_RULES + answers)
            )
            async with running_gateway(path) as gateway:
                url = f"ws://127.0.0.1:{gateway.port}/ocpp/{ID}"
                async with station_session(
                    url,
                    lambda ws: GuardedStation(ID, ws, side=STATION, signing=signing, guard=guard),
                ) as cp:
                    boot = await cp.call(call.BootNotification(
                        charging_station={"model": "X1", "vendor_name": "Example"}, reason="PowerUp"))  # fmt: skip
                    assert boot.status == "Accepted"
                    at_csms = await csms.charge_point(ID)
                    # The plain CSMS sends an unsigned Reset; the gateway signs it as ops-1 and the
                    # station's own guard accepts it; the station's signed answer reaches the CSMS.
                    reset = await at_csms.call(call.Reset(type="Immediate"))
                    assert reset.status == "Accepted" and cp.resets == ["Immediate"]
                    # An unsigned grid command is refused at the gateway: SecurityError at the CSMS.
                    with pytest.raises(SecurityError):
                        await at_csms.call(
                            call.SetChargingProfile(
                                evse_id=1, charging_profile=profile()["chargingProfile"]
                            ),
                            suppress=False,
                        )

    run(scenario)


# --------------------------------------------------------------------------- Redis


def test_redis_replay_cache_set_nx_sees_a_signature_once() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    with redis_server() as url:

        async def scenario() -> None:
            cache = RedisReplayCache(url, timeout=1.0)
            try:
                later = now + timedelta(minutes=5)
                assert await cache.check_and_add_async("k", b"d1", later, now) is False
                assert await cache.check_and_add_async("k", b"d1", later, now) is True
                assert await cache.check_and_add_async("k", b"d2", later, now) is False
                assert await cache.check_and_add_async("other", b"d1", later, now) is False
                # the loop's own thread may not use the blocking interface
                with pytest.raises(RuntimeError):
                    RedisReplayCache(url, loop=asyncio.get_running_loop()).check_and_add(
                        "k", b"d3", later, now
                    )
                # from a worker thread it runs on the loop, bounded
                bridged = RedisReplayCache(url, loop=asyncio.get_running_loop())
                assert await asyncio.to_thread(bridged.check_and_add, "k", b"d1", later, now)
                await bridged.aclose()
            finally:
                await cache.aclose()

        run(scenario)


def test_two_gateways_sharing_redis_refuse_a_frame_replayed_across_them(tmp_path: Path) -> None:
    with redis_server() as url:
        cache = f'replayCache: {{type: redis, url: "{url}", timeout: 1}}'

        async def scenario() -> None:
            async with RawCsms() as csms:
                csms.auto_answer = False
                (tmp_path / "a").mkdir()
                (tmp_path / "b").mkdir()
                path_a = write_config(tmp_path / "a", config_text(csms.url, cache=cache))
                path_b = write_config(tmp_path / "b", config_text(csms.url, cache=cache))
                async with running_gateway(path_a) as gw_a, running_gateway(path_b) as gw_b:
                    command = signed([2, "g1", "SetChargingProfile", profile()], "grid-operator")
                    async with station(gw_a, ID) as ws_a:
                        up_a = csms.connections[await csms.connected.get()]
                        await up_a.send(command)
                        assert await recv_text(ws_a) == command
                    async with station(gw_b, ID) as ws_b:
                        up_b = csms.connections[await csms.connected.get()]
                        await up_b.send(command)
                        answer = json.loads(await csms.next())
                        assert answer[:3] == [4, "g1", "SecurityError"]
                        assert "replayed" in json.dumps(answer)
                        await up_b.send(SENTINEL)
                        assert await recv_text(ws_b) == SENTINEL

        run(scenario)


def test_unreachable_redis_fails_closed_within_its_bound(tmp_path: Path) -> None:
    from gateway_harness import free_port

    cache = f'replayCache: {{type: redis, url: "redis://127.0.0.1:{free_port()}/0", timeout: 0.3}}'

    async def scenario() -> None:
        async with setup(tmp_path, cache=cache) as (csms, _gateway, ws, upstream):
            command = signed([2, "g1", "SetChargingProfile", profile()], "grid-operator")
            await upstream.send(command)
            answer = json.loads(await csms.next())
            assert answer[:3] == [4, "g1", "InternalError"]
            assert "replay cache unavailable" in answer[3]
            await upstream.send(SENTINEL)  # unsigned: no replay entry needed, still served
            assert await recv_text(ws) == SENTINEL

    run(scenario)


# --------------------------------------------------------------------------- reload, signed upgrade


def test_reload_with_admins_takes_only_a_signed_upgrade_and_swaps_the_same_guard(
    tmp_path: Path,
) -> None:
    from ocpp_e2e.gateway import GatewayConfigError, build_rules, load_config
    from ocpp_e2e.policy import loads_policy, sign_policy

    text = (GATEWAY_DATA / "csms-commands.yaml").read_text()
    text = text.replace("roles:\n", "roles:\n  policy-admin: {usage: policyAdmin}\n", 1)
    text += "admins: {roles: [policy-admin], threshold: 2}\n"
    policy_path = tmp_path / "commands.json"
    first = loads_policy(text, fmt="yaml", source="v1")
    policy_path.write_text(json.dumps(first.to_dict()))
    config = load_config(write_config(tmp_path, """\
upstream: {url: ws://127.0.0.1:1/ocpp}
stations:
  - {group: depot, identities: ["CS-*"], policies: {toStation: commands.json}}
"""))  # fmt: skip
    rules = build_rules(config, MemoryReplayCache())
    guard = rules.rules("depot", Direction.TO_STATION).guard
    second = {**first.to_dict(), "version": 2, "mode": "audit"}
    policy_path.write_text(json.dumps(second))  # not signed: refused, v1 stays
    with pytest.raises(GatewayConfigError) as caught:
        build_rules(config, MemoryReplayCache(), previous=rules)
    assert "the new version is refused (signed upgrade)" in str(caught.value)
    assert guard.policy.version == 1
    one = sign_policy(second, [signer("policy-admin-1")], timestamp=datetime.now(UTC))
    policy_path.write_text(json.dumps(one))  # one admin of two: refused too
    with pytest.raises(GatewayConfigError):
        build_rules(config, MemoryReplayCache(), previous=rules)
    both = sign_policy(one, [signer("policy-admin-2")], timestamp=datetime.now(UTC))
    policy_path.write_text(json.dumps(both))
    reloaded = build_rules(config, MemoryReplayCache(), previous=rules)
    assert reloaded.rules("depot", Direction.TO_STATION).guard is guard  # connections keep it
    assert (guard.policy.version, guard.policy.mode.value) == (2, "audit")
