"""What a station does with a ticket presentation, fully offline (SPEC §6).

Checks, in order, each refusing with its own :class:`TicketVerdict` and a reason:

1. the presentation and its ticket are readable (``malformed``);
2. the ticket carries exactly one signature, which verifies (``tampered``) under a certificate chain
   to a trust anchor with usage ``ticketIssuing`` (``untrusted-issuer``), whose identity is the
   ticket's ``issuer`` (``issuer-mismatch``);
3. the ticket is valid now (``not-yet-valid``, ``expired``);
4. the presentation carries exactly one signature, by the ticket's ``holderKey`` and nothing else
   (``wrong-holder-key``, ``tampered``): proof of possession;
5. ``stationId``/``evseId`` are this station's (``wrong-station``, ``wrong-evse``) and in the
   ticket's scope (``out-of-scope``), and the station's tariff is one the ticket names
   (``tariff-not-covered``);
6. in one ledger transaction: the challenge was issued here, is unused and at most 60 s old
   (``unknown-challenge``, ``replayed``, ``stale-challenge``) and is spent; the ticket has sessions,
   energy and cost left (``sessions-exhausted``, ``energy-exhausted``, ``cost-exhausted``); a
   session is started (``accepted``).

Only step 6 writes: a presentation refused offline leaves its challenge unspent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..canonical import loads
from ..context import same_identity, structure_context
from ..errors import InputError
from ..keys import Keyring
from ..model import CertificateValidator, Outcome, Verification
from ..verify import Verifier
from .issue import ISSUER_USAGE
from .ledger import TicketLedger, Usage
from .model import (
    PRESENTATION_TYPE,
    TICKET_TYPE,
    ChargingTicket,
    TariffRef,
    TicketPresentation,
    TicketVerdict,
    format_timestamp,
)

__all__ = [
    "IssuerCheck",
    "Remaining",
    "TicketDecision",
    "TicketVerifier",
    "verify_ticket",
]


@dataclass(frozen=True)
class IssuerCheck:
    """The verdict on a ticket's issuer signature (steps 1–3), with what it established."""

    verdict: TicketVerdict
    reason: str
    ticket: ChargingTicket | None = None
    issuer_key_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict is TicketVerdict.ACCEPTED


@dataclass(frozen=True)
class Remaining:
    """What the ticket still allows at this station after this decision (None: no such limit)."""

    sessions: int
    energy_wh: int | None
    cost: Decimal | None
    currency: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (cost as an exact decimal string)."""
        return {
            "sessions": self.sessions,
            "energyWh": self.energy_wh,
            "cost": None if self.cost is None else str(self.cost),
            "currency": self.currency,
        }


@dataclass(frozen=True)
class TicketDecision:
    """A station's decision on one presentation: a verdict, a reason, and what was established.

    ``session_id`` is set when accepted; report the session's energy and cost to the ledger under
    it (:meth:`TicketLedger.record_usage`). ``remaining`` caps the session that may now start.
    """

    verdict: TicketVerdict
    reason: str
    ticket_id: str | None = None
    issuer: str | None = None
    issuer_key_id: str | None = None
    holder_key_id: str | None = None
    session_id: str | None = None
    remaining: Remaining | None = None

    @property
    def accepted(self) -> bool:
        return self.verdict is TicketVerdict.ACCEPTED

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view with stable member names."""
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "ticketId": self.ticket_id,
            "issuer": self.issuer,
            "issuerKeyId": self.issuer_key_id,
            "holderKeyId": self.holder_key_id,
            "sessionId": self.session_id,
            "remaining": None if self.remaining is None else self.remaining.to_dict(),
        }


def _only_signature(verification: Verification, what: str) -> tuple[TicketVerdict, str] | None:
    if verification.problems:
        return TicketVerdict.MALFORMED, f"{what}: {verification.problems[0]}"
    count = len(verification.signatures)
    if count != 1:
        return (
            TicketVerdict.MALFORMED,
            f"{what} must carry exactly one signature, it carries {count}",
        )
    return None


