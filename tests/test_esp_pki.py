"""Key-agreement certificates (docs/esp.md §9.7): usage keyAgreement (.12) under the SPEC §5 arc,
issued by a CA (X25519 keys cannot sign), validated for ESP reply keys, refused for signing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from ocpp_e2e.errors import PKIError
from ocpp_e2e.esp import EspOutcome, EspReceiver, encrypt_frame, generate_esp_key
from ocpp_e2e.keys import generate_private_key
from ocpp_e2e.pki import ChainValidator, create_root
from ocpp_e2e.pki.usages import KEY_AGREEMENT_OID, USAGE_ARC, USAGE_OIDS

START = datetime(2026, 12, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 7, 22, 40, tzinfo=UTC)
ROOT_KEY = generate_private_key("ES256")
ROOT = create_root(
    ROOT_KEY, "esp-root", valid_for=timedelta(days=365), not_before=START
)
VALIDATOR = ChainValidator([ROOT.certificate])
STATION = generate_esp_key("X25519")
CSMS = generate_esp_key("ML-KEM-768+X25519")


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def leaf(identity: str = "cs-1", key: Any = None, **kw: Any) -> x509.Certificate:
    kw.setdefault("valid_for", timedelta(days=30))
    kw.setdefault("not_before", START)
    return ROOT.issue_key_agreement((key or STATION).public.hpke_key, identity, **kw)


def crafted(key_usage: dict[str, bool], eku: list[x509.ObjectIdentifier]) -> x509.Certificate:
    """A leaf the CA class would never issue, signed with the root's key directly."""
    usage = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    usage.update(key_usage)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cs-1")]))
        .issuer_name(ROOT.certificate.subject)
        .public_key(STATION.public.hpke_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(START)
        .not_valid_after(START + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**usage), critical=True)
        .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier("urn:ocpp-e2e:cs-1")]),
            critical=False,
        )
    )
    return builder.sign(ROOT_KEY, hashes.SHA256())  # type: ignore[arg-type]


def test_the_key_agreement_usage_is_suffix_12_of_the_arc() -> None:
    assert KEY_AGREEMENT_OID.dotted_string == f"{USAGE_ARC}.12"
    assert KEY_AGREEMENT_OID not in USAGE_OIDS.values()  # never a signing usage or policy role


def test_a_ca_issues_a_key_agreement_certificate_that_validates() -> None:
    cert = leaf()
    result = VALIDATOR.validate_key_agreement([der(cert)], now=NOW)
    assert result.ok, result.reason
    assert (result.identity, result.usages) == ("cs-1", frozenset({"keyAgreement"}))
    assert result.leaf_spki == STATION.public.spki
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_agreement and not ku.digital_signature


def test_a_key_agreement_certificate_never_passes_as_a_signing_certificate() -> None:
    result = VALIDATOR.validate([der(leaf())], at=NOW, now=NOW)
    assert not result.ok and "digitalSignature" in result.reason


def test_a_signing_certificate_is_not_a_key_agreement_certificate() -> None:
    signing = ROOT.issue(
        generate_private_key().public_key(),
        "cs-1",
        ["chargingStation"],
        valid_for=timedelta(days=1),
        not_before=START,
    )
    result = VALIDATOR.validate_key_agreement([der(signing)], now=NOW)
    assert not result.ok and "X25519" in result.reason


@pytest.mark.parametrize(
    ("key_usage", "eku", "reason"),
    [
        (
            {"key_agreement": True, "digital_signature": True},
            [KEY_AGREEMENT_OID],
            "signing keyUsage",
        ),
        ({}, [KEY_AGREEMENT_OID], "lacks keyUsage keyAgreement"),
        ({"key_agreement": True}, [USAGE_OIDS["chargingStation"]], "not in the extended key usage"),
        (
            {"key_agreement": True},
            [KEY_AGREEMENT_OID, USAGE_OIDS["chargingStation"]],
            "mixes key agreement with signing usages",
        ),
    ],
    ids=["digitalSignature", "no-keyAgreement-bit", "no-eku-12", "eku-mixed"],
)
def test_key_agreement_leaf_rules(key_usage: dict[str, bool], eku: list[Any], reason: str) -> None:
    result = VALIDATOR.validate_key_agreement([der(crafted(key_usage, eku))], now=NOW)
    assert not result.ok and reason in result.reason


