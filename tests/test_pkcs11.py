"""Keys in hardware (``pkcs11:`` signer URIs, RFC 7512) against SoftHSM2: keys generated in the
token sign frames, tariffs, tickets, policies and CRLs; the PKI certifies token keys and a CA
whose key is in the token issues certificates and CRLs. The PIN comes from the environment or a
file, never from the URI or the command line.

SoftHSM2 is the Debian package ``softhsm2`` (installed by .ci/run): without it these tests skip
locally and fail in CI (see conftest.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from typer.testing import CliRunner

from ocpp_e2e.cli import app
from ocpp_e2e.errors import KeyLoadError, PKIError
from ocpp_e2e.keys import Keyring, generate_private_key, load_signer, public_key_to_pem
from ocpp_e2e.model import Outcome
from ocpp_e2e.pkcs11 import MODULE_ENV, PIN_ENV, Pkcs11Signer, generate_key, parse_uri
from ocpp_e2e.pki import ChainValidator, create_root
from ocpp_e2e.policy import Policy, check_upgrade, sign_policy
from ocpp_e2e.sign import sign_frame
from ocpp_e2e.tariffs import sign_tariff, verify_tariff
from ocpp_e2e.tickets import TicketLimits, TicketScope, issue_ticket
from ocpp_e2e.verify import Verifier

SOFTHSM_UTIL = shutil.which("softhsm2-util")
MODULE = next(
    (
        p
        for p in (
            Path("/usr/lib/softhsm/libsofthsm2.so"),
            Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
            Path("/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"),
        )
        if p.exists()
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    SOFTHSM_UTIL is None or MODULE is None, reason="SoftHSM2 (Debian softhsm2) is not installed"
)

PIN = "246810"
TOKEN = "ocpp-e2e-test"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
RESET = '[2, "1", "Reset", {"type": "Immediate"}]'
TOKEN_ALGORITHMS = ["Ed25519", "ES256", "ES384", "ES512"]


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh SoftHSM2 token in a temporary folder; PIN and module from the environment."""
    d = tmp_path_factory.mktemp("softhsm")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        mp.setenv(PIN_ENV, PIN)
        mp.setenv(MODULE_ENV, str(MODULE))
        assert SOFTHSM_UTIL is not None
        subprocess.run(
            [SOFTHSM_UTIL, "--init-token", "--free", "--label", TOKEN, "--pin", PIN,
             "--so-pin", "13579111"],
            check=True, capture_output=True, env={"SOFTHSM2_CONF": str(conf)},
        )  # fmt: skip
        yield d


def uri(label: str, **query: str) -> str:
    text = f"pkcs11:token={TOKEN};object={label}"
    return text + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@pytest.fixture(scope="module")
def token_keys(token: Path) -> dict[str, Keyring]:
    """One key per algorithm, generated inside the token; a keyring holding each public key."""
    rings = {}
    for alg in TOKEN_ALGORITHMS:
        ring = Keyring()
        ring.add(generate_key(uri(f"key-{alg}"), alg), name=f"hsm-{alg}", roles=["tariffSigning"])
        rings[alg] = ring
    return rings


@pytest.mark.parametrize("alg", TOKEN_ALGORITHMS)
def test_a_key_generated_in_the_token_signs_a_frame_that_verifies(
    token_keys: dict[str, Keyring], alg: str
) -> None:
    with Pkcs11Signer(uri(f"key-{alg}")) as signer:
        assert signer.algorithm == alg
        text = sign_frame(RESET, signer, ocpp="2.0.1", station="cs-1", timestamp=NOW)
    result = Verifier(token_keys[alg]).verify_frame(text, ocpp="2.0.1", station="cs-1", now=NOW)
    assert [(s.outcome, s.identity) for s in result.verification.signatures] == [
        (Outcome.VALID, f"hsm-{alg}")
    ]


def test_the_private_key_cannot_be_read_out_of_the_token(token_keys: dict[str, Keyring]) -> None:
    import pkcs11
    from pkcs11 import Attribute

    with Pkcs11Signer(uri("key-ES256")) as signer, pytest.raises(pkcs11.AttributeSensitive):
        signer._key[Attribute.VALUE]


def test_load_signer_chooses_the_pkcs11_scheme(token_keys: dict[str, Keyring]) -> None:
    signer = load_signer(uri("key-Ed25519"))
    assert isinstance(signer, Pkcs11Signer)
    assert signer.key_id in token_keys["Ed25519"]
    signer.close()


