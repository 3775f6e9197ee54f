"""``ocpp-e2e pki``: exit codes 0/1/2, files written, no private key on the terminal."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from test_pki_support import KEYS_EXAMPLE
from typer.testing import CliRunner, Result

from ocpp_e2e.cli.pki import app

ROOT_CRT = str(KEYS_EXAMPLE / "root-ca.crt.pem")
AT = "2030-06-01T12:00:00Z"


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "PRIVATE KEY" not in result.output
    return result


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    assert run("init-root", "r", "--out", tmp_path, "--path-length", "1").exit_code == 0
    result = run(
        "issue-ca",
        "grid-ca",
        "--ca",
        tmp_path / "r.crt.pem",
        "--usage",
        "gridOperator",
        "--out",
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    result = run(
        "issue",
        "dso",
        "--ca",
        tmp_path / "grid-ca.crt.pem",
        "--identity",
        "dso-1",
        "--usage",
        "gridOperator",
        "--out",
        tmp_path,
        "--hours",
        "48",
    )
    assert result.exit_code == 0, result.output
    return tmp_path


def test_init_root_issue_ca_and_issue_write_the_files_with_private_keys_0600(pki: Path) -> None:
    names = sorted(p.name for p in pki.iterdir())
    assert names == [
        "dso.chain.pem",
        "dso.crt.pem",
        "dso.key.pem",
        "dso.pub.pem",
        "grid-ca.chain.pem",
        "grid-ca.crt.pem",
        "grid-ca.key.pem",
        "r.crt.pem",
        "r.key.pem",
    ]
    for key in pki.glob("*.key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_verify_prints_identity_and_effective_usages(pki: Path) -> None:
    result = run("verify", pki / "dso.chain.pem", "--trust-anchor", pki / "r.crt.pem", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert (doc["ok"], doc["identity"], doc["usages"]) == (True, "dso-1", ["gridOperator"])
    assert len(doc["issuers"]) == 2


def test_verify_failure_exits_1_with_the_reason() -> None:
    result = run(
        "verify",
        KEYS_EXAMPLE / "grid-operator.chain.pem",
        "--trust-anchor",
        KEYS_EXAMPLE / "operations-ca.crt.pem",
        "--at",
        AT,
        "--now",
        AT,
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        "untrusted-certificate: unknown root: the chain ends at 'grid-ca', issued by "
        "'CN=root-ca', which is not a configured trust anchor"
    )


def test_verify_at_a_time_outside_validity_exits_1() -> None:
    result = run(
        "verify",
        KEYS_EXAMPLE / "station-1.chain.pem",
        "--trust-anchor",
        ROOT_CRT,
        "--at",
        "2025-06-01T00:00:00Z",
        "--now",
        AT,
    )
    assert result.exit_code == 1
    assert "was not yet valid at the signature time 2025-06-01T00:00:00Z" in result.output


def test_revoke_then_crl_then_verify_reports_the_revocation(pki: Path) -> None:
    ca = pki / "grid-ca.crt.pem"
    result = run("revoke", pki / "dso.crt.pem", "--ca", ca, "--reason", "keyCompromise")
    assert result.exit_code == 0, result.output
    assert (pki / "grid-ca.revoked.json").is_file()
    assert run("crl", "--ca", ca, "--out", pki / "grid-ca.crl.pem").exit_code == 0
    result = run(
        "verify",
        pki / "dso.chain.pem",
        "--trust-anchor",
        pki / "r.crt.pem",
        "--crl",
        pki / "grid-ca.crl.pem",
    )
    assert result.exit_code == 1
    assert "is revoked by CA 'grid-ca'" in result.output


def test_revoke_needs_exactly_one_of_certificate_and_serial(pki: Path) -> None:
    result = run("revoke", "--ca", pki / "grid-ca.crt.pem")
    assert result.exit_code == 2
    assert result.output.strip() == "error: give the certificate file or --serial, exactly one"


def test_issuing_a_usage_the_ca_lacks_exits_2_with_one_line(pki: Path) -> None:
    result = run(
        "issue",
        "x",
        "--ca",
        pki / "grid-ca.crt.pem",
        "--identity",
        "x",
        "--usage",
        "tariffSigning",
        "--out",
        pki,
    )
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: CA 'grid-ca' cannot grant tariffSigning to leaf 'x': it holds only gridOperator"
    )


def test_issue_for_a_given_public_key_writes_no_private_key(pki: Path, tmp_path: Path) -> None:
    out = tmp_path / "given"
    result = run(
        "issue",
        "meter",
        "--ca",
        pki / "r.crt.pem",
        "--identity",
        "meter-9",
        "--usage",
        "meterSigning",
        "--public-key",
        KEYS_EXAMPLE / "meter-1.pub.pem",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["meter.chain.pem", "meter.crt.pem"]


def test_existing_files_are_not_overwritten_without_force(pki: Path) -> None:
    result = run("init-root", "r", "--out", pki)
    assert result.exit_code == 2
    assert "exist(s) already; pass --force to overwrite" in result.output


def test_days_and_hours_together_are_refused(pki: Path) -> None:
    result = run(
        "issue",
        "y",
        "--ca",
        pki / "r.crt.pem",
        "--identity",
        "y",
        "--usage",
        "csmsOperator",
        "--days",
        "1",
        "--hours",
        "1",
        "--out",
        pki,
    )
    assert (result.exit_code, result.output.strip()) == (
        2,
        "error: give --days or --hours, not both",
    )


def test_encrypted_key_needs_its_password(pki: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CA_PW", "correct horse")
    result = run("init-root", "enc", "--out", pki, "--password-env", "CA_PW")
    assert result.exit_code == 0
    args = (
        "issue",
        "z",
        "--ca",
        pki / "enc.crt.pem",
        "--identity",
        "z",
        "--usage",
        "csmsOperator",
        "--out",
        pki,
    )
    result = run(*args)
    assert result.exit_code == 2
    assert "the key is encrypted; give its password" in result.output
    assert run(*args, "--ca-password-env", "CA_PW").exit_code == 0


def test_show_prints_usage_names_not_oids() -> None:
    result = run("show", KEYS_EXAMPLE / "grid-operator.crt.pem")
    assert result.exit_code == 0
    assert "usages:   gridOperator" in result.output
    assert "identity: dso-example" in result.output
    assert "2.25." not in result.output


def test_show_json_lists_every_certificate_of_a_chain() -> None:
    result = run("show", KEYS_EXAMPLE / "grid-operator.chain.pem", "--json")
    doc = json.loads(result.output)
    assert [(c["name"], c["ca"], c["usages"]) for c in doc] == [
        ("dso-example (DEMO, never deploy)", False, ["gridOperator"]),
        ("grid-ca", True, ["gridOperator"]),
    ]


def test_unreadable_certificate_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("nothing here")
    result = run("show", bad)
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {bad}: not a PEM or DER X.509 certificate")


def test_demo_command_writes_the_hierarchy(tmp_path: Path) -> None:
    result = run("demo", tmp_path / "demo")
    assert result.exit_code == 0
    assert (tmp_path / "demo" / "keyring.json").is_file()
    assert run("demo", tmp_path / "demo").exit_code == 2


@pytest.mark.parametrize(
    "command", ["init-root", "issue-ca", "issue", "revoke", "crl", "verify", "show", "demo"]
)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Example: ocpp-e2e pki" in result.output
