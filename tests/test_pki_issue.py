"""Issuance (SPEC §5): what a CA writes, and what it refuses to grant."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from test_pki_support import KEYS_EXAMPLE, START, T0, YEAR

from ocpp_e2e.errors import PKIError
from ocpp_e2e.keys import Keyring, generate_private_key, key_id, spki_der
from ocpp_e2e.pki import (
    USAGE_OIDS,
    CertificateAuthority,
    ChainValidator,
    RevocationState,
    certificate_identities,
    certificate_usages,
    check_usages,
    create_root,
    demo,
    load_certificates_file,
    pem_chain_der,
    state_path,
    usage_name,
)

SPEC_TABLE = {
    1: "csmsOperator",
    2: "chargingStation",
    3: "networkingNode",
    4: "gridOperator",
    5: "tariffSigning",
    6: "ticketIssuing",
    7: "chargingTicket",
    8: "policyAdmin",
    9: "firmwareSigning",
    10: "meterSigning",
    11: "securityOfficer",
}


def root(**kw: object) -> CertificateAuthority:
    kw.setdefault("valid_for", 10 * YEAR)
    kw.setdefault("not_before", START)
    return create_root(generate_private_key("ES256"), "test-root", **kw)  # type: ignore[arg-type]


def sub(
    issuer: CertificateAuthority, usages: list[str], path_length: int = 0
) -> CertificateAuthority:
    key = generate_private_key("Ed25519")
    cert = issuer.issue_ca(
        key.public_key(),
        "sub-ca",
        usages,
        valid_for=YEAR,
        path_length=path_length,
        not_before=START,
    )
    return issuer.sub_authority(cert, key)


# ----------------------------------------------------------------- usages


def test_usage_oids_are_exactly_the_spec_table() -> None:
    arc = "2.25.41907878048834227219801527880191530256"
    assert {n: o.dotted_string for n, o in USAGE_OIDS.items()} == {
        name: f"{arc}.{suffix}" for suffix, name in SPEC_TABLE.items()
    }


def test_usage_name_maps_oids_back_and_ignores_others() -> None:
    assert usage_name(USAGE_OIDS["meterSigning"]) == "meterSigning"
    assert usage_name(ExtendedKeyUsageOID.CLIENT_AUTH) is None


def test_unknown_usage_name_is_refused() -> None:
    with pytest.raises(PKIError, match=r"unknown usage\(s\) gridoperator; SPEC §5 defines"):
        check_usages(["gridoperator"])


# ----------------------------------------------------------------- what gets written


def test_leaf_has_the_spec_extensions() -> None:
    ca = root()
    cert = ca.issue(
        generate_private_key().public_key(),
        "cs-0001",
        ["chargingStation"],
        valid_for=YEAR,
        not_before=START,
    )
    ext = cert.extensions
    assert ext.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert ext.get_extension_for_class(x509.BasicConstraints).critical
    ku = ext.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    assert certificate_usages(cert) == frozenset({"chargingStation"})
    assert certificate_identities(cert) == ["cs-0001"]
    san = ext.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:ocpp-e2e:cs-0001"]


def test_sub_ca_has_ca_true_key_cert_sign_path_length_and_eku() -> None:
    ca = sub(root(), ["gridOperator"])
    bc = ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert (bc.ca, bc.path_length) == (True, 0)
    ku = ca.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    assert certificate_usages(ca.certificate) == frozenset({"gridOperator"})


def test_root_without_usages_has_no_eku_and_holds_every_usage() -> None:
    ca = root()
    assert certificate_usages(ca.certificate) is None
    assert ca.usages == frozenset(USAGE_OIDS)


def test_validity_in_hours() -> None:
    ca = root()
    cert = ca.issue(
        generate_private_key().public_key(),
        "holder",
        ["chargingTicket"],
        valid_for=timedelta(hours=12),
        not_before=T0,
    )
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(hours=12)


@pytest.mark.parametrize("algorithm", ["ES256", "ES384", "ES512", "Ed25519"])
def test_every_spec_key_type_can_be_a_ca_and_a_leaf(algorithm: str) -> None:
    ca_key = generate_private_key(algorithm)
    ca = create_root(ca_key, f"root-{algorithm}", valid_for=YEAR, not_before=START)
    leaf_key = generate_private_key(algorithm)
    cert = ca.issue(
        leaf_key.public_key(), "x-1", ["csmsOperator"], valid_for=YEAR, not_before=START
    )
    from cryptography.hazmat.primitives import serialization

    result = ChainValidator([ca.certificate]).validate(
        [cert.public_bytes(serialization.Encoding.DER)],
        at=START + timedelta(days=1),
        now=START + timedelta(days=1),
    )
    assert result.ok, result.reason
    assert result.leaf_spki == spki_der(leaf_key)


# ----------------------------------------------------------------- refusals


def test_sub_ca_cannot_receive_a_usage_its_issuer_lacks() -> None:
    grid = sub(root(path_length=None), ["gridOperator"], path_length=1)
    with pytest.raises(PKIError) as err:
        grid.issue_ca(
            generate_private_key().public_key(),
            "x-ca",
            ["tariffSigning"],
            valid_for=YEAR / 2,
            not_before=START,
        )
    assert str(err.value) == (
        "CA 'sub-ca' cannot grant tariffSigning to sub-CA 'x-ca': it holds only gridOperator"
    )


def test_leaf_cannot_receive_a_usage_its_ca_lacks() -> None:
    grid = sub(root(), ["gridOperator"])
    with pytest.raises(PKIError) as err:
        grid.issue(
            generate_private_key().public_key(),
            "dso-1",
            ["gridOperator", "csmsOperator"],
            valid_for=YEAR / 2,
            not_before=START,
        )
    assert str(err.value) == (
        "CA 'sub-ca' cannot grant csmsOperator to leaf 'dso-1': it holds only gridOperator"
    )


def test_ca_with_path_length_zero_cannot_issue_a_sub_ca() -> None:
    grid = sub(root(), ["gridOperator"], path_length=0)
    with pytest.raises(PKIError) as err:
        grid.issue_ca(
            generate_private_key().public_key(),
            "x-ca",
            ["gridOperator"],
            valid_for=YEAR / 2,
            not_before=START,
        )
    assert str(err.value) == "CA 'sub-ca' has pathLen 0: it may issue leaves only, not sub-CAs"


def test_sub_ca_path_length_must_be_below_its_issuer() -> None:
    ca = root(path_length=1)
    with pytest.raises(PKIError) as err:
        ca.issue_ca(
            generate_private_key().public_key(),
            "x-ca",
            ["gridOperator"],
            valid_for=YEAR,
            path_length=1,
            not_before=START,
        )
    assert (
        str(err.value)
        == "CA 'test-root' has pathLen 1: a sub-CA it issues may have pathLen at most 0"
    )


def test_validity_beyond_the_ca_is_refused() -> None:
    ca = root(valid_for=YEAR)
    with pytest.raises(PKIError) as err:
        ca.issue(
            generate_private_key().public_key(),
            "x",
            ["csmsOperator"],
            valid_for=2 * YEAR,
            not_before=START,
        )
    assert str(err.value) == (
        "requested validity 2030-01-01T00:00:00Z .. 2032-01-01T00:00:00Z is not within CA "
        "'test-root' validity 2030-01-01T00:00:00Z .. 2031-01-01T00:00:00Z; shorten it"
    )


def test_leaf_without_usage_is_refused() -> None:
    with pytest.raises(PKIError, match="leaf 'x' needs at least one usage"):
        root().issue(generate_private_key().public_key(), "x", [], valid_for=YEAR, not_before=START)


@pytest.mark.parametrize("identity", ["", "two words", "tab\there"])
def test_identity_must_be_printable_without_spaces(identity: str) -> None:
    with pytest.raises(PKIError, match="must be non-empty printable text without spaces"):
        root().issue(
            generate_private_key().public_key(),
            identity,
            ["csmsOperator"],
            valid_for=YEAR,
            not_before=START,
        )


def test_ca_key_must_match_its_certificate() -> None:
    ca = root()
    with pytest.raises(PKIError, match="the private key does not match the certificate"):
        CertificateAuthority(ca.certificate, generate_private_key("ES256"))


def test_loading_a_leaf_as_ca_is_refused() -> None:
    with pytest.raises(PKIError, match=r"'ops-1 \(DEMO, never deploy\)' is not a CA certificate"):
        CertificateAuthority.load(
            KEYS_EXAMPLE / "csms-operator.crt.pem", KEYS_EXAMPLE / "csms-operator.key.pem"
        )


# ----------------------------------------------------------------- revocation state


def _issued() -> tuple[CertificateAuthority, x509.Certificate]:
    ca = sub(root(), ["gridOperator"])
    cert = ca.issue(
        generate_private_key().public_key(),
        "dso-1",
        ["gridOperator"],
        valid_for=YEAR / 2,
        not_before=START,
    )
    return ca, cert


def test_revocation_state_round_trips_and_crl_numbers_increase(tmp_path: Path) -> None:
    ca, cert = _issued()
    path = tmp_path / "sub-ca.revoked.json"
    state = RevocationState.load(path, ca)
    state.revoke(ca, cert, at=T0, reason="keyCompromise")
    first = state.crl(ca, now=T0)
    state.save(path)
    again = RevocationState.load(path, ca)
    second = again.crl(ca, now=T0)
    assert first.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    assert second.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    entry = second.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None and entry.revocation_date_utc == T0
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
    assert second.is_signature_valid(ca.certificate.public_key())  # type: ignore[arg-type]


def test_revoking_twice_is_refused() -> None:
    ca, cert = _issued()
    state = RevocationState.empty(ca)
    state.revoke(ca, cert, at=T0)
    with pytest.raises(
        PKIError,
        match=f"serial {cert.serial_number:x} is already revoked by CA 'sub-ca' "
        "since 2030-06-01T12:00:00Z",
    ):
        state.revoke(ca, cert, at=datetime.now(UTC))


def test_revoking_a_certificate_of_another_ca_is_refused() -> None:
    ca, _cert = _issued()
    _other_ca, other_cert = _issued()
    with pytest.raises(
        PKIError,
        match="'dso-1' was not issued by CA 'sub-ca'; revoke it with the CA that issued it",
    ):
        RevocationState.empty(ca).revoke(ca, other_cert, at=datetime.now(UTC))


def test_unknown_revocation_reason_is_refused() -> None:
    ca, cert = _issued()
    with pytest.raises(PKIError, match="unknown revocation reason 'stolen'"):
        RevocationState.empty(ca).revoke(ca, cert, reason="stolen", at=datetime.now(UTC))


def test_state_file_of_another_ca_is_refused(tmp_path: Path) -> None:
    ca, cert = _issued()
    other, _ = _issued()
    path = tmp_path / "x.revoked.json"
    state = RevocationState.empty(ca)
    state.revoke(ca, cert, at=datetime.now(UTC))
    state.save(path)
    with pytest.raises(PKIError, match="this state belongs to another CA"):
        RevocationState.load(path, other)


def test_state_file_sits_beside_the_ca_certificate() -> None:
    assert state_path(Path("pki/grid-ca.crt.pem")) == Path("pki/grid-ca.revoked.json")


# ----------------------------------------------------------------- the demo hierarchy


def test_demo_hierarchy_has_every_file_and_private_keys_are_owner_only(tmp_path: Path) -> None:
    demo.generate(tmp_path)
    for leaf in demo.LEAVES:
        for ext in ("key", "pub", "crt", "chain"):
            assert (tmp_path / f"{leaf.name}.{ext}.pem").is_file()
    for ca in (demo.ROOT, *demo.SUB_CAS):
        assert (tmp_path / f"{ca.name}.crt.pem").is_file()
    for key in tmp_path.glob("*.key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert "NEVER DEPLOY" in (tmp_path / "README.md").read_text()


def test_demo_refuses_to_replace_keys_without_force(tmp_path: Path) -> None:
    demo.generate(tmp_path)
    with pytest.raises(PKIError, match="a demo hierarchy exists already; pass --force"):
        demo.generate(tmp_path)
    demo.generate(tmp_path, force=True)


def test_shipped_demo_leaves_validate_with_their_identity_and_usage() -> None:
    validator = ChainValidator.from_files([KEYS_EXAMPLE / "root-ca.crt.pem"])
    for leaf in demo.LEAVES:
        chain = pem_chain_der((KEYS_EXAMPLE / f"{leaf.name}.chain.pem").read_bytes())
        result = validator.validate(chain, at=T0, now=T0)
        assert result.ok, (leaf.name, result.reason)
        assert (result.identity, result.usages) == (leaf.identity, frozenset({leaf.usage}))
        key = load_certificates_file(KEYS_EXAMPLE / f"{leaf.name}.crt.pem")[0].public_key()
        pub = (KEYS_EXAMPLE / f"{leaf.name}.pub.pem").read_bytes()
        from cryptography.hazmat.primitives import serialization

        assert (
            key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            == pub
        )


def test_shipped_keyring_names_every_demo_leaf_by_identity() -> None:
    ring = Keyring.load(KEYS_EXAMPLE / "keyring.json")
    by_name = {info.name: info.key_id for info in ring}
    for leaf in demo.LEAVES:
        cert = load_certificates_file(KEYS_EXAMPLE / f"{leaf.name}.crt.pem")[0]
        assert by_name[leaf.identity] == key_id(spki_der(cert.public_key()))  # type: ignore[arg-type]
