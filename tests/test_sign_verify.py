"""Round trips sign -> verify (SPEC §1, §3, §4): every algorithm, every message type, both
carriers, parallel and chained signatures, and structures."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpp_e2e.canonical import dumps, loads
from ocpp_e2e.context import VENDOR_ID, PendingCall, structure_context
from ocpp_e2e.frames import parse_frame
from ocpp_e2e.keys import ALGORITHMS, Keyring, KeySigner, load_private_key
from ocpp_e2e.model import Outcome
from ocpp_e2e.pki import ChainValidator, pem_chain_der
from ocpp_e2e.sign import sign_frame, sign_object
from ocpp_e2e.verify import FrameVerification, Verifier

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
STATION = "CS-0001"
RESET = '[2, "19223201", "Reset", {"type": "Immediate", "evseId": 1}]'
RESET_RESULT = '[3, "19223201", {"status": "Accepted"}]'
RESET_ERROR = '[4, "19223201", "SecurityError", "refused", {"reason": "no signature"}]'
RESET_RESULT_ERROR = '[5, "19223201", "InternalError", "failed later", {}]'
SEND = '[6, "77", "NotifyPeriodicEventStream", {"id": 1, "pending": 0, "basetime": "2026-11-22T10:00:00Z", "data": [{"t": 0, "v": "1.5"}]}]'
ALGS = list(ALGORITHMS)
_SURROGATES: tuple[Literal["Cs"]] = ("Cs",)


@pytest.fixture(scope="module")
def ring(signers: dict[str, KeySigner]) -> Keyring:
    ring = Keyring()
    for alg, signer in signers.items():
        ring.add(signer.public_key_der, name=f"signer-{alg.lower()}", roles=["csms-admin"])
    return ring


def verifier(ring: Keyring, **kwargs: Any) -> Verifier:
    return Verifier(ring, **kwargs)


def outcomes(result: FrameVerification) -> list[Outcome]:
    return [s.outcome for s in result.verification.signatures]


def sign(
    frame: str, signer: KeySigner | list[KeySigner], ocpp: str = "2.0.1", **kwargs: Any
) -> str:
    return sign_frame(frame, signer, ocpp=ocpp, station=STATION, timestamp=NOW, **kwargs)


def pending(call: str, ocpp: str = "2.0.1") -> PendingCall:
    return PendingCall.of(parse_frame(call, ocpp=ocpp))


# --------------------------------------------------------------------------- every algorithm and type


@pytest.mark.parametrize("alg", ALGS)
@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1", "2.1"])
def test_call_round_trip(signers: dict[str, KeySigner], ring: Keyring, alg: str, ocpp: str) -> None:
    text = sign(RESET, signers[alg], ocpp)
    result = verifier(ring).verify_frame(text, ocpp=ocpp, station=STATION, now=NOW)
    assert outcomes(result) == [Outcome.VALID]
    sig = result.verification.signatures[0]
    assert (sig.algorithm, sig.identity, sig.trusted) == (alg, f"signer-{alg.lower()}", True)
    assert result.verification.context == {
        "ocpp": ocpp,
        "station": "cs-0001",
        "action": "Reset",
        "kind": "request",
    }


@pytest.mark.parametrize("alg", ALGS)
@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1", "2.1"])
def test_callresult_round_trip(
    signers: dict[str, KeySigner], ring: Keyring, alg: str, ocpp: str
) -> None:
    text = sign(RESET_RESULT, signers[alg], ocpp, call=RESET)
    result = verifier(ring).verify_frame(
        text, ocpp=ocpp, station=STATION, call=pending(RESET, ocpp), now=NOW
    )
    assert outcomes(result) == [Outcome.VALID]
    ctx = result.verification.context
    assert (ctx["kind"], ctx["action"], ctx["request"]) == (
        "response",
        "Reset",
        pending(RESET, ocpp).request,
    )


@pytest.mark.parametrize("alg", ALGS)
@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1", "2.1"])
def test_callerror_round_trip(
    signers: dict[str, KeySigner], ring: Keyring, alg: str, ocpp: str
) -> None:
    text = sign(RESET_ERROR, signers[alg], ocpp, call=RESET)
    value = json.loads(text)
    assert "signatures" in value[4] and value[4]["reason"] == "no signature"
    result = verifier(ring).verify_frame(
        text, ocpp=ocpp, station=STATION, call=pending(RESET, ocpp), now=NOW
    )
    assert outcomes(result) == [Outcome.VALID]
    assert result.verification.context["kind"] == "error"
    assert result.verification.payload == {
        "errorCode": "SecurityError",
        "errorDescription": "refused",
        "errorDetails": {"reason": "no signature"},
    }


@pytest.mark.parametrize("alg", ALGS)
def test_callresulterror_round_trip(signers: dict[str, KeySigner], ring: Keyring, alg: str) -> None:
    text = sign(RESET_RESULT_ERROR, signers[alg], "2.1", call=RESET)
    result = verifier(ring).verify_frame(
        text, ocpp="2.1", station=STATION, call=pending(RESET, "2.1"), now=NOW
    )
    assert outcomes(result) == [Outcome.VALID]
    assert result.verification.context["kind"] == "resultError"


@pytest.mark.parametrize("alg", ALGS)
def test_send_round_trip(signers: dict[str, KeySigner], ring: Keyring, alg: str) -> None:
    text = sign(SEND, signers[alg], "2.1")
    result = verifier(ring).verify_frame(text, ocpp="2.1", station=STATION, now=NOW)
    assert outcomes(result) == [Outcome.VALID]
    assert result.verification.context["kind"] == "send"


# --------------------------------------------------------------------------- carriers


@pytest.mark.parametrize("ocpp", ["2.0.1", "2.1"])
def test_2x_payload_signatures_go_to_custom_data(
    signers: dict[str, KeySigner], ring: Keyring, ocpp: str
) -> None:
    value = json.loads(sign(RESET, signers["Ed25519"], ocpp))
    payload = value[3]
    assert "signatures" not in payload
    assert payload["customData"]["vendorId"] == VENDOR_ID
    assert len(payload["customData"]["signatures"]) == 1
    result = verifier(ring).verify_frame(json.dumps(value), ocpp=ocpp, station=STATION, now=NOW)
    assert result.verification.carrier == "customData"
    assert result.verification.payload == {"type": "Immediate", "evseId": 1}


def test_16_payload_signatures_go_to_top_level(
    signers: dict[str, KeySigner], ring: Keyring
) -> None:
    payload = json.loads(sign(RESET, signers["Ed25519"], "1.6"))[3]
    assert "customData" not in payload and len(payload["signatures"]) == 1
    result = verifier(ring).verify_frame(
        sign(RESET, signers["Ed25519"], "1.6"), ocpp="1.6", station=STATION, now=NOW
    )
    assert result.verification.carrier == "top"


def test_existing_custom_data_is_kept_and_signed(
    signers: dict[str, KeySigner], ring: Keyring
) -> None:
    frame = (
        '[2, "1", "Reset", {"type": "OnIdle", "customData": {"vendorId": "com.acme", "site": 7}}]'
    )
    value = json.loads(sign(frame, signers["ES256"]))
    custom = value[3]["customData"]
    assert (custom["vendorId"], custom["site"], len(custom["signatures"])) == ("com.acme", 7, 1)
    result = verifier(ring).verify_frame(json.dumps(value), ocpp="2.0.1", station=STATION, now=NOW)
    assert outcomes(result) == [Outcome.VALID]
    assert result.verification.payload == {
        "type": "OnIdle",
        "customData": {"vendorId": "com.acme", "site": 7},
    }
    value[3]["customData"]["site"] = 8
    changed = verifier(ring).verify_frame(json.dumps(value), ocpp="2.0.1", station=STATION, now=NOW)
    assert outcomes(changed) == [Outcome.INVALID]


def test_signed_frame_text_is_canonical_json(signers: dict[str, KeySigner]) -> None:
    text = sign('[2,  "1", "Reset", {"type": "Immediate", "evseId": 1.0}]', signers["Ed25519"])
    assert dumps(loads(text)).decode() == text


def test_signature_members_on_a_frame(signers: dict[str, KeySigner]) -> None:
    sig = json.loads(sign(RESET, signers["ES384"], destination="csms-1"))[3]["customData"][
        "signatures"
    ][0]
    assert set(sig) == {"keyId", "algorithm", "timestamp", "nonce", "destination", "value"}
    assert sig["timestamp"] == "2026-11-22T10:00:00.000Z"
    assert sig["keyId"] == signers["ES384"].key_id


def test_a_verifier_reads_both_carriers(signers: dict[str, KeySigner], ring: Keyring) -> None:
    """A 1.6-style top-level signature on a 2.0.1 payload is found as well (SPEC §1)."""
    ctx = {"ocpp": "2.0.1", "station": "cs-0001", "action": "Reset", "kind": "request"}
    payload = sign_object(
        {"type": "Immediate"},
        signers["Ed25519"],
        context=ctx,
        carrier="top",
        nonce=True,
        timestamp=NOW,
    )
    text = json.dumps([2, "1", "Reset", payload])
    result = verifier(ring).verify_frame(text, ocpp="2.0.1", station=STATION, now=NOW)
    assert outcomes(result) == [Outcome.VALID] and result.verification.carrier == "top"


def test_unsigned_frame_has_no_signatures(ring: Keyring) -> None:
    result = verifier(ring).verify_frame(RESET, ocpp="2.0.1", station=STATION, now=NOW)
    assert result.verification.signatures == () and not result.verification.signed
    assert not result.verification.all_valid


# --------------------------------------------------------------------------- several signatures


def test_parallel_signatures_of_every_algorithm(
    signers: dict[str, KeySigner], ring: Keyring
) -> None:
    text = sign(RESET, [signers[a] for a in ALGS])
    result = verifier(ring).verify_frame(text, ocpp="2.0.1", station=STATION, now=NOW)
    assert outcomes(result) == [Outcome.VALID] * len(ALGS)
    assert [s.identity for s in result.verification.valid_signers] == [
        f"signer-{a.lower()}" for a in ALGS
    ]


def test_a_second_signer_adds_to_the_existing_signatures(
    signers: dict[str, KeySigner], ring: Keyring
) -> None:
    once = sign(RESET, signers["Ed25519"])
    twice = sign(once, signers["ES256"])
    value = json.loads(twice)
    assert len(value[3]["customData"]["signatures"]) == 2
    result = verifier(ring).verify_frame(twice, ocpp="2.0.1", station=STATION, now=NOW)
    assert outcomes(result) == [Outcome.VALID, Outcome.VALID]


def test_parallel_signature_stays_valid_when_another_is_removed(
    signers: dict[str, KeySigner], ring: Keyring
) -> None:
    value = json.loads(sign(RESET, [signers["Ed25519"], signers["ES256"]]))
    del value[3]["customData"]["signatures"][0]
    result = verifier(ring).verify_frame(json.dumps(value), ocpp="2.0.1", station=STATION, now=NOW)
    assert outcomes(result) == [Outcome.VALID]


def test_chained_signature_of_a_relay(signers: dict[str, KeySigner], ring: Keyring) -> None:
    original = sign(RESET, signers["ES256"])
    relayed = sign(original, signers["Ed25519"], chained=True)
    sigs = json.loads(relayed)[3]["customData"]["signatures"]
    assert "chained" not in sigs[0] and sigs[1]["chained"] is True
    result = verifier(ring).verify_frame(relayed, ocpp="2.0.1", station=STATION, now=NOW)
    assert outcomes(result) == [Outcome.VALID, Outcome.VALID]
    assert [s.chained for s in result.verification.signatures] == [False, True]


def test_chain_of_three_relays(signers: dict[str, KeySigner], ring: Keyring) -> None:
    text = sign(RESET, signers["ES512"])
    for alg in ("ES384", "ES256", "Ed25519"):
        text = sign(text, signers[alg], chained=True)
    result = verifier(ring).verify_frame(text, ocpp="2.0.1", station=STATION, now=NOW)
    assert outcomes(result) == [Outcome.VALID] * 4


def test_chained_signature_of_a_callresult(signers: dict[str, KeySigner], ring: Keyring) -> None:
    text = sign(RESET_RESULT, signers["ES256"], call=RESET)
    text = sign(text, signers["Ed25519"], call=RESET, chained=True)
    result = verifier(ring).verify_frame(
        text, ocpp="2.0.1", station=STATION, call=pending(RESET), now=NOW
    )
    assert outcomes(result) == [Outcome.VALID, Outcome.VALID]


def test_chained_signature_on_a_callerror(signers: dict[str, KeySigner], ring: Keyring) -> None:
    text = sign(RESET_ERROR, signers["ES256"], call=RESET)
    text = sign(text, signers["ES384"], call=RESET, chained=True)
    assert len(json.loads(text)[4]["signatures"]) == 2
    result = verifier(ring).verify_frame(
        text, ocpp="2.0.1", station=STATION, call=pending(RESET), now=NOW
    )
    assert outcomes(result) == [Outcome.VALID, Outcome.VALID]


def test_a_parallel_signature_added_after_a_chained_one_keeps_it_valid(
    signers: dict[str, KeySigner], ring: Keyring
) -> None:
    text = sign(sign(RESET, signers["ES256"]), signers["Ed25519"], chained=True)
    text = sign(text, signers["ES384"])
    result = verifier(ring).verify_frame(text, ocpp="2.0.1", station=STATION, now=NOW)
    assert outcomes(result) == [Outcome.VALID] * 3


def test_the_same_key_signing_twice_counts_once(
    signers: dict[str, KeySigner], ring: Keyring
) -> None:
    text = sign(sign(RESET, signers["ES256"]), signers["ES256"])
    result = verifier(ring).verify_frame(text, ocpp="2.0.1", station=STATION, now=NOW)
    assert outcomes(result) == [Outcome.VALID, Outcome.VALID]
    assert len(result.verification.valid_signers) == 1


# --------------------------------------------------------------------------- optional members


def test_embedded_public_key_of_a_known_key_is_valid(
    signers: dict[str, KeySigner], ring: Keyring
) -> None:
    text = sign(RESET, signers["ES256"], embed_public_key=True)
    assert "publicKey" in json.loads(text)[3]["customData"]["signatures"][0]
    result = verifier(ring).verify_frame(text, ocpp="2.0.1", station=STATION, now=NOW)
    assert outcomes(result) == [Outcome.VALID]


def test_destination_for_this_receiver_is_valid(
    signers: dict[str, KeySigner], ring: Keyring
) -> None:
    text = sign(RESET, signers["ES256"], destination="cs-0001")
    result = verifier(ring, identity="cs-0001").verify_frame(
        text, ocpp="2.0.1", station=STATION, now=NOW
    )
    assert outcomes(result) == [Outcome.VALID]
    assert result.verification.signatures[0].destination == "cs-0001"


def test_claimed_name_is_reported_but_not_the_identity(
    signers: dict[str, KeySigner], ring: Keyring
) -> None:
    text = sign(RESET, signers["ES256"], name="The Boss")
    sig = (
        verifier(ring)
        .verify_frame(text, ocpp="2.0.1", station=STATION, now=NOW)
        .verification.signatures[0]
    )
    assert sig.outcome is Outcome.VALID
    assert (sig.claimed_name, sig.identity) == ("The Boss", "signer-es256")


def test_station_identity_is_compared_ascii_case_insensitively(
    signers: dict[str, KeySigner], ring: Keyring
) -> None:
    text = sign_frame(RESET, signers["Ed25519"], ocpp="2.0.1", station="Cs-0001", timestamp=NOW)
    result = verifier(ring).verify_frame(text, ocpp="2.0.1", station="cS-0001", now=NOW)
    assert outcomes(result) == [Outcome.VALID]


def test_verification_can_start_from_a_parsed_frame(
    signers: dict[str, KeySigner], ring: Keyring
) -> None:
    frame = parse_frame(sign(RESET, signers["ES256"]))
    assert outcomes(verifier(ring).verify_frame(frame, ocpp="2.0.1", station=STATION, now=NOW)) == [
        Outcome.VALID
    ]


def test_frame_given_as_a_list_is_signed(signers: dict[str, KeySigner], ring: Keyring) -> None:
    text = sign_frame(
        json.loads(RESET), signers["ES256"], ocpp="2.0.1", station=STATION, timestamp=NOW
    )
    assert outcomes(verifier(ring).verify_frame(text, ocpp="2.0.1", station=STATION, now=NOW)) == [
        Outcome.VALID
    ]


def test_verification_result_as_json(signers: dict[str, KeySigner], ring: Keyring) -> None:
    text = sign(RESET, signers["Ed25519"])
    out = (
        verifier(ring)
        .verify_frame(text, ocpp="2.0.1", station=STATION, now=NOW)
        .verification.to_dict()
    )
    assert out["signers"] == ["signer-ed25519"] and out["signatures"][0]["outcome"] == "valid"
    json.dumps(out)


# --------------------------------------------------------------------------- structures (SPEC §6)


@pytest.mark.parametrize("alg", ALGS)
def test_structure_round_trip(signers: dict[str, KeySigner], ring: Keyring, alg: str) -> None:
    ctx = structure_context("SignaturePolicy")
    doc = {"type": "SignaturePolicy", "id": "p", "version": 1, "limit": 4200.5}
    signed = sign_object(doc, signers[alg], context=ctx, timestamp=NOW, description={"en": "test"})
    assert signed["signatures"][0]["description"] == {"en": "test"}
    result = verifier(ring).verify_object(signed, context=ctx, now=NOW)
    assert [s.outcome for s in result.signatures] == [Outcome.VALID]
    assert result.payload == doc
    text = json.dumps(signed)
    assert [
        s.outcome for s in verifier(ring).verify_object(text, context=ctx, now=NOW).signatures
    ] == [Outcome.VALID]


def test_structure_in_custom_data_carrier(signers: dict[str, KeySigner], ring: Keyring) -> None:
    ctx = structure_context("Tariff")
    tariff = {"tariffId": "t-1", "currency": "EUR"}
    signed = sign_object(
        tariff, signers["Ed25519"], context=ctx, carrier="customData", timestamp=NOW
    )
    assert signed["customData"]["vendorId"] == VENDOR_ID
    result = verifier(ring).verify_object(signed, context=ctx, now=NOW)
    assert [s.outcome for s in result.signatures] == [Outcome.VALID] and result.payload == tariff


def test_structures_have_no_freshness_window(signers: dict[str, KeySigner], ring: Keyring) -> None:
    ctx = structure_context("Tariff")
    signed = sign_object(
        {"tariffId": "t"}, signers["ES256"], context=ctx, timestamp=datetime(2020, 1, 1, tzinfo=UTC)
    )
    assert [
        s.outcome for s in verifier(ring).verify_object(signed, context=ctx, now=NOW).signatures
    ] == [Outcome.VALID]


# --------------------------------------------------------------------------- certificates


def test_signature_with_a_certificate_chain_under_a_trust_anchor(keys_example: Path) -> None:
    key = load_private_key(keys_example / "csms-operator.key.pem")
    chain = pem_chain_der((keys_example / "csms-operator.chain.pem").read_bytes())
    signer = KeySigner(key, certificates=chain)
    text = sign(RESET, signer)
    validator = ChainValidator(pem_chain_der((keys_example / "root-ca.crt.pem").read_bytes()))
    result = Verifier(Keyring(), certificates=validator).verify_frame(
        text, ocpp="2.0.1", station=STATION, now=NOW
    )
    sig = result.verification.signatures[0]
    assert sig.outcome is Outcome.VALID and sig.trusted
    assert sig.identity is not None and "csmsOperator" in sig.usages


def test_chained_signature_after_signatures_with_a_non_bmp_sorted_description(
    signers: dict[str, KeySigner], ring: Keyring
) -> None:
    """Description keys U+FB33 and U+1F602 sort differently in UTF-8 and in UTF-16 (RFC 8785)."""
    ctx = structure_context("Tariff")
    doc = sign_object({"tariffId": "t"}, signers["ES256"], context=ctx, timestamp=NOW)
    doc = sign_object(
        doc,
        [signers["ES384"], signers["Ed25519"]],
        context=ctx,
        chained=True,
        timestamp=NOW,
        description={"\ufb33": "dalet", "\U0001f602": "smiley"},
    )
    result = verifier(ring).verify_object(doc, context=ctx, now=NOW)
    assert [s.outcome for s in result.signatures] == [Outcome.VALID] * 3


# --------------------------------------------------------------------------- property: any payload

_KEYS = st.text(
    st.one_of(
        st.characters(exclude_categories=_SURROGATES),
        st.sampled_from(["\ue000", "\ufb33", "\U0001f602", "\x00", '"', "é"]),
    ),
    max_size=5,
)
_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _KEYS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_KEYS, children, max_size=3),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=_VALUES, ascii_only=st.booleans(), indent=st.sampled_from([None, 1]))
def test_any_json_payload_signed_verifies_in_any_spelling(
    signers: dict[str, KeySigner], ring: Keyring, data: Any, ascii_only: bool, indent: int | None
) -> None:
    frame = json.dumps(
        [2, "1", "DataTransfer", {"vendorId": "\ufb33", "data": data}], ensure_ascii=False
    )
    signed = sign(frame, [signers["Ed25519"], signers["ES256"]])
    signed = sign(signed, signers["ES384"], chained=True)
    respelled = json.dumps(json.loads(signed), ensure_ascii=ascii_only, indent=indent)
    for text in (signed, respelled):
        result = verifier(ring).verify_frame(text, ocpp="2.0.1", station=STATION, now=NOW)
        assert outcomes(result) == [Outcome.VALID] * 3


@pytest.mark.parametrize("literal", ["1e16", "9007199254740992.0", "-1.5e300", "1e21"])
def test_frame_with_a_large_integral_double_stays_verifiable(
    signers: dict[str, KeySigner], ring: Keyring, literal: str
) -> None:
    """RFC 8785 would write 1e16 as 10000000000000000, an integer literal SPEC §2 refuses."""
    text = sign(
        f'[2, "1", "DataTransfer", {{"vendorId": "x", "data": {literal}}}]', signers["Ed25519"]
    )
    result = verifier(ring).verify_frame(text, ocpp="2.0.1", station=STATION, now=NOW)
    assert outcomes(result) == [Outcome.VALID]


def test_a_long_digit_run_inside_a_string_keeps_the_canonical_wire_form(
    signers: dict[str, KeySigner], ring: Keyring
) -> None:
    text = sign(
        '[2, "1", "Authorize", {"idToken": {"idToken": "12345678901234567890", "type": "ISO14443"}}]',
        signers["Ed25519"],
    )
    assert text.encode() == dumps(loads(text))
    result = verifier(ring).verify_frame(text, ocpp="2.0.1", station=STATION, now=NOW)
    assert outcomes(result) == [Outcome.VALID]
