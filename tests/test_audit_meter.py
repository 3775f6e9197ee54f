"""Signed meter values (OCMF) in audited logs: each record verified, each meter's sequence checked."""

from __future__ import annotations

import base64
import gzip
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from typer.testing import CliRunner

from ocpp_e2e.audit.findings import Finding
from ocpp_e2e.audit.logs import ReadOptions
from ocpp_e2e.audit.report import json_lines
from ocpp_e2e.audit.run import AuditSettings, audit_logs
from ocpp_e2e.cli import app
from ocpp_e2e.errors import KeyLoadError
from ocpp_e2e.keys import load_private_key
from ocpp_e2e.meter.sign import sign_payload

ROOT = Path(__file__).parent.parent
KEYS = ROOT / "keys-example"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
METER = ec.generate_private_key(ec.SECP256R1())
STRANGER = ec.generate_private_key(ec.SECP256R1())
PERMIT_ALL = {
    "type": "SignaturePolicy",
    "id": "meter-audit-test",
    "version": 1,
    "default": "deny",
    "maxSignatureAge": "PT5M",
    "rules": [
        {
            "id": "anything-unsigned",
            "effect": "permit",
            "match": {"kinds": ["request", "response"]},
            "signers": "none",
        }
    ],
}


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def _payload(pg: str, tx: str, value: str, minute: int = 0, meter: str = "M-100") -> str:
    return (
        f'{{"FV":"1.0","GS":"GW-1","PG":"{pg}","MS":"{meter}","RD":[{{"TM":'
        f'"2026-03-02T08:{minute:02d}:00,000+0000 S","TX":"{tx}","RV":{value},"RU":"kWh",'
        '"ST":"G"}]}'
    )


def _record(
    pg: str, tx: str, value: str, minute: int = 0, key: ec.EllipticCurvePrivateKey = METER
) -> str:
    return sign_payload(_payload(pg, tx, value, minute), key)


def _meter_values(n: int, record: str, public_key: str = "") -> str:
    smv = {
        "signedMeterData": base64.b64encode(record.encode()).decode(),
        "signingMethod": "",
        "encodingMethod": "OCMF",
        "publicKey": public_key,
    }
    payload = {
        "evseId": 1,
        "meterValue": [
            {
                "timestamp": "2026-03-02T08:00:00Z",
                "sampledValue": [{"value": 1.0, "signedMeterValue": smv}],
            }
        ],
    }
    return json.dumps([2, f"mv-{n}", "MeterValues", payload], separators=(",", ":"))


def _stop_transaction_16(n: int, record: str) -> str:
    payload = {
        "meterStop": 112500,
        "timestamp": "2026-03-02T09:00:00Z",
        "transactionId": 7,
        "transactionData": [
            {
                "timestamp": "2026-03-02T09:00:00Z",
                "sampledValue": [{"value": record, "format": "SignedData"}],
            }
        ],
    }
    return json.dumps([2, f"st-{n}", "StopTransaction", payload], separators=(",", ":"))


def _log(tmp_path: Path, frames: list[tuple[str, str]], ocpp: str = "2.0.1") -> str:
    """A normalized log of (station, frame) CALLs to the CSMS, one minute apart."""
    path = tmp_path / "meters.jsonl.gz"
    with gzip.open(path, "wt") as out:
        for i, (station, frame) in enumerate(frames):
            ts = (T0 + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            record = {
                "ts": ts,
                "station": station,
                "direction": "toCSMS",
                "ocpp": ocpp,
                "frame": frame,
            }
            out.write(json.dumps(record) + "\n")
    return str(path)


@pytest.fixture
def settings(tmp_path: Path) -> AuditSettings:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(PERMIT_ALL))
    key = tmp_path / "meter-100.pem"
    key.write_bytes(_pem(METER))
    return AuditSettings(policy=str(policy), meter_keys=(str(key),), now=datetime.now(UTC))


