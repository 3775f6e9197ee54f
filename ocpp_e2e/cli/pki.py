"""``ocpp-e2e pki``: a small CA for SPEC §5 certificates (thin skin over :mod:`ocpp_e2e.pki`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import typer
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .._time import parse_rfc3339
from ..errors import PKIError
from ..integrations.clock import system_clock
from ..keys import (
    ALGORITHMS,
    PrivateKey,
    PublicKey,
    generate_private_key,
    load_public_key_file,
    public_key_to_pem,
    write_private_key,
)
from ..pki import (
    REASONS,
    CertificateAuthority,
    ChainValidator,
    RevocationState,
    certificate_pem,
    create_root,
    load_certificates_file,
    state_path,
)
from ..pki import demo as demo_module
from ..pki.show import certificate_summary
from ..pki.usages import USAGE_OIDS, sorted_usages
from ._io import input_errors, password_from_env, renamed, required
from ._options import JsonOption

__all__ = [
    "app",
    "crl",
    "demo",
    "init_root",
    "issue",
    "issue_ca",
    "issue_key_agreement",
    "revoke",
    "show",
    "verify",
]

app = typer.Typer(
    help="A small PKI for SPEC §5: roots, sub-CAs per domain, leaves with usages, CRLs, checks.",
    no_args_is_help=True,
    add_completion=False,
)

_USAGE_HELP = f"a SPEC §5 usage, repeatable: {', '.join(USAGE_OIDS)}"

KeyType = Annotated[
    str,
    typer.Option(
        "--key-type",
        help="key algorithm for a new key: "
        + ", ".join(n for n, r in ALGORITHMS.items() if r.certificates),
    ),
]
Out = Annotated[Path, typer.Option("--out", help="folder to write the files into")]
Force = Annotated[bool, typer.Option("--force", help="overwrite existing files")]
Days = Annotated[int | None, typer.Option("--days", help="validity in days")]
Hours = Annotated[int | None, typer.Option("--hours", help="validity in hours (instead of days)")]
NotBefore = Annotated[
    str | None, typer.Option("--not-before", help="start of validity, RFC 3339 (default: now)")
]
CaCert = Annotated[
    Path,
    typer.Option("--ca", help="issuing CA certificate (x.crt.pem; x.chain.pem used if present)"),
]
CaKey = Annotated[
    str | None,
    typer.Option(
        "--ca-key",
        help="issuing CA key: PEM path or key URI, e.g. pkcs11:... (default: x.key.pem beside --ca)",
    ),
]
PasswordEnv = Annotated[
    str | None,
    typer.Option(
        "--password-env", help="encrypt the new private key with the password in this env var"
    ),
]
CaPasswordEnv = Annotated[
    str | None,
    typer.Option("--ca-password-env", help="env var holding the CA key's password, if encrypted"),
]


def _validity(days: int | None, hours: int | None, default_days: int) -> timedelta:
    if days is not None and hours is not None:
        raise PKIError("give --days or --hours, not both")
    try:
        if hours is not None:
            return timedelta(hours=hours)
        return timedelta(days=default_days if days is None else days)
    except OverflowError:
        raise PKIError(
            f"--{'hours' if hours is not None else 'days'}: beyond the calendar; shorten it"
        ) from None


def _time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_rfc3339(text).astimezone(UTC)
    except ValueError as exc:
        raise PKIError(f"{option}: {exc}") from exc


def _check_free(paths: list[Path], force: bool) -> None:
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise PKIError(f"{', '.join(existing)} exist(s) already; pass --force to overwrite")


def _load_ca(ca: Path, ca_key: str | None, password_env: str | None) -> CertificateAuthority:
    if ca_key is None:
        name = ca.name.removesuffix(".pem").removesuffix(".crt")
        ca_key = str(ca.with_name(f"{name}.key.pem"))
    return CertificateAuthority.load(
        ca, ca_key, password_from_env(password_env, "--ca-password-env")
    )


def _write_key(path: Path, key: PrivateKey, password_env: str | None) -> None:
    write_private_key(path, key, password_from_env(password_env))


class _LeafFiles(NamedTuple):
    crt: Path
    chain: Path
    key: Path
    pub: Path


def _leaf_files(out: Path, name: str, *, new_key: bool, force: bool) -> _LeafFiles:
    """NAME.crt.pem, NAME.chain.pem and, for a new key, NAME.key.pem and NAME.pub.pem in ``out``;
    refused when one exists already (unless ``force``)."""
    files = _LeafFiles(*(out / f"{name}.{part}.pem" for part in ("crt", "chain", "key", "pub")))
    _check_free(list(files if new_key else files[:2]), force)
    return files


def _write_leaf(
    files: _LeafFiles,
    cert: x509.Certificate,
    issuer: CertificateAuthority,
    write_key: Callable[[Path], bytes] | None,
) -> None:
    """Write a leaf's certificate and chain and, with ``write_key`` (which writes the new private
    key to its path and returns the public key's PEM), its key files; say what was written."""
    files.crt.parent.mkdir(parents=True, exist_ok=True)
    files.crt.write_bytes(certificate_pem([cert]))
    files.chain.write_bytes(certificate_pem(issuer.chain_for(cert)))
    written = [files.crt, files.chain]
    if write_key is not None:
        files.pub.write_bytes(write_key(files.key))
        written += [files.key, files.pub]
    _echo_written(written)


