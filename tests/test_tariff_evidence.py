"""The evidence chain of a bill (receipt → tariff → meter records), checked offline in one verdict."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from ocpp_e2e.cli.tariff import app
from ocpp_e2e.keys import load_private_key
from ocpp_e2e.meter.sign import sign_payload
from ocpp_e2e.tariffs.evidence import record_digest

ROOT = Path(__file__).parent.parent
KEYS = ROOT / "keys-example"
DATA = Path(__file__).parent / "data" / "tariffs"
ANCHOR = ["--trust-anchor", str(KEYS / "root-ca.crt.pem")]
METER = ["--meter-cert", str(KEYS / "meter-1.chain.pem")]
runner = CliRunner()


def _payload(pg: str, tx: str, minute: int, kwh: str) -> str:
    return (
        '{"GS":"cs-0001","MS":"meter-0001","PG":"' + pg + '","RD":[{"TM":"2026-03-02T10:'
        f'{minute:02d}:00,000+0000 S","TX":"{tx}","RV":{kwh},"RI":"1-b:1.8.0","RU":"kWh",'
        '"EF":"","ST":"G"}]}'
    )


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("chain")
    key = load_private_key(KEYS / "meter-1.key.pem")
    begin = sign_payload(_payload("T1", "B", 0, "120.000"), key)  # type: ignore[arg-type]
    end = sign_payload(_payload("T2", "E", 39, "131.700"), key)  # type: ignore[arg-type]
    (d / "session.ocmf").write_text(begin + "\n" + end + "\n")
    tariff = d / "tariff.signed.json"
    signing = ["sign", str(DATA / "per-minute.tariff.json"), "--key",
               str(KEYS / "tariff-signer.key.pem"), "--certificates", str(KEYS / "tariff-signer.chain.pem"),
               *ANCHOR, "-o", str(tariff)]  # fmt: skip
    assert runner.invoke(app, signing).exit_code == 0
    for name, session in (("ok", "session-39min.json"), ("more", None)):
        path = DATA / "session-39min.json"
        if session is None:
            doc = json.loads(path.read_text())
            doc["meterStopWh"] = doc["meterStartWh"] + 15000
            path = d / "more.json"
            path.write_text(json.dumps(doc))
        out = d / f"{name}.receipt.json"
        args = ["receipt", "--tariff", str(tariff), "--session", str(path), "--key",
                str(KEYS / "station-1.key.pem"), "--certificates", str(KEYS / "station-1.chain.pem"),
                "--receipt-id", name, "--meter-records", str(d / "session.ocmf"), "-o", str(out)]  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    return {"dir": d, "tariff": tariff, "records": d / "session.ocmf", "ok": d / "ok.receipt.json",
            "more": d / "more.receipt.json"}  # fmt: skip


def _verify(chain: dict[str, Path], receipt: Path, *extra: str) -> tuple[int, dict]:
    args = ["verify-receipt", str(receipt), "--tariff", str(chain["tariff"]), *ANCHOR, "--json",
            *extra]  # fmt: skip
    result = runner.invoke(app, args)
    return result.exit_code, json.loads(result.stdout)


def _failed(doc: dict) -> list[str]:
    return [c["check"] for c in doc["checks"] if not c["ok"]]


def test_receipt_names_both_meter_records_by_payload_digest(chain: dict[str, Path]) -> None:
    refs = json.loads(chain["ok"].read_text())["meterRecords"]
    begin, end = chain["records"].read_text().splitlines()
    assert refs == {
        "begin": {"digest": record_digest(begin)},
        "end": {"digest": record_digest(end)},
    }


def test_whole_chain_holds(chain: dict[str, Path]) -> None:
    code, doc = _verify(chain, chain["ok"], "--meter-records", str(chain["records"]), *METER)
    assert (code, doc["verdict"], _failed(doc)) == (0, "valid", [])
    assert doc["meterEnergyWh"] == "11700"


def test_billed_energy_above_the_meters_is_the_only_failure(chain: dict[str, Path]) -> None:
    code, doc = _verify(chain, chain["more"], "--meter-records", str(chain["records"]), *METER)
    assert (code, _failed(doc)) == (1, ["energy"])


def test_changed_meter_record_fails_presence_and_names_it(chain: dict[str, Path]) -> None:
    changed = chain["dir"] / "changed.ocmf"
    changed.write_text(chain["records"].read_text().replace('"RV":131.700', '"RV":135.000'))
    code, doc = _verify(chain, chain["ok"], "--meter-records", str(changed), *METER)
    assert (code, _failed(doc)) == (1, ["meter-end-present"])


def test_record_with_a_broken_signature_fails_its_signature_check(chain: dict[str, Path]) -> None:
    begin, end = chain["records"].read_text().splitlines()
    sd = json.loads(end.rsplit("|", 1)[1])["SD"]
    broken = end.replace(sd, sd[:-2] + ("00" if sd[-2:] != "00" else "01"))
    path = chain["dir"] / "broken.ocmf"
    path.write_text(begin + "\n" + broken + "\n")
    code, doc = _verify(chain, chain["ok"], "--meter-records", str(path), *METER)
    assert (code, _failed(doc)) == (1, ["meter-end-signature"])


def test_meter_records_without_trusted_meter_keys_fail(chain: dict[str, Path]) -> None:
    code, doc = _verify(chain, chain["ok"], "--meter-records", str(chain["records"]))
    assert (code, _failed(doc)) == (1, ["meter-signatures"])


def test_meter_key_that_is_not_the_meters_fails_both_signatures(chain: dict[str, Path]) -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (chain["dir"] / "other.pub.pem").write_bytes(pem)
    other = ["--meter-key", str(chain["dir"] / "other.pub.pem")]
    code, doc = _verify(chain, chain["ok"], "--meter-records", str(chain["records"]), *other)
    assert code == 1
    assert {"meter-begin-signature", "meter-end-signature"} <= set(_failed(doc))


def test_unsigned_tariff_and_missing_records_are_all_listed(chain: dict[str, Path]) -> None:
    args = ["verify-receipt", str(chain["ok"]), "--tariff", str(DATA / "per-minute.tariff.json"),
            *ANCHOR, *METER, "--meter-records", str(chain["dir"] / "other.ocmf")]  # fmt: skip
    (chain["dir"] / "other.ocmf").write_text(
        sign_payload(_payload("T9", "B", 0, "1"), load_private_key(KEYS / "meter-1.key.pem"))  # type: ignore[arg-type]
        + "\n"
    )
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    for name in ("tariff-signature", "meter-begin-present", "meter-end-present"):
        assert f"FAIL {name}:" in result.output


def test_meter_records_without_a_tariff_are_a_usage_error(chain: dict[str, Path]) -> None:
    args = ["verify-receipt", str(chain["ok"]), *ANCHOR, "--meter-records", str(chain["records"])]
    assert runner.invoke(app, args).exit_code == 2


def test_receipt_with_an_unusable_session_fails_amounts_and_energy(
    chain: dict[str, Path], tmp_path: Path
) -> None:
    from ocpp_e2e.keys import Keyring
    from ocpp_e2e.meter import MeterKeyring, MeterVerifier
    from ocpp_e2e.pki import ChainValidator
    from ocpp_e2e.tariffs.evidence import verify_evidence
    from ocpp_e2e.verify import Verifier

    receipt = json.loads(chain["ok"].read_text())
    receipt["session"]["stop"] = receipt["session"]["start"]
    ring = MeterKeyring()
    ring.add(load_private_key(KEYS / "meter-1.key.pem").public_key())  # type: ignore[arg-type]
    verifier = Verifier(
        Keyring(), certificates=ChainValidator.from_files([KEYS / "root-ca.crt.pem"])
    )
    tariff = json.loads(chain["tariff"].read_text())
    result = verify_evidence(
        receipt,
        verifier,
        tariff=tariff,
        meter_verifier=MeterVerifier(ring),
        meter_records=chain["records"].read_text().splitlines(), now=datetime.now(UTC),
    )
    failed = [c.name for c in result.checks if not c.ok]
    assert "amounts" in failed and "energy" in failed
    assert not result.valid