def test_two_signers_of_one_token_share_its_login_and_both_sign(
    token_keys: dict[str, Keyring],
) -> None:
    first = Pkcs11Signer(uri("key-ES256"))
    second = Pkcs11Signer(uri("key-Ed25519"))
    first.close()  # the other signer's session stays logged in
    text = sign_frame(RESET, second, ocpp="2.0.1", station="cs-1", timestamp=NOW)
    result = Verifier(token_keys["Ed25519"]).verify_frame(
        text, ocpp="2.0.1", station="cs-1", now=NOW
    )
    assert result.verification.signatures[0].outcome is Outcome.VALID
    second.close()
    with pytest.raises(KeyLoadError, match="this signer is closed"):
        second.sign(b"x")


def test_the_pin_may_come_from_a_file(
    token_keys: dict[str, Keyring], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PIN_ENV)
    (tmp_path / "pin").write_text(PIN + "\n")
    with Pkcs11Signer(uri("key-ES384", **{"pin-source": f"file:{tmp_path / 'pin'}"})) as s:
        assert s.algorithm == "ES384"


def test_the_pin_may_come_from_a_named_environment_variable(
    token_keys: dict[str, Keyring], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PIN_ENV)
    monkeypatch.setenv("MY_HSM_PIN", PIN)
    with Pkcs11Signer(uri("key-ES512", **{"pin-source": "envvar:MY_HSM_PIN"})) as s:
        assert s.algorithm == "ES512"


# --------------------------------------------------------------------------- refusals


def test_a_wrong_pin_is_refused_with_a_clear_error(
    token_keys: dict[str, Keyring], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PIN_ENV, "000000")
    with pytest.raises(KeyLoadError, match=r"^pkcs11: the token refused the PIN \(PinIncorrect\)$"):
        Pkcs11Signer(uri("key-ES256"))


def test_no_pin_anywhere_is_refused_naming_where_it_may_come_from(
    token_keys: dict[str, Keyring], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PIN_ENV)
    with pytest.raises(KeyLoadError) as caught:
        Pkcs11Signer(uri("key-ES256"))
    assert str(caught.value) == (
        "pkcs11: the token needs a PIN: give pin-source=file:PATH or pin-source=envvar:NAME, "
        f"or set {PIN_ENV}"
    )


def test_a_pin_in_the_uri_is_refused() -> None:
    with pytest.raises(KeyLoadError, match="pin-value puts the PIN where process lists"):
        parse_uri(uri("key-ES256", **{"pin-value": PIN}))


def test_an_unknown_uri_attribute_is_refused() -> None:
    with pytest.raises(KeyLoadError, match=r"unknown path attribute 'colour' \(RFC 7512\)"):
        parse_uri("pkcs11:token=t;object=k;colour=red")


def test_a_uri_that_names_no_key_is_refused() -> None:
    with pytest.raises(KeyLoadError, match="name the key with object=LABEL or id="):
        parse_uri("pkcs11:token=t")


def test_a_uri_for_a_public_key_object_is_refused() -> None:
    with pytest.raises(KeyLoadError, match="type=public: a signer needs type=private"):
        parse_uri("pkcs11:token=t;object=k;type=public")


def test_percent_encoded_labels_and_ids_are_decoded() -> None:
    parsed = parse_uri("pkcs11:token=my%20token;object=k;id=%00%ff")
    assert parsed.path["token"] == "my token"
    assert parsed.key_id_bytes == b"\x00\xff"


def test_a_missing_key_is_refused_naming_the_uri(token_keys: dict[str, Keyring]) -> None:
    with pytest.raises(KeyLoadError, match=f"no private_key matches token={TOKEN};object=nope"):
        Pkcs11Signer(uri("nope"))


def test_an_unknown_token_is_refused(token_keys: dict[str, Keyring]) -> None:
    with pytest.raises(KeyLoadError, match="no token matches token=other;object=k"):
        Pkcs11Signer("pkcs11:token=other;object=k")


def test_an_ml_dsa_key_cannot_be_made_in_the_token(token: Path) -> None:
    with pytest.raises(KeyLoadError, match="ML-DSA-65 keys cannot be made in a token here"):
        generate_key(uri("pq"), "ML-DSA-65")


def test_a_token_key_has_a_pin_not_a_password(token_keys: dict[str, Keyring]) -> None:
    with pytest.raises(KeyLoadError, match="a token key has a PIN, not a password"):
        load_signer(uri("key-ES256"), b"secret")


# --------------------------------------------------------------------------- every signed thing


