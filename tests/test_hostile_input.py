"""Every loader is total (issue 11 class 2): hostile policy documents, PEM and base64 keys with
trailing garbage, certificates and CRLs, CLI arguments that are not UTF-8, and upgrade candidates
raise the project's own error (file, place, reason) or get a verdict — never another exception.

Also: an EC key inside a certificate encoded as a compressed point is ``malformed`` (SPEC §1,
class 4), and the inputs the fuzzers of fuzz/ found (tests/data/fuzz/) stay fixed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ocpp_e2e._der import _tlv, certificate_spki
from ocpp_e2e.canonical import loads
from ocpp_e2e.errors import IJSONError, KeyLoadError, PKIError, PolicyError
from ocpp_e2e.keys import (
    Keyring,
    KeySigner,
    generate_private_key,
    key_id,
    load_private_key_pem,
    load_public_key_text,
)
from ocpp_e2e.meter.trust import decode_public_key
from ocpp_e2e.pki import CertificateAuthority, ChainValidator, load_certificates
from ocpp_e2e.policy import UpgradeVerdict, check_upgrade, load_policy, loads_policy
from ocpp_e2e.sign import sign_frame
from ocpp_e2e.verify import Verifier

ROOT = Path(__file__).resolve().parents[1]
KEYS = ROOT / "keys-example"
FUZZ = Path(__file__).resolve().parent / "data" / "fuzz"
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)

YAML = """type: SignaturePolicy
id: hostile
version: {version}
maxSignatureAge: {age}
clockSkew: PT30S
notBefore: "{not_before}"
notAfter: "2030-01-01T00:00:00Z"
rules: {rules}
"""
GOOD = dict(version="1", age="PT5M", not_before="2026-01-01T00:00:00Z", rules="[]")


def yaml_policy(**members: str) -> str:
    return YAML.format(**{**GOOD, **members})


def json_policy(**members: str) -> str:
    values = {**GOOD, **members}
    return (
        '{{"type": "SignaturePolicy", "id": "hostile", "version": {version}, '
        '"maxSignatureAge": "{age}", "notBefore": "{not_before}", '
        '"notAfter": "2030-01-01T00:00:00Z", "rules": {rules}}}'.format(**values)
    )


def problems(text: str, fmt: str) -> tuple[str, ...]:
    with pytest.raises(PolicyError) as caught:
        loads_policy(text, fmt=fmt, source=f"hostile.{fmt}")
    assert f"in the policy: hostile.{fmt}" in str(caught.value)
    return caught.value.problems


# ----------------------------------------------------------------------------- policy documents


def test_both_policy_forms_load_when_nothing_is_hostile() -> None:
    assert loads_policy(yaml_policy(), fmt="yaml").id == "hostile"
    assert loads_policy(json_policy(), fmt="json").id == "hostile"


@pytest.mark.parametrize("digits", ["9" * 5000, "-" + "9" * 5000, "0o" + "7" * 5000])
def test_a_yaml_integer_of_thousands_of_digits_is_a_policy_problem(digits: str) -> None:
    assert problems(yaml_policy(version=digits), "yaml") == (
        f"hostile.yaml:3: $.version: integer of {len(digits)} characters is beyond ±(2^53−1)",
    )


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize(
    "age", ["PT99999999999999999999H", "PT9999999999999H", "PT" + "9" * 5000 + "S"]
)
def test_a_duration_past_the_calendar_is_a_policy_problem(fmt: str, age: str) -> None:
    text = yaml_policy(age=age) if fmt == "yaml" else json_policy(age=age)
    (problem,) = problems(text, fmt)
    assert problem.endswith(
        f"$.maxSignatureAge: duration {age!r} is beyond the calendar; at most PT1H"
    )


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_date_at_the_calendar_edge_with_an_offset_is_a_policy_problem(
    fmt: str, when: str
) -> None:
    text = yaml_policy(not_before=when) if fmt == "yaml" else json_policy(not_before=when)
    (problem,) = problems(text, fmt)
    assert problem.endswith(
        f"$.notBefore: {when!r} is not a date and time that exists (date value out of range)"
    )


@pytest.mark.parametrize(
    "rules",
    [
        "[" * 5000 + "]" * 5000,
        "{a: " * 5000 + "1" + "}" * 5000,
        "\n" + "".join(" " * (i + 2) + "- \n" for i in range(0, 3000, 2)),
    ],
    ids=["flow-sequences", "flow-mappings", "block-sequences"],
)
def test_yaml_nested_thousands_deep_is_a_policy_problem(rules: str) -> None:
    found = problems(yaml_policy(rules=rules), "yaml")
    assert any("nesting deeper than 32" in p for p in found), found


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1e99999999999999999999", "1e99999999999999999999 is beyond the range of a double"),
        (
            "1e-99999999999999999999",
            "1e-99999999999999999999 cannot be represented exactly; write 0.0",
        ),
    ],
)
def test_a_yaml_number_beyond_decimal_exponents_is_a_policy_problem(
    value: str, reason: str
) -> None:
    rules = (
        f"[{{id: a, effect: permit, signers: none, where: [{{path: a, op: gt, value: {value}}}]}}]"
    )
    assert problems(yaml_policy(rules=rules), "yaml") == (
        f"hostile.yaml:8: $.rules[0].where[0].value: {reason}",
    )


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("a{" + "9" * 5000 + "}", "range quantifiers are limited to 1000 at position 1"),
        ("(" * 5000 + ")" * 5000, "groups are nested deeper than 32 at position 32"),
    ],
    ids=["quantifier-of-5000-digits", "groups-5000-deep"],
)
def test_a_hostile_regexp_is_a_policy_problem(pattern: str, reason: str) -> None:
    rules = f"[{{id: a, effect: permit, signers: none, where: [{{path: a, op: matches, value: '{pattern}'}}]}}]"
    (problem,) = problems(yaml_policy(rules=rules), "yaml")
    assert problem.endswith(f"$.rules[0].where[0].value: not an I-Regexp (RFC 9485): {reason}")


def test_a_path_index_of_thousands_of_digits_is_a_policy_problem() -> None:
    rules = "[{id: a, effect: permit, signers: none, where: [{path: 'a[%s]', op: present}]}]" % (
        "9" * 5000
    )
    (problem,) = problems(yaml_policy(rules=rules), "yaml")
    assert problem.endswith(f"$.rules[0].where[0].path: index [{'9' * 20}…] is beyond any array")


# ----------------------------------------------------------------------------- PEM and base64

PUB_PEM = (KEYS / "station-1.pub.pem").read_text()
CERT_PEM = (KEYS / "station-1.crt.pem").read_text()
ROOT_PEM = (KEYS / "root-ca.crt.pem").read_bytes()
TRAILING = {
    "text": "garbage\n",
    "base64": "AAAA\n",
    "a-second-block": PUB_PEM,
}


@pytest.mark.parametrize("tail", TRAILING.values(), ids=TRAILING.keys())
def test_a_pem_public_key_with_trailing_data_is_refused(tail: str) -> None:
    with pytest.raises(KeyLoadError, match=r"^not a PEM public key: "):
        load_public_key_text(PUB_PEM + tail)


@pytest.mark.parametrize("tail", TRAILING.values(), ids=TRAILING.keys())
def test_a_keyring_with_a_pem_key_with_trailing_data_is_refused(tail: str) -> None:
    with pytest.raises(KeyLoadError, match=r"^ring\.pem: not a PEM public key: "):
        Keyring.parse((PUB_PEM + tail).encode(), source="ring.pem")
    entry = {"keys": [{"publicKey": PUB_PEM + tail, "name": "cs"}]}
    with pytest.raises(KeyLoadError, match=r"^ring\.json: keys\[0\]\.publicKey: not a PEM"):
        Keyring.parse(json.dumps(entry).encode(), source="ring.json")


def test_a_pem_body_that_only_decodes_loosely_is_refused() -> None:
    body = PUB_PEM.splitlines()[1]
    loose = PUB_PEM.replace(body, body[:8] + "!" + body[8:])
    with pytest.raises(KeyLoadError, match="not standard base64 with padding"):
        load_public_key_text(loose)


def test_a_pem_certificate_with_trailing_text_is_refused() -> None:
    with pytest.raises(
        PKIError,
        match=r"^chain\.pem: not a PEM or DER X\.509 certificate "
        r"\(unexpected text after the PEM block \(line 12\): 'garbage'\)$",
    ):
        load_certificates((CERT_PEM + "garbage").encode(), source="chain.pem")


def test_a_pem_private_key_with_trailing_text_is_refused() -> None:
    data = (KEYS / "station-1.key.pem").read_bytes()
    with pytest.raises(KeyLoadError, match=r"^key\.pem: not a PEM private key \(unexpected text"):
        load_private_key_pem(data + b"garbage", source="key.pem")


def test_a_pem_crl_with_trailing_text_is_refused() -> None:
    ca = CertificateAuthority.load(KEYS / "root-ca.crt.pem", KEYS / "root-ca.key.pem")
    crl = ca.issue_crl([], number=1, this_update=NOW).public_bytes(serialization.Encoding.PEM)
    ChainValidator([ROOT_PEM], crls=[crl])
    with pytest.raises(PKIError, match=r"^CRL 1: not a PEM or DER X\.509 CRL \(unexpected text"):
        ChainValidator([ROOT_PEM], crls=[crl + b"garbage"])


def test_a_policy_trust_anchor_with_trailing_text_is_a_policy_problem() -> None:
    anchor = ROOT_PEM.decode().strip() + "\ngarbage"
    doc = json.loads(json_policy())
    doc["trustAnchors"] = [anchor]
    (problem,) = problems(json.dumps(doc), "json")
    assert problem.startswith(
        "hostile.json: $.trustAnchors[0]: not a PEM or base64 DER certificate"
    )


def test_a_meter_pem_key_with_trailing_text_is_refused() -> None:
    pem = (ROOT / "tests" / "data" / "meter" / "vector-secp256r1.pub.pem").read_text()
    decode_public_key(pem)
    with pytest.raises(KeyLoadError, match=r"^meter key: not a SubjectPublicKeyInfo"):
        decode_public_key(pem + "garbage", where="meter key")


# ----------------------------------------------------------------------------- CLI arguments


@pytest.mark.parametrize(
    "args",
    [
        ["verify", "frame.json", "--station", b"cs\xff".decode("utf-8", "surrogateescape")],
        [
            "audit",
            "log.jsonl",
            "--policy",
            "p.yaml",
            "--html",
            b"r\xff.html".decode("utf-8", "surrogateescape"),
        ],
    ],
    ids=["station", "html-file"],
)
def test_a_cli_argument_that_is_not_utf8_is_one_line_and_exit_2(args: list[str]) -> None:
    bad = next(a for a in args if "\udcff" in a)
    run = subprocess.run(
        [
            Path(sys.executable).parent / "ocpp-e2e",
            *[a.encode("utf-8", "surrogateescape") for a in args],
        ],
        capture_output=True,
        cwd=ROOT,
    )
    assert (run.returncode, run.stdout) == (2, b"")
    position = args.index(bad) + 1
    assert run.stderr.decode() == (
        f"error: argument {position} ({bad!r}) is not valid UTF-8; give file names and values in UTF-8\n"
    )


# ----------------------------------------------------------------------------- policy upgrades

HOSTILE_MEMBERS = {
    "date-at-calendar-edge": ("notBefore", "9999-12-31T23:59:59-01:00"),
    "duration-past-calendar": ("maxSignatureAge", "PT99999999999999999999H"),
    "duration-of-5000-digits": ("clockSkew", "PT" + "9" * 5000 + "S"),
    "key-with-trailing-text": ("keys", [{"publicKey": PUB_PEM + "garbage"}]),
    "regexp-5000-deep": (
        "rules",
        [
            {
                "id": "a",
                "effect": "permit",
                "signers": "none",
                "where": [{"path": "a", "op": "matches", "value": "(" * 5000 + ")" * 5000}],
            }
        ],
    ),
}


@pytest.mark.parametrize("member", HOSTILE_MEMBERS.values(), ids=HOSTILE_MEMBERS.keys())
@pytest.mark.parametrize("form", ["bytes", "mapping"])
def test_check_upgrade_refuses_a_hostile_unsigned_candidate(
    member: tuple[str, object], form: str
) -> None:
    installed = load_policy(ROOT / "policies" / "policy-admin-quorum.yaml")
    doc = installed.to_dict()
    doc.pop("signatures", None)
    doc["version"] = installed.version + 1
    doc[member[0]] = member[1]
    candidate = json.dumps(doc).encode() if form == "bytes" else doc
    result = check_upgrade(installed, candidate, now=NOW)
    assert result.verdict is UpgradeVerdict.REFUSED
    assert result.reason.startswith("the new version is not a valid policy: $.")


# ----------------------------------------------------------------------------- class 4


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def compressed_point_certificate(
    ca: CertificateAuthority, key: ec.EllipticCurvePrivateKey
) -> bytes:
    """A certificate ``ca`` really signed whose SPKI holds ``key`` as a compressed point (a CA
    that does not normalize keys issues these; ``cryptography`` only builds uncompressed ones)."""
    cert = ca.issue(
        key.public_key(),
        "squeezed",
        ["csmsOperator"],
        valid_for=timedelta(days=400),
        not_before=NOW - timedelta(days=1),
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    spki = certificate_spki(der)
    squeezed = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    compressed = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    # SPKI = SEQUENCE { AlgorithmIdentifier, BIT STRING (0 unused bits || point) }
    _tag, start, _end = _tlv(squeezed, 0, len(squeezed))
    _tag, _s, alg_end = _tlv(squeezed, start, len(squeezed))
    new_spki = _der(0x30, squeezed[start:alg_end] + _der(0x03, b"\x00" + compressed))
    _t, cert_start, cert_end = _tlv(der, 0, len(der))
    _t, tbs_content, tbs_end = _tlv(der, cert_start, cert_end)
    tbs = der[tbs_content:tbs_end].replace(spki, new_spki)
    new_tbs = _der(0x30, tbs)
    _t, _alg_s, alg_e = _tlv(der, tbs_end, cert_end)
    algorithm = der[tbs_end:alg_e]
    from ocpp_e2e.algorithms import ALGORITHMS

    ca_signer = ca._signer  # the CA signs the altered TBS as it signs any certificate
    signature = ALGORITHMS[ca_signer.algorithm].x509_signature(ca_signer.sign(new_tbs))
    out = _der(0x30, new_tbs + algorithm + _der(0x03, b"\x00" + signature))
    x509.load_der_x509_certificate(out).verify_directly_issued_by(ca.certificate)  # a real one
    return out


@pytest.fixture(scope="module")
def squeezed() -> tuple[KeySigner, bytes, list[bytes]]:
    ca = CertificateAuthority.load(KEYS / "operations-ca.crt.pem", KEYS / "operations-ca.key.pem")
    key = generate_private_key("ES256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    leaf = compressed_point_certificate(ca, key)
    chain = [leaf, *(c.public_bytes(serialization.Encoding.DER) for c in ca.chain)]
    return KeySigner(key), leaf, chain


def test_a_certificate_with_a_compressed_ec_point_makes_the_signature_malformed(
    squeezed: tuple[KeySigner, bytes, list[bytes]],
) -> None:
    signer, leaf, chain = squeezed
    signer.certificates = tuple(chain)  # the signer attaches the chain as it is
    frame = sign_frame(
        [2, "1", "Reset", {"type": "Immediate"}],
        signer,
        ocpp="2.0.1",
        station="cs-0001",
        timestamp=NOW,
    )
    # The keyId is the fingerprint of the uncompressed key, as the signer computes it.
    validator = ChainValidator.from_files([KEYS / "root-ca.crt.pem"])
    result = Verifier(certificates=validator).verify_frame(
        frame, ocpp="2.0.1", station="cs-0001", now=NOW
    )
    (sig,) = result.verification.signatures
    assert (sig.outcome.value, sig.reason) == (
        "malformed",
        "the leaf certificate's key is not in canonical form (compressed EC point or "
        "non-canonical DER): one key would have two key ids",
    )
    assert key_id(certificate_spki(leaf)) != sig.key_id  # the second key id it would have had


def test_the_chain_validator_refuses_a_leaf_with_a_compressed_ec_point(
    squeezed: tuple[KeySigner, bytes, list[bytes]],
) -> None:
    _signer, _leaf, chain = squeezed
    validator = ChainValidator.from_files([KEYS / "root-ca.crt.pem"])
    result = validator.validate(chain, at=NOW, now=NOW)
    assert (result.ok, result.reason) == (
        False,
        "leaf 'squeezed': its public key is not usable (public key is not in canonical form "
        "(compressed EC point or non-canonical DER))",
    )


# ----------------------------------------------------------------------------- fuzzer finds


def test_a_number_with_an_exponent_beyond_decimals_range_reads_as_its_value_or_is_refused() -> None:
    found = (FUZZ / "canonical" / "exponent-beyond-decimal-range").read_bytes()
    with pytest.raises(IJSONError):
        loads(found)  # the fuzzer's input: a number followed by junk
    assert loads(b"0e" + b"3" * 200) == 0.0
    with pytest.raises(IJSONError, match="does not survive a double"):
        loads(b"1e-" + b"3" * 200)


def test_a_ca_key_on_an_unknown_curve_makes_the_certificate_untrusted() -> None:
    from ocpp_e2e.verify import Verifier

    frame = (FUZZ / "frame" / "ca-key-on-unknown-curve").read_bytes()
    validator = ChainValidator.from_files([KEYS / "root-ca.crt.pem"])
    verifier = Verifier(Keyring.load(KEYS / "keyring.json"), certificates=validator)
    result = verifier.verify_frame(frame, ocpp="2.0.1", station="station-1", now=NOW)
    assert [(s.outcome.value, s.reason) for s in result.verification.signatures] == [
        (
            "untrusted-certificate",
            "a certificate of the chain cannot be read (Curve 0.36.5432.78.61.3.1.7 is not supported)",
        )
    ]


def test_a_trust_anchor_with_an_unreadable_extension_is_a_pki_error() -> None:
    text = (FUZZ / "policy-yaml" / "anchor-with-unreadable-extension.yaml").read_text()
    with pytest.raises(PKIError, match=r"^trust anchor 'root-ca' has unreadable extensions"):
        loads_policy(text, fmt="yaml").verifier()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "frame",
            "untrusted-certificate: a certificate of the chain cannot be read "
            "(unknown ASN.1 string tag 38)",
        ),
        (
            "ticket",
            "untrusted-issuer: ticket signature is untrusted-certificate: a certificate of the "
            "chain cannot be read (unknown ASN.1 string tag 144)",
        ),
    ],
)
def test_a_certificate_name_of_an_unknown_string_type_makes_the_chain_untrusted(
    entry: str, expected: str
) -> None:
    from ocpp_e2e.tickets import TicketLedger, TicketVerifier

    data = (FUZZ / entry / "issuer-name-of-unknown-string-type").read_bytes()
    validator = ChainValidator.from_files([KEYS / "root-ca.crt.pem"])
    if entry == "frame":
        verifier = Verifier(Keyring.load(KEYS / "keyring.json"), certificates=validator)
        (sig,) = verifier.verify_frame(
            data, ocpp="2.0.1", station="station-1", now=NOW
        ).verification.signatures
        assert f"{sig.outcome.value}: {sig.reason}" == expected
    else:
        with TicketLedger(":memory:") as ledger:
            decision = TicketVerifier(
                certificates=validator, ledger=ledger, station_id="station-1", evse_id="E1"
            ).verify(data, now=NOW)
        assert f"{decision.verdict.value}: {decision.reason}" == expected


@pytest.mark.parametrize("amount", ["1e999999", "9007199254740993", "1.00000000000000000001"])
def test_a_ticket_cost_limit_that_is_no_json_number_is_refused_at_once(amount: str) -> None:
    from decimal import Decimal

    from ocpp_e2e.errors import TicketError
    from ocpp_e2e.tickets import Money

    with pytest.raises(TicketError, match=r"^\$\.limits\.maxCost\.amount: amount .* is not a number"):
        Money(Decimal(amount), "EUR")
    assert Money(Decimal("1e300"), "EUR").to_dict() == {"amount": int(Decimal("1e300")), "currency": "EUR"}


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [Path(sys.executable).parent / "ocpp-e2e", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (
            ["pki", "issue", "leaf", "--days", "99999999"],
            "error: a validity of 99999999 days, 0:00:00 from ",
        ),
        (["pki", "issue", "leaf", "--hours", "999999999999"], "error: --hours: beyond the calendar"),
        (
            ["pki", "issue", "leaf", "--not-before", "9999-12-31T23:00:00Z"],
            "error: a validity of 365 days, 0:00:00 from 9999-12-31T23:00:00Z ends beyond the calendar",
        ),
        (["pki", "crl", "--out", "x.crl", "--days", "99999999"], "error: a validity of 99999999 days"),
        (["pki", "crl", "--out", "x.crl", "--days", "-5"], "error: a CRL's next update must be later"),
    ],
    ids=["leaf-days", "leaf-hours", "leaf-not-before", "crl-days", "crl-negative"],
)
def test_a_pki_validity_past_the_calendar_is_one_line_and_exit_2(
    args: list[str], reason: str, tmp_path: Path
) -> None:
    for name in ("operations-ca.crt.pem", "operations-ca.key.pem", "root-ca.crt.pem"):
        (tmp_path / name).write_bytes((KEYS / name).read_bytes())
    extra = ["--ca", "operations-ca.crt.pem", "--ca-key", "operations-ca.key.pem"]
    if args[1] == "issue":
        extra += ["--out", str(tmp_path), "--identity", "x", "--usage", "csmsOperator"]
    run = _cli(*args, *extra, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.splitlines()[-1].startswith(reason), run.stderr


def test_a_ticket_valid_past_the_calendar_is_one_line_and_exit_2(tmp_path: Path) -> None:
    run = _cli(
        "ticket", "issue", "--key", str(KEYS / "ticket-issuer.key.pem"),
        "--certificates", str(KEYS / "ticket-issuer.chain.pem"), "--out", "t.json",
        "--holder-key-out", "h.pem", "--max-sessions", "2", "--station", "cs-*",
        "--valid-for", "PT80000000H",
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.splitlines()[-1].startswith(
        "error: $.notAfter: the ticket would end beyond the calendar ("
    )


def test_a_path_length_beyond_any_chain_is_one_line_and_exit_2(tmp_path: Path) -> None:
    run = _cli(
        "pki", "init-root", "rr", "--out", str(tmp_path), "--path-length", "99999999999999999999",
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.splitlines()[-1] == (
        "error: path length must be 0 to 255, got 99999999999999999999 (a SPEC §1 chain holds "
        "at most 4 certificates)"
    )


def test_a_time_zone_name_too_long_for_a_file_is_the_projects_error() -> None:
    from ocpp_e2e.errors import TariffError
    from ocpp_e2e.tariffs.session import Session

    record = json.loads((ROOT / "tests" / "data" / "tariffs" / "session-39min.json").read_text())
    record["timeZone"] = "a" * 300
    with pytest.raises(TariffError, match=r"^session: \$\.timeZone: unknown IANA time zone 'a"):
        Session.from_dict(record)


def test_an_audit_time_zone_too_long_for_a_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    log = ROOT / "tests" / "data" / "audit" / "sample.jsonl"
    policy = ROOT / "policies" / "station-csms-commands.yaml"
    run = _cli("audit", str(log), "--policy", str(policy), "--tz", "a" * 300, cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.splitlines()[-1].startswith("error: --tz: unknown time zone 'aaa")


def test_a_keyring_folder_with_a_roles_file_that_is_not_utf8_is_a_key_load_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "cs.pem").write_text(PUB_PEM)
    (tmp_path / "cs.roles").write_bytes(b"\xff\xfe")
    with pytest.raises(KeyLoadError, match=r"cs\.roles: cannot read roles file \("):
        Keyring.load(tmp_path)


def test_a_signed_meter_value_string_nested_thousands_deep_is_a_finding_not_a_crash() -> None:
    from ocpp_e2e.meter import extract_records

    value = '{"signedMeterData":' + "[" * 200_000 + "]" * 200_000 + "}"
    payload = {
        "connectorId": 1,
        "transactionId": 1,
        "meterValue": [
            {
                "timestamp": "2027-01-01T00:00:00Z",
                "sampledValue": [{"value": value, "format": "SignedData"}],
            }
        ],
    }
    (found,) = extract_records("MeterValues", payload, "1.6")
    assert (found.path, found.problem) == (
        "$.meterValue[0].sampledValue[0].value",
        "value is not JSON: nested too deep",
    )


DEEP_JSON = b'{"keys":' + b"[" * 200_000 + b"]" * 200_000 + b"}"


def test_local_json_files_nested_thousands_deep_are_the_projects_error(tmp_path: Path) -> None:
    from ocpp_e2e.errors import ConnectionSetupError
    from ocpp_e2e.integrations.connection import AuthorizationKeyStore
    from ocpp_e2e.meter.trust import MeterKeyring
    from ocpp_e2e.pki import RevocationState

    path = tmp_path / "deep.json"
    path.write_bytes(DEEP_JSON)
    with pytest.raises(KeyLoadError, match=r"deep\.json: not a meter keyring .*nesting deeper"):
        MeterKeyring.load(path)
    with pytest.raises(ConnectionSetupError, match="cannot read key store"):
        AuthorizationKeyStore.load(path)
    ca = CertificateAuthority.load(KEYS / "root-ca.crt.pem", KEYS / "root-ca.key.pem")
    with pytest.raises(PKIError, match="cannot read revocation state"):
        RevocationState.load(path, ca)


@pytest.mark.parametrize("literal", ["1e99999999999999999999", "0e99999999999999999999"])
def test_an_unsigned_frame_number_with_an_exponent_beyond_decimal_is_refused_not_a_crash(
    literal: str,
) -> None:
    from ocpp_e2e.exact import read_exact

    frame = f'[2,"1","Heartbeat",{{"a":{literal}}}]'
    with pytest.raises(IJSONError, match=f"^\\$: number {literal} has an exponent beyond"):
        read_exact(frame, max_bytes=None)


def test_check_upgrade_refuses_a_mapping_candidate_nested_thousands_deep() -> None:
    installed = load_policy(ROOT / "policies" / "policy-admin-quorum.yaml")
    doc = installed.to_dict()
    doc["version"] = installed.version + 1
    deep: list[object] = []
    inner = deep
    for _ in range(5000):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    doc["description"] = deep
    result = check_upgrade(installed, doc, now=NOW)
    assert result.verdict is UpgradeVerdict.REFUSED
    assert result.reason.startswith("the new version is not JSON: maximum recursion depth")


def _rebuilt(der: bytes, tbs_fields: list[bytes]) -> bytes:
    """``der`` with its TBSCertificate made of ``tbs_fields`` (the signature no longer matches,
    which is fine: certificates are read before any signature is checked)."""
    _t, cert_start, cert_end = _tlv(der, 0, len(der))
    _t, _tbs_start, tbs_end = _tlv(der, cert_start, cert_end)
    return _der(0x30, _der(0x30, b"".join(tbs_fields)) + der[tbs_end:cert_end])


def _tbs_fields(der: bytes) -> list[bytes]:
    _t, cert_start, cert_end = _tlv(der, 0, len(der))
    _t, pos, tbs_end = _tlv(der, cert_start, cert_end)
    fields = []
    while pos < tbs_end:
        _t, _s, end = _tlv(der, pos, tbs_end)
        fields.append(der[pos:end])
        pos = end
    return fields


def with_version(der: bytes, version: int) -> bytes:
    fields = _tbs_fields(der)
    assert fields[0][:4] == bytes([0xA0, 0x03, 0x02, 0x01])
    fields[0] = fields[0][:4] + bytes([version])
    return _rebuilt(der, fields)


def with_duplicate_extension(der: bytes) -> bytes:
    fields = _tbs_fields(der)
    (index,) = [i for i, f in enumerate(fields) if f[0] == 0xA3]
    wrapper = fields[index]
    _t, seq_start, seq_end = _tlv(wrapper, 0, len(wrapper))
    _t, items_start, items_end = _tlv(wrapper, seq_start, seq_end)
    items = wrapper[items_start:items_end]
    _t, _s, first_end = _tlv(items, 0, len(items))
    fields[index] = _der(0xA3, _der(0x30, items + items[:first_end]))
    return _rebuilt(der, fields)


@pytest.mark.parametrize(
    ("change", "outcome", "reason"),
    [
        (
            lambda der: with_version(der, 5),
            "malformed",
            "the leaf certificate cannot be read (5 is not a valid X509 version)",
        ),
        (
            with_duplicate_extension,
            "untrusted-certificate",
            "leaf 'cs-0001 (DEMO, never deploy)' has unreadable extensions (Duplicate ",
        ),
    ],
    ids=["invalid-version", "duplicate-extension"],
)
def test_a_leaf_certificate_cryptography_cannot_read_gets_a_verdict(
    change: object, outcome: str, reason: str
) -> None:
    from ocpp_e2e.keys import load_private_key
    from ocpp_e2e.pki.validate import pem_chain_der

    chain = pem_chain_der((KEYS / "station-1.chain.pem").read_bytes())
    leaf = change(chain[0])  # type: ignore[operator]
    signer = KeySigner(load_private_key(KEYS / "station-1.key.pem"), certificates=[leaf, *chain[1:]])
    frame = sign_frame([2, "1", "Heartbeat", {}], signer, ocpp="2.0.1", station="cs-0001", timestamp=NOW)
    validator = ChainValidator.from_files([KEYS / "root-ca.crt.pem"])
    result = Verifier(certificates=validator).verify_frame(
        frame, ocpp="2.0.1", station="cs-0001", now=NOW
    )
    (sig,) = result.verification.signatures
    assert sig.outcome.value == outcome
    assert sig.reason.startswith(reason), sig.reason