def _echo_written(paths: list[Path]) -> None:
    for p in paths:
        typer.echo(f"wrote {p}")


@app.command("init-root")
def init_root(
    name: Annotated[str, typer.Argument(help="the root's name (CN) and file stem")],
    out: Out = Path("."),
    key_type: KeyType = "ES384",
    days: Days = None,
    hours: Hours = None,
    not_before: NotBefore = None,
    usage: Annotated[
        list[str] | None, typer.Option("--usage", help=f"restrict the root; {_USAGE_HELP}")
    ] = None,
    path_length: Annotated[
        int | None, typer.Option("--path-length", help="sub-CA levels allowed below the root")
    ] = None,
    password_env: PasswordEnv = None,
    force: Force = False,
) -> None:
    """Create a self-signed root (trust anchor): NAME.crt.pem and NAME.key.pem (0600).

    Without --usage the root has no EKU and may grant every usage to its sub-CAs.

    Example: ocpp-e2e pki init-root my-root --out pki --key-type ES384 --days 7300 --path-length 1
    """
    with input_errors():
        crt, key_path = out / f"{name}.crt.pem", out / f"{name}.key.pem"
        _check_free([crt, key_path], force)
        key = generate_private_key(key_type)
        root = create_root(
            key,
            name,
            valid_for=_validity(days, hours, 7300),
            usages=usage or None,
            path_length=path_length,
            not_before=_time(not_before, "--not-before") or system_clock().replace(microsecond=0),
        )
        out.mkdir(parents=True, exist_ok=True)
        _write_key(key_path, key, password_env)
        crt.write_bytes(certificate_pem([root.certificate]))
        _echo_written([crt, key_path])


@app.command("issue-ca")
def issue_ca(
    name: Annotated[str, typer.Argument(help="the sub-CA's name (CN) and file stem")],
    ca: CaCert,
    usage: Annotated[list[str] | None, typer.Option("--usage", help=_USAGE_HELP)] = None,
    ca_key: CaKey = None,
    out: Out = Path("."),
    key_type: KeyType = "ES256",
    key_agreement: Annotated[
        bool,
        typer.Option(
            "--key-agreement",
            help="also let the sub-CA issue ESP key-agreement certificates (docs/esp.md §9.7)",
        ),
    ] = False,
    path_length: Annotated[
        int, typer.Option("--path-length", help="sub-CA levels allowed below this one")
    ] = 0,
    days: Days = None,
    hours: Hours = None,
    not_before: NotBefore = None,
    password_env: PasswordEnv = None,
    ca_password_env: CaPasswordEnv = None,
    force: Force = False,
) -> None:
    """Issue a sub-CA holding some of the issuer's usages: NAME.crt.pem, .chain.pem, .key.pem.

    Refused when the issuer does not hold every --usage or its pathLen leaves no room.

    Example: ocpp-e2e pki issue-ca grid-ca --ca pki/my-root.crt.pem --usage gridOperator --out pki
    """
    with input_errors():
        issuer = _load_ca(ca, ca_key, ca_password_env)
        paths = [out / f"{name}.{ext}.pem" for ext in ("crt", "chain", "key")]
        _check_free(paths, force)
        key = generate_private_key(key_type)
        cert = issuer.issue_ca(
            key.public_key(),
            name,
            usage or [],
            valid_for=_validity(days, hours, 3650),
            path_length=path_length,
            not_before=_time(not_before, "--not-before") or system_clock().replace(microsecond=0),
            key_agreement=key_agreement,
        )
        out.mkdir(parents=True, exist_ok=True)
        paths[0].write_bytes(certificate_pem([cert]))
        paths[1].write_bytes(certificate_pem(issuer.chain_for(cert)))
        _write_key(paths[2], key, password_env)
        _echo_written(paths)


