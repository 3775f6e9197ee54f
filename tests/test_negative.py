"""Negative cases of SPEC §1-§4, each with its exact outcome and a reason a person can act on.

Many cases re-sign a tampered signature object (see :func:`forge`), so that the signature verifies
cryptographically and only the rule under test can fail.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ocpp_e2e._b64 import b64url_decode, b64url_encode
from ocpp_e2e.canonical import MAX_BYTES, dumps
from ocpp_e2e.context import (
    PendingCall,
    find_signatures,
    frame_context,
    frame_kind,
    frame_signing_payload,
    structure_context,
)
from ocpp_e2e.errors import IJSONError, InputError, KeyLoadError
from ocpp_e2e.frames import parse_frame
from ocpp_e2e.keys import (
    ALGORITHMS,
    Keyring,
    KeySigner,
    generate_private_key,
    key_id,
    load_private_key,
)
from ocpp_e2e.model import Outcome, SignatureResult
from ocpp_e2e.pki import pem_chain_der
from ocpp_e2e.sign import _signing_input, sign_frame, sign_object
from ocpp_e2e.verify import Verifier

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
STATION = "cs-0001"
RESET = '[2, "42", "Reset", {"type": "Immediate"}]'
RESET_RESULT = '[3, "42", {"status": "Accepted"}]'
MAX_AGE = timedelta(minutes=5)
SKEW = timedelta(seconds=30)
ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493


@pytest.fixture(scope="module")
def ring(signers: dict[str, KeySigner]) -> Keyring:
    ring = Keyring()
    for alg, signer in signers.items():
        ring.add(signer.public_key_der, name=f"signer-{alg.lower()}")
    return ring


@pytest.fixture
def ed(signers: dict[str, KeySigner]) -> KeySigner:
    return signers["Ed25519"]


@pytest.fixture
def p256(signers: dict[str, KeySigner]) -> KeySigner:
    return signers["ES256"]


def sign(
    frame: str, signer: KeySigner | list[KeySigner], ocpp: str = "2.0.1", **kwargs: Any
) -> str:
    return sign_frame(frame, signer, ocpp=ocpp, station=STATION, timestamp=NOW, **kwargs)


def pending(call: str = RESET, ocpp: str = "2.0.1") -> PendingCall:
    return PendingCall.of(parse_frame(call, ocpp=ocpp))


def check(
    ring: Keyring,
    text: str | bytes,
    *,
    ocpp: str = "2.0.1",
    station: str = STATION,
    call: PendingCall | None = None,
    now: datetime = NOW,
    **options: Any,
) -> list[SignatureResult]:
    verifier = Verifier(ring, max_signature_age=MAX_AGE, clock_skew=SKEW, **options)
    result = verifier.verify_frame(text, ocpp=ocpp, station=station, call=call, now=now)
    return list(result.verification.signatures)


def only(results: list[SignatureResult]) -> SignatureResult:
    assert len(results) == 1, results
    return results[0]


def sigs_of(value: list[Any]) -> list[dict[str, Any]]:
    holder = value[4] if value[0] in (4, 5) else value[-1]
    _where, sigs, _problems = find_signatures(holder)
    assert isinstance(sigs, list)
    return sigs


def forge(
    text: str,
    signer: KeySigner,
    mutate: Callable[[dict[str, Any]], None],
    *,
    index: int = -1,
    ocpp: str = "2.0.1",
    call: str | None = None,
) -> str:
    """Change signature ``index`` of a signed frame with ``mutate`` and sign it again correctly."""
    value = json.loads(text)
    frame = parse_frame(text, ocpp=ocpp)
    kind = frame_kind(frame)
    if frame.is_call:
        assert frame.action is not None
        ctx = frame_context(ocpp, STATION, frame.action, kind)
    else:
        assert call is not None
        answered = pending(call, ocpp)
        ctx = frame_context(ocpp, STATION, answered.action, kind, answered.request)
    sigs = sigs_of(value)
    index = index % len(sigs)
    sig = {k: v for k, v in sigs[index].items() if k != "value"}
    mutate(sig)
    previous = dumps(sigs[:index]) if sig.get("chained") is True else None
    data = _signing_input(dumps(ctx), dumps(frame_signing_payload(frame)), dumps(sig), previous)
    sig["value"] = b64url_encode(signer.sign(data))
    sigs[index] = sig
    return json.dumps(value)


def edit(text: str, change: Callable[[list[Any]], None]) -> str:
    value = json.loads(text)
    change(value)
    return json.dumps(value)


def set_member(name: str, member_value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(sig: dict[str, Any]) -> None:
        sig[name] = member_value

    return mutate


def drop_member(name: str) -> Callable[[dict[str, Any]], None]:
    def mutate(sig: dict[str, Any]) -> None:
        del sig[name]

    return mutate


def compressed_spki(signer_key: ec.EllipticCurvePrivateKey) -> bytes:
    point = signer_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    return bytes.fromhex("3039301306072a8648ce3d020106082a8648ce3d030107032200") + point


def test_forge_itself_gives_a_valid_signature(ring: Keyring, ed: KeySigner) -> None:
    assert only(check(ring, forge(sign(RESET, ed), ed, lambda sig: None))).outcome is Outcome.VALID


# --------------------------------------------------------------------------- tampering -> invalid


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1", "2.1"])
def test_changed_payload_value_is_invalid(ring: Keyring, ed: KeySigner, ocpp: str) -> None:
    text = sign(RESET, ed, ocpp).replace('"Immediate"', '"OnIdle"')
    result = only(check(ring, text, ocpp=ocpp))
    assert result.outcome is Outcome.INVALID
    assert "does not verify" in result.reason


def test_added_payload_member_is_invalid(ring: Keyring, ed: KeySigner) -> None:
    text = edit(sign(RESET, ed), lambda v: v[3].update(evseId=2))
    assert only(check(ring, text)).outcome is Outcome.INVALID


def test_changed_number_spelling_with_the_same_value_stays_valid(
    ring: Keyring, ed: KeySigner
) -> None:
    """JCS: 4200, 4200.0 and 4.2e3 are one value, so a relay may respell it."""
    frame = '[2, "1", "SetChargingProfile", {"limit": 4200}]'
    text = sign(frame, ed).replace("4200", "4.2e3")
    assert only(check(ring, text)).outcome is Outcome.VALID


def test_flipped_bit_in_the_value_is_invalid(ring: Keyring, p256: KeySigner) -> None:
    def flip(v: list[Any]) -> None:
        sig = v[3]["customData"]["signatures"][0]
        raw = bytearray(b64url_decode(sig["value"]))
        raw[5] ^= 1
        sig["value"] = b64url_encode(bytes(raw))

    assert only(check(ring, edit(sign(RESET, p256), flip))).outcome is Outcome.INVALID


def test_changed_signature_timestamp_is_invalid(ring: Keyring, ed: KeySigner) -> None:
    def later(v: list[Any]) -> None:
        v[3]["customData"]["signatures"][0]["timestamp"] = "2026-11-22T10:00:01.000Z"

    result = only(check(ring, edit(sign(RESET, ed), later)))
    assert result.outcome is Outcome.INVALID


def test_changed_signature_destination_is_invalid(ring: Keyring, ed: KeySigner) -> None:
    def redirect(v: list[Any]) -> None:
        v[3]["customData"]["signatures"][0]["destination"] = "cs-0002"

    text = edit(sign(RESET, ed, destination="cs-0001"), redirect)
    assert only(check(ring, text, identity="cs-0002")).outcome is Outcome.INVALID


def test_added_destination_is_invalid(ring: Keyring, ed: KeySigner) -> None:
    text = edit(
        sign(RESET, ed), lambda v: v[3]["customData"]["signatures"][0].update(destination="cs-0001")
    )
    assert only(check(ring, text, identity="cs-0001")).outcome is Outcome.INVALID


def test_removed_nonce_without_resigning_is_invalid_or_malformed(
    ring: Keyring, ed: KeySigner
) -> None:
    text = edit(sign(RESET, ed), lambda v: v[3]["customData"]["signatures"][0].pop("nonce"))
    assert only(check(ring, text)).outcome is Outcome.MALFORMED


def test_signature_by_another_key_under_a_known_key_id_is_invalid(
    ring: Keyring, ed: KeySigner, signers: dict[str, KeySigner]
) -> None:
    impostor = KeySigner(generate_private_key("Ed25519"))
    text = forge(sign(RESET, ed), impostor, lambda sig: None)
    assert only(check(ring, text)).outcome is Outcome.INVALID


# --------------------------------------------------------------------------- context binding


def test_same_payload_under_another_action_is_invalid(ring: Keyring, ed: KeySigner) -> None:
    text = edit(sign(RESET, ed), lambda v: v.__setitem__(2, "ChangeAvailability"))
    assert only(check(ring, text)).outcome is Outcome.INVALID


def test_same_payload_under_another_kind_is_invalid(ring: Keyring, ed: KeySigner) -> None:
    """A signed CALL payload sent as a 2.1 SEND."""
    text = edit(sign(RESET, ed, "2.1"), lambda v: v.__setitem__(0, 6))
    assert only(check(ring, text, ocpp="2.1")).outcome is Outcome.INVALID


def test_same_payload_on_another_station_is_invalid(ring: Keyring, ed: KeySigner) -> None:
    assert only(check(ring, sign(RESET, ed), station="cs-0002")).outcome is Outcome.INVALID


@pytest.mark.parametrize(
    ("signed_as", "verified_as"), [("2.0.1", "2.1"), ("2.1", "2.0.1"), ("1.6", "2.0.1")]
)
def test_same_payload_under_another_ocpp_version_is_invalid(
    ring: Keyring, ed: KeySigner, signed_as: str, verified_as: str
) -> None:
    text = sign(RESET, ed, signed_as)
    assert only(check(ring, text, ocpp=verified_as)).outcome is Outcome.INVALID


def test_message_id_is_not_signed_so_relays_may_renumber(ring: Keyring, ed: KeySigner) -> None:
    text = edit(sign(RESET, ed), lambda v: v.__setitem__(1, "relay-7"))
    assert only(check(ring, text)).outcome is Outcome.VALID


def test_response_replayed_as_a_request_is_invalid(ring: Keyring, ed: KeySigner) -> None:
    result_payload = json.loads(sign(RESET_RESULT, ed, call=RESET))[2]
    as_request = json.dumps([2, "43", "Reset", result_payload])
    assert only(check(ring, as_request)).outcome is Outcome.INVALID


def test_request_replayed_as_a_response_is_invalid(ring: Keyring, ed: KeySigner) -> None:
    request_payload = json.loads(sign(RESET, ed))[3]
    as_response = json.dumps([3, "42", request_payload])
    assert only(check(ring, as_response, call=pending())).outcome is Outcome.INVALID


def test_response_moved_to_another_call_of_the_same_action_is_invalid(
    ring: Keyring, ed: KeySigner
) -> None:
    text = sign(RESET_RESULT, ed, call=RESET)
    other = pending('[2, "42", "Reset", {"type": "OnIdle"}]')
    assert only(check(ring, text, call=other)).outcome is Outcome.INVALID


def test_response_moved_to_a_call_of_another_action_is_invalid(
    ring: Keyring, ed: KeySigner
) -> None:
    text = sign(RESET_RESULT, ed, call=RESET)
    other = pending('[2, "42", "ChangeAvailability", {"operationalStatus": "Inoperative"}]')
    assert only(check(ring, text, call=other)).outcome is Outcome.INVALID


def test_error_moved_to_another_call_is_invalid(ring: Keyring, ed: KeySigner) -> None:
    text = sign('[4, "42", "SecurityError", "no", {}]', ed, call=RESET)
    other = pending('[2, "42", "Reset", {"type": "OnIdle"}]')
    assert only(check(ring, text, call=other)).outcome is Outcome.INVALID


def test_response_without_a_pending_call_is_malformed(ring: Keyring, ed: KeySigner) -> None:
    result = only(check(ring, sign(RESET_RESULT, ed, call=RESET)))
    assert result.outcome is Outcome.MALFORMED
    assert "no pending CALL with id '42'" in result.reason


def test_response_with_a_pending_call_of_another_id_is_malformed(
    ring: Keyring, ed: KeySigner
) -> None:
    text = sign(RESET_RESULT, ed, call=RESET)
    other = pending('[2, "41", "Reset", {"type": "Immediate"}]')
    assert only(check(ring, text, call=other)).outcome is Outcome.MALFORMED


def test_signed_error_details_changed_is_invalid(ring: Keyring, ed: KeySigner) -> None:
    text = sign('[4, "42", "SecurityError", "no", {"reason": "a"}]', ed, call=RESET)
    text = text.replace('"reason":"a"', '"reason":"b"')
    assert only(check(ring, text, call=pending())).outcome is Outcome.INVALID


def test_signed_error_code_changed_is_invalid(ring: Keyring, ed: KeySigner) -> None:
    text = sign('[4, "42", "SecurityError", "no", {}]', ed, call=RESET).replace(
        "SecurityError", "GenericError"
    )
    assert only(check(ring, text, call=pending())).outcome is Outcome.INVALID


def test_nested_signatures_do_not_count_for_the_frame(ring: Keyring, ed: KeySigner) -> None:
    inner = sign_object({"a": 1}, ed, context=structure_context("Tariff"), timestamp=NOW)
    frame = json.dumps([2, "1", "DataTransfer", {"vendorId": "x", "data": inner}])
    assert check(ring, frame) == []


# --------------------------------------------------------------------------- chains


def chain_of_three(signers: dict[str, KeySigner]) -> str:
    text = sign(RESET, [signers["ES256"], signers["ES384"]])
    return sign(text, signers["Ed25519"], chained=True)


def test_removed_predecessor_of_a_chained_signature_is_invalid(
    ring: Keyring, signers: dict[str, KeySigner]
) -> None:
    text = edit(chain_of_three(signers), lambda v: v[3]["customData"]["signatures"].pop(1))
    results = check(ring, text)
    assert [r.outcome for r in results] == [Outcome.VALID, Outcome.INVALID]


def test_reordered_predecessors_of_a_chained_signature_are_invalid(
    ring: Keyring, signers: dict[str, KeySigner]
) -> None:
    def swap(v: list[Any]) -> None:
        s = v[3]["customData"]["signatures"]
        s[0], s[1] = s[1], s[0]

    results = check(ring, edit(chain_of_three(signers), swap))
    assert [r.outcome for r in results] == [Outcome.VALID, Outcome.VALID, Outcome.INVALID]


def test_inserted_predecessor_of_a_chained_signature_is_invalid(
    ring: Keyring, signers: dict[str, KeySigner]
) -> None:
    extra = json.loads(sign(RESET, signers["ES512"]))[3]["customData"]["signatures"][0]
    text = edit(
        chain_of_three(signers), lambda v: v[3]["customData"]["signatures"].insert(2, extra)
    )
    assert [r.outcome for r in check(ring, text)] == [Outcome.VALID] * 3 + [Outcome.INVALID]


def test_chained_signature_moved_to_the_front_is_malformed(
    ring: Keyring, signers: dict[str, KeySigner]
) -> None:
    def to_front(v: list[Any]) -> None:
        s = v[3]["customData"]["signatures"]
        s.insert(0, s.pop())

    results = check(ring, edit(chain_of_three(signers), to_front))
    assert [r.outcome for r in results] == [Outcome.MALFORMED] * 3
    assert "first signature cannot be chained" in results[0].reason


def test_removing_the_only_predecessor_leaves_a_malformed_first_chained_signature(
    ring: Keyring, signers: dict[str, KeySigner]
) -> None:
    text = sign(sign(RESET, signers["ES256"]), signers["Ed25519"], chained=True)
    text = edit(text, lambda v: v[3]["customData"]["signatures"].pop(0))
    assert only(check(ring, text)).outcome is Outcome.MALFORMED


def test_changed_predecessor_breaks_the_chained_signature_too(
    ring: Keyring, signers: dict[str, KeySigner]
) -> None:
    def touch(v: list[Any]) -> None:
        v[3]["customData"]["signatures"][0]["timestamp"] = "2026-11-22T09:59:59.000Z"

    results = check(ring, edit(chain_of_three(signers), touch))
    assert [r.outcome for r in results] == [Outcome.INVALID, Outcome.VALID, Outcome.INVALID]


def test_empty_signatures_array_is_malformed(ring: Keyring) -> None:
    text = '[2, "1", "Reset", {"type": "Immediate", "customData": {"vendorId": "org.ocpp-e2e", "signatures": []}}]'
    result = only(check(ring, text))
    assert result.outcome is Outcome.MALFORMED and "empty array" in result.reason


def test_signatures_that_are_not_an_array_are_malformed(ring: Keyring) -> None:
    text = '[2, "1", "Reset", {"type": "Immediate", "signatures": {"keyId": "x"}}]'
    assert only(check(ring, text)).outcome is Outcome.MALFORMED


def test_chained_true_on_the_only_signature_is_malformed(ring: Keyring, ed: KeySigner) -> None:
    text = forge(sign(RESET, ed), ed, set_member("chained", True))
    result = only(check(ring, text))
    assert result.outcome is Outcome.MALFORMED and "cannot be chained" in result.reason


def test_chained_must_be_a_boolean(ring: Keyring, signers: dict[str, KeySigner]) -> None:
    text = sign(sign(RESET, signers["ES256"]), signers["Ed25519"])
    text = forge(text, signers["Ed25519"], set_member("chained", "yes"))
    assert check(ring, text)[1].outcome is Outcome.MALFORMED


# --------------------------------------------------------------------------- keys and algorithms


def test_algorithm_not_matching_the_key_is_invalid(ring: Keyring, p256: KeySigner) -> None:
    """An ES256 key's r‖s value labelled Ed25519 (both 64 bytes)."""
    result = only(check(ring, forge(sign(RESET, p256), p256, set_member("algorithm", "Ed25519"))))
    assert result.outcome is Outcome.INVALID
    assert "algorithm Ed25519 does not match the signer's ES256 key" in result.reason


