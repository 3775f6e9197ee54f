"""How the capture files and ocpp-library logs next to this script were made (not run by tests).

A real CSMS and a real charging station, both built on the Python ``ocpp`` package and
``websockets``, talk over loopback while ``tcpdump -i lo`` records them; each side runs in its own
process and logs with the ``ocpp`` package's own logger in Python's default logging format (no
timestamps); the CSMS also writes the same records as ECS JSON lines with ``ecs-logging``. Run as
root on Linux with tcpdump and ecs-logging installed:

    python tests/data/audit/real/captures/make_captures.py OUTDIR

Scenarios: OCPP 1.6 without compression, once more with the station sending every message in
three WebSocket fragments (websockets' fragmented send);
OCPP 2.0.1 with permessage-deflate (websockets' default); OCPP 2.0.1 over TLS (wss://, a
self-signed certificate made for the run). The pcapng file is the 2.0.1 capture rewritten by
dpkt's pcapng writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SCENARIOS = {
    "ocpp16-plain": ("1.6", 9316, False, False),
    "ocpp16-fragmented": ("1.6", 9319, False, False),
    "ocpp201-deflate": ("2.0.1", 9317, True, False),
    "ocpp201-tls": ("2.0.1", 9318, True, True),
}


def _cert(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    crt, pem = folder / "cert.pem", folder / "key.pem"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return crt, pem


async def csms(version: str, port: int, deflate: bool, tls: Path | None) -> None:
    import websockets
    from ocpp.routing import on

    if version == "1.6":
        from ocpp.v16 import ChargePoint, call, call_result

        class Csms(ChargePoint):
            @on("BootNotification")
            async def boot(self, **_: object) -> object:
                return call_result.BootNotification(
                    current_time=datetime.datetime.now(datetime.UTC).isoformat(),
                    interval=60,
                    status="Accepted",
                )

            @on("Heartbeat")
            async def beat(self) -> object:
                return call_result.Heartbeat(
                    current_time=datetime.datetime.now(datetime.UTC).isoformat()
                )

            @on("StatusNotification")
            async def status(self, **_: object) -> object:
                return call_result.StatusNotification()

        async def command(cp: Csms) -> None:
            await asyncio.sleep(0.5)
            await cp.call(call.GetConfiguration(key=["HeartbeatInterval"]))
            await cp.call(call.RemoteStartTransaction(id_tag="TAG-1", connector_id=1))

    else:
        from ocpp.v201 import ChargePoint, call, call_result

        class Csms(ChargePoint):  # type: ignore[no-redef]
            @on("BootNotification")
            async def boot(self, **_: object) -> object:
                return call_result.BootNotification(
                    current_time=datetime.datetime.now(datetime.UTC).isoformat(),
                    interval=60,
                    status="Accepted",
                )

            @on("Heartbeat")
            async def beat(self) -> object:
                return call_result.Heartbeat(
                    current_time=datetime.datetime.now(datetime.UTC).isoformat()
                )

            @on("StatusNotification")
            async def status(self, **_: object) -> object:
                return call_result.StatusNotification()

            @on("TransactionEvent")
            async def event(self, **_: object) -> object:
                return call_result.TransactionEvent()

        async def command(cp: Csms) -> None:  # type: ignore[misc]
            await asyncio.sleep(0.5)
            await cp.call(
                call.GetVariables(
                    get_variable_data=[
                        {
                            "component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "HeartbeatInterval"},
                        }
                    ]
                )
            )
            await cp.call(
                call.RequestStartTransaction(
                    id_token={"idToken": "TAG-1", "type": "ISO14443"}, remote_start_id=7
                )
            )

    done = asyncio.Event()

    async def handler(ws: object) -> None:
        path = ws.request.path  # type: ignore[attr-defined]
        cp = Csms(path.strip("/").split("/")[-1], ws)
        with contextlib.suppress(Exception):
            await asyncio.gather(cp.start(), command(cp))
        done.set()

    context = None
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls / "cert.pem", tls / "key.pem")
    async with websockets.serve(
        handler,
        "127.0.0.1",
        port,
        subprotocols=[f"ocpp{version}"],
        compression="deflate" if deflate else None,
        ssl=context,
    ):
        await asyncio.wait_for(done.wait(), 20)


class Fragmenting:
    """A websockets connection whose text messages go out in three fragments each."""

    def __init__(self, ws: object) -> None:
        self.ws = ws

    async def send(self, message: str) -> None:
        third = max(1, len(message) // 3)
        parts = [message[:third], message[third : 2 * third], message[2 * third :]]
        await self.ws.send(parts)  # type: ignore[attr-defined]

    async def recv(self) -> object:
        return await self.ws.recv()  # type: ignore[attr-defined]


async def station(
    version: str, port: int, deflate: bool, tls: Path | None, fragment: bool = False
) -> None:
    import websockets

    scheme = "wss" if tls else "ws"
    context = None
    if tls is not None:
        context = ssl.create_default_context(cafile=str(tls / "cert.pem"))
    async with websockets.connect(
        f"{scheme}://localhost:{port}/ocpp/CS-{version.replace('.', '')}-LOOP",
        subprotocols=[f"ocpp{version}"],
        compression="deflate" if deflate else None,
        ssl=context,
    ) as ws:
        if version == "1.6":
            from ocpp.routing import on
            from ocpp.v16 import ChargePoint, call, call_result

            class Station(ChargePoint):
                @on("GetConfiguration")
                async def config(self, **_: object) -> object:
                    return call_result.GetConfiguration(
                        configuration_key=[
                            {"key": "HeartbeatInterval", "readonly": False, "value": "60"}
                        ]
                    )

                @on("RemoteStartTransaction")
                async def remote_start(self, **_: object) -> object:
                    return call_result.RemoteStartTransaction(status="Accepted")

            cp = Station("CS-16-LOOP", Fragmenting(ws) if fragment else ws)

            async def talk() -> None:
                await cp.call(
                    call.BootNotification(charge_point_model="Loop", charge_point_vendor="ocpp-e2e")
                )
                await cp.call(
                    call.StatusNotification(
                        connector_id=1, error_code="NoError", status="Available"
                    )
                )
                await cp.call(call.Heartbeat())
                await asyncio.sleep(1.5)
                await cp.call(call.Heartbeat())

        else:
            from ocpp.routing import on
            from ocpp.v201 import ChargePoint, call, call_result

            class Station(ChargePoint):  # type: ignore[no-redef]
                @on("GetVariables")
                async def get(
                    self, get_variable_data: list[dict[str, object]], **_: object
                ) -> object:
                    return call_result.GetVariables(
                        get_variable_result=[
                            {
                                "attributeStatus": "Accepted",
                                "attributeValue": "60",
                                "component": {"name": "OCPPCommCtrlr"},
                                "variable": {"name": "HeartbeatInterval"},
                            }
                        ]
                    )

                @on("RequestStartTransaction")
                async def remote_start(self, **_: object) -> object:
                    return call_result.RequestStartTransaction(status="Accepted")

            cp = Station(f"CS-{version.replace('.', '')}-LOOP", ws)

            async def talk() -> None:
                await cp.call(
                    call.BootNotification(
                        charging_station={"model": "Loop", "vendorName": "ocpp-e2e"},
                        reason="PowerUp",
                    )
                )
                await cp.call(
                    call.StatusNotification(
                        timestamp=datetime.datetime.now(datetime.UTC).isoformat(),
                        connector_status="Available",
                        evse_id=1,
                        connector_id=1,
                    )
                )
                await cp.call(call.Heartbeat())
                await asyncio.sleep(1.5)
                await cp.call(
                    call.TransactionEvent(
                        event_type="Started",
                        timestamp=datetime.datetime.now(datetime.UTC).isoformat(),
                        trigger_reason="RemoteStart",
                        seq_no=0,
                        transaction_info={"transactionId": "tx-1", "remoteStartId": 7},
                    )
                )

        task = asyncio.ensure_future(cp.start())
        await talk()
        await asyncio.sleep(0.3)
        task.cancel()
        if task.done() and not task.cancelled() and task.exception():
            raise task.exception()


def wait_for_port(port: int) -> None:
    """Wait (at most about 60 s) until the CSMS listens on ``port`` of loopback."""
    import socket

    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the CSMS did not listen on port {port}")


@contextlib.contextmanager
def tcpdump(pcap: Path, port: int) -> Iterator[None]:
    """Record loopback traffic on ``port`` into ``pcap`` while the block runs (a second's margin
    on each side so that no packet of the connection is missed)."""
    dump = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-U", "-w", str(pcap), f"tcp port {port}"],
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    try:
        yield
    finally:
        time.sleep(1.0)
        dump.terminate()
        dump.wait()


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    role = os.environ.get("CAPTURE_ROLE")
    if role:
        name = os.environ["CAPTURE_NAME"]
        version, port, deflate, tls = SCENARIOS[name]
        tls_dir = Path(os.environ["CAPTURE_TLS"]) if tls else None
        logging.basicConfig(filename=out / f"{name}-{role}.log", level=logging.INFO)
        if role == "csms":
            # the same records again, as Elastic Common Schema JSON lines (ecs-logging)
            import ecs_logging

            ecs = logging.FileHandler(out / f"{name}-csms.ecs.jsonl")
            ecs.setFormatter(ecs_logging.StdlibFormatter())
            logging.getLogger().addHandler(ecs)
        if role == "csms":
            asyncio.run(csms(version, port, deflate, tls_dir))
        else:
            asyncio.run(station(version, port, deflate, tls_dir, "fragmented" in name))
        return
    with tempfile.TemporaryDirectory() as tmp:
        _cert(Path(tmp))
        for name, (_version, port, _deflate, _tls) in SCENARIOS.items():
            env = {**os.environ, "CAPTURE_NAME": name, "CAPTURE_TLS": tmp}
            with tcpdump(out / f"{name}.pcap", port):
                server = subprocess.Popen(
                    [sys.executable, __file__, str(out)], env={**env, "CAPTURE_ROLE": "csms"}
                )
                wait_for_port(port)
                subprocess.run(
                    [sys.executable, __file__, str(out)],
                    env={**env, "CAPTURE_ROLE": "station"},
                    check=True,
                )
                server.wait(timeout=30)
    import dpkt

    with (
        open(out / "ocpp201-deflate.pcap", "rb") as src,
        open(out / "ocpp201-deflate.pcapng", "wb") as dst,
    ):
        reader = dpkt.pcap.Reader(src)
        writer = dpkt.pcapng.Writer(dst, linktype=reader.datalink())
        for ts, buf in reader:
            writer.writepkt(buf, ts=ts)


if __name__ == "__main__":
    main()