def _audit(log: str, settings: AuditSettings, workers: int = 1) -> list[Finding]:
    # These logs hold the MeterValues requests only: their answers were not logged, which the
    # audit reports as unanswered-call (tested in test_audit_engine.py); here only the meter
    # findings matter.
    findings = audit_logs([log], ReadOptions(), settings, workers=workers).findings
    return [f for f in findings if f.kind.value != "unanswered-call"]


def _kinds(findings: list[Finding]) -> list[tuple[str, str, int]]:
    return [(f.kind.value, f.severity.value, f.line) for f in findings]


def test_valid_records_of_a_whole_transaction_give_no_finding(
    tmp_path: Path, settings: AuditSettings
) -> None:
    log = _log(
        tmp_path,
        [("cs-1", _meter_values(1, _record("T1", "B", "100.25"))),
         ("cs-1", _meter_values(2, _record("T2", "E", "112.50", minute=30)))],
    )  # fmt: skip
    report = audit_logs([log], ReadOptions(), settings)
    assert report.findings == []
    assert report.exit_status == 0


def test_changed_reading_is_meter_invalid_and_critical(
    tmp_path: Path, settings: AuditSettings
) -> None:
    tampered = _record("T1", "B", "100.25").replace('"RV":100.25', '"RV":10.25')
    findings = _audit(_log(tmp_path, [("cs-1", _meter_values(1, tampered))]), settings)
    assert _kinds(findings) == [("meter-invalid", "critical", 1)]
    assert findings[0].detail == (
        "$.meterValue[0].sampledValue[0].signedMeterValue (meter GW-1/M-100, T1): invalid: "
        "signature does not verify under 1 trusted key(s) for meter GW-1/M-100: the payload or "
        "the signature was changed, or another key signed it"
    )
    assert (findings[0].action, findings[0].message_id, findings[0].decision) == (
        "MeterValues",
        "mv-1",
        "permit",
    )