def test_ed25519_value_labelled_es256_is_invalid(ring: Keyring, ed: KeySigner) -> None:
    result = only(check(ring, forge(sign(RESET, ed), ed, set_member("algorithm", "ES256"))))
    assert result.outcome is Outcome.INVALID and "does not match" in result.reason


@pytest.mark.parametrize("alg", ["RS256", "EdDSA", "es256", "HS256", ""])
def test_unsupported_algorithm_name(ring: Keyring, ed: KeySigner, alg: str) -> None:
    result = only(check(ring, forge(sign(RESET, ed), ed, set_member("algorithm", alg))))
    assert result.outcome is Outcome.UNSUPPORTED_ALGORITHM
    assert "not supported" in result.reason


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "Ed25519"])
@pytest.mark.parametrize("delta", [-1, 1])
def test_value_of_the_wrong_length_is_malformed(
    ring: Keyring, signers: dict[str, KeySigner], alg: str, delta: int
) -> None:
    def resize(v: list[Any]) -> None:
        sig = v[3]["customData"]["signatures"][0]
        raw = b64url_decode(sig["value"])
        sig["value"] = b64url_encode(raw[:-1] if delta < 0 else raw + b"\x00")

    result = only(check(ring, edit(sign(RESET, signers[alg]), resize)))
    assert result.outcome is Outcome.MALFORMED
    assert f"has {ALGORITHMS[alg].signature_length} bytes" in result.reason


