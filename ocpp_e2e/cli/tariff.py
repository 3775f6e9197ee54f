"""``ocpp-e2e tariff``: sign, verify, digest and bill OCPP 2.1 tariffs; sign and verify receipts.

A thin skin over :mod:`ocpp_e2e.tariffs`. Exit status: 0 all good (verify: accepted), 1 a
verification failed (rejected tariff, invalid receipt), 2 a usage or input error (one line on
stderr).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import InputError, MeterRecordError
from ..integrations.clock import system_clock
from ..keys import Keyring, Signer, load_signer
from ..meter import MeterVerifier, parse_record
from ..meter.trust import load_meter_keyring
from ..pki import ChainValidator, pem_chain_der
from ..tariffs import (
    build_receipt,
    calculate_cost,
    load_receipt,
    load_tariff,
    set_default_tariff_request,
    sign_receipt,
    sign_tariff,
    tariff_digest,
    verify_receipt,
    verify_tariff,
)
from ..tariffs.evidence import meter_references, verify_evidence
from ..tariffs.fromlog import LoggedFrame, sessions_from_frames
from ..tariffs.session import Session
from ..verify import Verifier
from ._io import emit, read_input, read_json, renamed, write_json
from ._io import input_errors as _input_errors
from ._options import JsonOption

__all__ = [
    "app",
    "cost_cmd",
    "digest_cmd",
    "receipt_cmd",
    "request_cmd",
    "session_from_log_cmd",
    "sign_cmd",
    "verify_cmd",
    "verify_receipt_cmd",
]

app = typer.Typer(
    help="Signed OCPP 2.1 tariffs (SPEC §6), their cost calculator and signed cost receipts.",
    no_args_is_help=True,
    add_completion=False,
)

KeyOpt = Annotated[str, typer.Option("--key", help="Private key: PEM path, file: or envvar: URI.")]
CertOpt = Annotated[
    Path | None,
    typer.Option(
        "--certificates", help="PEM certificate chain of the key, leaf first (travels along)."
    ),
]
OldCertOpt = Annotated[Path | None, typer.Option("--cert", hidden=True)]
AnchorOpt = Annotated[
    list[Path] | None,
    typer.Option("--trust-anchor", help="PEM root certificate(s) to trust; repeatable."),
]
KeyringOpt = Annotated[
    Path | None,
    typer.Option("--keyring", help='Keyring: JSON {"keys": [...]} or a folder of PEM keys.'),
]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")]
MeterRecordsOpt = Annotated[
    Path | None,
    typer.Option(
        "--meter-records",
        help="File of the session's OCMF records, one per line starting OCMF|: the begin record "
        "first, the end record last (one record holding both readings is both).",
    ),
]


def _ocmf_records(path: Path) -> list[str]:
    text = read_input(path).decode("utf-8", "replace")
    records: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("OCMF|"):
            records.append(line)
        elif records:
            records[-1] += line  # a pretty-printed record keeps its line breaks
        elif line.strip():
            raise InputError(f"{path}: expected OCMF records (lines starting with OCMF|)")
    if not records:
        raise InputError(f"{path}: no OCMF record")
    for i, record in enumerate(records):
        try:
            parse_record(record, where=f"{path}: record {i + 1}")
        except MeterRecordError as exc:
            raise InputError(str(exc)) from None
    return records


def _signer(key: str, certificates: Path | None, old_cert: Path | None) -> Signer:
    cert = renamed(certificates, old_cert, "--certificates", "--cert")
    chain = pem_chain_der(cert.read_bytes()) if cert is not None else ()
    return load_signer(key, certificates=chain)


def _validator(anchors: list[Path] | None) -> ChainValidator | None:
    return ChainValidator.from_files(anchors) if anchors else None


def _verifier(keyring: Path | None, anchors: list[Path] | None) -> Verifier:
    ring = Keyring.load(keyring) if keyring is not None else Keyring()
    return Verifier(ring, certificates=_validator(anchors))


@app.command("sign")
def sign_cmd(
    tariff: Annotated[
        Path, typer.Argument(help="Tariff JSON (an OCPP 2.1 TariffType); - for stdin.")
    ],
    key: KeyOpt,
    cert: CertOpt = None,
    trust_anchor: AnchorOpt = None,
    keyring: KeyringOpt = None,
    out: OutOpt = None,
    old_cert: OldCertOpt = None,
) -> None:
    """Sign a tariff; the key needs usage tariffSigning (certificate) or keyring role tariffSigning.

    Example:
      ocpp-e2e tariff sign tariff.json --key keys-example/tariff-signer.key.pem
        --certificates keys-example/tariff-signer.chain.pem --trust-anchor keys-example/root-ca.crt.pem
        -o tariff.signed.json
    """
    with _input_errors():
        value = load_tariff(read_input(tariff), source=str(tariff))
        signed = sign_tariff(
            value,
            _signer(key, cert, old_cert),
            keyring=Keyring.load(keyring) if keyring is not None else None,
            certificates=_validator(trust_anchor),
            timestamp=system_clock(),
        )
        write_json(out, signed)


@app.command("verify")
def verify_cmd(
    tariff: Annotated[Path, typer.Argument(help="Signed tariff JSON; - for stdin.")],
    trust_anchor: AnchorOpt = None,
    keyring: KeyringOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a signed tariff: exit 0 when accepted, 1 when rejected. Reports signers and digest.

    Example:
      ocpp-e2e tariff verify tariff.signed.json --trust-anchor keys-example/root-ca.crt.pem
    """
    with _input_errors():
        result = verify_tariff(
            read_input(tariff), _verifier(keyring, trust_anchor), source=str(tariff), now=system_clock()
        )

    def human() -> str:
        lines = [f"{result.verdict.value}: {result.reason}", f"tariffId: {result.tariff_id}"]
        lines.append(f"digest:   {result.digest}")
        for s in result.signers:
            held = ", ".join(sorted(s.usages | s.roles))
            lines.append(f"signer:   {s.identity} (key {s.key_id}; {held}; signed {s.timestamp})")
        return "\n".join(lines)

    emit(as_json, result.to_dict(), human)
    if not result.accepted:
        raise typer.Exit(1)


