"""Interop: a charging station written in JavaScript (the npm package ``ocpp-rpc``, run by Node.js)
behind the gateway, with strict OCPP 2.0.1 schema validation on its side (issue 17: any language).

``.ci/run`` installs Debian's nodejs and npm and runs ``npm ci`` in tests/interop (its
node_modules/ is ignored by git); locally the test is skipped when either is missing, in CI it fails.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from gateway_harness import TIMEOUT, RawCsms, run, running_gateway, station_url, write_config
from test_gateway_enforce import SENTINEL, profile, signed

INTEROP = Path(__file__).resolve().parent / "interop"
GATEWAY_DATA = Path(__file__).resolve().parent / "data" / "gateway"


def node() -> str:
    found = shutil.which("node")
    if found is None or not (INTEROP / "node_modules" / "ocpp-rpc").is_dir():
        pytest.skip("node or tests/interop/node_modules (npm ci --prefix tests/interop) is missing")
    return found


class NodeStation:
    """The ocpp-rpc station process; ``event()`` returns its next JSON line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def event(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), TIMEOUT)
        assert line, "the node station exited"
        value: dict[str, Any] = json.loads(line)
        return value


def test_an_ocpp_rpc_station_in_node_gets_signed_commands_and_never_the_refused_one(
    tmp_path: Path,
) -> None:
    binary = node()
    commands = GATEWAY_DATA / "csms-commands.yaml"

    async def scenario() -> None:
        async with RawCsms() as csms:
            config = f"""\
listen: {{host: 127.0.0.1, port: 0}}
upstream: {{url: "{csms.url}", connectTimeout: 2}}
stations:
  - {{group: depot, identities: ["CS-*"], policies: {{toStation: "{commands}"}}}}
replayCache: {{type: sqlite, path: replay.sqlite}}
"""
            async with running_gateway(write_config(tmp_path, config)) as gateway:
                base = station_url(gateway, "CS-0001").rsplit("/", 1)[0]
                proc = await asyncio.create_subprocess_exec(
                    binary, str(INTEROP / "station.js"), base, "CS-0001", "ocpp2.0.1",
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                )  # fmt: skip
                station = NodeStation(proc)
                try:
                    assert await station.event() == {"event": "connected", "protocol": "ocpp2.0.1"}
                    boot = await station.event()
                    assert boot["event"] == "boot" and boot["response"]["status"] == "Accepted"
                    identity = await csms.connected.get()
                    upstream = csms.connections[identity]
                    assert json.loads(await csms.next())[2] == "BootNotification"
                    csms.auto_answer = False
                    # A grid command signed by the grid operator: the signatures travel in
                    # customData, which ocpp-rpc's strict 2.0.1 validation accepts.
                    command = signed([2, "g1", "SetChargingProfile", profile()], "grid-operator")
                    await upstream.send(command)
                    got = await station.event()
                    assert got["method"] == "SetChargingProfile"
                    assert got["params"] == json.loads(command)[3]
                    assert json.loads(await csms.next()) == [3, "g1", {"status": "Accepted"}]
                    # The same command unsigned: refused at the gateway, never seen by the station.
                    await upstream.send(json.dumps([2, "g2", "SetChargingProfile", profile()]))
                    refused = json.loads(await csms.next())
                    assert refused[:3] == [4, "g2", "SecurityError"]
                    await upstream.send(SENTINEL)
                    after = await station.event()
                    assert after["method"] == "TriggerMessage"  # the next call it saw
                finally:
                    assert proc.stdin is not None
                    proc.stdin.close()
                    await asyncio.wait_for(proc.wait(), TIMEOUT)

    run(scenario)