@app.command("issue")
def issue(
    name: Annotated[str, typer.Argument(help="file stem of the leaf's files")],
    ca: CaCert,
    identity: Annotated[str, typer.Option("--identity", help="SAN urn:ocpp-e2e:<identity>")],
    usage: Annotated[list[str], typer.Option("--usage", help=_USAGE_HELP)],
    ca_key: CaKey = None,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="certify this SPKI PEM instead of making a new key"),
    ] = None,
    out: Out = Path("."),
    key_type: KeyType = "Ed25519",
    days: Days = None,
    hours: Hours = None,
    not_before: NotBefore = None,
    password_env: PasswordEnv = None,
    ca_password_env: CaPasswordEnv = None,
    force: Force = False,
) -> None:
    """Issue a leaf: NAME.crt.pem and NAME.chain.pem (leaf, then CAs: what a signer attaches).

    Without --public-key a new key is made and written as NAME.key.pem (0600) and NAME.pub.pem.

    Example: ocpp-e2e pki issue dso --ca grid-ca.crt.pem --identity dso-1 --usage gridOperator
    """
    with input_errors():
        issuer = _load_ca(ca, ca_key, ca_password_env)
        files = _leaf_files(out, name, new_key=public_key is None, force=force)
        new_key: PrivateKey | None = None
        if public_key is None:
            new_key = generate_private_key(key_type)
            pub: PublicKey = new_key.public_key()
        else:
            pub, _der = load_public_key_file(public_key)
        cert = issuer.issue(
            pub,
            identity,
            usage,
            valid_for=_validity(days, hours, 365),
            not_before=_time(not_before, "--not-before") or system_clock().replace(microsecond=0),
        )

        def write_key(path: Path) -> bytes:
            assert new_key is not None
            _write_key(path, new_key, password_env)
            return public_key_to_pem(new_key)

        _write_leaf(files, cert, issuer, write_key if new_key is not None else None)


@app.command("issue-key-agreement")
def issue_key_agreement(
    name: Annotated[str, typer.Argument(help="file stem of the leaf's files")],
    ca: CaCert,
    identity: Annotated[str, typer.Option("--identity", help="SAN urn:ocpp-e2e:<identity>")],
    ca_key: CaKey = None,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="certify this X25519 ESP public key (PEM)"),
    ] = None,
    out: Out = Path("."),
    days: Days = None,
    hours: Hours = None,
    not_before: NotBefore = None,
    ca_password_env: CaPasswordEnv = None,
    force: Force = False,
) -> None:
    """Certify an X25519 ESP recipient key (usage keyAgreement, docs/esp.md §9.7).

    Without --public-key a new X25519 key is made and written as NAME.key.pem (0600) and
    NAME.pub.pem. An X25519 key cannot sign, so only a CA can certify it.

    Example: ocpp-e2e pki issue-key-agreement cs-0001-esp --ca esp-ca.crt.pem --identity cs-0001
    """
    from ..esp import EspKeyType, generate_esp_key, load_esp_public_text, write_esp_private_key

    with input_errors():
        issuer = _load_ca(ca, ca_key, ca_password_env)
        files = _leaf_files(out, name, new_key=public_key is None, force=force)
        if public_key is None:
            new_key = generate_esp_key("X25519")
            esp_public = new_key.public
        else:
            new_key = None
            try:
                text = public_key.read_bytes().decode("ascii")
            except UnicodeDecodeError as exc:
                raise PKIError(f"{public_key}: not a PEM public key (not ASCII text)") from exc
            esp_public = load_esp_public_text(text, source=str(public_key))
        if esp_public.type is not EspKeyType.X25519:
            raise PKIError(
                f"{public_key}: X.509 certifies X25519 ESP keys; a {esp_public.type.value} key "
                "goes in an ESP keyring"
            )
        cert = issuer.issue_key_agreement(
            esp_public.hpke_key,  # type: ignore[arg-type]
            identity,
            valid_for=_validity(days, hours, 365),
            not_before=_time(not_before, "--not-before") or system_clock().replace(microsecond=0),
        )

        def write_esp_key(path: Path) -> bytes:
            assert new_key is not None
            write_esp_private_key(path, new_key)
            return new_key.public.to_pem()

        _write_leaf(files, cert, issuer, write_esp_key if new_key is not None else None)