def test_a_token_key_signs_a_tariff_that_verifies(token_keys: dict[str, Keyring]) -> None:
    tariff = json.loads((Path(__file__).parent / "data/tariffs/per-kwh.tariff.json").read_text())
    tariff.pop("customData", None)
    with Pkcs11Signer(uri("key-ES256")) as signer:
        signed = sign_tariff(tariff, signer, keyring=token_keys["ES256"], timestamp=NOW)
    verdict = verify_tariff(signed, Verifier(token_keys["ES256"]), now=NOW)
    assert verdict.accepted, verdict.reason


def test_a_token_key_signs_a_policy_that_upgrades_the_installed_one(
    token_keys: dict[str, Keyring],
) -> None:
    pub = public_key_to_pem(token_keys["Ed25519"].public_key(
        next(iter(token_keys["Ed25519"])).key_id
    ))  # type: ignore[arg-type]  # fmt: skip
    base = {
        "type": "SignaturePolicy", "id": "p", "version": 1,
        "keys": [{"publicKey": pub.decode(), "name": "hsm-admin", "roles": ["admin"]}],
        "admins": {"roles": ["admin"]},
        "rules": [{"id": "hb", "effect": "permit", "match": {"actions": ["Heartbeat"]},
                   "signers": "none"}],
    }  # fmt: skip
    installed = Policy.from_dict(base)
    with Pkcs11Signer(uri("key-Ed25519")) as signer:
        signed = sign_policy({**base, "version": 2}, signer, timestamp=NOW)
    result = check_upgrade(installed, json.dumps(signed), now=NOW)
    assert result.accepted, result.reason


def test_the_pki_certifies_a_token_key_and_a_token_ca_signs_certificates_and_crls(
    token_keys: dict[str, Keyring],
) -> None:
    from cryptography.hazmat.primitives import serialization

    from ocpp_e2e.keys import load_spki

    with Pkcs11Signer(uri("key-ES384")) as ca_key, Pkcs11Signer(uri("key-ES256")) as leaf_key:
        root = create_root(ca_key, "hsm-root", valid_for=timedelta(days=30), not_before=NOW)
        leaf = root.issue(
            load_spki(leaf_key.public_key_der),
            "csms-1",
            ["csmsOperator"],
            valid_for=timedelta(days=1),
            not_before=NOW,
        )
        crl_before = root.issue_crl([], number=1, this_update=NOW)
        crl_after = root.issue_crl(
            [(leaf.serial_number, NOW + timedelta(hours=1), None)],
            number=2,
            this_update=NOW + timedelta(hours=1),
        )
        der = [c.public_bytes(serialization.Encoding.DER) for c in root.chain_for(leaf)]
        signer_with_chain = Pkcs11Signer(uri("key-ES256"), certificates=der)
        text = sign_frame(
            RESET, signer_with_chain, ocpp="2.0.1", station="cs-1", timestamp=NOW + timedelta(hours=2)
        )
        signer_with_chain.close()
    root_der = root.certificate.public_bytes(serialization.Encoding.DER)
    leaf.verify_directly_issued_by(root.certificate)
    assert crl_after.is_signature_valid(root.certificate.public_key())  # type: ignore[arg-type]
    at = NOW + timedelta(hours=2)

    def outcome(crl: x509.CertificateRevocationList) -> tuple[Outcome, str]:
        validator = ChainValidator([root_der], crls=[crl.public_bytes(serialization.Encoding.DER)])
        result = Verifier(certificates=validator).verify_frame(
            text, ocpp="2.0.1", station="cs-1", now=at
        )
        only = result.verification.signatures[0]
        return only.outcome, only.reason

    assert outcome(crl_before)[0] is Outcome.VALID
    revoked, reason = outcome(crl_after)
    assert revoked is Outcome.UNTRUSTED_CERTIFICATE
    assert "revoked" in reason


