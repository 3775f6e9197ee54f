"""How the browser capture next to this script was made (not run by tests).

One real CSMS built on the Python ``ocpp`` package and ``websockets`` serves OCPP 1.6 and 2.0.1 on
loopback (the class that handles a connection follows the subprotocol it negotiated). Two
charging stations run in Debian's Chromium: a small page (written below, in ``PAGE``) opens one
WebSocket with the subprotocol ``ocpp1.6`` as ``BROWSER-16`` and one with ``ocpp2.0.1`` as
``BROWSER-201``, sends BootNotification, StatusNotification and Heartbeat on each, and answers the
CSMS's GetConfiguration / GetVariables. Three recordings of the same traffic are kept:

- ``browser-mixed.har``: the HAR of the page. Chromium (``--headless``, driven over the DevTools
  protocol on its ``--remote-debugging-port``) reports every WebSocket event
  (``Network.webSocketCreated``, ``webSocketWillSendHandshakeRequest``,
  ``webSocketHandshakeResponseReceived``, ``webSocketFrameSent``, ``webSocketFrameReceived``,
  ``webSocketClosed``); this script writes them out as HAR 1.2 entries the way the DevTools
  "Export HAR" writes a WebSocket: ``_resourceType: "websocket"``, the handshake's request and
  response headers, and ``_webSocketMessages`` of ``{"type": "send"|"receive", "time": <epoch
  seconds>, "opcode", "data"}`` (time = the handshake's wall time plus the frame's offset from it
  on Chromium's monotonic clock, as DevTools computes it). The frames, their order, payloads,
  opcodes and times are Chromium's; only the JSON layout is written here.
- ``browser-mixed.pcap``: ``tcpdump -i lo`` of the same connections (Chromium negotiates
  permessage-deflate with ``client_max_window_bits``; its frames are masked).
- ``browser-mixed-csms.log``: the CSMS's ``ocpp`` logger in Python's default format (no
  timestamps), one file holding both stations, 1.6 and 2.0.1.

Run as root on Linux with tcpdump and chromium installed:

    python tests/data/audit/real/captures/make_browser_capture.py OUTDIR
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from make_captures import tcpdump, wait_for_port  # the script beside this one

PORT = 9320

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>running</title>
<script>
const CSMS = "ws://127.0.0.1:%(port)d/ocpp/";
function station(name, protocol, calls, answers) {
  return new Promise((resolve) => {
    const ws = new WebSocket(CSMS + name, [protocol]);
    let next = 0, waiting = null, answered = 0;
    const send = () => {
      if (next < calls.length) {
        const [action, payload] = calls[next];
        waiting = name + "-" + (++next);
        ws.send(JSON.stringify([2, waiting, action, payload]));
      }
    };
    ws.onopen = send;
    ws.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame[0] === 2) {
        ws.send(JSON.stringify([3, frame[1], answers[frame[2]]]));
        answered += 1;
      } else if (frame[1] === waiting) {
        waiting = null;
        send();
      }
      if (next === calls.length && waiting === null && answered === Object.keys(answers).length) {
        setTimeout(() => ws.close(1000), 200);
      }
    };
    ws.onclose = () => resolve(name);
  });
}
const now = () => new Date().toISOString();
Promise.all([
  station("BROWSER-16", "ocpp1.6", [
    ["BootNotification", {chargePointVendor: "ocpp-e2e", chargePointModel: "Browser"}],
    ["StatusNotification", {connectorId: 1, errorCode: "NoError", status: "Available"}],
    ["Heartbeat", {}],
  ], {
    GetConfiguration: {configurationKey: [{key: "HeartbeatInterval", readonly: false, value: "60"}]},
  }),
  station("BROWSER-201", "ocpp2.0.1", [
    ["BootNotification", {chargingStation: {model: "Browser", vendorName: "ocpp-e2e"}, reason: "PowerUp"}],
    ["StatusNotification", {timestamp: now(), connectorStatus: "Available", evseId: 1, connectorId: 1}],
    ["Heartbeat", {}],
  ], {
    GetVariables: {getVariableResult: [{attributeStatus: "Accepted", attributeValue: "60",
      component: {name: "OCPPCommCtrlr"}, variable: {name: "HeartbeatInterval"}}]},
  }),
]).then(() => { document.title = "done"; });
</script>
"""