def test_key_id_not_matching_the_embedded_public_key_is_malformed(
    ring: Keyring, p256: KeySigner
) -> None:
    other = KeySigner(generate_private_key("ES256"))
    text = forge(
        sign(RESET, p256), p256, set_member("publicKey", b64url_encode(other.public_key_der))
    )
    result = only(check(ring, text))
    assert result.outcome is Outcome.MALFORMED
    assert "keyId does not match" in result.reason


def test_compressed_p256_public_key_is_malformed(ring: Keyring) -> None:
    key = generate_private_key("ES256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signer = KeySigner(key)
    comp = compressed_spki(key)

    def embed(sig: dict[str, Any]) -> None:
        sig["publicKey"] = b64url_encode(comp)
        sig["keyId"] = key_id(comp)

    result = only(check(ring, forge(sign(RESET, signer), signer, embed)))
    assert result.outcome is Outcome.MALFORMED
    assert "compressed" in result.reason


def test_compressed_p256_key_cannot_enter_a_keyring() -> None:
    key = generate_private_key("ES256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    with pytest.raises(KeyLoadError, match="compressed"):
        Keyring.from_entries([{"publicKey": b64url_encode(compressed_spki(key))}])


def test_small_order_ed25519_public_key_is_malformed(ring: Keyring, ed: KeySigner) -> None:
    small = bytes.fromhex("302a300506032b6570032100") + (1).to_bytes(32, "little")

    def embed(sig: dict[str, Any]) -> None:
        sig["publicKey"] = b64url_encode(small)
        sig["keyId"] = key_id(small)

    result = only(check(ring, forge(sign(RESET, ed), ed, embed)))
    assert result.outcome is Outcome.MALFORMED and "small order" in result.reason


def test_small_order_ed25519_key_cannot_enter_a_keyring() -> None:
    small = bytes.fromhex("302a300506032b6570032100") + (1).to_bytes(32, "little")
    with pytest.raises(KeyLoadError, match="small order"):
        Keyring().add(small)


def test_ed25519_non_canonical_s_is_invalid(ring: Keyring, ed: KeySigner) -> None:
    def malleate(v: list[Any]) -> None:
        sig = v[3]["customData"]["signatures"][0]
        raw = b64url_decode(sig["value"])
        s = int.from_bytes(raw[32:], "little") + ED25519_ORDER
        sig["value"] = b64url_encode(raw[:32] + s.to_bytes(32, "little"))

    assert only(check(ring, edit(sign(RESET, ed), malleate))).outcome is Outcome.INVALID


def test_unknown_key_is_unknown_key(ed: KeySigner) -> None:
    result = only(check(Keyring(), sign(RESET, ed)))
    assert result.outcome is Outcome.UNKNOWN_KEY
    assert "not in the keyring" in result.reason and not result.trusted


def test_bare_embedded_public_key_does_not_make_a_known_signer(ed: KeySigner) -> None:
    verifier = Verifier(Keyring(), max_signature_age=MAX_AGE, clock_skew=SKEW)
    result = verifier.verify_frame(
        sign(RESET, ed, embed_public_key=True), ocpp="2.0.1", station=STATION, now=NOW
    )
    sig = only(list(result.verification.signatures))
    assert sig.outcome is Outcome.UNKNOWN_KEY
    assert "verifies only under its embedded publicKey" in sig.reason
    assert not sig.trusted
    assert result.verification.valid_signers == ()


def test_embedded_public_key_that_does_not_verify_is_still_unknown_key(ed: KeySigner) -> None:
    text = sign(RESET, ed, embed_public_key=True).replace('"Immediate"', '"OnIdle"')
    sig = only(check(Keyring(), text))
    assert sig.outcome is Outcome.UNKNOWN_KEY and "does not verify" in sig.reason


def test_certificates_without_trust_anchors_are_untrusted(
    ring: Keyring, keys_example: Path
) -> None:
    key = load_private_key(keys_example / "csms-operator.key.pem")
    chain = pem_chain_der((keys_example / "csms-operator.chain.pem").read_bytes())
    text = sign(RESET, KeySigner(key, certificates=chain))
    sig = only(check(ring, text))
    assert sig.outcome is Outcome.UNTRUSTED_CERTIFICATE
    assert "no trust anchors" in sig.reason


def test_certificates_are_checked_even_when_the_keyring_has_the_key(keys_example: Path) -> None:
    key = load_private_key(keys_example / "csms-operator.key.pem")
    chain = pem_chain_der((keys_example / "csms-operator.chain.pem").read_bytes())
    ring = Keyring()
    ring.add(key.public_key(), name="ops-1")
    sig = only(check(ring, sign(RESET, KeySigner(key, certificates=chain))))
    assert sig.outcome is Outcome.UNTRUSTED_CERTIFICATE


def test_certificate_of_another_key_is_malformed(
    ring: Keyring, ed: KeySigner, keys_example: Path
) -> None:
    chain = pem_chain_der((keys_example / "csms-operator.chain.pem").read_bytes())
    text = forge(
        sign(RESET, ed),
        ed,
        set_member("certificates", [base64.b64encode(c).decode() for c in chain]),
    )
    sig = only(check(ring, text))
    assert sig.outcome is Outcome.MALFORMED and "leaf certificate" in sig.reason


def test_more_than_four_certificates_are_malformed(
    ring: Keyring, ed: KeySigner, keys_example: Path
) -> None:
    cert = base64.b64encode(
        pem_chain_der((keys_example / "root-ca.crt.pem").read_bytes())[0]
    ).decode()
    text = forge(sign(RESET, ed), ed, set_member("certificates", [cert] * 5))
    assert only(check(ring, text)).outcome is Outcome.MALFORMED


# --------------------------------------------------------------------------- members


@pytest.mark.parametrize("member", ["comment", "kid", "Value", "signature"])
def test_unknown_member_is_malformed(ring: Keyring, ed: KeySigner, member: str) -> None:
    result = only(check(ring, forge(sign(RESET, ed), ed, set_member(member, "x"))))
    assert result.outcome is Outcome.MALFORMED and f"unknown member(s) {member}" in result.reason


@pytest.mark.parametrize("member", ["keyId", "algorithm", "timestamp"])
def test_missing_required_member_is_malformed(ring: Keyring, ed: KeySigner, member: str) -> None:
    result = only(check(ring, forge(sign(RESET, ed), ed, drop_member(member))))
    assert result.outcome is Outcome.MALFORMED and f"{member} is required" in result.reason


def test_missing_value_is_malformed(ring: Keyring, ed: KeySigner) -> None:
    text = edit(sign(RESET, ed), lambda v: v[3]["customData"]["signatures"][0].pop("value"))
    assert only(check(ring, text)).outcome is Outcome.MALFORMED


def test_missing_nonce_on_a_frame_is_malformed(ring: Keyring, ed: KeySigner) -> None:
    result = only(check(ring, forge(sign(RESET, ed), ed, drop_member("nonce"))))
    assert result.outcome is Outcome.MALFORMED and "nonce is required" in result.reason


@pytest.mark.parametrize("size", [0, 11, 33])
def test_nonce_outside_12_to_32_bytes_is_malformed(ring: Keyring, ed: KeySigner, size: int) -> None:
    result = only(
        check(ring, forge(sign(RESET, ed), ed, set_member("nonce", b64url_encode(b"n" * size))))
    )
    assert result.outcome is Outcome.MALFORMED and "12 to 32" in result.reason


@pytest.mark.parametrize("size", [12, 32])
def test_nonce_of_12_and_32_bytes_is_accepted(ring: Keyring, ed: KeySigner, size: int) -> None:
    text = forge(sign(RESET, ed), ed, set_member("nonce", b64url_encode(b"n" * size)))
    assert only(check(ring, text)).outcome is Outcome.VALID


def test_signature_that_is_not_an_object_is_malformed(ring: Keyring) -> None:
    text = '[2, "1", "Reset", {"type": "Immediate", "customData": {"vendorId": "v", "signatures": ["sig"]}}]'
    assert only(check(ring, text)).outcome is Outcome.MALFORMED


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-11-22T10:00:00+00:00",
        "2026-11-22T10:00:00.0Z",
        "2026-11-22T10:00:00.000000Z",
        "2026-11-22 10:00:00Z",
        "2026-11-22T10:00:00z",
        "2026-02-30T10:00:00Z",
        "2026-11-22T24:00:00Z",
    ],
)
def test_timestamp_not_in_the_spec_form_is_malformed(
    ring: Keyring, ed: KeySigner, timestamp: str
) -> None:
    result = only(check(ring, forge(sign(RESET, ed), ed, set_member("timestamp", timestamp))))
    assert result.outcome is Outcome.MALFORMED and "timestamp" in result.reason