def verify_ticket(
    ticket: Mapping[str, Any] | bytes | str,
    certificates: CertificateValidator,
    *,
    now: datetime,
) -> IssuerCheck:
    """Check a ticket's issuer and validity (steps 1–3 of a station's checks), without a ledger.

    ``certificates`` validates the issuer's chain against the station's trust anchors; it is the
    only source of trust (no keyring takes part).
    """
    try:
        value = loads(ticket) if isinstance(ticket, bytes | str) else ticket
        parsed = ChargingTicket.from_dict(value)
        verification = Verifier(Keyring(), certificates=certificates).verify_object(
            value, context=structure_context(TICKET_TYPE), now=now
        )
    except InputError as exc:
        return IssuerCheck(TicketVerdict.MALFORMED, f"ticket: {exc}")
    refused = _only_signature(verification, "a ticket")
    if refused is not None:
        return IssuerCheck(*refused, ticket=parsed)
    sig = verification.signatures[0]
    if sig.outcome is Outcome.INVALID:
        return IssuerCheck(TicketVerdict.TAMPERED, f"ticket signature: {sig.reason}", parsed)
    if sig.outcome is Outcome.MALFORMED:
        return IssuerCheck(TicketVerdict.MALFORMED, f"ticket signature: {sig.reason}", parsed)
    if not sig.valid or not sig.trusted:
        return IssuerCheck(
            TicketVerdict.UNTRUSTED_ISSUER,
            f"ticket signature is {sig.outcome.value}: {sig.reason}",
            parsed,
        )
    if ISSUER_USAGE not in sig.usages:
        held = ", ".join(sorted(sig.usages)) or "no domain usage"
        return IssuerCheck(
            TicketVerdict.UNTRUSTED_ISSUER,
            f"the ticket's signer {sig.identity!r} holds {held}, not {ISSUER_USAGE}",
            parsed,
        )
    if sig.identity != parsed.issuer:
        return IssuerCheck(
            TicketVerdict.ISSUER_MISMATCH,
            f"the ticket names issuer {parsed.issuer!r} but is signed by {sig.identity!r}",
            parsed,
        )
    if now < parsed.not_before:
        return IssuerCheck(
            TicketVerdict.NOT_YET_VALID,
            f"the ticket is valid from {format_timestamp(parsed.not_before)}, "
            f"now is {format_timestamp(now)}",
            parsed,
        )
    if now > parsed.not_after:
        return IssuerCheck(
            TicketVerdict.EXPIRED,
            f"the ticket expired at {format_timestamp(parsed.not_after)}, "
            f"now is {format_timestamp(now)}",
            parsed,
        )
    return IssuerCheck(
        TicketVerdict.ACCEPTED,
        f"ticket {parsed.ticket_id} of {parsed.issuer} is valid "
        f"until {format_timestamp(parsed.not_after)}",
        parsed,
        sig.key_id,
    )


