"""The gateway as a proxy: configuration errors, admission, subprotocols, byte-for-byte relaying,
the SPEC §8 frame log, upstream loss and reconnection (issue 17)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from gateway_harness import (
    DATA,
    TIMEOUT,
    RawCsms,
    recv_text,
    run,
    running_gateway,
    station,
    station_url,
    write_config,
)
from typer.testing import CliRunner
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ocpp_e2e.audit.logs import read_jsonl_line
from ocpp_e2e.cli import app
from ocpp_e2e.gateway import GatewayConfigError, load_config
from ocpp_e2e.integrations.connection import (
    AuthorizationKeyStore,
    ScryptParameters,
    basic_auth_header,
    generate_authorization_key,
)


def plain_config(tmp_path: Path, upstream: str, extra: str = "") -> Path:
    return write_config(
        tmp_path,
        f"""\
listen: {{host: 127.0.0.1, port: 0, path: /ocpp}}
upstream: {{url: "{upstream}", connectTimeout: 2, reconnect: {{initialDelay: 0.01, maxDelay: 0.05}}}}
stations:
  - group: all
    identities: ["CS-*"]
log: {{path: frames.jsonl}}
{extra}""",
    )


# --------------------------------------------------------------------------- configuration


def test_config_errors_name_file_line_place_and_reason_all_at_once(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """\
listen:
  port: 70000
  auth: {mode: verify}
upstream: {url: "http://csms.example.com/ocpp"}
stations:
  - group: Depot
    identities: []
replayCache: {type: sqlite}
colour: blue
""",
    )
    with pytest.raises(GatewayConfigError) as caught:
        load_config(path)
    problems = caught.value.problems
    assert f"{path}:2: $.listen.port: 70000 is greater than the maximum of 65535" in problems
    assert (
        f"{path}:4: $.upstream.url: 'http://csms.example.com/ocpp' is not a ws:// or wss:// URL"
        in problems
    )
    assert (
        f"{path}:6: $.stations[0].group: 'Depot' is not a group name of a-z, 0-9 and -" in problems
    )
    assert any(p.startswith(f"{path}:7: $.stations[0].identities:") for p in problems)
    assert any(p.startswith(f"{path}:9: $.colour: unknown member 'colour'") for p in problems)


def test_config_semantic_errors_after_the_schema_name_their_place(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """\
listen: {auth: {mode: verify}}
upstream: {url: "ws://127.0.0.1:1/ocpp", tls: {ca: ca.pem}}
stations:
  - {group: a, identities: ["CS*-1"], policies: {toStation: missing.yaml}}
