"""Demo charging station CS-0001: onboarding over OCPP 1.6, or signed commands over OCPP 2.0.1.

    python examples/websocket/station.py --ocpp 1.6 --url ws://127.0.0.1:9000/ocpp
    python examples/websocket/station.py --ocpp 2.0.1 --url ws://127.0.0.1:9100/ocpp  # via relay

The station authenticates with HTTP Basic (its identity and AuthorizationKey), verifies every
command against its policy before a handler runs, signs its answers with its own key, keeps its
replay cache on disk and sets its clock only from validly signed CSMS responses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _demo import LOG, STATION_ID, guard, signer
from csms import FACTORY_KEY
from ocpp.routing import on
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import call, call_result
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ocpp_e2e.integrations.connection import (
    basic_auth_header,
    client_subprotocols,
    connection_url,
    parse_authorization_key,
)
from ocpp_e2e.integrations.ocpp import (
    STATION,
    ChargePoint16,
    ChargePoint201,
    DecisionEvent,
    Signing,
    SignRule,
    TrustedClock,
)
from ocpp_e2e.model import Kind


def _key_file(state: Path) -> Path:
    return state / "station-authorization-key.hex"


def current_key(state: Path) -> bytes:
    """The station's AuthorizationKey: the one set by the CSMS, else the factory key."""
    path = _key_file(state)
    return parse_authorization_key(path.read_text().strip()) if path.exists() else FACTORY_KEY


class Station16(ChargePoint16):
    def __init__(self, identity: str, ws: ClientConnection, *, state: Path, **kw: Any) -> None:
        super().__init__(identity, ws, **kw)
        self.ws = ws
        self.state = state
        self.new_key = asyncio.get_running_loop().create_future()

    @on("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str, **kw: Any) -> Any:
        if key != "AuthorizationKey":
            return result16.ChangeConfiguration(status="NotSupported")
        parse_authorization_key(value)  # refuse a malformed key before storing it
        _key_file(self.state).write_text(value)
        self.new_key.set_result(None)
        return result16.ChangeConfiguration(status="Accepted")


class Station201(ChargePoint201):
    @on("SetChargingProfile")
    def on_set_charging_profile(
        self, evse_id: int, charging_profile: dict[str, Any], **kw: Any
    ) -> Any:
        LOG.info("station: applying charging profile %s", charging_profile["id"])
        return call_result.SetChargingProfile(status="Accepted")

    @on("UpdateFirmware")
    def on_update_firmware(self, request_id: int, firmware: dict[str, Any], **kw: Any) -> Any:
        LOG.info("station: firmware update from %s scheduled", firmware["location"])
        return call_result.UpdateFirmware(status="Accepted")


async def run_station(url: str, ocpp: str, state: Path) -> None:
    """Run one demo session; returns when it is done."""
    policy_guard_events: list[DecisionEvent] = []
    three_commands = asyncio.get_running_loop().create_future()

    def count(event: DecisionEvent) -> None:
        if event.kind is Kind.REQUEST:
            policy_guard_events.append(event)
            if len(policy_guard_events) == 3 and not three_commands.done():
                three_commands.set_result(None)

    station_guard = guard("station", state)
    station_guard.clock = TrustedClock(
        clock_skew=station_guard.policy.clock_skew, csms_roles=["csms-admin"], source=lambda: datetime.now(UTC)
    )
    station_guard.hooks.append(count)
    answers = Signing([SignRule([signer("station-1")], kinds=[Kind.RESPONSE, Kind.ERROR])])
    target = connection_url(url, STATION_ID)

    async def session(make: Any, body: Any) -> None:
        headers = {"Authorization": basic_auth_header(STATION_ID, current_key(state))}
        async with connect(
            target, subprotocols=client_subprotocols(ocpp), additional_headers=headers
        ) as ws:
            cp = make(ws)
            loop = asyncio.create_task(cp.start())
            try:
                await body(cp)
            finally:
                loop.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await loop

    if ocpp == "1.6":

        def make16(ws: Any) -> Station16:
            return Station16(
                STATION_ID, ws, side=STATION, signing=answers, guard=station_guard, state=state
            )

        async def boot16(cp: Station16) -> None:
            boot = call16.BootNotification(charge_point_vendor="Example", charge_point_model="Demo")
            status = (await cp.call(boot, suppress=False)).status
            LOG.info("station: BootNotification -> %s", status)
            if status == "Pending":
                await cp.new_key  # the CSMS installs our own key, closes, and we reconnect with it
                await cp.ws.wait_closed()
            else:
                await cp.call(call16.Heartbeat(), suppress=False)
                LOG.info("station: onboarded, Heartbeat answered")

        await session(make16, boot16)
        await session(make16, boot16)
        return

    def make201(ws: Any) -> Station201:
        return Station201(STATION_ID, ws, side=STATION, signing=answers, guard=station_guard)

    async def boot201(cp: Station201) -> None:
        boot = call.BootNotification(
            charging_station={"model": "Demo", "vendorName": "Example"}, reason="PowerUp"
        )
        LOG.info("station: BootNotification -> %s", (await cp.call(boot, suppress=False)).status)
        await cp.call(call.Heartbeat(), suppress=False)
        await three_commands

    await session(make201, boot201)
    clock = station_guard.clock
    LOG.info(
        "station: done; clock offset set from signed CSMS time: %.3f s",
        clock.offset.total_seconds(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url", default="ws://127.0.0.1:9000/ocpp", help="the CSMS (or relay) endpoint URL"
    )
    parser.add_argument("--ocpp", choices=["1.6", "2.0.1"], default="2.0.1")
    parser.add_argument("--state", type=Path, default=Path("demo-state"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("ocpp", "websockets"):  # their INFO lines print every frame and connection
        logging.getLogger(noisy).setLevel(logging.WARNING)
    asyncio.run(run_station(args.url, args.ocpp, args.state))


if __name__ == "__main__":
    main()
