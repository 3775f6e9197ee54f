"""Issuing tickets (the e-mobility provider) and presenting them (the holder), SPEC §6.

>>> from datetime import datetime, timedelta, UTC
>>> from ocpp_e2e.keys import KeySigner, generate_private_key
>>> issued = issue_ticket(
...     KeySigner(generate_private_key("ES256")), issuer="emp-example",
...     now=datetime(2026, 5, 1, tzinfo=UTC), valid_for=timedelta(hours=24),
...     scope=TicketScope(evses=("DE*GEF*E*",)), limits=TicketLimits(max_sessions=1),
...     require_certificate=False)
>>> issued.ticket["type"], len(issued.ticket["signatures"])
('ChargingTicket', 1)
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .._b64 import b64url_encode
from ..context import structure_context
from ..errors import SigningError, TicketError
from ..keys import PrivateKey, Signer, generate_private_key, key_id, spki_der
from ..pki import certificate_identities, certificate_usages
from ..sign import sign_object
from .model import (
    PRESENTATION_TYPE,
    TICKET_TYPE,
    ChargingTicket,
    TariffRef,
    TicketLimits,
    TicketPresentation,
    TicketScope,
    format_timestamp,
)

__all__ = [
    "ISSUER_USAGE",
    "IssuedTicket",
    "issue_ticket",
    "issuer_identity",
    "present_ticket",
    "sign_ticket",
]

#: The usage an issuer's certificate must hold (SPEC §5).
ISSUER_USAGE = "ticketIssuing"


@dataclass(frozen=True)
class IssuedTicket:
    """A signed ticket (wire form) and the holder's fresh private key, to hand to the holder."""

    ticket: dict[str, Any]
    holder_key: PrivateKey


def issuer_identity(signer: Signer) -> str:
    """The identity of an issuer signer's leaf certificate, checked for usage ``ticketIssuing``.

    Raises :class:`SigningError` when the signer has no certificates, its leaf is not its key,
    has not exactly one identity, or lacks ``ticketIssuing``: a station would refuse such a ticket,
    so it is better refused at issuance.
    """
    if not signer.certificates:
        raise SigningError("the issuer needs its certificate chain (leaf with usage ticketIssuing)")
    try:
        leaf = x509.load_der_x509_certificate(signer.certificates[0])
    except ValueError as exc:
        raise SigningError(f"the issuer's leaf certificate cannot be read ({exc})") from exc
    leaf_spki = leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if key_id(leaf_spki) != signer.key_id:
        raise SigningError(
            "the first certificate of the issuer's chain is not for the issuer's key"
        )
    identities = certificate_identities(leaf)
    if len(identities) != 1:
        raise SigningError(
            "the issuer's certificate must name exactly one urn:ocpp-e2e: identity, "
            f"it names {len(identities)}"
        )
    usages = certificate_usages(leaf) or frozenset()
    if ISSUER_USAGE not in usages:
        held = ", ".join(sorted(usages)) or "none"
        raise SigningError(f"the issuer's certificate lacks usage {ISSUER_USAGE} (it has: {held})")
    return identities[0]


def sign_ticket(
    ticket: ChargingTicket, signer: Signer, *, timestamp: datetime
) -> dict[str, Any]:
    """Sign an unsigned ticket with CONTEXT ``{"type": "ChargingTicket"}``, top-level carrier."""
    if ticket.signatures:
        raise SigningError(f"ticket {ticket.ticket_id} is already signed")
    return sign_object(
        ticket.to_dict(signatures=False),
        signer,
        context=structure_context(TICKET_TYPE),
        carrier="top",
        timestamp=timestamp,
    )


def issue_ticket(
    signer: Signer,
    *,
    scope: TicketScope,
    limits: TicketLimits,
    now: datetime,
    not_before: datetime | None = None,
    valid_for: timedelta | None = None,
    not_after: datetime | None = None,
    tariffs: Sequence[TariffRef] = (),
    ticket_id: str | None = None,
    issuer: str | None = None,
    holder_algorithm: str = "Ed25519",
    require_certificate: bool = True,
) -> IssuedTicket:
    """Create a holder key and a ticket for it, signed by ``signer``.

    ``issuer`` defaults to the identity of the signer's certificate (which must hold usage
    ``ticketIssuing``); with ``require_certificate=False`` a bare key may sign, for tests and demos,
    and ``issuer`` must be given (stations will refuse such a ticket). The validity is
    ``not_before`` (default ``now``, the time of issue and of the signature) to ``not_after`` or
    ``not_before + valid_for``. The ticket id is 128 random bits unless given: nothing in the
    ticket names the holder.
    """
    if require_certificate:
        cert_identity = issuer_identity(signer)
        if issuer is not None and issuer != cert_identity:
            raise SigningError(
                f"issuer {issuer!r} differs from the certificate identity {cert_identity!r}; "
                "stations refuse such tickets"
            )
        issuer = cert_identity
    if issuer is None:
        raise SigningError("give the issuer identity (there is no certificate to take it from)")
    start = (now if not_before is None else not_before).replace(microsecond=0)
    if (valid_for is None) == (not_after is None):
        raise TicketError("give exactly one of valid_for and not_after")
    try:
        end = not_after if not_after is not None else start + (valid_for or timedelta(0))
    except OverflowError:
        raise TicketError(
            f"the ticket would end beyond the calendar ({start.isoformat()} + {valid_for})",
            "$.notAfter",
        ) from None
    holder = generate_private_key(holder_algorithm)
    ticket = ChargingTicket(
        ticket_id=ticket_id or b64url_encode(secrets.token_bytes(16)),
        issuer=issuer,
        not_before=start,
        not_after=end,
        holder_key=spki_der(holder),
        scope=scope,
        limits=limits,
        tariffs=tuple(tariffs),
    )
    return IssuedTicket(sign_ticket(ticket, signer, timestamp=now), holder)


def present_ticket(
    ticket: Mapping[str, Any],
    holder: Signer,
    *,
    station_id: str,
    evse_id: str,
    challenge: str,
    timestamp: datetime,
) -> dict[str, Any]:
    """The holder's ``TicketPresentation`` over a station's ``challenge``, signed by the holder key.

    ``ticket`` is the signed ticket as issued; it travels unchanged. Refuses (SigningError) a
    holder key that is not the ticket's ``holderKey``: the station would refuse it.
    """
    parsed = ChargingTicket.from_dict(ticket)
    if holder.key_id != parsed.holder_key_id:
        raise SigningError(
            f"this key ({holder.key_id}) is not the ticket's holder key ({parsed.holder_key_id})"
        )
    if holder.certificates:
        raise SigningError(
            "a presentation is signed with the bare holder key; attach no certificates"
        )
    when = timestamp
    body: dict[str, Any] = {
        "type": PRESENTATION_TYPE,
        "ticket": dict(ticket),
        "stationId": station_id,
        "evseId": evse_id,
        "challenge": challenge,
        "timestamp": format_timestamp(when),
    }
    TicketPresentation.from_dict(body)  # refuse what a station could not read, before signing
    return sign_object(
        body, holder, context=structure_context(PRESENTATION_TYPE), carrier="top", timestamp=when
    )
