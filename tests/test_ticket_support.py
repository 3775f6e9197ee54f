"""Shared builders for the ticket tests: the demo issuer of keys-example/, a station, presentations.

Time is fixed (``T0``) so that no test depends on the clock; the demo hierarchy is valid
2026..2036.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ocpp_e2e.keys import KeySigner, load_signer
from ocpp_e2e.pki import ChainValidator
from ocpp_e2e.pki.validate import pem_chain_der
from ocpp_e2e.tickets import (
    IssuedTicket,
    TicketLedger,
    TicketLimits,
    TicketScope,
    TicketVerifier,
    issue_ticket,
    present_ticket,
)

ROOT = Path(__file__).resolve().parent.parent
KEYS = ROOT / "keys-example"
DATA = Path(__file__).resolve().parent / "data" / "tickets"

T0 = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
STATION = "cs-0001"
EVSE = "DE*GEF*E0001*1"
OPERATOR = "DE*GEF"


def demo_signer(name: str) -> KeySigner:
    """A keys-example leaf as a signer with its chain attached (leaf, sub-CA)."""
    chain = pem_chain_der((KEYS / f"{name}.chain.pem").read_bytes())
    return load_signer(str(KEYS / f"{name}.key.pem"), certificates=chain)


def demo_validator() -> ChainValidator:
    """A station's trust anchors: the demo root."""
    return ChainValidator.from_files([KEYS / "root-ca.crt.pem"])


def issue(signer: KeySigner | None = None, **overrides: Any) -> IssuedTicket:
    """A ticket of the demo issuer, valid T0-1h .. T0+23h, for cs-00* and DE*GEF*E*, 2 sessions."""
    args: dict[str, Any] = {
        "scope": TicketScope(stations=("cs-00*",), evses=("DE*GEF*E*",)),
        "limits": TicketLimits(max_sessions=2),
        "now": T0 - timedelta(hours=1),  # issued (and signed) at the start of its validity
        "valid_for": timedelta(hours=24),
    }
    args.update(overrides)
    return issue_ticket(signer or demo_signer("ticket-issuer"), **args)


@dataclass
class Station:
    """A station under test: its ledger and verifier."""

    ledger: TicketLedger
    verifier: TicketVerifier

    def challenge(self, at: datetime = T0) -> str:
        return self.ledger.issue_challenge(self.verifier.station_id, now=at).value


def make_station(
    ledger_path: Path,
    *,
    station_id: str = STATION,
    evse_id: str = EVSE,
    operator_id: str | None = OPERATOR,
    **kw: Any,
) -> Station:
    ledger = TicketLedger(ledger_path)
    verifier = TicketVerifier(
        certificates=demo_validator(),
        ledger=ledger,
        station_id=station_id,
        evse_id=evse_id,
        operator_id=operator_id,
        **kw,
    )
    return Station(ledger, verifier)


def present(
    issued: IssuedTicket,
    challenge: str,
    *,
    station_id: str = STATION,
    evse_id: str = EVSE,
    at: datetime = T0,
) -> dict[str, Any]:
    """The holder's presentation of ``issued`` over ``challenge``."""
    return present_ticket(
        issued.ticket,
        KeySigner(issued.holder_key),
        station_id=station_id,
        evse_id=evse_id,
        challenge=challenge,
        timestamp=at,
    )