replayCache: {type: sqlite}
""",
    )
    with pytest.raises(GatewayConfigError) as caught:
        load_config(path)
    problems = caught.value.problems
    assert (
        f"{path}:1: $.listen.auth: mode verify needs keyStore (an authorization key store)"
        in problems
    )
    assert f"{path}:2: $.upstream.tls: TLS settings need a wss:// upstream url" in problems
    assert f"{path}:2: $.upstream.tls.ca: no such file: {tmp_path}/ca.pem" in problems
    assert f"{path}:4: $.stations[0].identities[0]: only a trailing * is a wildcard" in problems
    assert (
        f"{path}:4: $.stations[0].policies.toStation: no such file: {tmp_path}/missing.yaml"
        in problems
    )
    assert f"{path}:5: $.replayCache: type sqlite needs path (the SQLite file)" in problems


# --------------------------------------------------------------------------- relaying


def test_frames_pass_byte_for_byte_both_ways_and_the_log_reads_as_spec_8(tmp_path: Path) -> None:
    # Shapes a re-serializing relay would change: big integers, 1.0, exponent, spacing, escapes.
    to_csms = '[2, "m1", "DataTransfer", {"vendorId": "x", "data": {"n": 1152921504606846976, "f": 1.0, "e": 4.2e3, "s": "\\u00e9"}}]'
    to_station = '[2,"c1","SetVariables",{"setVariableData":[{"attributeValue":"10.50","component":{"name":"X"},"variable":{"name":"Y"}}] }]'

    async def scenario() -> None:
        async with RawCsms() as csms:
            csms.auto_answer = False
            async with (
                running_gateway(plain_config(tmp_path, csms.url)) as gateway,
                station(gateway, "CS-1") as ws,
            ):
                assert ws.subprotocol == "ocpp2.0.1"
                await ws.send(to_csms)
                assert await csms.next() == to_csms
                await csms.connections["CS-1"].send(to_station)
                assert await recv_text(ws) == to_station
                await ws.send('[3,"c1",{"setVariableResult":[]}]')
                assert await csms.next() == '[3,"c1",{"setVariableResult":[]}]'

    run(scenario)
    lines = (tmp_path / "frames.jsonl").read_bytes().splitlines()
    assert len(lines) == 3
    records = [read_jsonl_line("frames.jsonl", i + 1, raw, "2.0.1") for i, raw in enumerate(lines)]
    assert [(r.station, r.direction.value, r.frame) for r in records] == [  # type: ignore[union-attr]
        ("CS-1", "toCSMS", to_csms),
        ("CS-1", "toStation", to_station),
        ("CS-1", "toCSMS", '[3,"c1",{"setVariableResult":[]}]'),
    ]
    first = json.loads(lines[0])
    assert first["ocpp"] == "2.0.1" and first["gateway"] == {"action": "forwarded"}


def test_station_offer_goes_upstream_and_the_csms_choice_comes_back(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with (
            RawCsms(versions=("ocpp1.6",)) as csms,
            running_gateway(plain_config(tmp_path, csms.url)) as gateway,
        ):
            async with station(gateway, "CS-1", ("ocpp2.0.1", "ocpp1.6")) as ws:
                assert ws.subprotocol == "ocpp1.6"
            assert csms.offered[-1] == ["ocpp2.0.1", "ocpp1.6"]
            # No common version with the CSMS: the handshake ends without one, then closes.
            async with station(gateway, "CS-2", ("ocpp2.1",)) as ws:
                assert ws.subprotocol is None
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), TIMEOUT)
                assert ws.close_code == 1002

    run(scenario)


def test_unknown_identity_gets_404_before_the_upgrade_and_no_upstream_is_opened(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with (
            RawCsms() as csms,
            running_gateway(plain_config(tmp_path, csms.url)) as gateway,
        ):
            with pytest.raises(InvalidStatus) as caught:
                async with station(gateway, "XY-1"):
                    pass
            assert caught.value.response.status_code == 404
            assert csms.offered == []

    run(scenario)


def test_basic_auth_verified_at_the_gateway_401_without_or_with_a_wrong_key(
    tmp_path: Path,
) -> None:
    store = AuthorizationKeyStore(ScryptParameters(n=2**10))
    key = generate_authorization_key()
    store.set("CS-1", key)
    store.save(tmp_path / "keys.json")

    async def scenario() -> None:
        async with RawCsms() as csms:
            config = (
                plain_config(tmp_path, csms.url)
                .read_text()
                .replace("path: /ocpp}", "path: /ocpp, auth: {mode: verify, keyStore: keys.json}}")
            )
            path = write_config(tmp_path, config)
            async with running_gateway(path) as gateway:
                for headers in ({}, {"Authorization": basic_auth_header("CS-1", bytes(20))}):
                    with pytest.raises(InvalidStatus) as caught:
                        async with station(gateway, "CS-1", additional_headers=headers):
                            pass
                    assert caught.value.response.status_code == 401
                good = {"Authorization": basic_auth_header("CS-1", key)}
                async with station(gateway, "CS-1", additional_headers=good) as ws:
                    assert ws.subprotocol == "ocpp2.0.1"
                # verified at the gateway: the credentials are not sent on upstream
                assert "Authorization" not in csms.headers[-1]

    run(scenario)


def test_basic_auth_passed_through_the_csms_decides_and_its_401_reaches_the_station(
    tmp_path: Path,
) -> None:
    store = AuthorizationKeyStore(ScryptParameters(n=2**10))
    key = generate_authorization_key()
    store.set("CS-1", key)

    async def scenario() -> None:
        async with RawCsms(keys=store) as csms:
            config = plain_config(tmp_path, csms.url).read_text()
            config = config.replace("path: /ocpp}", "path: /ocpp, auth: {mode: passthrough}}")
            config = config.replace(
                "connectTimeout: 2", "connectTimeout: 2, auth: {mode: passthrough}"
            )
            async with running_gateway(write_config(tmp_path, config)) as gateway:
                bad = {"Authorization": basic_auth_header("CS-1", bytes(20))}
                with pytest.raises(InvalidStatus) as caught:
                    async with station(gateway, "CS-1", additional_headers=bad):
                        pass
                assert caught.value.response.status_code == 401
                good = {"Authorization": basic_auth_header("CS-1", key)}
                async with station(gateway, "CS-1", additional_headers=good) as ws:
                    await ws.send('[2,"1","Heartbeat",{}]')
                    assert json.loads(await recv_text(ws))[:2] == [3, "1"]

    run(scenario)


def test_unreachable_csms_at_connect_is_503_before_the_upgrade(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with RawCsms() as csms:
            url = csms.url
        async with running_gateway(plain_config(tmp_path, url)) as gateway:
            with pytest.raises(InvalidStatus) as caught:
                async with station(gateway, "CS-1"):
                    pass
            assert caught.value.response.status_code == 503

    run(scenario)


def test_lost_csms_station_stays_connected_calls_get_internal_error_then_reconnects(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        csms = RawCsms()
        await csms.start()
        port = csms.port
        async with running_gateway(plain_config(tmp_path, csms.url)) as gateway:
            async with station(gateway, "CS-1") as ws:
                csms.auto_answer = False
                await ws.send('[2,"w1","Heartbeat",{}]')  # waiting at the CSMS when it goes
                assert await csms.next() == '[2,"w1","Heartbeat",{}]'
                await csms.stop()
                lost = json.loads(await recv_text(ws))
                assert lost[:3] == [4, "w1", "InternalError"]
                await ws.send('[2,"d1","Heartbeat",{}]')
                down = json.loads(await recv_text(ws))
                assert down[:3] == [4, "d1", "InternalError"]
                assert "unreachable" in down[3]
                # The CSMS comes back on its port: the gateway reconnects, the station never left.
                csms2 = RawCsms(port=port)
                await csms2.start()
                try:
                    await asyncio.wait_for(csms2.connected.get(), TIMEOUT)
                    await ws.send('[2,"u1","Heartbeat",{}]')
                    assert json.loads(await recv_text(ws))[:2] == [3, "u1"]
                finally:
                    await csms2.stop()
            assert gateway.metrics.reconnects._value.get() >= 1

    run(scenario)


def test_graceful_shutdown_refuses_new_stations_and_closes_with_1001(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with (
            RawCsms() as csms,
            running_gateway(plain_config(tmp_path, csms.url)) as gateway,
            station(gateway, "CS-1") as ws,
        ):
            url = station_url(gateway, "CS-2")
            stopping = asyncio.create_task(gateway.stop())
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert ws.close_code == 1001
            await stopping
            with pytest.raises(OSError):
                async with connect(url, subprotocols=["ocpp2.0.1"]):  # type: ignore[list-item]
                    pass

    run(scenario)


def test_cli_reports_every_configuration_problem_on_its_own_line_and_exits_2(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path, "listen: {port: -1}\nupstream: {url: ws://x}\n")
    result = CliRunner().invoke(app, ["gateway", "--config", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"{path}:1: $.listen.port: -1 is less than the minimum of 0" in result.output
    assert f"{path}:1: $: required member 'stations' is missing" in result.output


def test_cli_loop_option_refuses_unknown_loops_and_a_missing_uvloop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ocpp_e2e.cli.gateway import loop_factory

    path = write_config(tmp_path, "listen: {port: 0}\nupstream: {url: ws://x}\n")
    result = CliRunner().invoke(app, ["gateway", "--config", str(path), "--loop", "trio"])
    assert result.exit_code == 2
    assert "error: --loop must be auto, uvloop or asyncio, not 'trio'" in result.output
    assert loop_factory("asyncio") is None
    assert loop_factory("auto") is not None  # uvloop is in the dev extra
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed
    assert loop_factory("auto") is None  # auto falls back to the standard loop
    result = CliRunner().invoke(app, ["gateway", "--config", str(path), "--loop", "uvloop"])
    assert result.exit_code == 2
    assert "error: --loop uvloop: uvloop is not installed (pip install 'ocpp-e2e[uvloop]')" in (
        result.output
    )


def test_cli_check_loads_policies_and_names_them(tmp_path: Path) -> None:
    policy = DATA / "station-policy.yaml"
    path = write_config(
        tmp_path,
        f"""\