class TicketVerifier:
    """A station's ticket verifier: its identity, trust anchors and ledger, checked offline.

    >>> # verifier = TicketVerifier(certificates=ChainValidator.from_files(["root-ca.crt.pem"]),
    >>> #                           ledger=TicketLedger("ledger.sqlite"),
    >>> #                           station_id="cs-0001", evse_id="DE*GEF*E0001*1")
    >>> # decision = verifier.verify(presentation_bytes)
    """

    def __init__(
        self,
        *,
        certificates: CertificateValidator,
        ledger: TicketLedger,
        station_id: str,
        evse_id: str,
        operator_id: str | None = None,
        tariff: TariffRef | None = None,
    ) -> None:
        self.certificates = certificates
        self.ledger = ledger
        self.station_id = station_id
        self.evse_id = evse_id
        self.operator_id = operator_id
        self.tariff = tariff

    def verify(
        self, presentation: Mapping[str, Any] | bytes | str, *, now: datetime
    ) -> TicketDecision:
        """Decide on a presentation (see the module docstring for the checks, in order)."""
        try:
            value = loads(presentation) if isinstance(presentation, bytes | str) else presentation
            parsed = TicketPresentation.from_dict(value)
        except InputError as exc:
            return TicketDecision(TicketVerdict.MALFORMED, f"presentation: {exc}")
        issuer = verify_ticket(parsed.ticket, self.certificates, now=now)
        ticket = parsed.parsed_ticket
        facts: dict[str, Any] = {
            "ticket_id": ticket.ticket_id,
            "issuer": ticket.issuer,
            "holder_key_id": ticket.holder_key_id,
        }
        if not issuer.ok:
            return TicketDecision(issuer.verdict, issuer.reason, **facts)
        facts["issuer_key_id"] = issuer.issuer_key_id
        refused = self._offline_refusal(value, parsed, now)
        if refused is not None:
            return TicketDecision(*refused, **facts)
        assert issuer.issuer_key_id is not None
        redemption = self.ledger.redeem(
            challenge=parsed.challenge,
            station_id=self.station_id,
            evse_id=self.evse_id,
            issuer_key_id=issuer.issuer_key_id,
            ticket_id=ticket.ticket_id,
            limits=ticket.limits,
            now=now,
        )
        remaining = None if redemption.usage is None else _remaining(ticket, redemption.usage)
        return TicketDecision(
            redemption.verdict,
            redemption.reason,
            session_id=redemption.session_id,
            remaining=remaining,
            **facts,
        )

    def _offline_refusal(
        self, value: Mapping[str, Any], parsed: TicketPresentation, now: datetime
    ) -> tuple[TicketVerdict, str] | None:
        ticket = parsed.parsed_ticket
        holder_ring = Keyring()
        holder_ring.add(ticket.holder_key, name="holder")
        try:
            verification = Verifier(holder_ring).verify_object(
                value, context=structure_context(PRESENTATION_TYPE), now=now
            )
        except InputError as exc:
            return TicketVerdict.MALFORMED, f"presentation: {exc}"
        refused = _only_signature(verification, "a presentation")
        if refused is not None:
            return refused
        sig = verification.signatures[0]
        if sig.key_id != ticket.holder_key_id:
            return (
                TicketVerdict.WRONG_HOLDER_KEY,
                f"the presentation is signed by key {sig.key_id}, not the ticket's holder key "
                f"{ticket.holder_key_id}",
            )
        if sig.outcome is Outcome.INVALID:
            return TicketVerdict.TAMPERED, f"presentation signature: {sig.reason}"
        if not sig.valid:
            return (
                TicketVerdict.MALFORMED,
                f"presentation signature is {sig.outcome.value}: {sig.reason}",
            )
        if not same_identity(parsed.station_id, self.station_id):
            return (
                TicketVerdict.WRONG_STATION,
                f"the presentation is for station {parsed.station_id!r}; "
                f"this is {self.station_id!r}",
            )
        if not same_identity(parsed.evse_id, self.evse_id):
            return (
                TicketVerdict.WRONG_EVSE,
                f"the presentation is for EVSE {parsed.evse_id!r}; this is {self.evse_id!r}",
            )
        mismatch = ticket.scope.mismatch(
            station_id=self.station_id, evse_id=self.evse_id, operator_id=self.operator_id
        )
        if mismatch is not None:
            return TicketVerdict.OUT_OF_SCOPE, mismatch
        if self.tariff is not None and ticket.tariffs and self.tariff not in ticket.tariffs:
            names = ", ".join(t.tariff_id for t in ticket.tariffs)
            return (
                TicketVerdict.TARIFF_NOT_COVERED,
                f"this station charges tariff {self.tariff.tariff_id} ({self.tariff.digest}); the "
                f"ticket covers only {names}",
            )
        return None


def _remaining(ticket: ChargingTicket, usage: Usage) -> Remaining:
    limits = ticket.limits
    return Remaining(
        sessions=max(limits.max_sessions - usage.sessions, 0),
        energy_wh=None
        if limits.max_energy_wh is None
        else max(limits.max_energy_wh - usage.energy_wh, 0),
        cost=None
        if limits.max_cost is None
        else max(limits.max_cost.amount - usage.cost, Decimal(0)),
        currency=None if limits.max_cost is None else limits.max_cost.currency,
    )