@app.command("digest")
def digest_cmd(
    tariff: Annotated[Path, typer.Argument(help="Tariff JSON, signed or not; - for stdin.")],
) -> None:
    """Print the tariff digest (base64url SHA-256 of the JCS of its signing payload).

    Example:
      ocpp-e2e tariff digest tariff.signed.json
    """
    with _input_errors():
        typer.echo(tariff_digest(load_tariff(read_input(tariff), source=str(tariff))))


@app.command("request")
def request_cmd(
    tariff: Annotated[Path, typer.Argument(help="(Signed) tariff JSON; - for stdin.")],
    evse_id: Annotated[int, typer.Option("--evse-id", help="EVSE id; 0 = every EVSE.")] = 0,
    out: OutOpt = None,
) -> None:
    """Wrap a tariff, unchanged, in a SetDefaultTariffRequest payload validated by the schema.

    Example:
      ocpp-e2e tariff request tariff.signed.json --evse-id 1
    """
    with _input_errors():
        write_json(
            out,
            set_default_tariff_request(
                load_tariff(read_input(tariff), source=str(tariff)), evse_id
            ),
        )


def _cost_text(cost: dict[str, Any]) -> str:
    s = cost["session"]
    out = [
        f"tariff {cost['tariffId']} ({cost['currency']}), session {s['start']} to {s['stop']}, "
        f"time zone {cost['timeZone']}, {s['energyWh']} Wh"
        + (f", fed back {s['exportedWh']} Wh" if "exportedWh" in s else "")
    ]
    for line in cost["lines"]:
        text = f"  {line['dimension']:<12} {line['price']} {line['priceUnit']:<11} ({line['why']})"
        if "quantity" in line:
            unit = line["quantityUnit"]
            billed = line["billedQuantity"]
            text += f"\n  {'':<12} quantity {line['quantity']} {unit}, billed {billed} {unit}"
        taxes = "".join(f", {t['type']} {t['tax']}% {t['amount']}" for t in line["taxes"])
        text += f"\n  {'':<12} excl. tax {line['exclTax']}{taxes}, incl. tax {line['inclTax']}"
        out.append(text)
    r = cost["rounded"]
    out.append(
        f"total excl. tax {cost['totalExclTax']}, incl. tax {cost['totalInclTax']} "
        f"(rounded: {r['exclTax']} / {r['inclTax']} {cost['currency']})"
    )
    out += [f"note: {n}" for n in cost["notes"]]
    if cost["inexact"]:
        out.append(f"inexact (rounded to 12 places): {', '.join(cost['inexact'])}")
    return "\n".join(out)


