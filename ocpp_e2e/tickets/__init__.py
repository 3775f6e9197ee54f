"""SPEC §6 charging tickets: offline, anonymous authorization at a charging station.

An e-mobility provider issues a :class:`ChargingTicket` for a fresh holder key
(:func:`issue_ticket`); the holder proves possession of that key over a station's challenge
(:func:`present_ticket`); the station decides offline (:class:`TicketVerifier`) and keeps its
:class:`TicketLedger` of challenges and sessions. See ``docs/tickets.md``.
"""

from __future__ import annotations

from .encrypted import (
    ENCRYPTED_PRESENTATION_TYPE,
    OpenedPresentation,
    decrypt_presentation,
    encrypt_presentation,
)
from .issue import (
    ISSUER_USAGE,
    IssuedTicket,
    issue_ticket,
    issuer_identity,
    present_ticket,
    sign_ticket,
)
from .ledger import CHALLENGE_MAX_AGE, Challenge, Redemption, TicketLedger, Usage
from .model import (
    ChargingTicket,
    Money,
    TariffRef,
    TicketLimits,
    TicketPresentation,
    TicketScope,
    TicketVerdict,
    pattern_matches,
)
from .verify import IssuerCheck, Remaining, TicketDecision, TicketVerifier, verify_ticket

__all__ = [
    "CHALLENGE_MAX_AGE",
    "ENCRYPTED_PRESENTATION_TYPE",
    "ISSUER_USAGE",
    "Challenge",
    "ChargingTicket",
    "IssuedTicket",
    "IssuerCheck",
    "Money",
    "OpenedPresentation",
    "Redemption",
    "Remaining",
    "TariffRef",
    "TicketDecision",
    "TicketLedger",
    "TicketLimits",
    "TicketPresentation",
    "TicketScope",
    "TicketVerdict",
    "TicketVerifier",
    "Usage",
    "decrypt_presentation",
    "encrypt_presentation",
    "issue_ticket",
    "issuer_identity",
    "pattern_matches",
    "present_ticket",
    "sign_ticket",
    "verify_ticket",
]
