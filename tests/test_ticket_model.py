"""Ticket structures (SPEC §6): what from_dict accepts and refuses, and identity patterns."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from test_ticket_support import DATA

from ocpp_e2e._b64 import b64url_encode
from ocpp_e2e.errors import TicketError
from ocpp_e2e.tickets import (
    ChargingTicket,
    TariffRef,
    TicketPresentation,
    TicketScope,
    pattern_matches,
)


def _ticket() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / "ticket.json").read_text())
    return doc


def _refused(doc: Any, match: str) -> None:
    with pytest.raises(TicketError) as info:
        ChargingTicket.from_dict(doc)
    assert str(info.value) == match


# --------------------------------------------------------------------------- patterns


def test_trailing_star_matches_any_suffix() -> None:
    assert pattern_matches("DE*GEF*E*", "DE*GEF*E0001*1")


def test_inner_star_is_a_literal_character() -> None:
    assert not pattern_matches("DE*GEF*E*", "DE-GEF-E0001-1")
    assert not pattern_matches("DE*F", "DE-XYZ-F")


def test_pattern_without_star_is_exact() -> None:
    assert pattern_matches("cs-0001", "cs-0001")
    assert not pattern_matches("cs-0001", "cs-00011")


def test_patterns_compare_ascii_case_insensitively() -> None:
    assert pattern_matches("de*gef*e*", "DE*GEF*E0001*1")


def test_lone_star_matches_everything() -> None:
    assert pattern_matches("*", "anything")


# --------------------------------------------------------------------------- tickets


def test_ticket_round_trips_through_from_dict_and_to_dict() -> None:
    doc = _ticket()
    assert ChargingTicket.from_dict(doc).to_dict() == doc


def test_max_cost_amount_is_read_as_an_exact_decimal() -> None:
    ticket = ChargingTicket.from_dict(_ticket())
    assert ticket.limits.max_cost is not None
    assert ticket.limits.max_cost.amount == Decimal("25.5")


def test_unknown_top_level_member_is_refused() -> None:
    doc = _ticket()
    doc["holderName"] = "Erika Mustermann"
    _refused(doc, "$: unknown member(s) holderName")


def test_unknown_limit_is_refused() -> None:
    doc = _ticket()
    doc["limits"]["maxKm"] = 100
    _refused(doc, "$.limits: unknown member(s) maxKm")


def test_unknown_scope_list_is_refused() -> None:
    doc = _ticket()
    doc["scope"]["countries"] = ["DE"]
    _refused(doc, "$.scope: unknown member(s) countries")


def test_missing_max_sessions_is_refused() -> None:
    doc = _ticket()
    del doc["limits"]["maxSessions"]
    _refused(doc, "$.limits: missing member(s) maxSessions")


def test_zero_max_sessions_is_refused() -> None:
    doc = _ticket()
    doc["limits"]["maxSessions"] = 0
    _refused(doc, "$.limits.maxSessions: must be at least 1")


def test_boolean_max_sessions_is_refused() -> None:
    doc = _ticket()
    doc["limits"]["maxSessions"] = True
    _refused(doc, "$.limits.maxSessions: must be an integer")


def test_currency_that_is_not_iso_4217_is_refused() -> None:
    doc = _ticket()
    doc["limits"]["maxCost"]["currency"] = "euro"
    _refused(
        doc, "$.limits.maxCost.currency: currency must be an ISO 4217 code like EUR, got 'euro'"
    )


def test_empty_scope_list_is_refused() -> None:
    doc = _ticket()
    doc["scope"]["stations"] = []
    _refused(doc, "$.scope.stations: an empty list matches nothing; omit it to allow any")


def test_scope_without_any_list_is_refused() -> None:
    doc = _ticket()
    doc["scope"] = {}
    _refused(doc, "$.scope: scope needs at least one of operators, stations, evses")


def test_not_after_before_not_before_is_refused() -> None:
    doc = _ticket()
    doc["notAfter"] = doc["notBefore"]
    _refused(doc, "$.notAfter: notAfter must be later than notBefore")


def test_timestamp_with_an_offset_is_refused() -> None:
    doc = _ticket()
    doc["notBefore"] = "2030-06-01T02:00:00+02:00"
    with pytest.raises(TicketError, match=r"^\$\.notBefore: timestamp must be UTC"):
        ChargingTicket.from_dict(doc)


def test_rsa_holder_key_is_refused() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    der = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    doc = _ticket()
    doc["holderKey"] = b64url_encode(der)
    _refused(doc, "$.holderKey: unsupported public key type RSAPublicKey")


def test_holder_key_with_padding_is_refused() -> None:
    doc = _ticket()
    doc["holderKey"] += "="
    with pytest.raises(TicketError, match=r"^\$\.holderKey: not base64url"):
        ChargingTicket.from_dict(doc)


def test_tariff_digest_that_is_not_sha256_is_refused() -> None:
    doc = _ticket()
    doc["tariffs"][0]["digest"] = "AAAA"
    _refused(
        doc, "$.tariffs[0].digest: digest must be base64url of a SHA-256 value (43 characters)"
    )


def test_wrong_type_member_is_refused() -> None:
    doc = _ticket()
    doc["type"] = "Tariff"
    _refused(doc, "$.type: must be 'ChargingTicket', got 'Tariff'")


def test_scope_model_requires_a_list() -> None:
    with pytest.raises(TicketError, match="at least one of operators, stations, evses"):
        TicketScope()


def test_tariff_reference_command_line_form() -> None:
    assert TariffRef.parse("T-1=" + "A" * 43) == TariffRef("T-1", "A" * 43)
    with pytest.raises(TicketError, match="must be TARIFF_ID=DIGEST"):
        TariffRef.parse("T-1")


# --------------------------------------------------------------------------- presentations


def _presentation() -> dict[str, Any]:
    return {
        "type": "TicketPresentation",
        "ticket": _ticket(),
        "stationId": "cs-0001",
        "evseId": "DE*GEF*E0001*1",
        "challenge": "A" * 43,
        "timestamp": "2030-06-01T12:00:00.000Z",
    }


def test_presentation_errors_name_paths_inside_the_ticket() -> None:
    doc = _presentation()
    doc["ticket"]["limits"]["maxSessions"] = 0
    with pytest.raises(TicketError) as info:
        TicketPresentation.from_dict(doc)
    assert str(info.value) == "$.ticket.limits.maxSessions: must be at least 1"


def test_presentation_with_short_challenge_is_refused() -> None:
    doc = _presentation()
    doc["challenge"] = "AAAA"
    with pytest.raises(TicketError) as info:
        TicketPresentation.from_dict(doc)
    assert str(info.value) == "$.challenge: a challenge is base64url of 16 to 64 random bytes"


def test_presentation_with_unknown_member_is_refused() -> None:
    doc = _presentation()
    doc["connectorId"] = 1
    with pytest.raises(TicketError, match=r"^\$: unknown member\(s\) connectorId$"):
        TicketPresentation.from_dict(doc)


def test_presentation_round_trips() -> None:
    doc = _presentation()
    assert TicketPresentation.from_dict(copy.deepcopy(doc)).to_dict() == doc