@app.command("cost")
def cost_cmd(
    tariff: Annotated[Path, typer.Option("--tariff", help="Tariff JSON (signed or not).")],
    session: Annotated[Path, typer.Option("--session", help="Session record JSON; - for stdin.")],
    as_json: JsonOption = False,
) -> None:
    """Bill a session under a tariff, line by line, with exact decimals.

    The tariff's signatures are not checked here: run `tariff verify` first.

    Example:
      ocpp-e2e tariff cost --tariff tariff.signed.json --session session.json --json
    """
    with _input_errors():
        value = load_tariff(read_input(tariff), source=str(tariff))
        cost = calculate_cost(value, read_json(session)).to_dict()
    emit(as_json, cost, lambda: _cost_text(cost))


@app.command("receipt")
def receipt_cmd(
    tariff: Annotated[Path, typer.Option("--tariff", help="The (signed) tariff that applied.")],
    session: Annotated[Path, typer.Option("--session", help="Session record JSON.")],
    key: KeyOpt,
    cert: CertOpt = None,
    receipt_id: Annotated[
        str | None, typer.Option("--receipt-id", help="Receipt id (default: a random UUID).")
    ] = None,
    meter_records: MeterRecordsOpt = None,
    out: OutOpt = None,
    old_cert: OldCertOpt = None,
) -> None:
    """Bill a session and sign the bill as a CostReceipt naming the tariff by id and digest
    (and, with --meter-records, the OCMF begin and end records of the session by digest).

    Example:
      ocpp-e2e tariff receipt --tariff tariff.signed.json --session session.json
        --key keys-example/station-1.key.pem --certificates keys-example/station-1.chain.pem
        -o receipt.json
    """
    with _input_errors():
        value = load_tariff(read_input(tariff), source=str(tariff))
        refs = None
        if meter_records is not None:
            records = _ocmf_records(meter_records)
            refs = meter_references(records[0], records[-1])
        now = system_clock()
        unsigned = build_receipt(
            value, read_json(session), receipt_id=receipt_id, meter_records=refs, issued_at=now
        )
        write_json(out, sign_receipt(unsigned, _signer(key, cert, old_cert), timestamp=now))


