"""The demo hierarchy of ``keys-example/``: one root, five sub-CAs and twelve leaves.

    python -m ocpp_e2e.pki.demo keys-example [--force]

The keys it writes are published demo material: never deploy them. The layout (file names,
identities, usages, validity dates) is fixed so that tests and examples can code against it; the
keys themselves are new on every run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from ..errors import OcppE2EError, PKIError
from ..keys import PrivateKey, generate_private_key, public_key_to_pem, write_private_key
from .issue import CertificateAuthority, certificate_pem, create_root

__all__ = [
    "CA_VALIDITY",
    "DEMO_NOT_BEFORE",
    "LEAF_VALIDITY",
    "LEAVES",
    "README",
    "ROOT",
    "ROOT_VALIDITY",
    "SUB_CAS",
    "DemoCA",
    "DemoLeaf",
    "generate",
    "main",
]

#: Every demo certificate starts here, so fixed timestamps from 2026 on are inside its validity.
DEMO_NOT_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
ROOT_VALIDITY = datetime(2046, 1, 1, tzinfo=UTC) - DEMO_NOT_BEFORE  # 20 years
CA_VALIDITY = datetime(2041, 1, 1, tzinfo=UTC) - DEMO_NOT_BEFORE  # 15 years
LEAF_VALIDITY = datetime(2036, 1, 1, tzinfo=UTC) - DEMO_NOT_BEFORE  # 10 years


@dataclass(frozen=True)
class DemoCA:
    """A demo sub-CA: file stem, key algorithm and the usages it may grant."""

    name: str
    algorithm: str
    usages: tuple[str, ...]


@dataclass(frozen=True)
class DemoLeaf:
    """A demo leaf: file stem, identity, usage, issuing CA and key algorithm."""

    name: str
    identity: str
    usage: str
    ca: str
    algorithm: str


ROOT = DemoCA("root-ca", "ES384", ())

SUB_CAS: tuple[DemoCA, ...] = (
    DemoCA(
        "operations-ca",
        "Ed25519",
        (
            "csmsOperator",
            "chargingStation",
            "networkingNode",
            "policyAdmin",
            "firmwareSigning",
            "securityOfficer",
        ),
    ),
    DemoCA("grid-ca", "ES256", ("gridOperator",)),
    DemoCA("tariff-ca", "Ed25519", ("tariffSigning",)),
    DemoCA("emp-ca", "ES256", ("ticketIssuing", "chargingTicket")),
    DemoCA("meter-ca", "ES256", ("meterSigning",)),
)

LEAVES: tuple[DemoLeaf, ...] = (
    DemoLeaf("csms-operator", "ops-1", "csmsOperator", "operations-ca", "Ed25519"),
    DemoLeaf("security-officer", "secoff-1", "securityOfficer", "operations-ca", "ES256"),
    DemoLeaf("grid-operator", "dso-example", "gridOperator", "grid-ca", "ES256"),
    DemoLeaf("tariff-signer", "tariffs-example", "tariffSigning", "tariff-ca", "Ed25519"),
    DemoLeaf("ticket-issuer", "emp-example", "ticketIssuing", "emp-ca", "ES256"),
    DemoLeaf("station-1", "cs-0001", "chargingStation", "operations-ca", "Ed25519"),
    DemoLeaf("station-2", "cs-0002", "chargingStation", "operations-ca", "ES256"),
    DemoLeaf("policy-admin-1", "policy-admin-1", "policyAdmin", "operations-ca", "Ed25519"),
    DemoLeaf("policy-admin-2", "policy-admin-2", "policyAdmin", "operations-ca", "ES384"),
    DemoLeaf("relay-node", "relay-1", "networkingNode", "operations-ca", "Ed25519"),
    # OCMF meters sign with secp256r1.
    DemoLeaf("meter-1", "meter-0001", "meterSigning", "meter-ca", "ES256"),
    DemoLeaf("firmware-signer", "firmware-example", "firmwareSigning", "operations-ca", "Ed25519"),
)

README = """\
# keys-example: DEMO KEYS — NEVER DEPLOY THEM

> **WARNING: every private key in this folder is PUBLISHED in the ocpp-e2e repository.**
> **Anyone can sign anything with them. They are demo and test material only.**
> **Never install `root-ca.crt.pem` as a trust anchor, or any of these keys, in a real charging
> station, CSMS, relay or meter.**

Regenerate (new keys, same layout) with:

    python -m ocpp_e2e.pki.demo keys-example --force

## Hierarchy

All certificates are valid from 2026-01-01T00:00:00Z: the root for 20 years, the sub-CAs for 15,
the leaves for 10. The root has no extended key usage (a trust anchor may grant every usage) and
pathLen 1; each sub-CA has pathLen 0 and the usages below.

