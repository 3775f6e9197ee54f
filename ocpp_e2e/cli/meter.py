"""``ocpp-e2e meter``: verify OCMF signed meter values and check their transactions.

A thin skin over :mod:`ocpp_e2e.meter`. Exit status: 0 every record is ``valid`` (trusted key) and
no transaction finding fails (``--transactions check``: only contradictions between the records
fail; ``strict``: every finding, an incomplete transaction included; ``report``: none), 1
otherwise (or nothing to verify), 2 a usage or input error (including a ``--cert`` chain that does
not validate against ``--trust-anchor`` now, or lacks the usage ``meterSigning``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import OcppE2EError
from ..frames import OCPP_VERSIONS, MessageType, parse_frame
from ..integrations.clock import system_clock
from ..keys import load_private_key
from ..meter import (
    BilledEnergy,
    MeterFinding,
    MeterVerifier,
    RecordVerification,
    Severity,
    TransactionChecker,
    parse_record,
    supported_algorithms,
    unsupported_algorithms,
)
from ..meter.sign import sign_payload
from ..meter.trust import load_meter_keyring
from ..pki.validate import ChainValidator
from ._io import check_ocpp
from ._io import fail as _fail

__all__ = [
    "algorithms",
    "app",
    "sign",
    "verify",
]

app = typer.Typer(
    help="OCMF signed meter values (Eichrecht): verify records and their transactions.",
    no_args_is_help=True,
    add_completion=False,
)


def _read(source: str) -> tuple[str, str]:
    """(text, name) of ``-`` (stdin) or a file."""
    if source == "-":
        return sys.stdin.read(), "stdin"
    path = Path(source)
    try:
        return path.read_bytes().decode("utf-8"), str(path)
    except OSError as exc:
        _fail(f"{path}: cannot read ({exc.strerror})")
    except UnicodeDecodeError as exc:
        _fail(f"{path}: not UTF-8 text (byte {exc.start})")


def _records(text: str, name: str) -> Iterator[tuple[str, str]]:
    """Records of a file: each starts on a line beginning ``OCMF|``; following lines that do not
    are part of it (a pretty-printed record keeps its exact line breaks)."""
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if line.startswith("OCMF|"):
            if current:
                yield "".join(current), f"{name}:{start}"
            current, start = [line], number
        elif current:
            current.append(line)
        elif line.strip():
            _fail(f"{name}:{number}: expected an OCMF record (a line starting with OCMF|)")
    if current:
        yield "".join(current), f"{name}:{start}"


def _frames(text: str, name: str, ocpp: str, verifier: MeterVerifier) -> list[RecordVerification]:
    stripped = text.strip()
    chunks: list[tuple[str, str]]
    try:
        parse_frame(stripped, ocpp=ocpp)
        chunks = [(stripped, name)]
    except OcppE2EError:
        chunks = [
            (line, f"{name}:{n}") for n, line in enumerate(text.splitlines(), 1) if line.strip()
        ]
    results: list[RecordVerification] = []
    for chunk, where in chunks:
        try:
            frame = parse_frame(chunk, ocpp=ocpp)
        except OcppE2EError as exc:
            _fail(f"{where}: {exc}")
        if frame.type is not MessageType.CALL or frame.action is None:
            continue
        for result in verifier.verify_payload(frame.action, frame.payload, ocpp):
            results.append(_relocate(result, where))
    return results


def _relocate(result: RecordVerification, where: str) -> RecordVerification:
    return replace(result, where=f"{where} {result.where}")


@app.command("verify")
def verify(
    source: Annotated[
        str,
        typer.Argument(
            help="An OCMF record (text starting with OCMF|), a file of records, or with --ocpp a "
            "file of OCPP-J frames (one frame, or one per line); - reads stdin."
        ),
    ],
    ocpp: Annotated[
        str | None,
        typer.Option(
            "--ocpp",
            help=f"The input holds OCPP-J frames of this version: {', '.join(OCPP_VERSIONS)}.",
        ),
    ] = None,
    key: Annotated[
        list[Path] | None,
        typer.Option(
            "--key", help="A trusted meter public key file (PEM, DER, hex, base64). Repeatable."
        ),
    ] = None,
    keyring: Annotated[
        list[Path] | None,
        typer.Option("--keyring", help='A meter keyring JSON file {"keys": [...]}. Repeatable.'),
    ] = None,
    cert: Annotated[
        list[Path] | None,
        typer.Option(
            "--cert",
            help="A meter certificate chain file (PEM or DER, leaf first) whose leaf has the usage "
            "meterSigning; validated against --trust-anchor at the time this command runs. "
            "Repeatable.",
        ),
    ] = None,
    trust_anchor: Annotated[
        list[Path] | None,
        typer.Option(
            "--trust-anchor",
            help="A trusted root certificate file (PEM, may hold several) for --cert. Repeatable.",
        ),
    ] = None,
    untrusted_transactions: Annotated[
        bool,
        typer.Option(
            "--check-untrusted",
            help="Let records verified only under their own embedded key take part in the "
            "transaction checks (their verdict still fails).",
        ),
    ] = False,
    transactions: Annotated[
        str,
        typer.Option(
            "--transactions",
            help="How transaction findings weigh: check (default; contradictions between records "
            "fail, what one record cannot show is a note), strict (every finding fails, an "
            "incomplete transaction included), report (findings never fail).",
        ),
    ] = "check",
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable JSON on stdout.")
    ] = False,
) -> None:
    """Verify OCMF records under trusted meter keys and check pagination and transactions.

    Example: ocpp-e2e meter verify --key meter-7.pem --ocpp 2.0.1 frames.jsonl

    Example: ocpp-e2e meter verify --cert meter-1.chain.pem --trust-anchor root-ca.crt.pem records.txt
    """
    if transactions not in _MODES:
        _fail(f"--transactions {transactions!r}: expected one of {', '.join(_MODES)}")
    if ocpp is not None:
        check_ocpp(ocpp)
    if cert and not trust_anchor:
        _fail(f"{cert[0]}: --cert needs at least one --trust-anchor to validate the chain against")
    try:
        validator = ChainValidator.from_files(trust_anchor) if trust_anchor else None
        ring = load_meter_keyring(
            keys=key or [],
            keyrings=keyring or [],
            certificates=cert or [],
            validator=validator,
            at=system_clock(),  # certificates must be valid now, when the records are checked
        )
    except OcppE2EError as exc:
        _fail(str(exc))
    verifier = MeterVerifier(ring)
    if source.startswith("OCMF|"):
        text, name = source, "argument"
    else:
        text, name = _read(source)
    if ocpp is not None:
        results = _frames(text, name, ocpp, verifier)
    else:
        results = [verifier.verify_text(rec, where=where) for rec, where in _records(text, name)]
    checker = TransactionChecker(require_trusted=not untrusted_transactions)
    findings: list[MeterFinding] = []
    for result in results:
        findings.extend(checker.feed(result))
    findings.extend(checker.finish())
    failing = [f for f in findings if _fails(f, transactions)]
    ok = bool(results) and all(r.valid for r in results) and not failing
    billed = checker.billed
    if as_json:
        doc = {
            "ok": ok,
            "records": [r.to_dict() for r in results],
            "transactions": [b.to_dict() for b in billed],
            "findings": [{**f.to_dict(), "fails": _fails(f, transactions)} for f in findings],
        }
        typer.echo(json.dumps(doc, indent=2))
    else:
        if not results:
            typer.echo("no signed meter values found")
        for r in results:
            typer.echo(f"{r.where}: {r.verdict.value}: {r.reason}")
            for note in r.notes:
                typer.echo(f"  note: {note}")
        for b in billed:
            typer.echo(_billed_line(b))
        for f in findings:
            reading = "" if f.reading is None else f" RD[{f.reading}]"
            weight = "failure" if _fails(f, transactions) else f.severity.value
            typer.echo(
                f"{f.where} {f.pagination or ''}{reading}: {weight}: {f.check.value}: {f.reason}"
            )
        typer.echo("OK" if ok else "FAILED")
    raise typer.Exit(0 if ok else 1)


_MODES = ("check", "strict", "report")


def _fails(finding: MeterFinding, mode: str) -> bool:
    if mode == "report" or finding.check.value == "record-not-verified":
        return False  # a record's own verdict decides for it
    return mode == "strict" or finding.severity is Severity.FAILURE


def _billed_line(b: BilledEnergy) -> str:
    wh = b.energy_wh
    in_wh = "" if wh is None or b.unit == "Wh" else f" ({_plain(wh)} Wh)"
    return (
        f"transaction of meter {b.meter} register {b.register or '?'}: "
        f"{b.begin_pagination or b.begin_where} to {b.end_pagination or b.end_where}: "
        f"{b.energy} {b.unit or '(no unit)'}{in_wh}"
    )


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@app.command("sign")
def sign(
    payload: Annotated[
        Path,
        typer.Argument(
            help="The OCMF payload section (JSON) to sign, exactly as it will travel; one "
            "trailing newline of the file is not part of it. - reads stdin."
        ),
    ],
    key: Annotated[Path, typer.Option("--key", help="The meter's private key (PEM).")],
    encoding: Annotated[
        str, typer.Option("--encoding", help="SD encoding: hex (default) or base64.")
    ] = "hex",
) -> None:
    """Sign an OCMF payload as a meter does and print the record OCMF|<payload>|<signature>.

    For tests, demos and walk-throughs: a real meter signs inside its certified hardware.

    Example: ocpp-e2e meter sign begin.json --key keys-example/meter-1.key.pem
    """
    text, name = _read(str(payload))
    if text.endswith("\n"):
        text = text[:-1]
    try:
        private = load_private_key(key)
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            _fail(f"{key}: a meter key is ECDSA (OCMF Table 22)")
        parse_record(f'OCMF|{text}|{{"SD":"00"}}', where=name)
        typer.echo(sign_payload(text, private, encoding=encoding))
    except OcppE2EError as exc:
        _fail(str(exc))


@app.command("algorithms")
def algorithms(
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable JSON on stdout.")
    ] = False,
) -> None:
    """List the OCMF signature algorithms this installation can and cannot verify.

    Example: ocpp-e2e meter algorithms --json
    """
    supported = list(supported_algorithms())
    unsupported = unsupported_algorithms()
    if as_json:
        typer.echo(json.dumps({"supported": supported, "unsupported": unsupported}, indent=2))
        return
    for name in supported:
        typer.echo(f"supported    {name}")
    for name, why in unsupported.items():
        typer.echo(f"unsupported  {name}: {why}")
