"""``ocpp-e2e tariff``: exit codes 0/1/2, JSON output, the walk-through of docs/tariffs.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocpp_e2e.cli.tariff import app

ROOT = Path(__file__).resolve().parent.parent
KEYS = ROOT / "keys-example"
DATA = Path(__file__).parent / "data" / "tariffs"
ANCHOR = ["--trust-anchor", str(KEYS / "root-ca.crt.pem")]
runner = CliRunner()


def signer(name: str) -> list[str]:
    return ["--key", str(KEYS / f"{name}.key.pem"), "--certificates", str(KEYS / f"{name}.chain.pem")]


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tariff") / "signed.json"
    args = [
        "sign",
        str(DATA / "per-minute.tariff.json"),
        *signer("tariff-signer"),
        *ANCHOR,
        "-o",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def test_verify_accepted_exits_0_and_reports_signer_and_digest(signed: Path) -> None:
    result = runner.invoke(app, ["verify", str(signed), *ANCHOR, "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["verdict"] == "accepted"
    assert data["signers"][0]["signer"] == "tariffs-example"
    assert data["signers"][0]["usages"] == ["tariffSigning"]
    digest = runner.invoke(app, ["digest", str(signed)])
    assert data["digest"] == digest.output.strip()


def test_verify_tampered_exits_1(signed: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "t.json"
    tampered.write_text(signed.read_text().replace('"priceMinute": 6.5', '"priceMinute": 0.65'))
    result = runner.invoke(app, ["verify", str(tampered), *ANCHOR])
    assert result.exit_code == 1
    assert result.output.startswith("rejected: signature 0 (tariffs-example) is invalid")


def test_sign_with_a_key_without_tariff_signing_exits_2() -> None:
    args = ["sign", str(DATA / "per-minute.tariff.json"), *signer("csms-operator"), *ANCHOR]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "error: certificate identity ops-1 may not sign tariffs" in result.output


def test_cost_json_has_exact_strings(signed: Path) -> None:
    args = [
        "cost",
        "--tariff",
        str(signed),
        "--session",
        str(DATA / "session-39min.json"),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert (data["totalExclTax"], data["totalInclTax"]) == ("292.50", "348.075")


def test_cost_with_a_missing_file_exits_2() -> None:
    result = runner.invoke(app, ["cost", "--tariff", "missing.json", "--session", "missing.json"])
    assert result.exit_code == 2
    assert result.output == "error: missing.json: No such file or directory\n"


def test_request_wraps_the_signed_tariff(signed: Path) -> None:
    result = runner.invoke(app, ["request", str(signed), "--evse-id", "1"])
    assert result.exit_code == 0
    assert json.loads(result.output) == {"evseId": 1, "tariff": json.loads(signed.read_text())}


def test_receipt_round_trip_and_a_receipt_for_another_tariff(signed: Path, tmp_path: Path) -> None:
    receipt = tmp_path / "receipt.json"
    args = ["receipt", "--tariff", str(signed), "--session", str(DATA / "session-39min.json"),
            *signer("station-1"), "--receipt-id", "r-1", "-o", str(receipt)]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    ok = runner.invoke(app, ["verify-receipt", str(receipt), "--tariff", str(signed), *ANCHOR])
    assert ok.exit_code == 0, ok.output
    other = runner.invoke(
        app,
        ["verify-receipt", str(receipt), "--tariff", str(DATA / "per-kwh.tariff.json"), *ANCHOR],
    )
    assert other.exit_code == 1
    assert "receipt r-1: invalid" in other.output
    assert "FAIL tariff-named: the receipt names tariff per-minute-15" in other.output
    assert "FAIL amounts: the receipt's cost is not what the tariff implies" in other.output