@app.command("revoke")
def revoke(
    ca: CaCert,
    certificate: Annotated[
        Path | None, typer.Argument(help="the certificate to revoke (PEM or DER)")
    ] = None,
    serial: Annotated[
        str | None, typer.Option("--serial", help="hex serial, when the certificate is lost")
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help=f"one of {', '.join(REASONS)}")
    ] = None,
    ca_key: CaKey = None,
    ca_password_env: CaPasswordEnv = None,
) -> None:
    """Record a revocation in the CA's state file (x.revoked.json beside --ca); then run `crl`.

    Example: ocpp-e2e pki revoke pki/dso.crt.pem --ca pki/grid-ca.crt.pem --reason keyCompromise
    """
    with input_errors():
        if (certificate is None) == (serial is None):
            raise PKIError("give the certificate file or --serial, exactly one")
        issuer = _load_ca(ca, ca_key, ca_password_env)
        path = state_path(ca)
        state = RevocationState.load(path, issuer)
        target: x509.Certificate | int
        if certificate is not None:
            target = load_certificates_file(certificate)[0]
        else:
            assert serial is not None
            try:
                target = int(serial, 16)
            except ValueError as exc:
                raise PKIError(f"--serial: {serial!r} is not a hexadecimal number") from exc
        entry = state.revoke(issuer, target, reason=reason, at=system_clock())
        state.save(path)
        typer.echo(f"revoked serial {entry.serial:x} of CA '{issuer.name}'; wrote {path}")


@app.command("crl")
def crl(
    ca: CaCert,
    out: Annotated[Path, typer.Option("--out", help="CRL file to write (PEM; .der for DER)")],
    ca_key: CaKey = None,
    days: Annotated[int, typer.Option("--days", help="days until the CRL's nextUpdate")] = 7,
    ca_password_env: CaPasswordEnv = None,
) -> None:
    """Write an X.509 CRL signed by the CA, listing every certificate it revoked.

    Example: ocpp-e2e pki crl --ca pki/grid-ca.crt.pem --out pki/grid-ca.crl.pem
    """
    with input_errors():
        issuer = _load_ca(ca, ca_key, ca_password_env)
        path = state_path(ca)
        state = RevocationState.load(path, issuer)
        try:
            next_update = timedelta(days=days)
        except OverflowError:
            raise PKIError("--days: beyond the calendar; shorten it") from None
        result = state.crl(issuer, next_update=next_update, now=system_clock().replace(microsecond=0))
        encoding = (
            serialization.Encoding.DER if out.suffix == ".der" else serialization.Encoding.PEM
        )
        out.write_bytes(result.public_bytes(encoding))
        state.save(path)
        typer.echo(f"wrote {out} (CRL number {state.crl_number}, {len(state.revoked)} revoked)")