def test_a_token_key_issues_a_ticket_under_a_certificate(token_keys: dict[str, Keyring]) -> None:
    from cryptography.hazmat.primitives import serialization

    from ocpp_e2e.keys import load_spki

    root = create_root(generate_private_key("ES256"), "root", valid_for=timedelta(days=30), not_before=datetime.now(UTC).replace(microsecond=0))
    with Pkcs11Signer(uri("key-Ed25519")) as bare:
        cert = root.issue(
            load_spki(bare.public_key_der), "emp-1", ["ticketIssuing"], valid_for=timedelta(days=1), not_before=datetime.now(UTC).replace(microsecond=0)
        )
    chain = [c.public_bytes(serialization.Encoding.DER) for c in root.chain_for(cert)]
    with Pkcs11Signer(uri("key-Ed25519"), certificates=chain) as signer:
        issued = issue_ticket(
            signer,
            scope=TicketScope(operators=("DE*GEF",)),
            limits=TicketLimits(max_sessions=1),
            valid_for=timedelta(hours=1), now=datetime.now(UTC),
        )
    ticket = issued.ticket
    assert ticket["issuer"] == "emp-1"
    root_der = root.certificate.public_bytes(serialization.Encoding.DER)
    result = Verifier(certificates=ChainValidator([root_der])).verify_object(
        ticket, context={"type": "ChargingTicket"}, now=datetime.now(UTC)
    )
    assert [s.outcome for s in result.signatures] == [Outcome.VALID]


def test_a_token_ca_refuses_an_ml_dsa_leaf(token_keys: dict[str, Keyring]) -> None:
    with Pkcs11Signer(uri("key-ES384")) as ca_key:
        root = create_root(ca_key, "hsm-root", valid_for=timedelta(days=30), not_before=datetime.now(UTC).replace(microsecond=0))
        with pytest.raises(PKIError, match="ML-DSA-65 keys cannot be certified"):
            root.issue(
                generate_private_key("ML-DSA-65").public_key(),
                "pq-1",
                ["chargingStation"],
                valid_for=timedelta(days=1), not_before=datetime.now(UTC).replace(microsecond=0),
            )


# --------------------------------------------------------------------------- the CLI


def test_cli_keygen_in_the_token_then_sign_and_verify(token: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    key_uri = uri("cli-key")
    result = runner.invoke(
        app,
        ["keygen", "--algorithm", "ES256", "--out", key_uri,
         "--public-out", str(tmp_path / "ring" / "cli-1.pem")],
    )  # fmt: skip
    assert result.exit_code == 2  # the keyring folder does not exist yet: refused, one line
    (tmp_path / "ring").mkdir()
    result = runner.invoke(
        app,
        ["keygen", "--algorithm", "ES256", "--out", uri("cli-key-2"),
         "--public-out", str(tmp_path / "ring" / "cli-1.pem")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "(ES256) written to pkcs11:" in result.stdout
    (tmp_path / "reset.json").write_text(RESET)
    result = runner.invoke(
        app,
        ["sign", str(tmp_path / "reset.json"), "--key", uri("cli-key-2"), "--station", "cs-1",
         "--ocpp", "2.0.1", "-o", str(tmp_path / "signed.json")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        ["verify", str(tmp_path / "signed.json"), "--keyring", str(tmp_path / "ring"),
         "--station", "cs-1", "--ocpp", "2.0.1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_cli_keygen_in_the_token_refuses_a_password(token: Path) -> None:
    result = CliRunner().invoke(
        app, ["keygen", "--out", uri("x"), "--password-env", "SOME_PASSWORD"]
    )
    assert result.exit_code == 2
    assert "a key in a token is protected by the token's PIN" in result.stderr


def test_cli_pki_revokes_with_a_ca_key_in_the_token(token: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    ca_uri = uri("cli-ca")
    assert runner.invoke(
        app, ["keygen", "--algorithm", "ES384", "--out", ca_uri]
    ).exit_code == 0
    with Pkcs11Signer(ca_uri) as ca_key:
        root = create_root(ca_key, "cli-root", valid_for=timedelta(days=30), not_before=datetime.now(UTC).replace(microsecond=0))
    crt = tmp_path / "cli-root.crt.pem"
    from ocpp_e2e.pki import certificate_pem

    crt.write_bytes(certificate_pem([root.certificate]))
    result = runner.invoke(
        app,
        ["pki", "issue", "st", "--ca", str(crt), "--ca-key", ca_uri, "--identity", "cs-9",
         "--usage", "chargingStation", "--days", "1", "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, ["pki", "revoke", "--ca", str(crt), str(tmp_path / "st.crt.pem"), "--ca-key", ca_uri]
    )
    assert result.exit_code == 0, result.output
    crl_path = tmp_path / "cli-root.crl.pem"
    result = runner.invoke(
        app, ["pki", "crl", "--ca", str(crt), "--ca-key", ca_uri, "--out", str(crl_path)]
    )
    assert result.exit_code == 0, result.output
    crl = x509.load_pem_x509_crl(crl_path.read_bytes())
    assert crl.is_signature_valid(root.certificate.public_key())  # type: ignore[arg-type]
    leaf = x509.load_pem_x509_certificate((tmp_path / "st.crt.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None