| sub-CA | key | usages it may grant |
|---|---|---|
{ca_rows}

Leaves: `<name>.key.pem` (PKCS#8, unencrypted, 0600), `<name>.pub.pem` (SPKI), `<name>.crt.pem`
(the certificate) and `<name>.chain.pem` (leaf then sub-CA: what a signer attaches as
`certificates`). The identity is the SAN URI `urn:ocpp-e2e:<identity>`. Git does not record
file modes beyond the executable bit: after a checkout, `chmod 600 keys-example/*.key.pem`.

| name | identity | usage | issuing CA | key |
|---|---|---|---|---|
{leaf_rows}

`keyring.json` lists every leaf's public key with its identity as `name` and no roles
(`ocpp_e2e.keys.Keyring.load("keys-example/keyring.json")`).
"""


def _pem(cert: x509.Certificate) -> bytes:
    return certificate_pem([cert])


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def generate(out: Path, *, force: bool = False) -> list[Path]:
    """Write the demo hierarchy into ``out``; returns the files written.

    Refuses to overwrite an existing demo hierarchy unless ``force`` (the keys would change, and
    signed examples made with the old keys would stop verifying).
    """
    out.mkdir(parents=True, exist_ok=True)
    if (out / "root-ca.crt.pem").exists() and not force:
        raise PKIError(f"{out}: a demo hierarchy exists already; pass --force to replace its keys")
    written: list[Path] = []

    def put(name: str, data: bytes) -> None:
        _write(out / name, data)
        written.append(out / name)

    def put_key(name: str, key: PrivateKey) -> None:
        write_private_key(out / name, key)
        written.append(out / name)

    root_key = generate_private_key(ROOT.algorithm)
    root = create_root(
        root_key, ROOT.name, valid_for=ROOT_VALIDITY, path_length=1, not_before=DEMO_NOT_BEFORE
    )
    put_key("root-ca.key.pem", root_key)
    put("root-ca.crt.pem", _pem(root.certificate))

    cas: dict[str, CertificateAuthority] = {}
    for spec in SUB_CAS:
        key = generate_private_key(spec.algorithm)
        cert = root.issue_ca(
            key.public_key(),
            spec.name,
            spec.usages,
            valid_for=CA_VALIDITY,
            path_length=0,
            not_before=DEMO_NOT_BEFORE,
        )
        cas[spec.name] = root.sub_authority(cert, key)
        put_key(f"{spec.name}.key.pem", key)
        put(f"{spec.name}.crt.pem", _pem(cert))

    keyring: list[dict[str, object]] = []
    for leaf in LEAVES:
        key = generate_private_key(leaf.algorithm)
        ca = cas[leaf.ca]
        cert = ca.issue(
            key.public_key(),
            leaf.identity,
            [leaf.usage],
            valid_for=LEAF_VALIDITY,
            not_before=DEMO_NOT_BEFORE,
            common_name=f"{leaf.identity} (DEMO, never deploy)",
        )
        pub_pem = public_key_to_pem(key)
        put_key(f"{leaf.name}.key.pem", key)
        put(f"{leaf.name}.pub.pem", pub_pem)
        put(f"{leaf.name}.crt.pem", _pem(cert))
        put(f"{leaf.name}.chain.pem", certificate_pem(ca.chain_for(cert)))
        keyring.append({"publicKey": pub_pem.decode("ascii"), "name": leaf.identity, "roles": []})

    put("keyring.json", (json.dumps({"keys": keyring}, indent=2) + "\n").encode())
    put(
        "README.md",
        README.format(
            ca_rows="\n".join(
                f"| `{c.name}` | {c.algorithm} | {', '.join(f'`{u}`' for u in c.usages)} |"
                for c in SUB_CAS
            ),
            leaf_rows="\n".join(
                f"| `{x.name}` | `{x.identity}` | `{x.usage}` | `{x.ca}` | {x.algorithm} |"
                for x in LEAVES
            ),
        ).encode(),
    )
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m ocpp_e2e.pki.demo OUT [--force]``; exit 2 on errors."""
    parser = argparse.ArgumentParser(
        prog="python -m ocpp_e2e.pki.demo",
        description="Write the ocpp-e2e demo PKI (published demo keys, never deploy them).",
        epilog="example: python -m ocpp_e2e.pki.demo keys-example --force",
    )
    parser.add_argument("out", type=Path, help="folder to write (e.g. keys-example)")
    parser.add_argument("--force", action="store_true", help="replace an existing demo hierarchy")
    args = parser.parse_args(argv)
    try:
        files = generate(args.out, force=args.force)
    except (OcppE2EError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(files)} files to {args.out} (DEMO KEYS: never deploy them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