@app.command("verify")
def verify(
    chain: Annotated[Path, typer.Argument(help="PEM chain, leaf first (e.g. x.chain.pem)")],
    trust_anchor: Annotated[
        list[Path] | None,
        typer.Option("--trust-anchor", help="trust anchor certificate file, repeatable (required)"),
    ] = None,
    crl_files: Annotated[
        list[Path] | None, typer.Option("--crl", help="CRL file (PEM or DER), repeatable")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="signature time, RFC 3339 (default: now)")
    ] = None,
    now: Annotated[str | None, typer.Option("--now", help="current time, RFC 3339")] = None,
    require_revocation: Annotated[
        bool,
        typer.Option("--require-revocation", help="fail without a CRL (72-hour certs exempt)"),
    ] = False,
    json_out: JsonOption = False,
    old_anchor: Annotated[list[Path] | None, typer.Option("--anchor", hidden=True)] = None,
) -> None:
    """Validate a chain against trust anchors; print identity and effective usages, or why not.

    Exit status 0 when the chain is valid, 1 when it is not, 2 on unreadable input.

    Example: ocpp-e2e pki verify dso.chain.pem --trust-anchor root-ca.crt.pem --at 2027-01-01T00:00:00Z
    """
    anchor = required(
        renamed(trust_anchor, old_anchor, "--trust-anchor", "--anchor"), "--trust-anchor"
    )
    with input_errors():
        validator = ChainValidator.from_files(
            anchor, crls=crl_files or (), require_revocation=require_revocation
        )
        ders = [c.public_bytes(serialization.Encoding.DER) for c in load_certificates_file(chain)]
        moment_now = _time(now, "--now") or system_clock()
        moment_at = _time(at, "--at") or moment_now
        result = validator.validate(ders, at=moment_at, now=moment_now)
    if json_out:
        doc: dict[str, Any] = {
            "ok": result.ok,
            "reason": result.reason,
            "identity": result.identity,
            "usages": sorted_usages(result.usages),
            "issuers": list(result.issuers),
        }
        typer.echo(json.dumps(doc, indent=2))
    elif result.ok:
        typer.echo(f"valid:    {result.reason}")
        typer.echo(f"identity: {result.identity}")
        typer.echo(f"usages:   {', '.join(sorted_usages(result.usages))}")
        typer.echo(f"issuers:  {', '.join(result.issuers)}")
    else:
        typer.echo(f"untrusted-certificate: {result.reason}")
    if not result.ok:
        raise typer.Exit(1)


@app.command("show")
def show(
    certificate: Annotated[Path, typer.Argument(help="certificate file (PEM, may hold several)")],
    json_out: JsonOption = False,
) -> None:
    """Summarize certificates: identity, usage names (not OIDs), validity, CA constraints, key id.

    Example: ocpp-e2e pki show keys-example/grid-operator.chain.pem
    """
    with input_errors():
        summaries = [certificate_summary(c) for c in load_certificates_file(certificate)]
    if json_out:
        typer.echo(json.dumps(summaries, indent=2))
        return
    for i, s in enumerate(summaries):
        if i:
            typer.echo("")
        usages = "(no EKU)" if s["usages"] is None else ", ".join(s["usages"]) or "(none)"
        if s["otherExtendedKeyUsages"]:
            usages += f"; other EKU OIDs (grant no usage): {', '.join(s['otherExtendedKeyUsages'])}"
        kind = f"CA, pathLen {s['pathLength']}" if s["ca"] else "leaf"
        if s["selfSigned"]:
            kind += ", self-signed"
        rows: list[tuple[str, str]] = [
            ("name", f"{s['name']} ({kind})"),
            ("subject", s["subject"]),
            ("issuer", s["issuer"]),
            ("identity", s["identity"] or _identities_text(s["identities"])),
            ("usages", usages),
            ("valid", f"{s['notBefore']} .. {s['notAfter']}"),
            ("keyUsage", ", ".join(s["keyUsage"]) if s["keyUsage"] is not None else "(absent)"),
            ("key", f"{s['keyAlgorithm']}, keyId {s['keyId']}"),
            ("serial", s["serial"]),
            ("sha256", s["sha256"]),
        ]
        for label, value in rows:
            typer.echo(f"{label + ':':<10}{value}")


def _identities_text(identities: list[str]) -> str:
    if not identities:
        return "(none)"
    return f"(several: {', '.join(identities)})"


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Argument(help="folder to write, e.g. keys-example")],
    force: Annotated[
        bool, typer.Option("--force", help="replace an existing demo hierarchy")
    ] = False,
) -> None:
    """Write the published demo hierarchy (root, 5 sub-CAs, 12 leaves). DEMO KEYS: never deploy.

    Example: ocpp-e2e pki demo keys-example --force
    """
    with input_errors():
        files = demo_module.generate(out, force=force)
    typer.echo(f"wrote {len(files)} files to {out} (DEMO KEYS: never deploy them)")
