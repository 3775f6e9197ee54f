"""``ocpp-e2e encrypt`` and ``ocpp-e2e decrypt``: OCPP frames encrypted end to end (docs/esp.md).

A thin skin over :mod:`ocpp_e2e.esp`. Exit status: 0 encrypted / decrypted, 1 the envelope was
refused (its outcome is printed: ``refused: <outcome>: <reason>``), 2 a usage or input error.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from .._b64 import b64url_decode
from ..canonical import loads
from ..context import PendingCall
from ..errors import OcppE2EError
from ..esp import (
    SUITES,
    EspKeyring,
    EspPending,
    EspPrivateKey,
    EspReceiver,
    Opened,
    ciphertext_digest,
    encrypt_frame,
    load_esp_private_key,
    load_esp_public_text,
)
from ..frames import parse_frame
from ..model import Direction
from ._io import EXIT_FAILED, check_ocpp, fail, parse_now, read_bytes, write_output
from ._options import NowOption, OcppOption, StationOption

__all__ = [
    "decrypt",
    "encrypt",
    "register",
]

DirectionOption = Annotated[
    str,
    typer.Option("--direction", help="Which way the outer frame travels: toStation or toCSMS."),
]
OutOption = Annotated[str, typer.Option("--out", "-o", help="Output file, or - for stdout.")]
KeyOption = Annotated[
    list[Path],
    typer.Option("--key", help="This node's ESP private key (PEM); repeat during a rollover."),
]
ReplyKeyringOption = Annotated[
    str | None,
    typer.Option(
        "--reply-keyring",
        help="ESP keyring (JSON or folder of *.pem) of the keys answers may be encrypted to.",
    ),
]
AnchorOption = Annotated[
    list[Path] | None,
    typer.Option("--trust-anchor", help="Root certificate(s) (PEM) for replyCertificates."),
]


def _check(ocpp: str, direction: str) -> Direction:
    check_ocpp(ocpp)
    try:
        return Direction(direction)
    except ValueError:
        fail(f"--direction must be toStation or toCSMS, not {direction!r}")


def _keys(paths: list[Path]) -> list[EspPrivateKey]:
    if not paths:
        fail("give this node's ESP private key with --key")
    try:
        return [load_esp_private_key(p) for p in paths]
    except OcppE2EError as exc:
        fail(str(exc))


def _receiver(
    keys: list[Path], reply_keyring: str | None, trust_anchor: list[Path] | None
) -> EspReceiver:
    ring = EspKeyring()
    validator = None
    try:
        if reply_keyring is not None:
            ring = EspKeyring.load(reply_keyring)
        if trust_anchor:
            from ..pki import ChainValidator

            validator = ChainValidator.from_files(trust_anchor)
        # A command line reads files whenever it is asked: the envelope's age is the only
        # freshness there is, so the window is wide (an hour) unless --now narrows the question.
        return EspReceiver(
            _keys(keys),
            reply_keys=ring,
            certificates=validator,
            max_age=timedelta(hours=1),
        )
    except OcppE2EError as exc:
        fail(str(exc))


def _public(path: Path, option: str) -> object:
    try:
        text = path.read_text("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{option} {path}: cannot read ({exc})")
    try:
        return load_esp_public_text(text, source=str(path))
    except OcppE2EError as exc:
        fail(str(exc))


def _refused(opened: Opened, name: str) -> None:
    if not opened.ok:
        typer.echo(f"refused: {opened.outcome.value}: {name}: {opened.reason}", err=True)
        raise typer.Exit(EXIT_FAILED)


def encrypt(
    source: Annotated[str, typer.Argument(help="The inner frame (signed, if signed), or -.")],
    station: StationOption,
    direction: DirectionOption,
    ocpp: OcppOption = "2.0.1",
    to: Annotated[
        Path | None,
        typer.Option("--to", help="The receiver's ESP public key (PEM) — for a CALL or SEND."),
    ] = None,
    reply_to: Annotated[
        Path | None,
        typer.Option("--reply-to", help="This node's ESP public key (PEM) the answer goes to."),
    ] = None,
    reply_certificates: Annotated[
        Path | None,
        typer.Option("--reply-certificates", help="Certificate chain (PEM) of the --reply-to key."),
    ] = None,
    answering: Annotated[
        str | None,
        typer.Option(
            "--answering",
            help="For a CALLRESULT/CALLERROR: the encrypted request (outer frame) it answers; "
            "give --key (and --reply-keyring or --trust-anchor) to read it.",
        ),
    ] = None,
    key: Annotated[
        list[Path] | None,
        typer.Option("--key", help="With --answering: this node's ESP private key (PEM)."),
    ] = None,
    reply_keyring: ReplyKeyringOption = None,
    trust_anchor: AnchorOption = None,
    suite: Annotated[
        str | None, typer.Option("--suite", help=f"One of {', '.join(SUITES)}.")
    ] = None,
    now: NowOption = None,
    out: OutOption = "-",
) -> None:
    """Encrypt a frame into an ESP DataTransfer for one receiver (docs/esp.md).

    Example: ocpp-e2e encrypt reset.signed.json --station cs-0001 --direction toStation
    --to cs-0001.esp.pub.pem --reply-to csms.esp.pub.pem
    """
    way = _check(ocpp, direction)
    data, name = read_bytes(source)
    moment = parse_now(now)
    answer_to = None
    if answering is not None:
        if to is not None or reply_to is not None:
            fail("an answer goes to the request's replyTo key: give no --to or --reply-to")
        request, request_name = read_bytes(answering)
        rx = _receiver(list(key or []), reply_keyring, trust_anchor)
        opened = rx.decrypt_frame(
            request, ocpp=ocpp, station=station, direction=way.reverse, now=moment
        )
        _refused(opened, request_name)
        answer_to = opened.answer_to
        if answer_to is None:
            fail(f"{request_name}: not an encrypted CALL, nothing to answer")
    elif to is None:
        fail("give the receiver's ESP public key with --to (or --answering for an answer)")
    chain: list[bytes] = []
    if reply_certificates is not None:
        from ..pki import pem_chain_der

        try:
            chain = pem_chain_der(reply_certificates.read_bytes())
        except (OSError, OcppE2EError, ValueError) as exc:
            fail(f"{reply_certificates}: {exc}")
    try:
        sealed = encrypt_frame(
            data,
            ocpp=ocpp,
            station=station,
            direction=way,
            recipient=_public(to, "--to") if to is not None else None,  # type: ignore[arg-type]
            reply_to=_public(reply_to, "--reply-to") if reply_to is not None else None,  # type: ignore[arg-type]
            reply_certificates=chain,
            answering=answer_to,
            suite=suite,
            now=moment,
        )
    except OcppE2EError as exc:
        fail(f"{name}: {exc}")
    write_output(out, sealed.text + ("\n" if out == "-" else ""))


def _pending(request: str, call: str, ocpp: str) -> EspPending:
    outer, outer_name = read_bytes(request)
    inner, inner_name = read_bytes(call)
    try:
        frame = parse_frame(outer, ocpp=ocpp)
        envelope = loads(frame.payload["data"])
        ct = b64url_decode(envelope["ct"])
        reply = envelope["replyTo"]
    except (OcppE2EError, KeyError, TypeError, ValueError) as exc:
        fail(f"{outer_name}: not an encrypted request ({exc})")
    try:
        pending_call = PendingCall.of(parse_frame(inner, ocpp=ocpp))
    except OcppE2EError as exc:
        fail(f"{inner_name}: {exc}")
    return EspPending(pending_call, ciphertext_digest(ct), str(reply))


def decrypt(
    source: Annotated[str, typer.Argument(help="The outer (encrypted) frame, or -.")],
    station: StationOption,
    direction: DirectionOption,
    key: KeyOption,
    ocpp: OcppOption = "2.0.1",
    reply_keyring: ReplyKeyringOption = None,
    trust_anchor: AnchorOption = None,
    request: Annotated[
        str | None,
        typer.Option("--request", help="For an answer: the encrypted request (outer frame) sent."),
    ] = None,
    call: Annotated[
        str | None,
        typer.Option("--call", help="For an answer: the inner CALL that request carried."),
    ] = None,
    now: NowOption = None,
    out: OutOption = "-",
    as_json: Annotated[
        bool, typer.Option("--json", help="Outcome, reason and frame as JSON.")
    ] = False,
) -> None:
    """Decrypt an ESP frame; print the inner frame exactly as its sender wrote it.

    Exit 1 with the outcome (docs/esp.md §9.6) when the envelope is refused.
    Example: ocpp-e2e decrypt outer.json --station cs-0001 --direction toStation
    --key cs-0001.esp.pem --reply-keyring csms-keys.json
    """
    way = _check(ocpp, direction)
    if (request is None) != (call is None):
        fail("an answer needs both --request (the outer request sent) and --call (its inner CALL)")
    pending = _pending(request, call, ocpp) if request and call else None
    rx = _receiver(key, reply_keyring, trust_anchor)
    data, name = read_bytes(source)
    opened = rx.decrypt_frame(
        data, ocpp=ocpp, station=station, direction=way, pending=pending, now=parse_now(now)
    )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "outcome": opened.outcome.value,
                    "reason": opened.reason,
                    "suite": opened.suite,
                    "recipient": opened.recipient,
                    "frame": opened.inner.decode("utf-8") if opened.inner is not None else None,
                },
                indent=2,
            )
        )
        if not opened.ok:
            raise typer.Exit(EXIT_FAILED)
        return
    _refused(opened, name)
    assert opened.inner is not None
    write_output(out, opened.inner + (b"\n" if out == "-" else b""))


def register(app: typer.Typer) -> None:
    """Add ``encrypt`` and ``decrypt`` to the top-level app."""
    for command in (encrypt, decrypt):
        app.command()(command)