async def csms(port: int, stations: int) -> None:
    """A CSMS for OCPP 1.6 and 2.0.1; it stops after ``stations`` connections closed."""
    import websockets
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint as Cp16
    from ocpp.v16 import call as call16
    from ocpp.v16 import call_result as result16
    from ocpp.v201 import ChargePoint as Cp201
    from ocpp.v201 import call as call201
    from ocpp.v201 import call_result as result201

    def now() -> str:
        return datetime.datetime.now(datetime.UTC).isoformat()

    class Csms16(Cp16):
        @on("BootNotification")
        async def boot(self, **_: object) -> object:
            return result16.BootNotification(current_time=now(), interval=60, status="Accepted")

        @on("Heartbeat")
        async def beat(self) -> object:
            return result16.Heartbeat(current_time=now())

        @on("StatusNotification")
        async def status(self, **_: object) -> object:
            return result16.StatusNotification()

        async def command(self) -> None:
            await asyncio.sleep(0.5)
            await self.call(call16.GetConfiguration(key=["HeartbeatInterval"]))

    class Csms201(Cp201):
        @on("BootNotification")
        async def boot(self, **_: object) -> object:
            return result201.BootNotification(current_time=now(), interval=60, status="Accepted")

        @on("Heartbeat")
        async def beat(self) -> object:
            return result201.Heartbeat(current_time=now())

        @on("StatusNotification")
        async def status(self, **_: object) -> object:
            return result201.StatusNotification()

        async def command(self) -> None:
            await asyncio.sleep(0.5)
            await self.call(
                call201.GetVariables(
                    get_variable_data=[
                        {
                            "component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "HeartbeatInterval"},
                        }
                    ]
                )
            )

    closed = 0
    done = asyncio.Event()

    async def handler(ws: Any) -> None:
        nonlocal closed
        name = ws.request.path.strip("/").split("/")[-1]
        cls = Csms16 if ws.subprotocol == "ocpp1.6" else Csms201
        cp = cls(name, ws)
        with contextlib.suppress(Exception):
            await asyncio.gather(cp.start(), cp.command())
        closed += 1
        if closed == stations:
            done.set()

    async with websockets.serve(
        handler, "127.0.0.1", port, subprotocols=["ocpp1.6", "ocpp2.0.1"]
    ):
        await asyncio.wait_for(done.wait(), 60)


