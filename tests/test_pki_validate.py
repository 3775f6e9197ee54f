"""SPEC §5 chain validation: every way a chain is untrusted, with its exact reason."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from test_pki_support import ANY_EKU, START, T0, YEAR, Cert, demo_chain, make_cert, make_root

from ocpp_e2e.errors import PKIError
from ocpp_e2e.keys import generate_private_key, key_id, spki_der
from ocpp_e2e.model import ChainResult
from ocpp_e2e.pki import CertificateAuthority, ChainValidator, RevocationState, create_root
from ocpp_e2e.pki.validate import _spki

ROOT = make_root("test-root")
GRID_CA = make_cert("grid-ca", issuer=ROOT, ca=True, path_length=0, usages=["gridOperator"])
TARIFF_CA = make_cert("tariff-ca", issuer=ROOT, ca=True, path_length=0, usages=["tariffSigning"])


def validator(*anchors: Cert, **kw: object) -> ChainValidator:
    return ChainValidator([a.cert for a in anchors or (ROOT,)], **kw)  # type: ignore[arg-type]


def check(chain: list[Cert], *, at: datetime = T0, now: datetime = T0, **kw: object) -> ChainResult:
    return validator(**kw).validate([c.der for c in chain], at=at, now=now)


def grid_leaf(**kw: object) -> Cert:
    kw.setdefault("usages", ["gridOperator"])
    kw.setdefault("issuer", GRID_CA)
    return make_cert("dso-1", **kw)  # type: ignore[arg-type]


# ----------------------------------------------------------------- valid chains


def test_valid_chain_reports_identity_usages_issuers_and_leaf_key() -> None:
    leaf = grid_leaf()
    result = check([leaf, GRID_CA])
    assert result.ok, result.reason
    assert result.identity == "dso-1"
    assert result.usages == frozenset({"gridOperator"})
    assert result.issuers == (key_id(_spki(GRID_CA.cert)), key_id(_spki(ROOT.cert)))
    assert result.leaf_spki == spki_der(leaf.key)
    assert result.leaf_not_after == leaf.cert.not_valid_after_utc


def test_chain_may_include_the_trust_anchor_itself() -> None:
    result = check([grid_leaf(), GRID_CA, ROOT])
    assert result.ok, result.reason
    assert result.issuers == (key_id(_spki(GRID_CA.cert)), key_id(_spki(ROOT.cert)))


def test_leaf_directly_under_the_root_is_valid() -> None:
    result = check([make_cert("ops-1", issuer=ROOT, usages=["csmsOperator"])])
    assert result.ok, result.reason
    assert result.usages == frozenset({"csmsOperator"})


def test_usages_the_ca_does_not_hold_are_dropped_and_named() -> None:
    result = check([grid_leaf(usages=["gridOperator", "tariffSigning"]), GRID_CA])
    assert result.ok
    assert result.usages == frozenset({"gridOperator"})
    assert "ignored: tariffSigning not granted by CA 'grid-ca'" in result.reason


def test_every_demo_leaf_validates_with_its_usage() -> None:
    v = ChainValidator.from_files(["keys-example/root-ca.crt.pem"])
    result = v.validate(demo_chain("grid-operator"), at=T0, now=T0)
    assert (result.ok, result.identity, result.usages) == (
        True,
        "dso-example",
        frozenset({"gridOperator"}),
    )
    result = v.validate(demo_chain("station-1"), at=T0, now=T0)  # Ed25519 CA and leaf
    assert (result.ok, result.identity, result.usages) == (
        True,
        "cs-0001",
        frozenset({"chargingStation"}),
    )


# ----------------------------------------------------------------- usages (SPEC §5)


def test_leaf_claiming_grid_operator_under_a_sub_ca_lacking_it_is_refused() -> None:
    result = check([grid_leaf(issuer=TARIFF_CA), TARIFF_CA])
    assert not result.ok
    assert result.reason == (
        "usage gridOperator of leaf 'dso-1' not granted by CA 'tariff-ca' (it holds tariffSigning)"
    )


def test_leaf_under_an_intermediate_without_eku_is_refused() -> None:
    bare = make_cert("bare-ca", issuer=ROOT, ca=True, usages=None)
    result = check([grid_leaf(issuer=bare), bare])
    assert result.reason == (
        "CA 'bare-ca' has no extended key usage, so it grants no usage to leaf 'dso-1' "
        "(SPEC §5: only the trust anchor may lack one)"
    )


def test_intermediate_with_only_any_extended_key_usage_grants_nothing() -> None:
    anyca = make_cert("any-ca", issuer=ROOT, ca=True, usages=[], eku_oids=[ANY_EKU])
    result = check([grid_leaf(issuer=anyca), anyca])
    assert result.reason == (
        "usage gridOperator of leaf 'dso-1' not granted by CA 'any-ca' (it holds no domain usage)"
    )


def test_leaf_without_eku_has_no_usage() -> None:
    result = check([grid_leaf(usages=None), GRID_CA])
    assert result.reason == (
        "leaf 'dso-1' has no domain usage in its extended key usage "
        "(anyExtendedKeyUsage and other OIDs grant none)"
    )


def test_trust_anchor_with_eku_restricts_the_chain() -> None:
    root = make_root("tariff-root", usages=["tariffSigning"])
    ca = make_cert("grid-ca", issuer=root, ca=True, usages=["gridOperator"])
    result = validator(root).validate([grid_leaf(issuer=ca).der, ca.der], at=T0, now=T0)
    assert result.reason == (
        "usage gridOperator of leaf 'dso-1' not granted by CA 'tariff-root' "
        "(it holds tariffSigning)"
    )


# ----------------------------------------------------------------- identity


def test_leaf_without_identity_is_refused() -> None:
    result = check([grid_leaf(identities=[]), GRID_CA])
    assert (
        result.reason
        == "leaf 'dso-1' has no identity: it needs one SAN URI urn:ocpp-e2e:<identity>"
    )


def test_leaf_with_two_identities_is_refused() -> None:
    result = check([grid_leaf(identities=["dso-1", "dso-2"]), GRID_CA])
    assert result.reason == (
        "leaf 'dso-1' has 2 identities (dso-1, dso-2); SPEC §5 allows exactly one "
        "SAN URI urn:ocpp-e2e:<identity>"
    )


def test_leaf_with_an_empty_identity_is_refused() -> None:
    result = check([grid_leaf(identities=[""]), GRID_CA])
    assert result.reason == "leaf 'dso-1' has an empty identity in its SAN URI"


# ----------------------------------------------------------------- time


def test_back_dated_signature_by_an_expired_certificate_is_refused() -> None:
    leaf = grid_leaf(valid_for=YEAR)  # 2030-01-01 .. 2031-01-01
    at = datetime.fromisoformat("2030-06-01T00:00:00+00:00")
    now = datetime.fromisoformat("2032-01-01T00:00:00+00:00")
    result = check([leaf, GRID_CA], at=at, now=now)
    assert result.reason == (
        "leaf 'dso-1' expired at 2031-01-01T00:00:00Z and is no longer valid now "
        "(2032-01-01T00:00:00Z); a signature dated 2030-06-01T00:00:00Z within its validity "
        "does not count"
    )


def test_certificate_expired_at_the_signature_time_is_refused() -> None:
    leaf = grid_leaf(valid_for=timedelta(days=30))
    result = check([leaf, GRID_CA], at=START + timedelta(days=31), now=START + timedelta(days=10))
    assert result.reason == (
        "leaf 'dso-1' had expired at the signature time 2030-02-01T00:00:00Z "
        "(valid until 2030-01-31T00:00:00Z)"
    )


def test_certificate_not_yet_valid_at_the_signature_time_is_refused() -> None:
    leaf = grid_leaf(not_before=T0)
    result = check([leaf, GRID_CA], at=T0 - timedelta(hours=1), now=T0 + timedelta(hours=1))
    assert result.reason == (
        "leaf 'dso-1' was not yet valid at the signature time 2030-06-01T11:00:00Z "
        "(valid from 2030-06-01T12:00:00Z)"
    )


def test_certificate_not_yet_valid_now_points_at_the_clock() -> None:
    leaf = grid_leaf(not_before=T0)
    result = check([leaf, GRID_CA], at=T0, now=T0 - timedelta(minutes=5))
    assert result.reason == (
        "leaf 'dso-1' is not yet valid now (2030-06-01T11:55:00Z; valid from "
        "2030-06-01T12:00:00Z); check this machine's clock"
    )


def test_expired_intermediate_is_refused_at_the_signature_time() -> None:
    ca = make_cert("short-ca", issuer=ROOT, ca=True, usages=["gridOperator"], valid_for=YEAR)
    result = check([grid_leaf(issuer=ca), ca], at=START + 2 * YEAR, now=START + 2 * YEAR)
    assert result.reason.startswith("CA 'short-ca' had expired at the signature time")


def test_cached_chain_is_rechecked_for_time_on_every_call() -> None:
    v = validator()
    chain = [grid_leaf(valid_for=YEAR).der, GRID_CA.der]
    assert v.validate(chain, at=T0, now=T0).ok
    later = START + 2 * YEAR
    assert not v.validate(chain, at=later, now=later).ok
    assert v.validate(chain, at=T0, now=T0).ok


def test_naive_datetimes_are_refused_without_raising() -> None:
    result = validator().validate([grid_leaf().der], at=T0.replace(tzinfo=None), now=T0)
    assert result.reason == "signature time and now must be timezone-aware UTC datetimes"


# ----------------------------------------------------------------- revocation


def _crl_for(issuer: Cert, *revoked: Cert, at: datetime = START) -> bytes:
    ca = CertificateAuthority(issuer.cert, issuer.key, [issuer.cert])
    state = RevocationState.empty(ca)
    for cert in revoked:
        # by serial: the impostor test lists a certificate its CA did not issue
        state.revoke(ca, cert.cert.serial_number, at=at, reason="keyCompromise")
    return state.crl(ca, now=START).public_bytes(serialization.Encoding.DER)


def test_revoked_leaf_is_refused() -> None:
    leaf = grid_leaf()
    result = check([leaf, GRID_CA], crls=[_crl_for(GRID_CA, leaf)])
    assert result.reason == (
        f"leaf 'dso-1' (serial {leaf.cert.serial_number:x}) is revoked by CA 'grid-ca' "
        "since 2030-01-01T00:00:00Z"
    )


def test_revocation_counts_whatever_its_date() -> None:
    leaf = grid_leaf()
    crl = _crl_for(GRID_CA, leaf, at=T0 + YEAR)  # revoked after the signature was made
    result = check([leaf, GRID_CA], at=T0, now=T0, crls=[crl])
    assert not result.ok
    assert "is revoked by CA 'grid-ca'" in result.reason


def test_revoked_intermediate_is_refused() -> None:
    crl = _crl_for(ROOT, GRID_CA)
    result = check([grid_leaf(), GRID_CA], crls=[crl])
    assert result.reason.startswith("CA 'grid-ca' (serial ")
    assert "is revoked by CA 'test-root'" in result.reason


def test_crl_not_signed_by_the_issuer_is_ignored() -> None:
    leaf = grid_leaf()
    impostor = make_cert("grid-ca", ca=True, usages=["gridOperator"])  # same name, other key
    result = check([leaf, GRID_CA], crls=[_crl_for(impostor, leaf)])
    assert result.ok, result.reason


def test_missing_crl_is_refused_when_revocation_is_required() -> None:
    result = check([grid_leaf(), GRID_CA], crls=[_crl_for(ROOT)], require_revocation=True)
    assert result.reason == (
        "no CRL of CA 'grid-ca' is configured, so revocation of leaf 'dso-1' cannot be checked "
        "(only certificates valid 72 hours or less are exempt)"
    )


def test_short_lived_certificate_skips_required_revocation() -> None:
    leaf = grid_leaf(not_before=T0 - timedelta(hours=1), valid_for=timedelta(hours=72))
    result = check([leaf, GRID_CA], crls=[_crl_for(ROOT)], require_revocation=True)
    assert result.ok, result.reason
    assert "short-lived, revocation not required" in result.reason


def test_short_lived_exemption_ends_with_the_certificate_validity() -> None:
    leaf = grid_leaf(not_before=T0 - timedelta(hours=1), valid_for=timedelta(hours=72))
    later = T0 + timedelta(hours=80)
    result = check(
        [leaf, GRID_CA], at=T0, now=later, crls=[_crl_for(ROOT)], require_revocation=True
    )
    assert result.reason.startswith("leaf 'dso-1' expired at 2030-06-04T11:00:00Z")


def test_certificate_valid_longer_than_72_hours_gets_no_exemption() -> None:
    leaf = grid_leaf(not_before=T0 - timedelta(hours=1), valid_for=timedelta(hours=73))
    result = check([leaf, GRID_CA], crls=[_crl_for(ROOT)], require_revocation=True)
    assert result.reason.startswith("no CRL of CA 'grid-ca' is configured")


def test_short_lived_revoked_certificate_is_still_refused() -> None:
    leaf = grid_leaf(not_before=T0 - timedelta(hours=1), valid_for=timedelta(hours=24))
    result = check([leaf, GRID_CA], crls=[_crl_for(GRID_CA, leaf)])
    assert "is revoked by CA 'grid-ca'" in result.reason


# ----------------------------------------------------------------- CA and leaf constraints


def test_ca_certificate_used_as_a_leaf_is_refused() -> None:
    result = check([GRID_CA])
    assert result.reason == (
        "leaf 'grid-ca' is a CA certificate (CA:TRUE) used as a leaf; sign with a leaf certificate"
    )


def test_trust_anchor_used_as_a_leaf_is_refused() -> None:
    assert check([ROOT]).reason == "trust anchor 'test-root' used as a leaf certificate"


def test_leaf_used_as_a_ca_is_refused() -> None:
    middle = grid_leaf()
    leaf = make_cert("dso-2", issuer=middle, usages=["gridOperator"])
    result = check([leaf, middle, GRID_CA])
    assert result.reason == (
        "CA 'dso-1' is not a CA (no basicConstraints CA:TRUE) but issued a certificate"
    )


def test_ca_without_key_cert_sign_is_refused() -> None:
    ca = make_cert("weak-ca", issuer=ROOT, ca=True, ku=["crl_sign"], usages=["gridOperator"])
    result = check([grid_leaf(issuer=ca), ca])
    assert (
        result.reason == "CA 'weak-ca' lacks keyUsage keyCertSign, so it may not issue certificates"
    )


def test_path_length_exceeded_is_refused() -> None:
    sub = make_cert("sub-ca", issuer=GRID_CA, ca=True, usages=["gridOperator"])  # under pathLen 0
    result = check([grid_leaf(issuer=sub), sub, GRID_CA])
    assert result.reason == (
        "path length exceeded: CA 'grid-ca' has pathLen 0 but 1 CA certificate(s) follow it "
        "in the chain"
    )


def test_path_length_of_the_anchor_is_enforced() -> None:
    root = make_root("flat-root", path_length=0)
    ca = make_cert("grid-ca", issuer=root, ca=True, usages=["gridOperator"])
    result = validator(root).validate([grid_leaf(issuer=ca).der, ca.der], at=T0, now=T0)
    assert result.reason == (
        "path length exceeded: CA 'flat-root' has pathLen 0 but 1 CA certificate(s) follow it "
        "in the chain"
    )


def test_leaf_without_digital_signature_is_refused() -> None:
    result = check([grid_leaf(ku=["key_agreement"]), GRID_CA])
    assert result.reason == "leaf 'dso-1' lacks keyUsage digitalSignature"


def test_unknown_critical_extension_is_refused() -> None:
    ext = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    result = check([grid_leaf(extra=[ext]), GRID_CA])
    assert result.reason == "leaf 'dso-1' has an unsupported critical extension 1.3.6.1.4.1.55555.1"


def test_rsa_signature_on_a_certificate_is_refused() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_ca = make_cert("rsa-ca", issuer=ROOT, ca=True, key=rsa_key, usages=["gridOperator"])  # type: ignore[arg-type]
    result = check([grid_leaf(issuer=rsa_ca), rsa_ca])
    assert result.reason == (
        "leaf 'dso-1' is signed with 1.2.840.113549.1.1.11; SPEC §5 allows ECDSA P-256/384/521 "
        "with SHA-256/384/512 or Ed25519"
    )


# ----------------------------------------------------------------- chain shape


def test_chain_to_an_unknown_root_is_refused() -> None:
    other_root = make_root("other-root")
    ca = make_cert("grid-ca", issuer=other_root, ca=True, usages=["gridOperator"])
    result = check([grid_leaf(issuer=ca), ca])
    assert result.reason == (
        "unknown root: the chain ends at 'grid-ca', issued by 'CN=other-root', "
        "which is not a configured trust anchor"
    )


def test_root_with_the_anchor_name_but_another_key_is_refused() -> None:
    fake_root = make_root("test-root")
    ca = make_cert("grid-ca", issuer=fake_root, ca=True, usages=["gridOperator"])
    result = check([grid_leaf(issuer=ca), ca])
    assert result.reason == (
        "'grid-ca' names issuer 'CN=test-root' but its signature does not verify under the trust "
        "anchor of that name (a different CA with the same name)"
    )


def test_tampered_certificate_signature_is_refused() -> None:
    der = bytearray(grid_leaf().der)
    der[-5] ^= 0x01  # inside the signature value
    result = validator().validate([bytes(der), GRID_CA.der], at=T0, now=T0)
    assert not result.ok
    assert result.reason == "leaf 'dso-1': signature by CA 'grid-ca' does not verify"


def test_chain_out_of_order_is_refused() -> None:
    result = check([GRID_CA, grid_leaf()])
    assert result.reason == (
        "the chain is out of order: leaf 'grid-ca' names issuer 'CN=test-root', "
        "not the next certificate CA 'dso-1'"
    )


def test_intermediate_that_did_not_issue_the_leaf_is_refused() -> None:
    result = check([grid_leaf(issuer=TARIFF_CA), GRID_CA])
    assert result.reason == (
        "the chain is out of order: leaf 'dso-1' names issuer 'CN=tariff-ca', "
        "not the next certificate CA 'grid-ca'"
    )


def test_more_than_four_certificates_are_refused() -> None:
    leaf = grid_leaf()
    result = validator().validate([leaf.der, GRID_CA.der] * 3, at=T0, now=T0)
    assert result.reason == "6 certificates in the chain; SPEC §1 allows at most 4"


def test_empty_chain_is_refused() -> None:
    assert validator().validate([], at=T0, now=T0).reason == "the certificates array is empty"


def test_chain_of_non_bytes_is_refused_without_raising() -> None:
    chain: list[Any] = [bytearray(grid_leaf().der), "text"]
    result = validator().validate(chain, at=T0, now=T0)
    assert result.reason == "the chain must be a sequence of DER certificates (bytes)"


def test_garbage_is_refused_without_raising() -> None:
    result = validator().validate([b"\x30\x03\x02\x01\x01"], at=T0, now=T0)
    assert result.reason.startswith("certificate 1 is not a DER X.509 certificate (")


# ----------------------------------------------------------------- configuration


def test_leaf_as_trust_anchor_is_a_configuration_error() -> None:
    with pytest.raises(PKIError, match="trust anchor 'dso-1' is not a CA"):
        ChainValidator([grid_leaf().cert])


def test_no_trust_anchor_is_a_configuration_error() -> None:
    with pytest.raises(PKIError, match="needs at least one trust anchor"):
        ChainValidator([])


def test_unreadable_crl_is_a_configuration_error() -> None:
    with pytest.raises(PKIError, match=r"CRL 1: not a PEM or DER X\.509 CRL"):
        ChainValidator([ROOT.cert], crls=[b"junk"])


def test_anchor_files_are_named_in_configuration_errors(tmp_path: Path) -> None:
    path = tmp_path / "anchor.pem"
    path.write_text("not a certificate")
    with pytest.raises(PKIError, match=r"anchor\.pem: not a PEM or DER X\.509 certificate"):
        ChainValidator.from_files([path])


def test_create_root_output_is_a_usable_anchor() -> None:
    root = create_root(generate_private_key("ES384"), "lib-root", valid_for=YEAR, not_before=START)
    leaf = root.issue(
        generate_private_key().public_key(),
        "cs-9",
        ["chargingStation"],
        valid_for=YEAR,
        not_before=START,
    )
    moment = START + timedelta(days=30)
    result = ChainValidator([root.certificate]).validate(
        [leaf.public_bytes(serialization.Encoding.DER)], at=moment, now=moment
    )
    assert result.ok, result.reason
