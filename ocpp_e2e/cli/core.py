"""Core commands: ``keygen``, ``canonicalize``, ``sign``, ``verify`` and ``inspect``."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..canonical import dumps, loads
from ..context import PendingCall
from ..errors import OcppE2EError
from ..esp import EspKeyType, generate_esp_key, write_esp_private_key
from ..frames import parse_frame
from ..integrations.clock import system_clock
from ..keys import (
    ALGORITHMS,
    Keyring,
    PublicKey,
    generate_private_key,
    key_id,
    load_signer,
    public_key_to_pem,
    spki_der,
    write_private_key,
)
from ..model import CertificateValidator
from ..sign import sign_frame
from ..verify import FrameVerification, Verifier
from ._io import (
    EXIT_FAILED,
    check_ocpp,
    fail,
    parse_now,
    password_from_env,
    read_bytes,
    write_output,
)
from ._options import JsonOption, NowOption, OcppOption, StationOption

__all__ = [
    "canonicalize",
    "inspect",
    "keygen",
    "register",
    "sign",
    "verify",
]

CallOption = Annotated[
    str | None,
    typer.Option("--call", help="For a CALLRESULT/CALLERROR: file with the CALL frame it answers."),
]


def _pending(call: str | None, ocpp: str) -> PendingCall | None:
    if call is None:
        return None
    data, name = read_bytes(call)
    try:
        return PendingCall.of(parse_frame(data, ocpp=ocpp))
    except OcppE2EError as exc:
        fail(f"{name}: {exc}")


def keygen(
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="Private key file to write (PKCS#8 PEM, mode 0600), or a pkcs11: URI: the key "
            "is then made inside the token (PIN from pin-source or OCPP_E2E_PKCS11_PIN).",
        ),
    ],
    algorithm: Annotated[
        str,
        typer.Option(
            "--algorithm",
            "-a",
            help=", ".join(ALGORITHMS) + " (signing); X25519 or ML-KEM-768+X25519 "
            "(ESP recipient key, docs/esp.md).",
        ),
    ] = "Ed25519",
    public_out: Annotated[
        Path | None, typer.Option("--public-out", help="Also write the public key (SPKI PEM).")
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option(
            "--password-env", help="Encrypt with the password in this environment variable."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Generate a signing key; prints its key id (never the private key).

    Example: ocpp-e2e keygen --algorithm ES256 --out ops.key.pem --public-out ops.pub.pem
    """
    esp_types = [t.value for t in EspKeyType]
    if algorithm not in ALGORITHMS and algorithm not in esp_types:
        fail(f"--algorithm must be one of {', '.join([*ALGORITHMS, *esp_types])}")
    in_token = out.startswith("pkcs11:")
    for path in (None if in_token else Path(out), public_out):
        if path is not None and path.exists() and not force:
            fail(f"{path}: exists; use --force to overwrite")
    if in_token and password_env is not None:
        fail("--password-env: a key in a token is protected by the token's PIN, not a password")
    if public_out is not None and not public_out.parent.is_dir():
        fail(f"{public_out}: the folder {public_out.parent} does not exist")
    if algorithm in esp_types:
        if in_token:
            fail("--out: ESP recipient keys are written to files, not made in a token")
        # An ESP recipient key (docs/esp.md §9.2): it decrypts, it never signs.
        esp_key = generate_esp_key(algorithm)
        try:
            write_esp_private_key(Path(out), esp_key, password_from_env(password_env))
            if public_out is not None:
                public_out.write_bytes(esp_key.public.to_pem())
        except OSError as exc:
            fail(f"cannot write key file: {exc}")
        except OcppE2EError as exc:
            fail(str(exc))
        typer.echo(f"keyId {esp_key.key_id} ({algorithm}, ESP recipient key) written to {out}")
        return
    try:
        if in_token:
            from ..pkcs11 import generate_key

            public: PublicKey = generate_key(out, algorithm)
        else:
            key = generate_private_key(algorithm)
            write_private_key(Path(out), key, password_from_env(password_env))
            public = key.public_key()
        if public_out is not None:
            public_out.write_bytes(public_key_to_pem(public))
    except OcppE2EError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write key file: {exc}")
    typer.echo(f"keyId {key_id(spki_der(public))} ({algorithm}) written to {out}")