@pytest.mark.parametrize(
    ("member", "bad"),
    [
        ("name", "x" * 257),
        ("name", 5),
        ("description", {"en": "x" * 257}),
        ("description", "text"),
        ("destination", 7),
        ("publicKey", 1),
    ],
)
def test_optional_member_of_the_wrong_form_is_malformed(
    ring: Keyring, ed: KeySigner, member: str, bad: Any
) -> None:
    assert (
        only(check(ring, forge(sign(RESET, ed), ed, set_member(member, bad)))).outcome
        is Outcome.MALFORMED
    )


def test_signatures_in_both_carriers_are_malformed(ring: Keyring, ed: KeySigner) -> None:
    def both(v: list[Any]) -> None:
        v[3]["signatures"] = v[3]["customData"]["signatures"]

    results = check(ring, edit(sign(RESET, ed), both))
    assert results and all(r.outcome is Outcome.MALFORMED for r in results)
    assert "both at top level and in customData" in results[0].reason


def test_signatures_in_both_carriers_of_error_details_are_malformed(
    ring: Keyring, ed: KeySigner
) -> None:
    def both(v: list[Any]) -> None:
        v[4]["customData"] = {"vendorId": "org.ocpp-e2e", "signatures": v[4]["signatures"]}

    text = edit(sign('[4, "42", "SecurityError", "no", {}]', ed, call=RESET), both)
    results = check(ring, text, call=pending())
    assert results and all(r.outcome is Outcome.MALFORMED for r in results)


