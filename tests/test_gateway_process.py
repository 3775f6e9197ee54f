"""The gateway as a real process (``ocpp-e2e gateway --config``): TLS on both sides with certificates
from the project's own PKI, client certificates, policy reload on SIGHUP without dropping the
station, /metrics and /healthz, graceful shutdown on SIGTERM (issue 17)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import ssl
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from gateway_harness import TIMEOUT, RawCsms, recv_text, redis_server, run, write_config
from test_gateway_enforce import profile
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from ocpp_e2e.integrations.connection import connection_url
from ocpp_e2e.keys import generate_private_key, private_key_to_pem
from ocpp_e2e.pki.issue import certificate_pem, create_root
from ocpp_e2e.pki.tls import issue_tls_certificate

GATEWAY_DATA = Path(__file__).resolve().parent / "data" / "gateway"


def tls_material(folder: Path) -> dict[str, Path]:
    """A private root and TLS certificates for the gateway, the CSMS, a station and the gateway's
    upstream client identity, all issued by ocpp_e2e.pki."""
    root = create_root(generate_private_key("ES256"), "test TLS root", valid_for=timedelta(days=2), not_before=datetime.now(UTC).replace(microsecond=0))
    out = {"root": folder / "root.pem"}
    out["root"].write_bytes(certificate_pem([root.certificate]))
    leaves: dict[str, dict[str, Any]] = {
        "gateway": {"ip_addresses": ["127.0.0.1"]},
        "csms": {"ip_addresses": ["127.0.0.1"]},
        "station": {"identity": "cs-0001", "server": False, "client": True},
        "gateway-client": {"dns_names": ["gateway.example"], "server": False, "client": True},
    }
    for name, options in leaves.items():
        key = generate_private_key("ES256")
        cert = issue_tls_certificate(
            root, key.public_key(), valid_for=timedelta(days=1), not_before=root.certificate.not_valid_before_utc, **options
        )
        out[f"{name}.crt"] = folder / f"{name}.crt.pem"
        out[f"{name}.crt"].write_bytes(certificate_pem([cert]))
        out[f"{name}.key"] = folder / f"{name}.key.pem"
        out[f"{name}.key"].write_bytes(private_key_to_pem(key))
    return out


class GatewayProcess:
    """``ocpp-e2e gateway`` in a child process; its stderr lines are collected as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            await self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))

    async def wait_for(self, pattern: str) -> re.Match[str]:
        async with asyncio.timeout(TIMEOUT):
            while True:
                line = await self.lines.get()
                found = re.search(pattern, line)
                if found:
                    return found


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_gateway_process_tls_both_sides_reload_on_sighup_metrics_and_graceful_stop(
    tmp_path: Path,
) -> None:
    tls = tls_material(tmp_path)
    policy = tmp_path / "csms-commands.yaml"
    policy.write_text((GATEWAY_DATA / "csms-commands.yaml").read_text())
    csms_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    csms_ssl.load_cert_chain(tls["csms.crt"], tls["csms.key"])
    csms_ssl.load_verify_locations(cafile=tls["root"])
    csms_ssl.verify_mode = ssl.CERT_REQUIRED  # only the gateway's client certificate gets in
    station_ssl = ssl.create_default_context(cafile=tls["root"])
    station_ssl.load_cert_chain(tls["station.crt"], tls["station.key"])
    bare_ssl = ssl.create_default_context(cafile=tls["root"])

    async def scenario() -> None:
        async with RawCsms(ssl_context=csms_ssl) as csms:
            csms.auto_answer = False
            config = write_config(
                tmp_path,
                f"""\
listen:
  host: 127.0.0.1
  port: 0
  tls: {{cert: gateway.crt.pem, key: gateway.key.pem, clientCa: root.pem, requireClientCert: true}}
upstream:
  url: "{csms.url}"
  tls: {{ca: root.pem, cert: gateway-client.crt.pem, key: gateway-client.key.pem}}
stations:
  - {{group: depot, identities: ["CS-*"], policies: {{toStation: csms-commands.yaml}}}}
replayCache: {{type: sqlite, path: replay.sqlite}}
log: {{path: frames.jsonl}}
metrics: {{host: 127.0.0.1, port: 0}}
shutdown: {{drainSeconds: 2}}
""",
            )
            binary = Path(sys.executable).with_name("ocpp-e2e")
            proc = await asyncio.create_subprocess_exec(
                str(binary), "gateway", "--config", str(config),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            gw = GatewayProcess(proc)
            try:
                # uvloop is in the dev extra: --loop auto (the default) takes it, TLS included
                ready = await gw.wait_for(
                    r"listening on port (\d+); metrics on port (\d+); event loop uvloop"
                )
                port, metrics = int(ready.group(1)), int(ready.group(2))
                url = connection_url(f"wss://127.0.0.1:{port}/ocpp", "CS-0001")
                # Without a client certificate the TLS handshake fails; the CSMS never hears of it.
                with pytest.raises((ssl.SSLError, OSError, InvalidHandshake, ConnectionClosed)):
                    async with connect(url, ssl=bare_ssl, subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
                        await ws.recv()
                assert csms.offered == []
                async with connect(url, ssl=station_ssl, subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
                    upstream = csms.connections[await csms.connected.get()]
                    unsigned = json.dumps([2, "g1", "SetChargingProfile", profile()])
                    await upstream.send(unsigned)
                    assert json.loads(await csms.next())[:3] == [4, "g1", "SecurityError"]
                    # Reload: the same policy, version 2, in audit mode; the station stays.
                    policy.write_text(
                        policy.read_text()
                        .replace("mode: enforce", "mode: audit")
                        .replace("version: 1", "version: 2")
                    )
                    proc.send_signal(signal.SIGHUP)
                    await gw.wait_for(r'"event": "reloaded"')
                    again = json.dumps([2, "g2", "SetChargingProfile", profile()])
                    await upstream.send(again)
                    assert await recv_text(ws) == again
                    status, text = await asyncio.to_thread(
                        http_get, f"http://127.0.0.1:{metrics}/metrics"
                    )
                    assert status == 200
                    assert (
                        'ocpp_e2e_gateway_decisions_total{direction="toStation",effect="deny",'
                        'mode="enforce",rule="(default)"} 1.0'
                    ) in text
                    assert 'ocpp_e2e_gateway_policy_reloads_total{result="ok"} 1.0' in text
                    assert "ocpp_e2e_gateway_connections 1.0" in text
                    status, text = await asyncio.to_thread(
                        http_get, f"http://127.0.0.1:{metrics}/healthz"
                    )
                    health = json.loads(text)
                    assert status == 200 and health["status"] == "ok"
                    assert health["policies"][0]["version"] == 2
                    proc.send_signal(signal.SIGTERM)
                    with pytest.raises(ConnectionClosed):
                        await asyncio.wait_for(ws.recv(), TIMEOUT)
                    assert ws.close_code == 1001
                assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 0
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
                gw.reader.cancel()

    run(scenario)
    lines = (tmp_path / "frames.jsonl").read_text().splitlines()
    assert [json.loads(line)["gateway"]["action"] for line in lines] == ["refused", "forwarded"]


def test_two_gateway_processes_sharing_redis_refuse_a_frame_replayed_across_them(
    tmp_path: Path,
) -> None:
    """An `ocpp` CSMS (with ocpp-e2e signing its grid command) behind two `ocpp-e2e gateway`
    processes that share one redis-server: the command relayed by the first gateway, injected again
    on the CSMS side of the second, is refused there as replayed and never reaches the station."""
    from ocpp.v201 import call
    from test_integration_harness import Csms, signer

    from ocpp_e2e.guard import CSMS, Guard, Signing, SignRule
    from ocpp_e2e.integrations.ocpp import ChargePoint201
    from ocpp_e2e.model import Kind
    from ocpp_e2e.policy import loads_policy
    from ocpp_e2e.replay import MemoryReplayCache

    text = (Path(__file__).parent / "data" / "integration" / "csms-policy.yaml").read_text()
    csms_policy = loads_policy(text.replace("mode: enforce", "mode: audit"), fmt="yaml")
    grid = Signing([SignRule([signer("grid-operator")], actions=["SetChargingProfile"],
                             kinds=[Kind.REQUEST])])  # fmt: skip
    sentinel = '[2,"sentinel","TriggerMessage",{"requestedMessage":"Heartbeat"}]'

    async def station_answering(url: str, seen: asyncio.Queue[str]) -> Any:
        ws = await connect(url, subprotocols=["ocpp2.0.1"])  # type: ignore[list-item]

        async def answer() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for message in ws:
                    assert isinstance(message, str)
                    await seen.put(message)
                    value = json.loads(message)
                    if value[0] == 2:
                        await ws.send(json.dumps([3, value[1], {"status": "Accepted"}]))

        return ws, asyncio.create_task(answer())

    with redis_server() as redis_url:

        async def scenario() -> None:
            guard = Guard(csms_policy, csms_policy.verifier(), replay_cache=MemoryReplayCache(), clock=lambda: datetime.now(UTC))
            make = lambda ident, version, ws: ChargePoint201(  # noqa: E731
                ident, ws, side=CSMS, signing=grid, guard=guard
            )
            async with Csms(make) as csms:
                procs: list[GatewayProcess] = []
                ports = []
                for name, loop in (("a", "asyncio"), ("b", "uvloop")):
                    (tmp_path / name).mkdir()
                    config = write_config(
                        tmp_path / name,
                        f"""\
listen: {{host: 127.0.0.1, port: 0}}
upstream: {{url: "ws://127.0.0.1:{csms.port}/ocpp"}}
stations:
  - {{group: depot, identities: ["CS-*"], policies: {{toStation: "{GATEWAY_DATA / "csms-commands.yaml"}"}}}}
replayCache: {{type: redis, url: "{redis_url}", timeout: 1}}
log: {{path: frames.jsonl}}
""",
                    )
                    proc = await asyncio.create_subprocess_exec(
                        str(Path(sys.executable).with_name("ocpp-e2e")), "gateway", "--config",
                        str(config), "--loop", loop, stdout=asyncio.subprocess.DEVNULL,
                        stderr=asyncio.subprocess.PIPE,
                    )  # fmt: skip
                    procs.append(GatewayProcess(proc))
                try:
                    for gw, loop in zip(procs, ("asyncio", "uvloop"), strict=True):
                        ready = await gw.wait_for(rf"listening on port (\d+); .* event loop {loop}")
                        ports.append(int(ready.group(1)))
                    seen_a: asyncio.Queue[str] = asyncio.Queue()
                    url_a = connection_url(f"ws://127.0.0.1:{ports[0]}/ocpp", "CS-0001")
                    ws_a, task_a = await station_answering(url_a, seen_a)
                    cp_a = await csms.charge_point("CS-0001")
                    result = await cp_a.call(
                        call.SetChargingProfile(
                            evse_id=1, charging_profile=profile()["chargingProfile"]
                        )
                    )
                    assert result.status == "Accepted"
                    relayed = await asyncio.wait_for(seen_a.get(), TIMEOUT)  # signed by the grid
                    assert json.loads(relayed)[3]["customData"]["signatures"]
                    await ws_a.close()
                    await task_a
                    csms.forget("CS-0001")
                    seen_b: asyncio.Queue[str] = asyncio.Queue()
                    url_b = connection_url(f"ws://127.0.0.1:{ports[1]}/ocpp", "CS-0001")
                    ws_b, task_b = await station_answering(url_b, seen_b)
                    cp_b = await csms.charge_point("CS-0001")
                    # Someone on the CSMS side of gateway b sends the captured command again.
                    await cp_b._connection.send(relayed)
                    await cp_b._connection.send(sentinel)
                    assert await asyncio.wait_for(seen_b.get(), TIMEOUT) == sentinel
                    await ws_b.close()
                    await task_b
                finally:
                    for gw in procs:
                        if gw.proc.returncode is None:
                            gw.proc.send_signal(signal.SIGTERM)
                        await asyncio.wait_for(gw.proc.wait(), TIMEOUT)
                        gw.reader.cancel()

        run(scenario)
    records = [json.loads(x) for x in (tmp_path / "b" / "frames.jsonl").read_text().splitlines()]
    refused = [r for r in records if r["gateway"]["action"] == "refused"]
    assert len(refused) == 1
    assert [s["outcome"] for s in refused[0]["gateway"]["signatures"]] == ["replayed"]
    a_records = [json.loads(x) for x in (tmp_path / "a" / "frames.jsonl").read_text().splitlines()]
    assert refused[0]["frame"] in [
        r["frame"] for r in a_records if r["gateway"]["action"] == "forwarded"
    ]
