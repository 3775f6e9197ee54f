"""SPEC §1 member rules hold for every signature object (issue 11 class 3): frames and every §6
structure (tariff, ticket, presentation, receipt, policy) are judged by the one table of
:mod:`ocpp_e2e.members`, in the verifier and in the signer.

Each hostile signature below is *correctly signed* (the attacker holds a trusted key and signs
whatever members it likes), so only the member rules can refuse it.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ocpp_e2e._b64 import b64_encode, b64url_encode
from ocpp_e2e.canonical import dumps
from ocpp_e2e.context import frame_context, signing_payload, structure_context
from ocpp_e2e.errors import SigningError
from ocpp_e2e.keys import Keyring, KeySigner, generate_private_key
from ocpp_e2e.members import MEMBER_RULES
from ocpp_e2e.model import Outcome
from ocpp_e2e.sign import _signing_input, sign_object
from ocpp_e2e.tariffs import TariffVerdict, verify_tariff
from ocpp_e2e.verify import Verifier

DATA = Path(__file__).resolve().parent / "data"
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
KEY = generate_private_key("Ed25519")
SIGNER = KeySigner(KEY)
RING = Keyring()
RING.add(KEY.public_key(), name="insider", roles=["tariffSigning"])
VERIFIER = Verifier(RING, identity="cs-1")
CERT = b64_encode((DATA / "tickets" / "ticket.json").read_bytes()[:64])
NONCE = b64url_encode(bytes(16))

TARIFF = {
    k: v
    for k, v in __import__("json")
    .loads((DATA / "tariffs" / "per-kwh.tariff.json").read_text())
    .items()
    if k != "signatures"
}
TICKET = {
    "type": "ChargingTicket",
    "ticketId": "t-1",
    "issuer": "emp",
    "notBefore": "2027-03-01T00:00:00.000Z",
    "notAfter": "2027-03-02T00:00:00.000Z",
    "holderKey": b64url_encode(SIGNER.public_key_der),
    "scope": {"stations": ["cs-*"]},
    "limits": {"maxSessions": 1},
    "tariffs": [],
}
PRESENTATION = {
    "type": "TicketPresentation",
    "ticket": TICKET,
    "stationId": "cs-1",
    "evseId": "E1",
    "challenge": NONCE,
    "timestamp": "2027-03-01T12:00:00.000Z",
}
RECEIPT = {"type": "CostReceipt", "tariffId": "per-kwh-1", "digest": NONCE, "cost": {"total": 1}}
POLICY = {"type": "SignaturePolicy", "id": "p", "version": 2, "rules": []}

# kind -> (object, context, carrier, frame?)
KINDS: dict[str, tuple[dict[str, Any], dict[str, Any], str, bool]] = {
    "frame": (
        {"type": "Immediate"},
        frame_context("2.0.1", "cs-1", "Reset", "request"),
        "customData",
        True,
    ),
    "tariff": (TARIFF, structure_context("Tariff"), "customData", False),
    "ticket": (TICKET, structure_context("ChargingTicket"), "top", False),
    "presentation": (PRESENTATION, structure_context("TicketPresentation"), "top", False),
    "receipt": (RECEIPT, structure_context("CostReceipt"), "top", False),
    "policy": (POLICY, structure_context("SignaturePolicy"), "top", False),
}

# member -> (hostile value, the exact reason); None removes the member.
HOSTILE: dict[str, tuple[Any, str]] = {
    "name": ("x" * 10_000, "name must be a string of at most 256 characters"),
    "description": (
        {"en": "x" * 257},
        "description must be a language map of strings of at most 256 characters",
    ),
    "chained": ("yes", "chained must be true or false"),
    "destination": (42, "destination must be a string"),
    "certificates": ([CERT] * 5, "5 certificates; at most 4"),
    "publicKey": (["not", "a", "string"], "publicKey must be a base64url string"),
    "nonce": ("AAAA", "nonce must be 12 to 32 random bytes, this one has 3"),
    "timestamp": (
        "2027-02-30T00:00:00Z",
        "timestamp is not a real date and time (day is out of range for month)",
    ),
    "vendorExtension": (True, "unknown member(s) vendorExtension"),
}


def forged(kind: str, **members: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The object of ``kind`` carrying one signature with ``members``, correctly signed."""
    obj, context, carrier, frame = KINDS[kind]
    obj = copy.deepcopy(obj)
    sig: dict[str, Any] = {
        "keyId": SIGNER.key_id,
        "algorithm": SIGNER.algorithm,
        "timestamp": "2027-03-01T12:00:00.000Z",
    }
    if frame:
        sig["nonce"] = NONCE
    sig.update(members)
    data = _signing_input(dumps(context), dumps(signing_payload(obj)), dumps(sig), None)
    sig["value"] = b64url_encode(SIGNER.sign(data))
    if carrier == "top":
        obj["signatures"] = [sig]
    else:
        obj["customData"] = {"vendorId": "org.ocpp-e2e", "signatures": [sig]}
    return obj, context