@app.command("verify-receipt")
def verify_receipt_cmd(
    receipt: Annotated[Path, typer.Argument(help="Signed CostReceipt JSON; - for stdin.")],
    tariff: Annotated[
        Path | None,
        typer.Option("--tariff", help="The tariff: verify it, its digest and recompute the bill."),
    ] = None,
    trust_anchor: AnchorOpt = None,
    keyring: KeyringOpt = None,
    meter_records: MeterRecordsOpt = None,
    meter_key: Annotated[
        list[Path] | None,
        typer.Option("--meter-key", help="A trusted meter public key file. Repeatable."),
    ] = None,
    meter_cert: Annotated[
        list[Path] | None,
        typer.Option(
            "--meter-cert",
            help="A meter certificate chain (usage meterSigning), validated against "
            "--trust-anchor now. Repeatable.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a receipt's signatures; with --tariff also that the tariff is accepted, is the one
    the receipt names, and implies exactly this bill; with the receipt's meter records
    (--meter-records) and trusted meter keys, that the readings are the meter's and the billed
    energy is the meter's. One verdict, every failed check listed. Exit 0 valid, 1 invalid.

    Example:
      ocpp-e2e tariff verify-receipt receipt.json --tariff tariff.signed.json
        --trust-anchor keys-example/root-ca.crt.pem
        --meter-records session.ocmf --meter-cert keys-example/meter-1.chain.pem
    """
    with _input_errors():
        verifier = _verifier(keyring, trust_anchor)
        value = load_receipt(read_input(receipt), source=str(receipt))
        if tariff is None:
            if meter_records is not None:
                raise InputError("--meter-records needs --tariff: the chain starts there")
            result = verify_receipt(value, verifier, now=system_clock())
            data = result.to_dict()
            emit(
                as_json,
                data,
                lambda: f"receipt {result.receipt_id}: {result.verdict.value}: {result.reason}",
            )
            if not result.valid:
                raise typer.Exit(1)
            return
        tariff_value = load_tariff(read_input(tariff), source=str(tariff))
        meter_verifier = None
        if meter_key or meter_cert:
            if meter_cert and not trust_anchor:
                raise InputError("--meter-cert needs --trust-anchor to validate the chain")
            ring = load_meter_keyring(
                keys=meter_key or [],
                keyrings=[],
                certificates=meter_cert or [],
                validator=ChainValidator.from_files(trust_anchor)
                if meter_cert and trust_anchor
                else None,
                at=system_clock(),
            )
            meter_verifier = MeterVerifier(ring)
        records = _ocmf_records(meter_records) if meter_records is not None else []
        evidence = verify_evidence(
            value,
            verifier,
            tariff=tariff_value,
            now=system_clock(),
            meter_verifier=meter_verifier,
            meter_records=records,
            source=str(receipt),
        )
    data = evidence.to_dict()

    def human() -> str:
        lines = [f"receipt {evidence.receipt.receipt_id}: {evidence.verdict.value}"]
        for c in evidence.checks:
            lines.append(f"  {'ok  ' if c.ok else 'FAIL'} {c.name}: {c.reason}")
        lines += [f"  note: {n}" for n in evidence.notes]
        return "\n".join(lines)

    emit(as_json, data, human)
    if not evidence.valid:
        raise typer.Exit(1)


@app.command("session-from-log")
def session_from_log_cmd(
    logs: Annotated[
        list[Path],
        typer.Argument(
            help="Captured OCPP logs (JSON Lines, SPEC §8, or another format the audit reads)."
        ),
    ],
    transaction: Annotated[
        str | None,
        typer.Option(
            "--transaction",
            help="The transactionId to bill (needed when the log ends several transactions).",
        ),
    ] = None,
    log_format: Annotated[
        str, typer.Option("--format", help="auto, jsonl, ocpp-lib, steve, everest.")
    ] = "auto",
    ocpp: Annotated[
        str, typer.Option("--ocpp", help="OCPP version of lines that do not name one.")
    ] = "2.0.1",
    station: Annotated[
        str | None, typer.Option("--station", help="Only frames of this station.")
    ] = None,
    time_zone: Annotated[
        str, typer.Option("--time-zone", help="IANA zone of the tariff's local times.")
    ] = "UTC",
    evse_kind: Annotated[
        str | None, typer.Option("--evse-kind", help="AC or DC, for evseKind conditions.")
    ] = None,
    out: OutOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Build the session record of a transaction from captured frames (2.0.1/2.1
    TransactionEvent; 1.6 StartTransaction/MeterValues/StopTransaction), ready for `tariff cost`.

    Writes the session record (with --json: the record, the lines it came from and notes).

    Example:
      ocpp-e2e tariff session-from-log frames.jsonl --transaction tx-42 -o session.json
    """
    # Imported here: the log readers are only needed by this command (CLI start-up stays light).
    from ..audit.logs import LogFormat, LogRecord, ReadOptions, read_logs

    with _input_errors():
        try:
            fmt = LogFormat(log_format)
        except ValueError:
            raise InputError(
                f"--format {log_format!r}: expected one of {', '.join(f.value for f in LogFormat)}"
            ) from None
        options = ReadOptions(format=fmt, ocpp=ocpp, station=station)
        unreadable: list[str] = []
        frames: list[LoggedFrame] = []
        for item in read_logs([str(p) for p in logs], options):
            if not isinstance(item, LogRecord):
                unreadable.append(f"{item.source}:{item.line}: unreadable: {item.reason}")
                continue
            if station is not None and item.station != station:
                continue
            frames.append(
                LoggedFrame(item.ts, item.direction.value, item.ocpp, item.frame,
                            f"{item.source}:{item.line}", item.station)
            )  # fmt: skip
        found = sessions_from_frames(frames, time_zone=time_zone, evse_kind=evse_kind)
        if transaction is not None:
            found = [s for s in found if s.transaction_id == transaction]
            if not found:
                raise InputError(f"transaction {transaction!r} does not start and end in the log")
        if not found:
            raise InputError("no transaction both starts and ends in the log")
        if len(found) > 1:
            ids = ", ".join(s.transaction_id for s in found)
            raise InputError(f"the log ends {len(found)} transactions ({ids}); pick one with "
                             "--transaction")  # fmt: skip
        (session,) = found
        session.notes += unreadable
        # The record must be one the calculator reads: check it here, not at billing time.
        Session.from_dict(session.record, source=f"transaction {session.transaction_id}")
    write_json(out, session.to_dict() if as_json else session.record)
    for note in session.notes:
        typer.echo(f"note: {note}", err=True)