def canonicalize(
    source: Annotated[str, typer.Argument(help="JSON file, or - for stdin.")] = "-",
    out: Annotated[str, typer.Option("--out", "-o", help="Output file, or - for stdout.")] = "-",
) -> None:
    """Print the RFC 8785 canonical form of strict I-JSON (SPEC §2).

    Example: echo '{"b": 1, "a": 2.50}' | ocpp-e2e canonicalize
    """
    data, name = read_bytes(source)
    try:
        write_output(out, dumps(loads(data)))
    except OcppE2EError as exc:
        fail(f"{name}: {exc}")


def sign(
    source: Annotated[
        str, typer.Argument(help="Frame file (an OCPP-J JSON array), or - for stdin.")
    ],
    key: Annotated[
        list[str],
        typer.Option(
            "--key",
            "-k",
            help="Private key (PEM file or key URI file:/envvar:); repeat for several signers.",
        ),
    ],
    station: StationOption,
    ocpp: OcppOption = "2.0.1",
    call: CallOption = None,
    certificates: Annotated[
        list[Path] | None,
        typer.Option(
            "--certificates", help="PEM chain (leaf first) to attach; one per --key, in order."
        ),
    ] = None,
    destination: Annotated[
        str | None, typer.Option("--destination", help="Intended receiver's id.")
    ] = None,
    chained: Annotated[
        bool,
        typer.Option("--chained", help="Endorse the signatures already present (relaying node)."),
    ] = False,
    embed_public_key: Annotated[
        bool, typer.Option("--embed-public-key", help="Add publicKey (grants no trust).")
    ] = False,
    password_env: Annotated[
        str | None,
        typer.Option(
            "--password-env", help="Password of encrypted keys, from this environment variable."
        ),
    ] = None,
    out: Annotated[str, typer.Option("--out", "-o", help="Output file, or - for stdout.")] = "-",
) -> None:
    """Sign an OCPP-J frame for a station's connection (SPEC §1, §3).

    Example: ocpp-e2e sign reset.json --key keys-example/csms-operator.key.pem --station cs-0001
    """
    check_ocpp(ocpp)
    from ..pki import pem_chain_der

    chains: list[list[bytes]] = []
    if certificates:
        if len(certificates) != len(key):
            fail("give one --certificates file per --key")
        for path in certificates:
            try:
                chains.append(pem_chain_der(path.read_bytes()))
            except (OSError, OcppE2EError, ValueError) as exc:
                fail(f"{path}: {exc}")
    signers = []
    for i, uri in enumerate(key):
        try:
            signer = load_signer(
                uri, password_from_env(password_env), certificates=chains[i] if chains else ()
            )
        except OcppE2EError as exc:
            fail(str(exc))
        signers.append(signer)
    data, name = read_bytes(source)
    try:
        text = sign_frame(
            data,
            signers,
            ocpp=ocpp,
            station=station,
            call=_pending(call, ocpp),
            destination=destination,
            chained=chained,
            embed_public_key=embed_public_key,
            timestamp=system_clock(),
        )
    except OcppE2EError as exc:
        fail(f"{name}: {exc}")
    write_output(out, text + ("\n" if out == "-" else ""))


_MAX_WINDOW_SECONDS = 10**9  # about 31 years


def _verifier(
    keyring: str | None,
    trust_anchor: list[Path] | None,
    max_age: int,
    clock_skew: int,
    receiver: str | None,
) -> Verifier:
    for option, seconds in (("--max-age", max_age), ("--clock-skew", clock_skew)):
        # A negative window means nothing; a huge one overflows datetime arithmetic.
        if not 0 <= seconds <= _MAX_WINDOW_SECONDS:
            fail(f"{option} must be 0 to {_MAX_WINDOW_SECONDS} seconds, not {seconds}")
    ring = Keyring()
    if keyring is not None:
        try:
            ring = Keyring.load(keyring)
        except OcppE2EError as exc:
            fail(str(exc))
    validator: CertificateValidator | None = None
    if trust_anchor:
        from ..pki import ChainValidator, pem_chain_der

        anchors: list[bytes] = []
        for path in trust_anchor:
            try:
                anchors.extend(pem_chain_der(path.read_bytes()))
            except (OSError, OcppE2EError, ValueError) as exc:
                fail(f"{path}: {exc}")
        try:
            validator = ChainValidator(anchors)
        except OcppE2EError as exc:  # e.g. a leaf certificate given as an anchor
            fail(f"{', '.join(str(p) for p in trust_anchor)}: {exc}")
    return Verifier(
        ring,
        certificates=validator,
        max_signature_age=timedelta(seconds=max_age),
        clock_skew=timedelta(seconds=clock_skew),
        identity=receiver,
    )