def test_an_expired_key_agreement_certificate_is_refused_at_now() -> None:
    cert = leaf(valid_for=timedelta(days=1))
    result = VALIDATOR.validate_key_agreement([der(cert)], now=NOW)
    assert not result.ok and "expired" in result.reason


def test_a_sub_ca_issues_key_agreement_only_when_granted() -> None:
    plain_key, ka_key = generate_private_key("ES256"), generate_private_key("ES256")
    plain = ROOT.issue_ca(
        plain_key.public_key(),
        "ops-ca",
        ["chargingStation"],
        valid_for=timedelta(days=60),
        not_before=START,
    )
    granted = ROOT.issue_ca(
        ka_key.public_key(),
        "esp-ca",
        [],
        valid_for=timedelta(days=60),
        not_before=START,
        key_agreement=True,
    )
    from ocpp_e2e.pki import CertificateAuthority

    no = CertificateAuthority(plain, plain_key, [plain])
    yes = CertificateAuthority(granted, ka_key, [granted])
    with pytest.raises(PKIError, match="cannot grant keyAgreement"):
        no.issue_key_agreement(
            STATION.public.hpke_key, "cs-1", valid_for=timedelta(days=1), not_before=START
        )
    cert = yes.issue_key_agreement(
        STATION.public.hpke_key,
        "cs-1",
        valid_for=timedelta(days=1),
        not_before=NOW - timedelta(hours=1),
    )
    assert VALIDATOR.validate_key_agreement([der(cert), der(granted)], now=NOW).ok


def test_only_x25519_keys_get_key_agreement_certificates() -> None:
    with pytest.raises(PKIError, match="X25519"):
        ROOT.issue_key_agreement(
            generate_private_key().public_key(), "cs-1", valid_for=timedelta(days=1), not_before=datetime.now(UTC).replace(microsecond=0)
        )  # type: ignore[arg-type]


# --------------------------------------------------------------------------- reply certificates


def station_request(cert: x509.Certificate, station: str = "CS-1") -> str:
    return encrypt_frame(
        '[2,"5","Heartbeat",{}]',
        ocpp="2.0.1",
        station=station,
        direction="toCSMS",
        recipient=CSMS.public,
        reply_to=STATION.public,
        reply_certificates=[der(cert)],
        now=NOW,
    ).text


def test_a_certified_reply_key_is_accepted_and_names_its_identity() -> None:
    opened = EspReceiver([CSMS], certificates=VALIDATOR).decrypt_frame(
        station_request(leaf()), ocpp="2.0.1", station="cs-1", direction="toCSMS", now=NOW
    )
    assert opened.outcome is EspOutcome.DECRYPTED, opened.reason
    assert opened.answer_to is not None and opened.answer_to.reply_identity == "cs-1"


@pytest.mark.parametrize(
    ("cert_identity", "station", "validator", "reason"),
    [
        ("cs-1", "cs-2", VALIDATOR, "not for station cs-2"),
        ("cs-1", "cs-1", None, "no trust anchors"),
        (
            "cs-1",
            "cs-1",
            ChainValidator(
                [
                    create_root(
                        generate_private_key(), "other", valid_for=timedelta(days=9), not_before=datetime.now(UTC).replace(microsecond=0)
                    ).certificate
                ]
            ),
            "unknown root",
        ),
    ],
    ids=["other-station", "no-validator", "untrusted"],
)
def test_unknown_reply_key_when_its_certificate_does_not_hold(
    cert_identity: str, station: str, validator: Any, reason: str
) -> None:
    opened = EspReceiver([CSMS], certificates=validator).decrypt_frame(
        station_request(leaf(cert_identity), station),
        ocpp="2.0.1",
        station=station,
        direction="toCSMS",
        now=NOW,
    )
    assert opened.outcome is EspOutcome.UNKNOWN_REPLY_KEY and reason in opened.reason


def test_unknown_reply_key_when_the_certificate_is_for_another_key() -> None:
    other = leaf(key=generate_esp_key("X25519"))
    opened = EspReceiver([CSMS], certificates=VALIDATOR).decrypt_frame(
        station_request(other), ocpp="2.0.1", station="cs-1", direction="toCSMS", now=NOW
    )
    assert opened.outcome is EspOutcome.UNKNOWN_REPLY_KEY and "is for key" in opened.reason
