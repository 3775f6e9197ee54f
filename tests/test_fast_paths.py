"""The shortcuts of the strict reader, the RFC 8785 writer and the signer (issue 16) refuse and
write exactly what the precise code does: literals read one by one, member names reordered by
UTF-16 in the objects concerned only, and the signed frame assembled from its members' forms."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpp_e2e.canonical import _dumps_parsed, _fast, parse
from ocpp_e2e.errors import IJSONError
from ocpp_e2e.keys import Keyring, KeySigner
from ocpp_e2e.model import Outcome
from ocpp_e2e.sign import sign_frame
from ocpp_e2e.verify import Verifier

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
_SIGNER = KeySigner(_KEY)


def _ring() -> Keyring:
    ring = Keyring()
    ring.add(_KEY.public_key(), name="signer")
    return ring


# --------------------------------------------------------------------------- reader


def test_an_exact_literal_of_17_significant_digits_stays_on_the_fast_path() -> None:
    # 3.25 * 10.0**-7 as Python computes and writes it: 17 significant digits, its double's own
    # shortest form, so SPEC §2 accepts it.
    text = b'{"value": 3.2500000000000006e-07, "n": [1, 12345678901234567]}'.replace(
        b"12345678901234567", b"1234567890123456"
    )
    fast = _fast(text)
    assert fast is not None
    assert fast.value == {"value": 3.2500000000000006e-07, "n": [1, 1234567890123456]}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b'{"a": 0.1000000000000000055511151231257827}', "does not survive a double"),
        (b"[1,  0.1000000000000000055511151231257827]", "does not survive a double"),
        (b"[\n\t 12345678901234567890]", "beyond"),
        (b"295147905179352825856", "beyond"),
        (b'{"tiny": 2.4703282292062328e-324}', "does not survive a double"),
    ],
)
def test_a_long_literal_that_does_not_survive_a_double_is_refused_as_before(
    text: bytes, reason: str
) -> None:
    assert _fast(text) is None
    with pytest.raises(IJSONError, match=reason):
        parse(text)


def test_a_long_digit_run_inside_a_string_is_read_as_a_string() -> None:
    # After ':' inside the string, so it is read as a number candidate, refused as one, and the
    # precise reader (not the fast one) decides: a plain string.
    text = b'{"idTag": "x:12345678901234567890", "b": [ "99999999999999999999"]}'
    assert parse(text).value == {"idTag": "x:12345678901234567890", "b": ["99999999999999999999"]}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # Compact, sorted, orjson's own spelling: looks canonical, but a member is there twice.
        (b'{"a":1,"a":1}', "duplicate member"),
        (b'[2,"1","Reset",{"type":"Immediate","type":"Immediate"}]', "duplicate member"),
        # Canonical-looking text with a lone surrogate, raw (invalid UTF-8) or escaped.
        (b'{"a":"\xed\xa0\x80"}', "invalid UTF-8"),
        (b'{"a":"\\ud800"}', "lone surrogate"),
        (b'{"a":"\\udc00x"}', "lone surrogate"),
        # A long literal in orjson's spelling that orjson itself would write differently.
        (b'{"a":1.00000000000000000001}', "does not survive a double"),
        (b'{"a":9007199254740993}', "beyond"),
    ],
)
def test_text_that_looks_canonical_is_still_refused_for_what_spec_2_refuses(
    text: bytes, reason: str
) -> None:
    assert _fast(text) is None
    with pytest.raises(IJSONError, match=reason):
        parse(text)


# --------------------------------------------------------------------------- writer


def test_only_the_objects_with_a_name_outside_the_bmp_are_reordered_at_any_depth() -> None:
    value: Any = {
        "list": [
            {"\ufb33": 1, "\U0001f602": 2, "a": {"\uffff": [1.0], "\U00010000": "x"}},
            {"\ue000b": 1, "\ue000\U0001f600": 2},
            ["\U0001f602", "\uffff"],
        ],
        "\U0001f50c": {"z": 1, "\ue001": 2},
        "\ue000": 0.0,
    }
    assert _dumps_parsed(value, True) == rfc8785.dumps(value)


def test_an_object_of_many_names_outside_the_bmp_is_ordered_in_linear_time() -> None:
    value: Any = {
        f"k{i}\U0001f602" if i % 2 else f"k{i}\ufb33": [i, {"\U0001f602": i}] for i in range(3000)
    }
    assert _dumps_parsed(value, True) == rfc8785.dumps(value)


_NAMES = st.text(
    st.sampled_from(["a", "\ue000", "\uffff", "\U0001f602", "\U00010000", '"', "\\", "\n", ":"]),
    max_size=4,
)
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.sampled_from([1.0, -0.0, 1.5e-6, 2e16, 1234.0, 0.5, 3.2500000000000006e-07])
    | st.text(st.sampled_from(list('1.0,}]e-6+\U0001f602\uffff":')), max_size=6)
)
_VALUES = st.recursive(
    _LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_NAMES, children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_VALUES)
def test_dumps_parsed_equals_rfc8785_on_odd_names_and_number_look_alikes(value: Any) -> None:
    assert _dumps_parsed(value, True) == rfc8785.dumps(value)


# --------------------------------------------------------------------------- signer


# Without 2e16: an integral double of 2^53 or more keeps its exponent on the wire (RFC 8785 would
# write an integer literal that SPEC §2 refuses); tests/test_sign_verify.py shows that case.
_SIGNABLE = st.recursive(
    _LEAVES.filter(lambda leaf: leaf != 2e16),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_NAMES, children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(_NAMES, _SIGNABLE, max_size=5),
    st.sampled_from(["2.0.1", "1.6"]),
    st.sampled_from([None, {"vendorId": "org.ocpp-e2e"}, {"vendorId": "com.acme", "n": 1.0}]),
    st.booleans(),
)
def test_a_signed_frame_is_the_rfc8785_form_of_its_value_and_verifies(
    payload: dict[str, Any], ocpp: str, custom: dict[str, Any] | None, ascii_only: bool
) -> None:
    body = dict(payload)
    if custom is not None:
        body["customData"] = custom
    frame = [2, "m-1", "DataTransfer", body]
    text = json.dumps(frame, ensure_ascii=ascii_only) if ascii_only else orjson.dumps(frame)
    wire = sign_frame(text, _SIGNER, ocpp=ocpp, station="cs-1", timestamp=NOW)
    assert wire.encode() == rfc8785.dumps(orjson.loads(wire))
    result = Verifier(_ring()).verify_frame(wire, ocpp=ocpp, station="cs-1", now=NOW)
    assert [s.outcome for s in result.verification.signatures] == [Outcome.VALID]
    # The signing payload (SPEC §3) drops a customData that only carried the signatures.
    expected = payload if custom == {"vendorId": "org.ocpp-e2e"} else body
    assert result.verification.payload == expected


def test_a_frame_signed_twice_keeps_both_signatures_in_canonical_order() -> None:
    once = sign_frame(
        '[3, "7", {"status": "Accepted", "customData": {"vendorId": "com.acme", "x": 2.0}}]',
        _SIGNER,
        ocpp="2.0.1",
        station="cs-1",
        call='[2, "7", "Reset", {"type": "Immediate"}]',
        timestamp=NOW,
    )
    twice = sign_frame(
        once,
        _SIGNER,
        ocpp="2.0.1",
        station="cs-1",
        call='[2, "7", "Reset", {"type": "Immediate"}]',
        timestamp=NOW,
        chained=True,
    )
    assert twice.encode() == rfc8785.dumps(orjson.loads(twice))
    assert len(orjson.loads(twice)[2]["customData"]["signatures"]) == 2


@pytest.mark.parametrize("ocpp", ["2.0.1", "1.6"])
@pytest.mark.parametrize(
    "custom", [None, {"vendorId": "org.ocpp-e2e"}, {"vendorId": "com.acme", "v": [1.0, "x"]}]
)
def test_members_on_every_side_of_the_carriers_are_written_in_rfc8785_order(
    ocpp: str, custom: dict[str, Any] | None
) -> None:
    body: dict[str, Any] = {
        "tbc": False,  # after "signatures"
        "seqNo": 1.0,  # between "customData" and "signatures"
        "evseId": 2,
        "a\U0001f602": {"\uffff": 1, "\U0001f602": 2},  # before "customData"
        "c\ue000": 0.0,  # after "customData" in UTF-16 order too
        "signaturesX": "s",
        "z": [1.5e-6, 1234.0],
    }
    if custom is not None:
        body["customData"] = custom
    wire = sign_frame(
        orjson.dumps([2, "9", "DataTransfer", body]),
        _SIGNER,
        ocpp=ocpp,
        station="cs-1",
        timestamp=NOW,
    )
    assert wire.encode() == rfc8785.dumps(orjson.loads(wire))
    result = Verifier(_ring()).verify_frame(wire, ocpp=ocpp, station="cs-1", now=NOW)
    assert [s.outcome for s in result.verification.signatures] == [Outcome.VALID]
