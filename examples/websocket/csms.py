"""Demo CSMS: Basic-auth onboarding (OCPP 1.6) and signed commands (OCPP 2.0.1) on 127.0.0.1.

    python examples/websocket/csms.py --port 9000 --state /tmp/ocpp-demo

A 1.6 station that connects with its factory key gets BootNotification ``Pending``, a new
``AuthorizationKey`` by ChangeConfiguration, and ``Accepted`` once it reconnects with that key.
A 2.0.1 station gets, after its BootNotification: a SetChargingProfile signed by the grid operator,
an UpdateFirmware signed by the CSMS operator and the security officer (four eyes), and one
SetChargingProfile signed by the CSMS operator alone, which the station refuses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _demo import LOG, PREFIX, STATION_ID, guard, signer
from ocpp.exceptions import SecurityError
from ocpp.routing import after, on
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import call, call_result
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ocpp_e2e._time import format_timestamp
from ocpp_e2e.integrations.connection import (
    AuthorizationKeyStore,
    authorization_key_hex,
    generate_authorization_key,
    identity_from_path,
    negotiated_ocpp,
    request_guard,
    subprotocol_selector,
)
from ocpp_e2e.integrations.ocpp import CSMS, ChargePoint16, ChargePoint201, Guard, Signing, SignRule
from ocpp_e2e.model import Kind

#: The factory key of the demo station (in real life: a per-series or per-device secret).
FACTORY_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF00112233")
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


def _now() -> str:
    return format_timestamp(datetime.now(UTC))


def _answers() -> SignRule:
    return SignRule([signer("csms-operator")], kinds=[Kind.RESPONSE, Kind.ERROR])


class Station16AtCsms(ChargePoint16):
    """The CSMS side of a 1.6 connection: onboarding by AuthorizationKey."""

    def __init__(
        self, *args: Any, keys: AuthorizationKeyStore, store_path: Path, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.keys, self.store_path = keys, store_path

    @property
    def onboarded(self) -> bool:
        return self.store_path.with_suffix(".onboarded").exists()

    @on("BootNotification")
    def on_boot(self, charge_point_vendor: str, charge_point_model: str, **kw: Any) -> Any:
        status = "Accepted" if self.onboarded else "Pending"
        LOG.info("CSMS: BootNotification from %s -> %s", self.id, status)
        return result16.BootNotification(current_time=_now(), interval=300, status=status)

    @after("BootNotification")
    async def onboard(self, **kw: Any) -> None:
        if self.onboarded:
            return
        new_key = generate_authorization_key()
        change = call16.ChangeConfiguration(
            key="AuthorizationKey", value=authorization_key_hex(new_key)
        )
        result = await self.call(change, suppress=False)
        if result.status == "Accepted":
            # OCPP-J 1.6 §6.2.2: from now on only the new key is accepted.
            self.keys.set(self.id, new_key)
            self.keys.save(self.store_path)
            self.store_path.with_suffix(".onboarded").touch()
            LOG.info("CSMS: %s accepted its new AuthorizationKey; the factory key is void", self.id)
            await self._connection.close(1000, "reconnect with the new AuthorizationKey")

    @on("Heartbeat")
    def on_heartbeat(self, **kw: Any) -> Any:
        return result16.Heartbeat(current_time=_now())


class Station201AtCsms(ChargePoint201):
    """The CSMS side of a 2.0.1 connection: signed commands after the boot."""

    @on("BootNotification")
    def on_boot(self, charging_station: dict[str, Any], reason: str, **kw: Any) -> Any:
        return call_result.BootNotification(current_time=_now(), interval=300, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self, **kw: Any) -> Any:
        return call_result.Heartbeat(current_time=_now())

    @after("BootNotification")
    async def send_commands(self, **kw: Any) -> None:
        grid = call.SetChargingProfile(evse_id=1, charging_profile=GRID_PROFILE)
        LOG.info(
            "CSMS: grid SetChargingProfile -> %s", (await self.call(grid, suppress=False)).status
        )
        firmware = call.UpdateFirmware(
            request_id=1,
            firmware={"location": "https://fw.example.com/1.2.3.bin", "retrieveDateTime": _now()},
        )
        LOG.info(
            "CSMS: four-eyes UpdateFirmware -> %s",
            (await self.call(firmware, suppress=False)).status,
        )
        self.signing = Signing(
            [SignRule([signer("csms-operator")], kinds=[Kind.REQUEST]), _answers()]
        )
        try:
            await self.call(grid, suppress=False)
        except SecurityError as exc:
            LOG.info(
                "CSMS: SetChargingProfile signed by the operator alone refused: %s",
                exc.details["reason"],
            )


def make_handler(keys: AuthorizationKeyStore, store_path: Path, csms_guard: Guard) -> Any:
    """The websockets connection handler: one ChargePoint per station connection."""
    commands = Signing(
        [
            SignRule(
                [signer("grid-operator")], actions=["SetChargingProfile"], kinds=[Kind.REQUEST]
            ),
            SignRule(
                [signer("csms-operator"), signer("security-officer")],
                actions=["UpdateFirmware"],
                kinds=[Kind.REQUEST],
            ),
            SignRule(
                [signer("csms-operator")], actions=["ChangeConfiguration"], kinds=[Kind.REQUEST]
            ),
            _answers(),
        ]
    )

    async def handler(ws: ServerConnection) -> None:
        version = negotiated_ocpp(ws)
        if version is None:  # OCPP-J 1.6 §3.2: no common subprotocol, close at once
            await ws.close(1002, "no common OCPP version")
            return
        assert ws.request is not None
        identity = identity_from_path(ws.request.path, PREFIX)
        cp: Any
        if version == "1.6":
            cp = Station16AtCsms(
                identity,
                ws,
                side=CSMS,
                signing=commands,
                guard=csms_guard,
                keys=keys,
                store_path=store_path,
            )
        else:
            cp = Station201AtCsms(identity, ws, side=CSMS, signing=commands, guard=csms_guard)
        with contextlib.suppress(ConnectionClosed):
            await cp.start()

    return handler


async def run_csms(port: int, state: Path, ready: asyncio.Future[int] | None = None) -> None:
    """Serve until cancelled; ``ready`` receives the bound port."""
    store_path = state / "authorization-keys.json"
    if store_path.exists():
        keys = AuthorizationKeyStore.load(store_path)
    else:
        keys = AuthorizationKeyStore()
        keys.set(STATION_ID, FACTORY_KEY)  # registered at installation
        state.mkdir(parents=True, exist_ok=True)
        keys.save(store_path)
    async with serve(
        make_handler(keys, store_path, guard("csms", state)),
        "127.0.0.1",
        port,
        process_request=request_guard(prefix=PREFIX, is_known=keys.__contains__, keys=keys),
        select_subprotocol=subprotocol_selector(["ocpp2.0.1", "ocpp1.6"]),
    ) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        LOG.info("CSMS: listening on ws://127.0.0.1:%d%s/<identity>", bound, PREFIX)
        if ready is not None:
            ready.set_result(bound)
        await asyncio.Future()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--state", type=Path, default=Path("demo-state"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("ocpp", "websockets"):  # their INFO lines print every frame and connection
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_csms(args.port, args.state))


if __name__ == "__main__":
    main()