# --------------------------------------------------------------------------- non-canonical base64url


def _trailing_bits(text: str) -> str:
    """The same bytes spelled with non-zero unused bits in the last character (if it has any)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spare = {2: 4, 3: 2}.get(len(text) % 4, 0)
    assert spare, "this length has no unused bits"
    last = alphabet.index(text[-1])
    return text[:-1] + alphabet[last | 1]


@pytest.mark.parametrize("kind", ["padding", "foreign", "trailing"])
def test_non_canonical_base64url_value_is_malformed(
    ring: Keyring, ed: KeySigner, kind: str
) -> None:
    def spoil(v: list[Any]) -> None:
        sig = v[3]["customData"]["signatures"][0]
        sig["value"] = _spoil(sig["value"], kind)

    result = only(check(ring, edit(sign(RESET, ed), spoil)))
    assert result.outcome is Outcome.MALFORMED and result.reason.startswith("value:")


@pytest.mark.parametrize("kind", ["padding", "foreign", "trailing"])
def test_non_canonical_base64url_key_id_is_malformed(
    ring: Keyring, ed: KeySigner, kind: str
) -> None:
    text = forge(sign(RESET, ed), ed, lambda sig: sig.update(keyId=_spoil(sig["keyId"], kind)))
    result = only(check(ring, text))
    assert result.outcome is Outcome.MALFORMED and result.reason.startswith("keyId:")


@pytest.mark.parametrize("kind", ["padding", "foreign", "trailing"])
def test_non_canonical_base64url_nonce_is_malformed(
    ring: Keyring, ed: KeySigner, kind: str
) -> None:
    text = forge(sign(RESET, ed), ed, lambda sig: sig.update(nonce=_spoil(sig["nonce"], kind)))
    result = only(check(ring, text))
    assert result.outcome is Outcome.MALFORMED and result.reason.startswith("nonce:")


@pytest.mark.parametrize("kind", ["padding", "foreign", "trailing"])
def test_non_canonical_base64url_public_key_is_malformed(
    ring: Keyring, p256: KeySigner, kind: str
) -> None:
    text = forge(
        sign(RESET, p256, embed_public_key=True),
        p256,
        lambda sig: sig.update(publicKey=_spoil(sig["publicKey"], kind)),
    )
    result = only(check(ring, text))
    assert result.outcome is Outcome.MALFORMED and "publicKey" in result.reason


def _spoil(text: str, kind: str) -> str:
    if kind == "padding":
        return text + "=" * (-len(text) % 4 or 4)
    if kind == "foreign":
        return text[:-2] + "+" + text[-1]
    return _trailing_bits(text)


def test_key_id_of_the_wrong_length_is_malformed(ring: Keyring, ed: KeySigner) -> None:
    text = forge(sign(RESET, ed), ed, set_member("keyId", b64url_encode(b"k" * 31)))
    result = only(check(ring, text))
    assert result.outcome is Outcome.MALFORMED and "43 characters" in result.reason


# --------------------------------------------------------------------------- time


@pytest.mark.parametrize(
    ("offset", "outcome"),
    [
        (MAX_AGE + SKEW, Outcome.VALID),
        (MAX_AGE + SKEW + timedelta(milliseconds=1), Outcome.EXPIRED),
        (timedelta(hours=3), Outcome.EXPIRED),
        (-SKEW, Outcome.VALID),
        (-SKEW - timedelta(milliseconds=1), Outcome.EXPIRED),
        (-timedelta(days=1), Outcome.EXPIRED),
        (timedelta(0), Outcome.VALID),
    ],
)
def test_freshness_window_boundaries(
    ring: Keyring, ed: KeySigner, offset: timedelta, outcome: Outcome
) -> None:
    """fresh iff now − maxSignatureAge − clockSkew ≤ timestamp ≤ now + clockSkew (SPEC §4)."""
    result = only(check(ring, sign(RESET, ed), now=NOW + offset))
    assert result.outcome is outcome


def test_stale_signature_reason(ring: Keyring, ed: KeySigner) -> None:
    result = only(check(ring, sign(RESET, ed), now=NOW + timedelta(hours=1)))
    assert result.outcome is Outcome.EXPIRED and "older than maxSignatureAge" in result.reason


def test_future_signature_reason(ring: Keyring, ed: KeySigner) -> None:
    result = only(check(ring, sign(RESET, ed), now=NOW - timedelta(hours=1)))
    assert result.outcome is Outcome.EXPIRED and "later than now" in result.reason


def test_expired_is_reported_only_for_a_verifying_signature(ring: Keyring, ed: KeySigner) -> None:
    text = sign(RESET, ed).replace('"Immediate"', '"OnIdle"')
    assert only(check(ring, text, now=NOW + timedelta(hours=1))).outcome is Outcome.INVALID


# --------------------------------------------------------------------------- destination


def test_wrong_destination(ring: Keyring, ed: KeySigner) -> None:
    result = only(check(ring, sign(RESET, ed, destination="cs-0002"), identity="cs-0001"))
    assert result.outcome is Outcome.WRONG_DESTINATION
    assert "addressed to 'cs-0002'" in result.reason


def test_destination_without_a_configured_receiver_is_wrong_destination(
    ring: Keyring, ed: KeySigner
) -> None:
    result = only(check(ring, sign(RESET, ed, destination="cs-0001")))
    assert result.outcome is Outcome.WRONG_DESTINATION and "not configured" in result.reason


# --------------------------------------------------------------------------- input limits (SPEC §2)


def test_duplicate_json_members_in_a_signed_frame_are_refused(ring: Keyring, ed: KeySigner) -> None:
    text = sign(RESET, ed)
    assert '"type":"Immediate"' in text
    text = text.replace('"type":"Immediate"', '"type":"OnIdle","type":"Immediate"')
    with pytest.raises(IJSONError, match="duplicate member name"):
        check(ring, text)


def test_duplicate_members_inside_a_signature_are_refused(ring: Keyring, ed: KeySigner) -> None:
    text = sign(RESET, ed).replace(
        '"algorithm":"Ed25519"', '"algorithm":"ES256","algorithm":"Ed25519"'
    )
    with pytest.raises(IJSONError, match="duplicate member name"):
        check(ring, text)


def test_nesting_of_32_in_a_signed_frame_is_accepted(ring: Keyring, ed: KeySigner) -> None:
    deep = "[" * 30 + "1" + "]" * 30
    text = sign('[2, "1", "DataTransfer", {"vendorId": "x", "data": ' + deep + "}]", ed)
    assert only(check(ring, text)).outcome is Outcome.VALID


def test_more_than_16_signatures_are_refused(ring: Keyring, ed: KeySigner) -> None:
    sig = json.loads(sign(RESET, ed))[3]["customData"]["signatures"][0]
    text = json.dumps(
        [
            2,
            "1",
            "Reset",
            {"type": "Immediate", "customData": {"vendorId": "v", "signatures": [sig] * 17}},
        ]
    )
    with pytest.raises(InputError, match="17 signatures on one object; at most 16"):
        check(ring, text)


def test_16_signatures_are_accepted(ring: Keyring, ed: KeySigner) -> None:
    text = sign(RESET, [ed] * 16)
    assert [r.outcome for r in check(ring, text)] == [Outcome.VALID] * 16


def test_more_than_16_signatures_on_a_structure_are_refused(ring: Keyring, ed: KeySigner) -> None:
    ctx = structure_context("Tariff")
    sig = sign_object({"a": 1}, ed, context=ctx, timestamp=NOW)["signatures"][0]
    with pytest.raises(InputError, match="at most 16"):
        Verifier(ring).verify_object({"a": 1, "signatures": [sig] * 17}, context=ctx, now=NOW)


def test_frame_over_one_mebibyte_is_refused(ring: Keyring, ed: KeySigner) -> None:
    text = sign('[2, "1", "DataTransfer", {"vendorId": "x", "data": "X"}]', ed)
    text = text.replace('"X"', '"' + "a" * MAX_BYTES + '"')
    with pytest.raises(IJSONError, match="exceeds the limit"):
        check(ring, text)


def test_frame_over_one_mebibyte_is_not_signed(ed: KeySigner) -> None:
    with pytest.raises(IJSONError, match="exceeds the limit"):
        sign('[2, "1", "DataTransfer", {"vendorId": "x", "data": "' + "a" * MAX_BYTES + '"}]', ed)


def test_nesting_deeper_than_32_in_a_frame_is_refused(ring: Keyring) -> None:
    # frame array (1) > payload object (2) > 31 arrays (3..33)
    deep = "[" * 31 + "1" + "]" * 31
    text = '[2, "1", "DataTransfer", {"vendorId": "x", "data": ' + deep + "}]"
    with pytest.raises(IJSONError, match="nesting deeper than 32"):
        check(ring, text)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'\xef\xbb\xbf[2, "1", "Heartbeat", {}]', "byte-order mark"),
        (b'[2, "1", "DataTransfer", {"vendorId": "\xff"}]', "invalid UTF-8"),
        (b'[2, "1", "DataTransfer", {"vendorId": "\\udc00"}]', "lone surrogate"),
        (b'[2, "1", "DataTransfer", {"vendorId": "x", "data": NaN}]', "NaN is not JSON"),
        (
            b'[2, "1", "DataTransfer", {"vendorId": "x", "data": 4199.99999999999999999}]',
            "does not survive a double",
        ),
        (b'[2, "1", "DataTransfer", {"vendorId": "x", "data": 1e400}]', "beyond the range"),
        (b'[2, "1", "DataTransfer", {"vendorId": "x", "data": 9007199254740993}]', "beyond"),
        (b'[2, "1", "Heartbeat", {}', "truncated"),
        (b"not json", "unexpected character"),
    ],
)
def test_frames_that_are_not_i_json_get_no_verdict(ring: Keyring, data: bytes, reason: str) -> None:
    with pytest.raises(IJSONError, match=reason):
        check(ring, data)


def _secp256k1_signed_frame(now: datetime) -> tuple[str, bytes, bytes]:
    """A Reset signed with a secp256k1 key (not a SPEC algorithm) under a demo-like root."""
    import json as _json
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    from cryptography.x509.oid import NameOID

    from ocpp_e2e._b64 import b64_encode, b64url_encode
    from ocpp_e2e.keys import generate_private_key, key_id, spki_der
    from ocpp_e2e.pki import create_root
    from ocpp_e2e.pki.usages import USAGE_OIDS

    root_key = generate_private_key("ES256")
    root = create_root(root_key, "root", valid_for=timedelta(days=2), not_before=datetime.now(UTC).replace(microsecond=0))
    k1 = ec.generate_private_key(ec.SECP256K1())
    # The PKI refuses to certify such a key, so build the certificate by hand (another CA's).
    start = root.certificate.not_valid_before_utc
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "odd-1")]))
        .issuer_name(root.certificate.subject)
        .public_key(k1.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([USAGE_OIDS["csmsOperator"]]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier("urn:ocpp-e2e:odd-1")]),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    sig = {
        "keyId": key_id(spki_der(k1.public_key())),
        "algorithm": "ES256",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "nonce": b64url_encode(b"0123456789abcdef"),
        "certificates": [b64_encode(leaf.public_bytes(serialization.Encoding.DER))],
    }
    r, s_ = decode_dss_signature(k1.sign(b"x", ec.ECDSA(hashes.SHA256())))
    sig["value"] = b64url_encode(r.to_bytes(32, "big") + s_.to_bytes(32, "big"))
    payload = {"type": "Immediate", "customData": {"vendorId": "org.ocpp-e2e", "signatures": [sig]}}
    root_der = root.certificate.public_bytes(serialization.Encoding.DER)
    return _json.dumps([2, "1", "Reset", payload]), root_der, spki_der(k1.public_key())


def test_a_chain_whose_leaf_key_is_no_spec_key_is_untrusted() -> None:
    from datetime import UTC, datetime

    from ocpp_e2e.model import Outcome
    from ocpp_e2e.pki import ChainValidator
    from ocpp_e2e.verify import Verifier

    now = datetime.now(UTC)
    frame, root_der, _ = _secp256k1_signed_frame(now)
    result = Verifier(certificates=ChainValidator([root_der])).verify_frame(
        frame, ocpp="2.0.1", station="cs-1", now=now
    )
    (only,) = result.verification.signatures
    assert only.outcome is Outcome.UNTRUSTED_CERTIFICATE
    assert "unsupported curve secp256k1" in only.reason


def test_a_validator_that_vouches_for_a_non_spec_leaf_key_yields_malformed_not_a_crash() -> None:
    # CertificateValidator is pluggable; whatever it says, the verifier needs a SPEC key.
    from collections.abc import Sequence
    from datetime import UTC, datetime

    from ocpp_e2e.model import ChainResult, Outcome
    from ocpp_e2e.verify import Verifier

    now = datetime.now(UTC)
    frame, _, leaf_spki = _secp256k1_signed_frame(now)

    class Lenient:
        def validate(self, chain: Sequence[bytes], *, at: datetime, now: datetime) -> ChainResult:
            return ChainResult(True, "ok", leaf_spki, "odd-1", frozenset({"csmsOperator"}), ())

    result = Verifier(certificates=Lenient()).verify_frame(
        frame, ocpp="2.0.1", station="cs-1", now=now
    )
    (only,) = result.verification.signatures
    assert only.outcome is Outcome.MALFORMED
    assert "leaf certificate's key" in only.reason and "secp256k1" in only.reason