class DevTools:
    """A minimal client of Chromium's DevTools protocol (one page session, flattened)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.ids += 1
        mine = self.ids
        message: dict[str, Any] = {"id": mine, "method": method, "params": params}
        if self.session is not None and not method.startswith("Target."):
            message["sessionId"] = self.session
        await self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(await self.ws.recv())
            if reply.get("id") == mine:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})  # type: ignore[no-any-return]
            if "method" in reply:
                self.events.append(reply)


def har_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    """HAR 1.2 of the WebSocket events, laid out as DevTools' Export HAR lays out a WebSocket."""
    sockets: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if not method.startswith("Network.webSocket"):
            continue
        rid = params["requestId"]
        sock = sockets.get(rid)
        if sock is None:
            sock = sockets[rid] = {"frames": []}
            order.append(rid)
        if method == "Network.webSocketCreated":
            sock["url"] = params["url"]
        elif method == "Network.webSocketWillSendHandshakeRequest":
            sock["start"] = params["timestamp"]
            sock["wall"] = params["wallTime"]
            sock["request"] = params["request"]
        elif method == "Network.webSocketHandshakeResponseReceived":
            sock["response"] = params["response"]
            sock["answered"] = params["timestamp"]
        elif method in ("Network.webSocketFrameSent", "Network.webSocketFrameReceived"):
            kind = "send" if method.endswith("Sent") else "receive"
            sock["frames"].append((kind, params["timestamp"], params["response"]))
        elif method == "Network.webSocketClosed":
            sock["closed"] = params["timestamp"]

    def headers(values: dict[str, str]) -> list[dict[str, str]]:
        return [{"name": k, "value": v} for k, v in values.items()]

    entries = []
    for rid in order:
        sock = sockets[rid]
        wall, start = sock["wall"], sock["start"]

        def pseudo_wall(ts: float, wall: float = wall, start: float = start) -> float:
            return wall + (ts - start)

        response = sock.get("response", {})
        started = datetime.datetime.fromtimestamp(wall, datetime.UTC)
        entries.append(
            {
                "_resourceType": "websocket",
                "startedDateTime": started.isoformat().replace("+00:00", "Z"),
                "time": round((sock.get("closed", start) - start) * 1000, 3),
                "request": {
                    "method": "GET",
                    "url": sock["url"],
                    "httpVersion": "HTTP/1.1",
                    "headers": headers(sock["request"].get("headers", {})),
                    "queryString": [],
                    "cookies": [],
                    "headersSize": -1,
                    "bodySize": 0,
                },
                "response": {
                    "status": response.get("status", 0),
                    "statusText": response.get("statusText", ""),
                    "httpVersion": "HTTP/1.1",
                    "headers": headers(response.get("headers", {})),
                    "cookies": [],
                    "content": {"size": 0, "mimeType": "x-unknown"},
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": 0,
                },
                "cache": {},
                "timings": {
                    "blocked": -1,
                    "dns": -1,
                    "connect": -1,
                    "send": 0,
                    "wait": round((sock.get("answered", start) - start) * 1000, 3),
                    "receive": 0,
                    "ssl": -1,
                },
                "_webSocketMessages": [
                    {
                        "type": kind,
                        "time": pseudo_wall(ts),
                        "opcode": frame["opcode"],
                        "data": frame["payloadData"],
                    }
                    for kind, ts, frame in sock["frames"]
                ],
            }
        )
    version = "unknown"
    for event in events:
        if event["method"] == "Browser.version":
            version = event["params"]["product"]
    return {
        "log": {
            "version": "1.2",
            "creator": {
                "name": "Chromium DevTools protocol (make_browser_capture.py)",
                "version": version,
            },
            "pages": [],
            "entries": entries,
        }
    }


async def browse(page: Path, profile: Path) -> dict[str, Any]:
    import websockets

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed")
    proc = subprocess.Popen(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-dev-shm-usage",
            f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank",
        ],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and len(port_file.read_text().split()) >= 2:
                break
            await asyncio.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        async with websockets.connect(f"ws://127.0.0.1:{port}{path}", max_size=None) as ws:
            tools = DevTools(ws)
            product = (await tools.call("Browser.getVersion"))["product"]
            target = (await tools.call("Target.createTarget", url="about:blank"))["targetId"]
            attached = await tools.call("Target.attachToTarget", targetId=target, flatten=True)
            tools.session = attached["sessionId"]
            await tools.call("Network.enable")
            await tools.call("Runtime.enable")
            await tools.call("Page.navigate", url=page.as_uri())
            for _ in range(600):
                title = await tools.call("Runtime.evaluate", expression="document.title")
                if title["result"].get("value") == "done":
                    break
                await asyncio.sleep(0.1)
            else:
                raise SystemExit("the page did not finish")
            await asyncio.sleep(0.5)
            await tools.call("Runtime.evaluate", expression="1")  # collect the last events
            await tools.call("Browser.close")
        events = [*tools.events, {"method": "Browser.version", "params": {"product": product}}]
        return har_of(events)
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if os.environ.get("CAPTURE_ROLE") == "csms":
        logging.basicConfig(filename=out / "browser-mixed-csms.log", level=logging.INFO)
        asyncio.run(csms(PORT, 2))
        return
    with tcpdump(out / "browser-mixed.pcap", PORT):
        server = subprocess.Popen(
            [sys.executable, __file__, str(out)], env={**os.environ, "CAPTURE_ROLE": "csms"}
        )
        try:
            wait_for_port(PORT)
            with tempfile.TemporaryDirectory() as tmp:
                page = Path(tmp) / "stations.html"
                page.write_text(PAGE % {"port": PORT}, encoding="utf-8")
                har = asyncio.run(browse(page, Path(tmp) / "profile"))
            text = json.dumps(har, indent=2) + "\n"
            (out / "browser-mixed.har").write_text(text, encoding="utf-8")
            server.wait(timeout=30)
        finally:
            if server.poll() is None:
                server.terminate()


if __name__ == "__main__":
    main()
