"""``ocpp-e2e meter``: exit status, output and input handling."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from ocpp_e2e.cli.meter import app
from ocpp_e2e.keys import load_private_key
from ocpp_e2e.meter.sign import sign_payload
from ocpp_e2e.pki.issue import certificate_pem, create_root

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
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "meter-1.pem"
    path.write_bytes(
        KEY.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


@pytest.fixture
def records(tmp_path: Path) -> Path:
    path = tmp_path / "records.txt"
    path.write_text(
        sign_payload(payload("T1", "B", 0, 1.0), KEY)
        + "\n"
        + sign_payload(payload("T2", "E", 9, 2.0), KEY)
        + "\n"
    )
    return path


def test_file_of_valid_records_under_trusted_key_exits_0(records: Path, keyfile: Path) -> None:
    result = runner.invoke(app, ["verify", "--key", str(keyfile), str(records)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "OK"
    assert f"{records}:1: valid: verified under trusted meter key meter-1" in result.output


def test_pretty_printed_records_keep_their_line_breaks(records: Path, keyfile: Path) -> None:
    # payload() is indented JSON across lines: the second record starts on a later line
    result = runner.invoke(app, ["verify", "--key", str(keyfile), "--json", str(records)])
    doc = json.loads(result.output)
    assert [r["where"] for r in doc["records"]] == [f"{records}:1", f"{records}:15"]


def test_records_without_trusted_key_exit_1(records: Path) -> None:
    result = runner.invoke(app, ["verify", str(records)])
    assert result.exit_code == 1
    assert "unknown-key" in result.output


def test_changed_record_exits_1_and_names_the_line(records: Path, keyfile: Path) -> None:
    records.write_text(records.read_text().replace('"RV": 2.0', '"RV": 3.0'))
    result = runner.invoke(app, ["verify", "--key", str(keyfile), str(records)])
    assert result.exit_code == 1
    assert f"{records}:15: invalid:" in result.output


def test_single_begin_record_exits_0_with_a_note_on_the_missing_end(
    tmp_path: Path, keyfile: Path
) -> None:
    path = tmp_path / "begin-only.txt"
    path.write_text(sign_payload(payload("T1", "B", 0, 1.0), KEY))
    result = runner.invoke(app, ["verify", "--key", str(keyfile), "--json", str(path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["ok"] is True
    assert [(f["check"], f["severity"], f["fails"]) for f in doc["findings"]] == [
        ("end-missing", "note", False)
    ]


def test_strict_transactions_fail_on_an_incomplete_transaction(
    tmp_path: Path, keyfile: Path
) -> None:
    path = tmp_path / "begin-only.txt"
    path.write_text(sign_payload(payload("T1", "B", 0, 1.0), KEY))
    args = ["verify", "--key", str(keyfile), "--transactions", "strict", str(path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert f"{path}:1 T1: failure: end-missing:" in result.output


def test_report_mode_never_fails_on_findings(tmp_path: Path, keyfile: Path) -> None:
    path = tmp_path / "backwards.txt"
    path.write_text(
        sign_payload(payload("T1", "B", 0, 5.0), KEY)
        + "\n"
        + sign_payload(payload("T2", "E", 9, 2.0), KEY)
    )
    checked = runner.invoke(app, ["verify", "--key", str(keyfile), str(path)])
    assert checked.exit_code == 1
    assert "failure: value-backwards" in checked.output
    reported = runner.invoke(
        app, ["verify", "--key", str(keyfile), "--transactions", "report", str(path)]
    )
    assert reported.exit_code == 0


def test_unknown_transactions_mode_is_a_usage_error(records: Path) -> None:
    result = runner.invoke(app, ["verify", "--transactions", "lenient", str(records)])
    assert result.exit_code == 2


def test_billed_energy_of_a_begin_end_pair_is_shown_with_its_unit(
    records: Path, keyfile: Path
) -> None:
    result = runner.invoke(app, ["verify", "--key", str(keyfile), str(records)])
    assert "transaction of meter GW/M-1 register ?: T1 to T2: 1.0 kWh (1000 Wh)" in result.output
    doc = json.loads(
        runner.invoke(app, ["verify", "--key", str(keyfile), "--json", str(records)]).output
    )
    assert [(t["energy"], t["unit"], t["energyWh"]) for t in doc["transactions"]] == [
        ("1.0", "kWh", "1000")
    ]


def test_real_keba_record_alone_exits_0_with_notes() -> None:
    real = Path(__file__).parent / "data" / "meter" / "real"
    result = runner.invoke(
        app,
        [
            "verify",
            "--key",
            str(real / "34-keba-kcp30-test-a.key"),
            str(real / "34-keba-kcp30-test-a.ocmf"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "note: MS (meter serial) is missing" in result.output
    assert "warning: time-not-synchronized" in result.output


def test_record_given_as_argument_is_verified(keyfile: Path) -> None:
    record = sign_payload(
        '{"PG":"F1","MS":"M-1","RD":[{"TM":"2024-05-01T10:00:00,000+0200 S",'
        '"RV":1,"RU":"kWh","ST":"G"}]}',
        KEY,
    )
    result = runner.invoke(app, ["verify", "--key", str(keyfile), record])
    assert result.exit_code == 0, result.output


def test_ocpp_201_frame_file_is_verified(tmp_path: Path, keyfile: Path) -> None:
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


def test_ocpp_16_frame_without_signed_values_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "frame.json"
    path.write_text('[2, "1", "Heartbeat", {}]')
    result = runner.invoke(app, ["verify", "--ocpp", "1.6", str(path)])
    assert result.exit_code == 1
    assert "no signed meter values found" in result.output


def test_broken_frame_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "frame.json"
    path.write_text('[9, "1"]')
    result = runner.invoke(app, ["verify", "--ocpp", "1.6", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {path}:1:")


def test_file_line_that_is_not_a_record_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("hello\n")
    result = runner.invoke(app, ["verify", str(path)])
    assert result.exit_code == 2
    assert f"{path}:1: expected an OCMF record" in result.output


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["verify", str(tmp_path / "nope.txt")])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_unusable_key_file_is_an_input_error(tmp_path: Path, records: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("nonsense")
    result = runner.invoke(app, ["verify", "--key", str(bad), str(records)])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {bad}:")


def test_unknown_ocpp_version_is_a_usage_error(records: Path) -> None:
    result = runner.invoke(app, ["verify", "--ocpp", "1.5", str(records)])
    assert result.exit_code == 2


def test_algorithms_lists_supported_and_unsupported() -> None:
    result = runner.invoke(app, ["algorithms", "--json"])
    doc = json.loads(result.output)
    assert "ECDSA-brainpool384r1-SHA256" in doc["supported"]
    assert "ECDSA-secp192k1-SHA256" in doc["supported"]
    assert doc["unsupported"] == {}


def test_verify_help_shows_an_example() -> None:
    result = runner.invoke(app, ["verify", "--help"])
    assert result.exit_code == 0
    assert "Example: ocpp-e2e meter verify" in result.output


def test_keyring_file_option_is_used(tmp_path: Path, records: Path) -> None:
    der = KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ring = tmp_path / "meters.json"
    ring.write_text(json.dumps({"keys": [{"publicKey": der.hex(), "name": "w1", "meter": "M-1"}]}))
    result = runner.invoke(app, ["verify", "--keyring", str(ring), str(records)])
    assert result.exit_code == 0, result.output
    assert "trusted meter key w1" in result.output


# --------------------------------------------------------------------------- trust from certificates
# keys-example/meter-1 has a certificate with the usage meterSigning under meter-ca and root-ca,
# valid 2026-01-01 to 2036-01-01; --cert chains are validated at the time the command runs.

KEYS = Path(__file__).resolve().parent.parent / "keys-example"
METER_CHAIN = str(KEYS / "meter-1.chain.pem")
ROOT = str(KEYS / "root-ca.crt.pem")
FISCAL = (
    '{"PG":"F1","MS":"M-1","RD":[{"TM":"2024-05-01T10:00:00,000+0200 S",'
    '"RV":1,"RU":"kWh","ST":"G"}]}'
)


def meter_1_record() -> str:
    key = load_private_key(KEYS / "meter-1.key.pem")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return sign_payload(FISCAL, key)


def test_record_under_a_meter_signing_certificate_is_valid() -> None:
    result = runner.invoke(
        app, ["verify", "--cert", METER_CHAIN, "--trust-anchor", ROOT, meter_1_record()]
    )
    assert result.exit_code == 0, result.output
    assert "argument:1: valid: verified under trusted meter key meter-0001" in result.output


def test_record_under_another_key_is_invalid_despite_a_trusted_certificate() -> None:
    # a P-256 key like meter-1's, so the certified key is a candidate and fails to verify
    record = sign_payload(FISCAL, ec.generate_private_key(ec.SECP256R1()))
    result = runner.invoke(
        app, ["verify", "--cert", METER_CHAIN, "--trust-anchor", ROOT, "--json", record]
    )
    assert result.exit_code == 1
    assert [r["verdict"] for r in json.loads(result.output)["records"]] == ["invalid"]


def test_certificate_without_meter_signing_is_refused() -> None:
    chain = str(KEYS / "csms-operator.chain.pem")
    result = runner.invoke(
        app, ["verify", "--cert", chain, "--trust-anchor", ROOT, meter_1_record()]
    )
    assert result.exit_code == 2
    assert result.output == (
        f"error: {chain}: meter certificate lacks the usage meterSigning "
        "(effective usages: csmsOperator)\n"
    )


def test_certificate_under_an_unknown_root_is_refused(tmp_path: Path) -> None:
    other = create_root(
        ec.generate_private_key(ec.SECP256R1()), "other root", valid_for=timedelta(days=1), not_before=datetime.now(UTC).replace(microsecond=0)
    )
    anchor = tmp_path / "other-root.pem"
    anchor.write_bytes(certificate_pem([other.certificate]))
    result = runner.invoke(
        app, ["verify", "--cert", METER_CHAIN, "--trust-anchor", str(anchor), meter_1_record()]
    )
    assert result.exit_code == 2
    assert result.output.startswith(
        f"error: {METER_CHAIN}: meter certificate not trusted: unknown root:"
    )
    assert len(result.output.splitlines()) == 1


def test_certificate_without_trust_anchor_is_refused() -> None:
    result = runner.invoke(app, ["verify", "--cert", METER_CHAIN, meter_1_record()])
    assert result.exit_code == 2
    assert result.output == (
        f"error: {METER_CHAIN}: --cert needs at least one --trust-anchor to validate the chain "
        "against\n"
    )


def test_certificate_expired_at_verification_time_is_refused(tmp_path: Path) -> None:
    # valid for a day that ended yesterday: the chain is checked now, not at the record's TM
    start = datetime.now(UTC) - timedelta(days=2)
    key = ec.generate_private_key(ec.SECP256R1())
    root = create_root(
        ec.generate_private_key(ec.SECP256R1()), "root", valid_for=timedelta(days=1),
        not_before=start,
    )  # fmt: skip
    leaf = root.issue(
        key.public_key(), "meter-9", ["meterSigning"], valid_for=timedelta(hours=12),
        not_before=start,
    )  # fmt: skip
    chain, anchor = tmp_path / "meter-9.chain.pem", tmp_path / "root.pem"
    chain.write_bytes(certificate_pem([leaf]))
    anchor.write_bytes(certificate_pem([root.certificate]))
    result = runner.invoke(
        app,
        ["verify", "--cert", str(chain), "--trust-anchor", str(anchor), sign_payload(FISCAL, key)],
    )
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {chain}: meter certificate not trusted:")
    assert "expired" in result.output
