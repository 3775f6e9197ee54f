"""Interoperability with OpenSSL (Debian's openssl 3): both directions.

- certificates made by ``ocpp-e2e pki`` verify with ``openssl verify -purpose any``;
- EKUs written by openssl from a config file with the SPEC OIDs read back as usage names.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from test_pki_support import DATA, KEYS_EXAMPLE
from typer.testing import CliRunner

from ocpp_e2e.cli.pki import app
from ocpp_e2e.pki import (
    ChainValidator,
    certificate_usages,
    load_certificates_file,
    pem_chain_der,
)

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
pytestmark = pytest.mark.skipif(not Path(OPENSSL).exists(), reason="openssl is not installed")


def openssl(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OPENSSL, *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False
    )


def cli(*args: str | Path) -> None:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def cli_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root, a sub-CA and leaves of every key type, all made with the CLI."""
    out = tmp_path_factory.mktemp("pki")
    cli("init-root", "interop-root", "--out", out, "--key-type", "ES384", "--path-length", "1")
    cli(
        "issue-ca",
        "grid-ca",
        "--ca",
        out / "interop-root.crt.pem",
        "--usage",
        "gridOperator",
        "--key-type",
        "Ed25519",
        "--out",
        out,
    )
    for key_type in ("Ed25519", "ES256", "ES384", "ES512"):
        cli(
            "issue",
            f"dso-{key_type}",
            "--ca",
            out / "grid-ca.crt.pem",
            "--identity",
            f"dso-{key_type}",
            "--usage",
            "gridOperator",
            "--key-type",
            key_type,
            "--out",
            out,
        )
    return out


@pytest.mark.parametrize("key_type", ["Ed25519", "ES256", "ES384", "ES512"])
def test_cli_certificates_verify_with_openssl(cli_pki: Path, key_type: str) -> None:
    result = openssl(
        "verify",
        "-purpose",
        "any",
        "-CAfile",
        cli_pki / "interop-root.crt.pem",
        "-untrusted",
        cli_pki / "grid-ca.crt.pem",
        cli_pki / f"dso-{key_type}.crt.pem",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(": OK")


def test_shipped_demo_chains_verify_with_openssl() -> None:
    for chain in sorted(KEYS_EXAMPLE.glob("*.chain.pem")):
        result = openssl(
            "verify",
            "-purpose",
            "any",
            "-CAfile",
            KEYS_EXAMPLE / "root-ca.crt.pem",
            "-untrusted",
            chain,
            chain,
        )
        assert result.returncode == 0, (chain.name, result.stdout + result.stderr)


def test_openssl_reads_the_usage_oids_the_library_wrote(cli_pki: Path) -> None:
    text = openssl(
        "x509",
        "-noout",
        "-ext",
        "extendedKeyUsage,subjectAltName",
        "-in",
        cli_pki / "dso-ES256.crt.pem",
    ).stdout
    assert "2.25.41907878048834227219801527880191530256.4" in text
    assert "URI:urn:ocpp-e2e:dso-ES256" in text


@pytest.fixture(scope="module")
def openssl_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root, a sub-CA and a leaf made entirely by openssl from tests/data/pki/openssl-ext.cnf."""
    d = tmp_path_factory.mktemp("openssl")
    cnf = DATA / "openssl-ext.cnf"
    steps: list[tuple[str | Path, ...]] = [
        ("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "root.key"),
        (
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-config",
            cnf,
            "-extensions",
            "v3_root",
            "-days",
            "30",
            "-sha256",
            "-out",
            "root.pem",
        ),
        ("genpkey", "-algorithm", "ED25519", "-out", "sub.key"),
        ("req", "-new", "-key", "sub.key", "-subj", "/CN=openssl-sub", "-out", "sub.csr"),
        (
            "x509",
            "-req",
            "-in",
            "sub.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-extfile",
            cnf,
            "-extensions",
            "v3_sub",
            "-days",
            "20",
            "-sha256",
            "-out",
            "sub.pem",
        ),
        ("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "leaf.key"),
        ("req", "-new", "-key", "leaf.key", "-subj", "/CN=openssl-dso", "-out", "leaf.csr"),
        (
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "sub.pem",
            "-CAkey",
            "sub.key",
            "-CAcreateserial",
            "-extfile",
            cnf,
            "-extensions",
            "v3_leaf",
            "-days",
            "10",
            "-out",
            "leaf.pem",
        ),
    ]
    for step in steps:
        result = openssl(*step, cwd=d)
        assert result.returncode == 0, (step, result.stderr)
    return d


def test_eku_written_by_openssl_reads_as_spec_usage_names(openssl_pki: Path) -> None:
    leaf = load_certificates_file(openssl_pki / "leaf.pem")[0]
    sub = load_certificates_file(openssl_pki / "sub.pem")[0]
    assert certificate_usages(leaf) == frozenset({"gridOperator", "securityOfficer"})
    assert certificate_usages(sub) == frozenset({"gridOperator", "tariffSigning"})


def test_openssl_made_chain_validates_with_intersected_usages(openssl_pki: Path) -> None:
    leaf = load_certificates_file(openssl_pki / "leaf.pem")[0]
    chain = pem_chain_der(
        (openssl_pki / "leaf.pem").read_bytes() + (openssl_pki / "sub.pem").read_bytes()
    )
    moment = leaf.not_valid_before_utc + timedelta(hours=1)
    validator = ChainValidator.from_files([openssl_pki / "root.pem"])
    result = validator.validate(chain, at=moment, now=moment)
    assert result.ok, result.reason
    assert result.identity == "openssl-dso"
    assert result.usages == frozenset(
        {"gridOperator"}
    )  # securityOfficer not granted by openssl-sub
    assert "ignored: securityOfficer not granted by CA 'openssl-sub'" in result.reason
    assert chain[0] == leaf.public_bytes(serialization.Encoding.DER)