KeyringOption = Annotated[
    str | None,
    typer.Option("--keyring", help="Keyring file (JSON) or folder of *.pem public keys."),
]
AnchorOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--trust-anchor", help="Root certificate(s) (PEM) for signatures with certificates."
    ),
]
AgeOption = Annotated[int, typer.Option("--max-age", help="maxSignatureAge in seconds.")]
SkewOption = Annotated[int, typer.Option("--clock-skew", help="clockSkew in seconds.")]
ReceiverOption = Annotated[
    str | None, typer.Option("--receiver", help="This receiver's id, for destination checks.")
]


def _verify_one(
    source: str, ocpp: str, station: str, call: str | None, verifier: Verifier, now: str | None
) -> FrameVerification:
    check_ocpp(ocpp)
    data, name = read_bytes(source)
    try:
        return verifier.verify_frame(
            data, ocpp=ocpp, station=station, call=_pending(call, ocpp), now=parse_now(now)
        )
    except OcppE2EError as exc:
        fail(f"{name}: {exc}")


def verify(
    source: Annotated[str, typer.Argument(help="Frame file, or - for stdin.")],
    station: StationOption,
    ocpp: OcppOption = "2.0.1",
    call: CallOption = None,
    keyring: KeyringOption = None,
    trust_anchor: AnchorOption = None,
    now: NowOption = None,
    max_age: AgeOption = 300,
    clock_skew: SkewOption = 30,
    receiver: ReceiverOption = None,
    as_json: JsonOption = False,
) -> None:
    """Verify every signature of a frame; exit 0 only when all are valid (and there is one).

    Example: ocpp-e2e verify signed.json --station cs-0001 --keyring keys-example/keyring.json
    """
    verifier = _verifier(keyring, trust_anchor, max_age, clock_skew, receiver)
    result = _verify_one(source, ocpp, station, call, verifier, now)
    v = result.verification
    if as_json:
        typer.echo(
            json.dumps(
                {"messageId": result.frame.message_id, **v.to_dict(), "ok": v.all_valid}, indent=2
            )
        )
    else:
        if not v.signatures:
            typer.echo("no signatures")
        for sig in v.signatures:
            who = sig.identity or sig.key_id or "?"
            typer.echo(f"[{sig.index}] {sig.outcome.value}: {who} — {sig.reason}")
    if not v.all_valid:
        raise typer.Exit(EXIT_FAILED)


def inspect(
    source: Annotated[str, typer.Argument(help="Frame file, or - for stdin.")],
    station: StationOption,
    ocpp: OcppOption = "2.0.1",
    call: CallOption = None,
    keyring: KeyringOption = None,
    trust_anchor: AnchorOption = None,
    now: NowOption = None,
    max_age: AgeOption = 300,
    clock_skew: SkewOption = 30,
    receiver: ReceiverOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a frame's signatures as a table: who, algorithm, when, verdict.

    Example: ocpp-e2e inspect signed.json --station cs-0001 --keyring keys-example/keyring.json
    """
    verifier = _verifier(keyring, trust_anchor, max_age, clock_skew, receiver)
    result = _verify_one(source, ocpp, station, call, verifier, now)
    v = result.verification
    if as_json:
        typer.echo(json.dumps({"messageId": result.frame.message_id, **v.to_dict()}, indent=2))
        if not v.all_valid:
            raise typer.Exit(EXIT_FAILED)
        return
    console = Console()
    ctx: dict[str, Any] = dict(v.context)
    console.print(
        f"frame {result.frame.type.name} id={result.frame.message_id!r} context={json.dumps(ctx)}"
    )
    table = Table("#", "signer", "keyId", "algorithm", "timestamp", "chained", "verdict")
    for sig in v.signatures:
        colour = "green" if sig.valid else "red"
        table.add_row(
            str(sig.index),
            sig.identity or "-",
            (sig.key_id or "-")[:12] + "…",
            sig.algorithm or "-",
            sig.timestamp or "-",
            "yes" if sig.chained else "",
            f"[{colour}]{sig.outcome.value}[/]",
        )
    console.print(table if v.signatures else "no signatures")
    for sig in v.signatures:  # reasons in full, below the table, where they have room
        console.print(f"[{sig.index}] {sig.reason}", markup=False, highlight=False)
    if not v.all_valid:
        raise typer.Exit(EXIT_FAILED)


def register(app: typer.Typer) -> None:
    """Add the core commands to the top-level app."""
    for command in (keygen, canonicalize, sign, verify, inspect):
        app.command()(command)
