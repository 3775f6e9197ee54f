"""SPEC §1: base64url without padding, refusing every non-canonical spelling; standard base64 for
certificates."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocpp_e2e._b64 import Base64Error, b64_decode, b64_encode, b64url_decode, b64url_encode


def test_encode_has_no_padding_and_uses_the_url_alphabet() -> None:
    assert b64url_encode(b"\xff") == "_w"
    assert b64url_encode(b"\xfb\xff") == "-_8"
    assert b64url_encode(b"") == ""


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_round_trip(data: bytes) -> None:
    assert b64url_decode(b64url_encode(data)) == data
    assert b64_decode(b64_encode(data)) == data


@pytest.mark.parametrize("text", ["_w==", "_w=", "AAAA=", "AA=="])
def test_padding_is_refused(text: str) -> None:
    with pytest.raises(Base64Error, match="without padding"):
        b64url_decode(text)


@pytest.mark.parametrize("text", ["a+bc", "a/bc", "ab c", "ab\ncd", "abé", "ab.c", "ab%3D"])
def test_characters_outside_the_alphabet_are_refused(text: str) -> None:
    with pytest.raises(Base64Error, match="only A-Z a-z 0-9 - _"):
        b64url_decode(text)


@pytest.mark.parametrize("text", ["_x", "AB", "AAB", "-_9"])
def test_non_zero_trailing_bits_are_refused(text: str) -> None:
    with pytest.raises(Base64Error, match="non-zero trailing bits"):
        b64url_decode(text)


def test_impossible_length_is_refused() -> None:
    with pytest.raises(Base64Error):
        b64url_decode("abcde")


def test_a_non_string_is_refused() -> None:
    with pytest.raises(Base64Error, match="not base64url"):
        b64url_decode(b"abcd")  # type: ignore[arg-type]


def test_every_trailing_bit_variant_of_a_32_byte_digest_but_one_is_refused() -> None:
    text = b64url_encode(os.urandom(32))
    accepted = []
    for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_":
        try:
            b64url_decode(text[:-1] + ch)
            accepted.append(ch)
        except Base64Error:
            pass
    # 43 characters carry 258 bits: the last character has 2 free bits, so 16 of 64 are canonical
    # (those ending in 00) and exactly one of them encodes the original byte.
    assert len(accepted) == 16
    assert text[-1] in accepted


def test_standard_base64_needs_padding() -> None:
    assert b64_decode("/w==") == b"\xff"
    with pytest.raises(Base64Error):
        b64_decode("/w")


@pytest.mark.parametrize("text", ["_w==", "/w=", "/x==", "/w==\n", " /w=="])
def test_standard_base64_refuses_non_canonical_text(text: str) -> None:
    with pytest.raises(Base64Error):
        b64_decode(text)
