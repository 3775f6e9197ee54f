"""``ocpp-e2e meter``: exit status, output and input handling."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from ocpp_e2e.cli.meter import app
from ocpp_e2e.meter.sign import sign_payload

runner = CliRunner()
KEY = ec.generate_private_key(ec.BrainpoolP256R1())


def payload(pg: str, tx: str, minute: int, value: float) -> str:
    return json.dumps(
        {
            "GS": "GW",
            "PG": pg,
            "MS": "M-1",
            "RD": [
                {
                    "TM": f"2024-05-01T10:{minute:02d}:00,000+0200 S",
                    "TX": tx,
                    "RV": value,
                    "RU": "kWh",
                    "ST": "G",
                }
            ],
        },
        indent=2,
    )


@pytest.fixture
def keyfile(tmp_path):
    path = tmp_path / "meter-1.pem"
    path.write_bytes(
        KEY.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


@pytest.fixture
def records(tmp_path):
    path = tmp_path / "records.txt"
    path.write_text(
        sign_payload(payload("T1", "B", 0, 1.0), KEY)
        + "\n"
        + sign_payload(payload("T2", "E", 9, 2.0), KEY)
        + "\n"
    )
    return path


def test_file_of_valid_records_under_trusted_key_exits_0(records, keyfile):
    result = runner.invoke(app, ["verify", "--key", str(keyfile), str(records)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "OK"
    assert f"{records}:1: valid: verified under trusted meter key meter-1" in result.output


def test_pretty_printed_records_keep_their_line_breaks(records, keyfile):
    # payload() is indented JSON across lines: the second record starts on a later line
    result = runner.invoke(app, ["verify", "--key", str(keyfile), "--json", str(records)])
    doc = json.loads(result.output)
    assert [r["where"] for r in doc["records"]] == [f"{records}:1", f"{records}:15"]


def test_records_without_trusted_key_exit_1(records):
    result = runner.invoke(app, ["verify", str(records)])
    assert result.exit_code == 1
    assert "unknown-key" in result.output


def test_changed_record_exits_1_and_names_the_line(records, keyfile):
    records.write_text(records.read_text().replace('"RV": 2.0', '"RV": 3.0'))
    result = runner.invoke(app, ["verify", "--key", str(keyfile), str(records)])
    assert result.exit_code == 1
    assert f"{records}:15: invalid:" in result.output


def test_transaction_finding_exits_1(tmp_path, keyfile):
    path = tmp_path / "begin-only.txt"
    path.write_text(sign_payload(payload("T1", "B", 0, 1.0), KEY))
    result = runner.invoke(app, ["verify", "--key", str(keyfile), "--json", str(path)])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["ok"] is False
    assert [f["check"] for f in doc["findings"]] == ["end-missing"]


def test_record_given_as_argument_is_verified(keyfile):
    record = sign_payload(
        '{"PG":"F1","MS":"M-1","RD":[{"TM":"2024-05-01T10:00:00,000+0200 S",'
        '"RV":1,"RU":"kWh","ST":"G"}]}',
        KEY,
    )
    result = runner.invoke(app, ["verify", "--key", str(keyfile), record])
    assert result.exit_code == 0, result.output


def test_ocpp_201_frame_file_is_verified(tmp_path, keyfile):
    record = sign_payload(payload("T1", "B", 0, 1.0), KEY)
    end = sign_payload(payload("T2", "E", 5, 1.5), KEY)

    def frame(rec: str, mid: str) -> str:
        smv = {
            "signedMeterData": base64.b64encode(rec.encode()).decode(),
            "signingMethod": "",
            "encodingMethod": "OCMF",
            "publicKey": "",
        }
        return json.dumps(
            [
                2,
                mid,
                "MeterValues",
                {
                    "evseId": 1,
                    "meterValue": [
                        {
                            "timestamp": "2024-05-01T08:00:00Z",
                            "sampledValue": [{"value": 1, "signedMeterValue": smv}],
                        }
                    ],
                },
            ]
        )

    path = tmp_path / "frames.jsonl"
    path.write_text(frame(record, "1") + "\n" + frame(end, "2") + "\n")
    result = runner.invoke(
        app, ["verify", "--ocpp", "2.0.1", "--key", str(keyfile), "--json", str(path)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert (
        doc["records"][0]["where"] == f"{path}:1 $.meterValue[0].sampledValue[0].signedMeterValue"
    )


def test_ocpp_16_frame_without_signed_values_exits_1(tmp_path):
    path = tmp_path / "frame.json"
    path.write_text('[2, "1", "Heartbeat", {}]')
    result = runner.invoke(app, ["verify", "--ocpp", "1.6", str(path)])
    assert result.exit_code == 1
    assert "no signed meter values found" in result.output


def test_broken_frame_is_an_input_error(tmp_path):
    path = tmp_path / "frame.json"
    path.write_text('[9, "1"]')
    result = runner.invoke(app, ["verify", "--ocpp", "1.6", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {path}:1:")


def test_file_line_that_is_not_a_record_is_an_input_error(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("hello\n")
    result = runner.invoke(app, ["verify", str(path)])
    assert result.exit_code == 2
    assert f"{path}:1: expected an OCMF record" in result.output


def test_missing_file_is_an_input_error(tmp_path):
    result = runner.invoke(app, ["verify", str(tmp_path / "nope.txt")])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_unusable_key_file_is_an_input_error(tmp_path, records):
    bad = tmp_path / "bad.pem"
    bad.write_text("nonsense")
    result = runner.invoke(app, ["verify", "--key", str(bad), str(records)])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {bad}:")


def test_unknown_ocpp_version_is_a_usage_error(records):
    result = runner.invoke(app, ["verify", "--ocpp", "1.5", str(records)])
    assert result.exit_code == 2


def test_algorithms_lists_supported_and_unsupported():
    result = runner.invoke(app, ["algorithms", "--json"])
    doc = json.loads(result.output)
    assert "ECDSA-brainpool384r1-SHA256" in doc["supported"]
    assert list(doc["unsupported"]) == ["ECDSA-secp192k1-SHA256"]


def test_verify_help_shows_an_example():
    result = runner.invoke(app, ["verify", "--help"])
    assert result.exit_code == 0
    assert "Example: ocpp-e2e meter verify" in result.output


def test_keyring_file_option_is_used(tmp_path, records):
    der = KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ring = tmp_path / "meters.json"
    ring.write_text(json.dumps({"keys": [{"publicKey": der.hex(), "name": "w1", "meter": "M-1"}]}))
    result = runner.invoke(app, ["verify", "--keyring", str(ring), str(records)])
    assert result.exit_code == 0, result.output
    assert "trusted meter key w1" in result.output