def verdict(kind: str, **members: Any) -> tuple[str, str]:
    obj, context = forged(kind, **members)
    if kind == "frame":
        frame = [2, "1", "Reset", obj]
        result = VERIFIER.verify_frame(dumps(frame), ocpp="2.0.1", station="cs-1", now=NOW)
        (sig,) = result.verification.signatures
    else:
        (sig,) = VERIFIER.verify_object(obj, context=context, now=NOW).signatures
    return sig.outcome.value, sig.reason


@pytest.mark.parametrize("kind", KINDS)
def test_a_well_formed_signature_of_every_kind_is_valid(kind: str) -> None:
    good = {"name": "x" * 256, "description": {"en": "y" * 256}, "destination": "cs-1"}
    assert verdict(kind, **good)[0] == "valid"


@pytest.mark.parametrize("member", HOSTILE)
@pytest.mark.parametrize("kind", KINDS)
def test_a_hostile_member_makes_the_signature_malformed_on_every_kind(
    kind: str, member: str
) -> None:
    value, reason = HOSTILE[member]
    assert verdict(kind, **{member: value}) == ("malformed", reason)


def test_every_member_of_the_table_has_a_hostile_case_or_is_required() -> None:
    required = {"keyId", "algorithm", "value"}
    assert set(MEMBER_RULES) - required <= set(HOSTILE) | {"timestamp"}


@pytest.mark.parametrize("kind", [k for k, (_o, _c, _w, frame) in KINDS.items() if not frame])
def test_a_structure_signature_with_exactly_five_members_is_still_checked(kind: str) -> None:
    # keyId, algorithm, value, timestamp + one optional member: the shape a length shortcut missed.
    assert verdict(kind, chained="yes") == ("malformed", "chained must be true or false")


def test_a_frame_signature_without_a_nonce_is_malformed() -> None:
    obj, _ctx = forged("tariff")  # any signature without nonce
    sig = obj["customData"]["signatures"][0]
    frame_obj, _ = forged("frame")
    frame_obj["customData"]["signatures"] = [sig]
    result = VERIFIER.verify_frame(
        dumps([2, "1", "Reset", frame_obj]), ocpp="2.0.1", station="cs-1", now=NOW
    )
    assert [(s.outcome, s.reason) for s in result.verification.signatures] == [
        (Outcome.MALFORMED, "nonce is required on frame signatures")
    ]


def test_a_signed_tariff_with_a_10000_character_name_is_rejected() -> None:
    tariff, _ = forged("tariff", name="x" * 10_000)
    result = verify_tariff(tariff, VERIFIER, now=NOW)
    assert result.verdict is TariffVerdict.REJECTED
    assert result.reason == (
        "no signer with usage or role tariffSigning: signature 0 is malformed: "
        "name must be a string of at most 256 characters"
    )


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"name": "x" * 257}, "name must be a string of at most 256 characters"),
        (
            {"description": {"en": "x" * 257}},
            "description must be a language map of strings of at most 256 characters",
        ),
    ],
)
def test_the_signer_refuses_what_the_verifier_would_call_malformed(
    options: dict[str, Any], reason: str
) -> None:
    with pytest.raises(SigningError, match=f"^the signature would be malformed: {reason}$"):
        sign_object(
            TARIFF,
            SIGNER,
            context=structure_context("Tariff"),
            carrier="customData",
            timestamp=datetime.now(UTC),
            **options,
        )