upstream: {{url: ws://127.0.0.1:1/ocpp}}
stations:
  - {{group: depot, identities: ["CS-*"], policies: {{toStation: "{policy}"}}}}
""",
    )
    result = CliRunner().invoke(app, ["gateway", "--config", str(path), "--check"])
    assert result.exit_code == 0, result.output
    assert "group depot toStation: policy integration-station v1 (enforce)" in result.output
    broken = write_config(
        tmp_path,
        f"""\
upstream: {{url: ws://127.0.0.1:1/ocpp}}
stations:
  - {{group: depot, identities: ["CS-*"], policies: {{toStation: "{path}"}}}}
""",
    )
    result = CliRunner().invoke(app, ["gateway", "--config", str(broken), "--check"])
    assert result.exit_code == 2
    assert f"{broken}:3: $.stations[0].policies.toStation: " in result.output


def test_frame_log_rotates_by_size_and_by_time_and_keeps_every_line(tmp_path: Path) -> None:
    from ocpp_e2e.gateway.config import FrameLogConfig
    from ocpp_e2e.gateway.framelog import FrameLog

    now = [1_800_000_000.0]

    async def scenario() -> None:
        log = FrameLog(
            FrameLogConfig(tmp_path / "frames.jsonl", max_bytes=4096, rotate_seconds=3600),
            clock=lambda: now[0],
        )
        for n in range(60):  # about 100 bytes a line: rotated by size more than once
            await log.write({"n": n, "pad": "x" * 80})
        await log.flush()
        now[0] += 3600  # an hour later: the next line starts a new file by time
        await log.write({"n": 60, "pad": ""})
        await log.close()
        assert log.lines == 61 and log.rotations >= 2

    run(scenario)
    files = sorted(tmp_path.glob("frames*.jsonl"))
    numbers = sorted(json.loads(line)["n"] for f in files for line in f.read_text().splitlines())
    assert numbers == list(range(61))  # nothing lost, nothing twice
    assert all(f.stat().st_size <= 4096 for f in files)
    assert [json.loads(x)["n"] for x in (tmp_path / "frames.jsonl").read_text().splitlines()] == [
        60
    ]


def test_frame_log_wakes_its_writer_once_for_the_lines_of_a_burst_not_once_per_line(
    tmp_path: Path,
) -> None:
    from ocpp_e2e.gateway.config import FrameLogConfig
    from ocpp_e2e.gateway.framelog import FrameLog

    class PatientLog(FrameLog):
        HAND_OVER_SECONDS = 3600.0

    async def scenario() -> None:
        log = PatientLog(FrameLogConfig(tmp_path / "patient.jsonl"))
        for n in range(50):  # the loop (and the thread) have time between these writes
            await log.write({"n": n})
            await asyncio.sleep(0.001)
        assert (log.lines, log.batches) == (0, 0)  # not woken once per line
        await log.flush()
        assert (log.lines, log.batches) == (50, 1)
        await log.close()
        log = FrameLog(FrameLogConfig(tmp_path / "frames.jsonl"))
        for n in range(100):
            await log.write({"n": n})
        async with asyncio.timeout(TIMEOUT):  # written after the hand-over delay, unasked
            while log.lines < 100:
                await asyncio.sleep(0.01)
        await log.write({"n": 100})
        await log.close()

    run(scenario)
    for name, count in (("patient.jsonl", 50), ("frames.jsonl", 101)):
        numbers = [json.loads(x)["n"] for x in (tmp_path / name).read_text().splitlines()]
        assert numbers == list(range(count))


def test_frame_log_with_a_full_queue_makes_the_writer_wait_and_loses_nothing(
    tmp_path: Path,
) -> None:
    from ocpp_e2e.gateway.config import FrameLogConfig
    from ocpp_e2e.gateway.framelog import FrameLog

    async def scenario() -> None:
        log = FrameLog(FrameLogConfig(tmp_path / "frames.jsonl", queue=5))
        for n in range(40):  # eight times the queue: each full queue wakes the writer at once
            await log.write({"n": n})
        await log.close()
        assert log.lines == 40

    run(scenario)
    numbers = [json.loads(x)["n"] for x in (tmp_path / "frames.jsonl").read_text().splitlines()]
    assert numbers == list(range(40))


def test_upstream_keys_mode_sends_the_gateways_own_key_for_the_station(tmp_path: Path) -> None:
    store = AuthorizationKeyStore(ScryptParameters(n=2**10))
    key = generate_authorization_key()
    store.set("CS-1", key)
    (tmp_path / "upstream-keys.json").write_text(json.dumps({"CS-1": key.hex()}))

    async def scenario() -> None:
        async with RawCsms(keys=store) as csms:
            config = (
                plain_config(tmp_path, csms.url)
                .read_text()
                .replace(
                    "connectTimeout: 2",
                    "connectTimeout: 2, auth: {mode: keys, keys: upstream-keys.json}",
                )
            )
            async with running_gateway(write_config(tmp_path, config)) as gateway:
                async with station(gateway, "CS-1") as ws:  # the station sends no credentials
                    await ws.send('[2,"1","Heartbeat",{}]')
                    assert json.loads(await recv_text(ws))[:2] == [3, "1"]
                assert csms.headers[-1]["Authorization"] == basic_auth_header("CS-1", key)
                # a station the file has no key for: the CSMS answers 401, so does the gateway
                with pytest.raises(InvalidStatus) as caught:
                    async with station(gateway, "CS-2"):
                        pass
                assert caught.value.response.status_code == 401

    run(scenario)
