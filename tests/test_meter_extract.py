"""Finding OCMF records in OCPP 1.6 and 2.0.1/2.1 payloads, and verifying them there."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ocpp_e2e.errors import InputError
from ocpp_e2e.meter import MeterKeyring, MeterVerdict, MeterVerifier, extract_records
from ocpp_e2e.meter.sign import sign_payload

PAYLOAD = (
    '{"GS":"GW-1","PG":"T3","MS":"M-100","IS":false,"IT":"NONE","RD":[{"TM":'
    '"2024-05-01T10:00:00,000+0200 S","TX":"B","RV":5.5,"RI":"1-b:1.8.0","RU":"kWh","ST":"G"}]}'
)


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def record(key) -> str:
    return sign_payload(PAYLOAD, key)


def spki_b64(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def v16_meter_values(value: str, fmt: str = "SignedData") -> dict:
    return {
        "connectorId": 1,
        "transactionId": 7,
        "meterValue": [
            {
                "timestamp": "2024-05-01T08:00:00Z",
                "sampledValue": [
                    {"value": "5500", "unit": "Wh"},
                    {"value": value, "format": fmt, "context": "Transaction.Begin"},
                ],
            }
        ],
    }


def v201_sampled(smv: dict) -> dict:
    return {"value": 5.5, "signedMeterValue": smv}


def smv(record: str, **extra: str) -> dict:
    out = {
        "signedMeterData": base64.b64encode(record.encode()).decode(),
        "signingMethod": "",
        "encodingMethod": "OCMF",
        "publicKey": "",
    }
    out.update(extra)
    return out


def trusted(key) -> MeterVerifier:
    ring = MeterKeyring()
    ring.add(key.public_key(), name="meter-100")
    return MeterVerifier(ring)


# --------------------------------------------------------------------------- OCPP 1.6


def test_16_plain_ocmf_value_is_found_with_its_path(record):
    found = extract_records("MeterValues", v16_meter_values(record), "1.6")
    assert [(f.path, f.form, f.text) for f in found] == [
        ("$.meterValue[0].sampledValue[1].value", "plain", record)
    ]


def test_16_raw_sampled_values_are_ignored(record):
    assert extract_records("MeterValues", v16_meter_values(record, fmt="Raw"), "1.6") == []


def test_16_hex_wrapped_value_is_decoded(record):
    for hexed in (record.encode().hex(), record.encode().hex().upper()):
        (found,) = extract_records("MeterValues", v16_meter_values(hexed), "1.6")
        assert (found.form, found.text) == ("hex", record)


def test_16_base64_wrapped_value_is_decoded(record):
    b64 = base64.b64encode(record.encode()).decode()
    (found,) = extract_records("MeterValues", v16_meter_values(b64), "1.6")
    assert (found.form, found.text) == ("base64", record)


def test_16_json_object_value_with_signed_meter_value_member_is_decoded(record, key):
    value = json.dumps(
        {
            "signedMeterValue": base64.b64encode(record.encode()).decode(),
            "encodingMethod": "OCMF",
            "publicKey": spki_b64(key),
        }
    )
    (found,) = extract_records("MeterValues", v16_meter_values(value), "1.6")
    assert (found.form, found.text, found.public_key) == ("json", record, spki_b64(key))


def test_16_stop_transaction_transaction_data_is_searched(record):
    payload = {
        "transactionId": 7,
        "meterStop": 6000,
        "timestamp": "2024-05-01T09:00:00Z",
        "transactionData": v16_meter_values(record)["meterValue"],
    }
    (found,) = extract_records("StopTransaction", payload, "1.6")
    assert found.path == "$.transactionData[0].sampledValue[1].value"


def test_16_value_in_no_known_form_is_reported_not_guessed():
    (found,) = extract_records("MeterValues", v16_meter_values("garbage!"), "1.6")
    assert found.text is None
    assert found.problem == "value is neither OCMF text nor its hex or base64 nor a JSON object"


def test_16_hex_that_is_not_ocmf_is_reported():
    (found,) = extract_records("MeterValues", v16_meter_values(b"hello".hex()), "1.6")
    assert found.problem == 'value (hex) does not decode to an OCMF record ("OCMF|...")'


def test_16_frame_record_verifies_under_trusted_key(record, key):
    (result,) = trusted(key).verify_payload("MeterValues", v16_meter_values(record), "1.6")
    assert result.verdict is MeterVerdict.VALID
    assert result.where == "$.meterValue[0].sampledValue[1].value"


def test_16_frame_with_changed_record_is_invalid(record, key):
    changed = record.replace('"RV":5.5', '"RV":4.5')
    (result,) = trusted(key).verify_payload("MeterValues", v16_meter_values(changed), "1.6")
    assert result.verdict is MeterVerdict.INVALID


def test_other_16_actions_carry_no_records(record):
    assert extract_records("Heartbeat", {}, "1.6") == []


# --------------------------------------------------------------------------- OCPP 2.0.1 / 2.1


def test_201_meter_values_signed_meter_value_is_found(record):
    payload = {
        "evseId": 1,
        "meterValue": [{"timestamp": "t", "sampledValue": [v201_sampled(smv(record))]}],
    }
    (found,) = extract_records("MeterValues", payload, "2.0.1")
    assert found.path == "$.meterValue[0].sampledValue[0].signedMeterValue"
    assert (found.text, found.public_key, found.signing_method) == (record, None, None)


def test_201_transaction_event_signed_meter_value_is_found(record):
    payload = {
        "eventType": "Ended",
        "timestamp": "2024-05-01T09:00:00Z",
        "triggerReason": "StopAuthorized",
        "seqNo": 3,
        "transactionInfo": {"transactionId": "tx-1"},
        "meterValue": [
            {"timestamp": "t", "sampledValue": [{"value": 1}, v201_sampled(smv(record))]}
        ],
    }
    (found,) = extract_records("TransactionEvent", payload, "2.1")
    assert found.path == "$.meterValue[0].sampledValue[1].signedMeterValue"


def test_201_record_with_embedded_key_only_is_valid_untrusted(record, key):
    payload = {
        "evseId": 1,
        "meterValue": [
            {"timestamp": "t", "sampledValue": [v201_sampled(smv(record, publicKey=spki_b64(key)))]}
        ],
    }
    (result,) = MeterVerifier(MeterKeyring()).verify_payload("MeterValues", payload, "2.0.1")
    assert result.verdict is MeterVerdict.VALID_UNTRUSTED


def test_201_record_under_trusted_key_is_valid(record, key):
    payload = {
        "evseId": 1,
        "meterValue": [{"timestamp": "t", "sampledValue": [v201_sampled(smv(record))]}],
    }
    (result,) = trusted(key).verify_payload("MeterValues", payload, "2.0.1")
    assert result.verdict is MeterVerdict.VALID


def test_201_changed_timestamp_is_invalid(record, key):
    changed = record.replace("10:00:00,000", "10:05:00,000")
    payload = {
        "evseId": 1,
        "meterValue": [{"timestamp": "t", "sampledValue": [v201_sampled(smv(changed))]}],
    }
    (result,) = trusted(key).verify_payload("MeterValues", payload, "2.0.1")
    assert result.verdict is MeterVerdict.INVALID


def test_201_non_ocmf_encoding_is_unsupported_format(record, key):
    payload = {
        "evseId": 1,
        "meterValue": [
            {"timestamp": "t", "sampledValue": [v201_sampled(smv(record, encodingMethod="EDL"))]}
        ],
    }
    (result,) = trusted(key).verify_payload("MeterValues", payload, "2.0.1")
    assert result.verdict is MeterVerdict.UNSUPPORTED_FORMAT
    assert result.reason == "encodingMethod 'EDL' is not OCMF"


def test_201_signed_meter_data_that_is_not_base64_is_malformed(key):
    bad = {
        "signedMeterData": "OCMF|{}|{}",
        "signingMethod": "",
        "encodingMethod": "OCMF",
        "publicKey": "",
    }
    payload = {"evseId": 1, "meterValue": [{"timestamp": "t", "sampledValue": [v201_sampled(bad)]}]}
    (result,) = trusted(key).verify_payload("MeterValues", payload, "2.0.1")
    assert result.verdict is MeterVerdict.MALFORMED
    assert result.reason == "signedMeterData: not standard base64 with padding"


def test_201_signing_method_that_contradicts_sa_is_malformed(record, key):
    payload = {
        "evseId": 1,
        "meterValue": [
            {
                "timestamp": "t",
                "sampledValue": [
                    v201_sampled(smv(record, signingMethod="ECDSA-brainpool256r1-SHA256"))
                ],
            }
        ],
    }
    (result,) = trusted(key).verify_payload("MeterValues", payload, "2.0.1")
    assert result.verdict is MeterVerdict.MALFORMED
    assert result.reason == (
        "signingMethod ECDSA-brainpool256r1-SHA256 disagrees with the record's SA "
        "ECDSA-secp256r1-SHA256"
    )


def test_201_signing_method_that_agrees_with_sa_is_accepted(record, key):
    payload = {
        "evseId": 1,
        "meterValue": [
            {
                "timestamp": "t",
                "sampledValue": [v201_sampled(smv(record, signingMethod="ECDSA-secp256r1-SHA256"))],
            }
        ],
    }
    (result,) = trusted(key).verify_payload("MeterValues", payload, "2.0.1")
    assert result.verdict is MeterVerdict.VALID


def test_sampled_values_without_signed_meter_value_are_ignored():
    payload = {"evseId": 1, "meterValue": [{"timestamp": "t", "sampledValue": [{"value": 1}]}]}
    assert extract_records("MeterValues", payload, "2.0.1") == []


def test_unknown_ocpp_version_is_an_input_error():
    with pytest.raises(InputError, match=r"unknown OCPP version '1\.5'"):
        extract_records("MeterValues", {}, "1.5")


def test_16_json_object_with_both_data_members_is_reported(record):
    data = base64.b64encode(record.encode()).decode()
    value = json.dumps(
        {"signedMeterValue": data, "signedMeterData": data, "encodingMethod": "OCMF"}
    )
    (found,) = extract_records("MeterValues", v16_meter_values(value), "1.6")
    assert (found.text, found.problem) == (
        None,
        "value has both signedMeterValue and signedMeterData",
    )