def test_record_signed_by_an_untrusted_key_it_carries_is_meter_untrusted(
    tmp_path: Path, settings: AuditSettings
) -> None:
    own_key = base64.b64encode(
        STRANGER.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    frame = _meter_values(1, _record("T1", "B", "100.25", key=STRANGER), public_key=own_key)
    findings = _audit(_log(tmp_path, [("cs-1", frame)]), settings)
    assert _kinds(findings) == [("meter-untrusted", "error", 1)]
    assert findings[0].detail.endswith(
        "(meter GW-1/M-100, T1): valid-untrusted: verified only under the key that came with "
        "the message (it is not in the meter keyring)"
    )


def test_record_of_an_unknown_key_without_trusted_keys_is_meter_untrusted(tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(PERMIT_ALL))
    log = _log(tmp_path, [("cs-1", _meter_values(1, _record("T1", "B", "100.25")))])
    findings = _audit(log, AuditSettings(policy=str(policy), now=datetime.now(UTC)))
    assert _kinds(findings) == [("meter-untrusted", "error", 1)]
    assert "unknown-key: no trusted" in findings[0].detail


def test_record_behind_an_escaped_member_name_is_still_verified(
    tmp_path: Path, settings: AuditSettings
) -> None:
    tampered = _record("T1", "B", "100.25").replace('"RV":100.25', '"RV":10.25')
    frame = _meter_values(1, tampered).replace('"signedMeterValue"', '"signedMet\\u0065rValue"')
    assert "signedMeterValue" not in frame
    findings = _audit(_log(tmp_path, [("cs-1", frame)]), settings)
    assert _kinds(findings) == [("meter-invalid", "critical", 1)]


def test_record_that_is_not_ocmf_is_meter_malformed(
    tmp_path: Path, settings: AuditSettings
) -> None:
    findings = _audit(_log(tmp_path, [("cs-1", _meter_values(1, "OCMF|{}|{}"))]), settings)
    assert [(f.kind.value, f.severity.value) for f in findings] == [("meter-malformed", "error")]
    assert ": malformed: " in findings[0].detail


def test_pagination_gap_is_a_meter_transaction_finding_on_the_later_record(
    tmp_path: Path, settings: AuditSettings
) -> None:
    log = _log(
        tmp_path,
        [("cs-1", _meter_values(1, _record("T1", "B", "100.25"))),
         ("cs-1", _meter_values(2, _record("T3", "E", "112.50", minute=30)))],
    )  # fmt: skip
    findings = _audit(log, settings)
    assert _kinds(findings) == [("meter-transaction", "error", 2)]
    assert findings[0].detail == (
        "pagination-gap: T3 follows T1: 1 record(s) missing; "
        "$.meterValue[0].sampledValue[0].signedMeterValue (meter GW-1/M-100, T3)"
    )


def test_transaction_without_end_is_reported_at_the_end_on_its_begin_frame(
    tmp_path: Path, settings: AuditSettings
) -> None:
    log = _log(
        tmp_path,
        [("cs-1", _meter_values(1, _record("T1", "B", "100.25"))),
         ("cs-1", '[2,"hb","Heartbeat",{}]')],
    )  # fmt: skip
    report = audit_logs([log], ReadOptions(), settings)
    assert _kinds(report.findings) == [("meter-transaction", "error", 1)]
    end = report.findings[0]
    assert (end.station, end.message_id, end.action, end.decision) == (
        "cs-1",
        "mv-1",
        "MeterValues",
        None,
    )
    assert end.detail.startswith("end-missing: transaction begun here has no end reading")
    assert report.summary.to_dict()["stations"]["cs-1"]["findings"] == 1
    assert report.exit_status == 1


def test_transactions_are_checked_per_station(tmp_path: Path, settings: AuditSettings) -> None:
    # The same meter serial on two stations: each station's sequence is complete on its own.
    log = _log(
        tmp_path,
        [("cs-1", _meter_values(1, _record("T1", "B", "100.25"))),
         ("cs-2", _meter_values(2, _record("T1", "B", "100.25"))),
         ("cs-1", _meter_values(3, _record("T2", "E", "101.00", minute=30))),
         ("cs-2", _meter_values(4, _record("T2", "E", "101.00", minute=30)))],
    )  # fmt: skip
    assert _audit(log, settings) == []


def test_ocpp16_stop_transaction_signed_data_is_verified(
    tmp_path: Path, settings: AuditSettings
) -> None:
    good = _record("T1", "E", "112.50")
    bad = good.replace('"RV":112.50', '"RV":12.50')
    log = _log(
        tmp_path,
        [("cs-1", _stop_transaction_16(1, good.encode().hex())),
         ("cs-1", _stop_transaction_16(2, bad))],
        ocpp="1.6",
    )  # fmt: skip
    findings = _audit(log, settings)
    assert [(f.kind.value, f.line) for f in findings] == [
        ("meter-transaction", 1),  # an end reading without a begin
        ("meter-invalid", 2),
    ]
    assert findings[0].detail.startswith("begin-missing: end reading (TX E) without a begin")
    assert findings[1].detail.startswith("$.transactionData[0].sampledValue[0].value ")


def test_meter_findings_do_not_carry_the_policys_denial(tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(PERMIT_ALL | {"rules": []}))
    tampered = _record("T1", "B", "100.25").replace('"RV":100.25', '"RV":10.25')
    findings = _audit(
        _log(tmp_path, [("cs-1", _meter_values(1, tampered))]), AuditSettings(policy=str(policy), now=datetime.now(UTC))
    )
    assert [(f.kind.value, f.decision) for f in findings] == [
        ("unsigned-required", "deny"),
        ("meter-untrusted", "deny"),
    ]
    assert "the policy denies" not in findings[1].detail


def test_two_workers_give_the_same_meter_findings_as_one(
    tmp_path: Path, settings: AuditSettings
) -> None:
    rounds: list[list[tuple[str, str]]] = [[], [], []]  # round r: the r-th frame of each station
    for s in range(6):
        station = f"cs-{s}"
        rounds[0].append((station, _meter_values(10 * s, _record("T1", "B", "100.25"))))
        rounds[1].append((station, _meter_values(10 * s + 1, _record("T3", "C", "101", minute=5))))
        if s % 2:  # odd stations close their transaction
            rounds[2].append(
                (station, _meter_values(10 * s + 2, _record("T4", "E", "102", minute=9)))
            )
    frames = rounds[0] + rounds[1] + rounds[2] + [("cs-1", _meter_values(99, "OCMF|{}|{}"))]
    log = _log(tmp_path, frames)
    one = list(json_lines(audit_logs([log], ReadOptions(), settings, workers=1)))
    two = list(json_lines(audit_logs([log], ReadOptions(), settings, workers=2)))
    assert two == one
    kinds = [json.loads(line).get("kind") for line in one[:-1]]
    assert kinds.count("meter-transaction") == 6 + 3  # a gap per station, 3 open transactions
    assert kinds.count("meter-malformed") == 1


# --------------------------------------------------------------------------- trust from certificates


def _anchored_policy(tmp_path: Path) -> Path:
    policy = tmp_path / "anchored.json"
    anchor = (KEYS / "root-ca.crt.pem").read_text()
    policy.write_text(json.dumps(PERMIT_ALL | {"trustAnchors": [anchor]}))
    return policy


def test_meter_certificate_with_meter_signing_makes_its_key_trusted(tmp_path: Path) -> None:
    meter_key = load_private_key(KEYS / "meter-1.key.pem")
    assert isinstance(meter_key, ec.EllipticCurvePrivateKey)
    log = _log(tmp_path, [("cs-1", _meter_values(1, _record("T1", "B", "100.25", key=meter_key)))])
    settings = AuditSettings(
        policy=str(_anchored_policy(tmp_path)),
        meter_certificates=(str(KEYS / "meter-1.chain.pem"),),
        now=T0,
    )
    report = audit_logs([log], ReadOptions(), settings)
    assert _kinds(report.findings) == [("meter-transaction", "error", 1)]  # only: no end reading


def test_certificate_without_meter_signing_is_refused_naming_the_file(tmp_path: Path) -> None:
    chain = str(KEYS / "station-1.chain.pem")
    settings = AuditSettings(
        policy=str(_anchored_policy(tmp_path)), meter_certificates=(chain,), now=T0
    )
    with pytest.raises(
        KeyLoadError,
        match=re.escape("station-1.chain.pem: meter certificate lacks the usage meterSigning"),
    ):
        audit_logs([_log(tmp_path, [])], ReadOptions(), settings)


def test_meter_certificate_needs_trust_anchors_in_the_policy(
    tmp_path: Path, settings: AuditSettings
) -> None:
    chain = str(KEYS / "meter-1.chain.pem")
    from dataclasses import replace

    with pytest.raises(KeyLoadError, match="the policy has no trustAnchors"):
        audit_logs(
            [_log(tmp_path, [])], ReadOptions(), replace(settings, meter_certificates=(chain,))
        )


# --------------------------------------------------------------------------- CLI

runner = CliRunner()


def test_cli_meter_key_makes_valid_records_pass(tmp_path: Path, settings: AuditSettings) -> None:
    log = _log(
        tmp_path,
        [("cs-1", _meter_values(1, _record("T1", "B", "100.25"))),
         ("cs-1", _meter_values(2, _record("T2", "E", "112.50", minute=30)))],
    )  # fmt: skip
    args = ["audit", log, "--policy", settings.policy, "--meter-key", settings.meter_keys[0]]
    assert runner.invoke(app, args).exit_code == 0
    without = runner.invoke(app, ["audit", log, "--policy", settings.policy, "--json"])
    assert without.exit_code == 1
    assert [json.loads(x).get("kind") for x in without.stdout.splitlines()][:2] == [
        "meter-untrusted"
    ] * 2


def test_cli_unreadable_meter_key_is_a_usage_error(tmp_path: Path, settings: AuditSettings) -> None:
    log = _log(tmp_path, [])
    result = runner.invoke(
        app, ["audit", log, "--policy", settings.policy, "--meter-key", "nope.pem"]
    )
    assert result.exit_code == 2
    assert "nope.pem: cannot read key file" in result.output
