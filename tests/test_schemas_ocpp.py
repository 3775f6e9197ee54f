"""Signed OCPP 2.0.1 and 2.1 frames still validate against the official JSON schemas shipped by the
``ocpp`` package (SPEC §1: the ``customData`` carrier keeps signed messages valid for peers that
know nothing of ocpp-e2e)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import ocpp
import pytest

from ocpp_e2e.context import PendingCall
from ocpp_e2e.frames import parse_frame
from ocpp_e2e.keys import Keyring, KeySigner
from ocpp_e2e.model import Outcome
from ocpp_e2e.sign import sign_frame, sign_object
from ocpp_e2e.verify import Verifier

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
STATION = "cs-0001"
SCHEMAS = {
    "2.0.1": Path(ocpp.__file__).parent / "v201" / "schemas",
    "2.1": Path(ocpp.__file__).parent / "v21" / "schemas",
}
PAYLOADS = json.loads((Path(__file__).parent / "data" / "core" / "ocpp_payloads.json").read_text())


def samples(ocpp_version: str) -> dict[str, dict[str, Any]]:
    return {**PAYLOADS["common"], **PAYLOADS.get(ocpp_version, {})}


CASES = [(version, name) for version in SCHEMAS for name in sorted(samples(version))]


def validator(ocpp_version: str, name: str) -> jsonschema.Draft6Validator:
    schema = json.loads((SCHEMAS[ocpp_version] / f"{name}.json").read_text(encoding="utf-8"))
    return jsonschema.Draft6Validator(schema)


def frame_for(ocpp_version: str, name: str) -> tuple[str, str | None]:
    """The frame text for a sample, and for a response the CALL it answers."""
    payload = samples(ocpp_version)[name]
    if name.endswith("Request"):
        return json.dumps([2, "m-1", name.removesuffix("Request"), payload]), None
    if name.endswith("Response"):
        action = name.removesuffix("Response")
        request = samples(ocpp_version).get(f"{action}Request", {})
        return json.dumps([3, "m-1", payload]), json.dumps([2, "m-1", action, request])
    return json.dumps([6, "m-1", name, payload]), None


def test_the_sample_covers_at_least_ten_actions_per_version() -> None:
    for version in SCHEMAS:
        actions = {n.removesuffix("Request").removesuffix("Response") for n in samples(version)}
        assert len(actions) >= 10, version


@pytest.mark.parametrize(("ocpp_version", "name"), CASES)
def test_the_unsigned_sample_is_valid(ocpp_version: str, name: str) -> None:
    validator(ocpp_version, name).validate(samples(ocpp_version)[name])


@pytest.mark.parametrize(("ocpp_version", "name"), CASES)
def test_signed_frame_still_validates_against_the_official_schema(
    signers: dict[str, KeySigner], ocpp_version: str, name: str
) -> None:
    text, call = frame_for(ocpp_version, name)
    signed = sign_frame(
        text,
        [signers["Ed25519"], signers["ES256"]],
        ocpp=ocpp_version,
        station=STATION,
        call=call,
        timestamp=NOW,
    )
    signed = sign_frame(
        signed,
        signers["ES384"],
        ocpp=ocpp_version,
        station=STATION,
        call=call,
        timestamp=NOW,
        chained=True,
    )
    value = json.loads(signed)
    payload = value[-1]
    assert len(payload["customData"]["signatures"]) == 3
    validator(ocpp_version, name).validate(payload)

    ring = Keyring()
    for signer in signers.values():
        ring.add(signer.public_key_der)
    pending = PendingCall.of(parse_frame(call, ocpp=ocpp_version)) if call else None
    result = Verifier(ring).verify_frame(
        signed, ocpp=ocpp_version, station=STATION, call=pending, now=NOW
    )
    assert [s.outcome for s in result.verification.signatures] == [Outcome.VALID] * 3


@pytest.mark.parametrize("ocpp_version", list(SCHEMAS))
def test_existing_custom_data_is_kept_and_still_valid(
    signers: dict[str, KeySigner], ocpp_version: str
) -> None:
    payload = {"type": "OnIdle", "customData": {"vendorId": "com.acme", "siteId": 7}}
    signed = json.loads(
        sign_frame(
            json.dumps([2, "1", "Reset", payload]),
            signers["ES512"],
            ocpp=ocpp_version,
            station=STATION,
            timestamp=NOW,
        )
    )[3]
    assert signed["customData"]["vendorId"] == "com.acme" and signed["customData"]["siteId"] == 7
    validator(ocpp_version, "ResetRequest").validate(signed)


@pytest.mark.parametrize("ocpp_version", list(SCHEMAS))
def test_a_top_level_carrier_would_break_the_schema(
    signers: dict[str, KeySigner], ocpp_version: str
) -> None:
    """Why SPEC §1 puts 2.x signatures in customData: the schemas forbid unknown top-level members."""
    ctx = {"ocpp": ocpp_version, "station": STATION, "action": "Reset", "kind": "request"}
    signed = sign_object(
        {"type": "Immediate"}, signers["Ed25519"], context=ctx, carrier="top", nonce=True, timestamp=datetime.now(UTC)
    )
    with pytest.raises(jsonschema.ValidationError, match="Additional properties"):
        validator(ocpp_version, "ResetRequest").validate(signed)
