"""``ocpp-e2e ticket``: issue, challenge, present, verify and record usage of charging tickets.

A thin skin over :mod:`ocpp_e2e.tickets`. Exit status: 0 all good (verify: accepted), 1 the
station refused the presentation, 2 a usage or input error (one line on stderr).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer

from .._time import parse_duration
from ..integrations.clock import system_clock
from ..keys import load_signer, write_private_key
from ..pki import ChainValidator
from ..pki.validate import pem_chain_der
from ..tickets import (
    Money,
    TariffRef,
    TicketLedger,
    TicketLimits,
    TicketScope,
    TicketVerifier,
    issue_ticket,
    present_ticket,
)
from ..tickets.model import parse_timestamp
from ._io import emit, read_input, read_json, renamed, required, write_json
from ._io import fail as _fail
from ._io import input_errors as _input_errors
from ._options import JsonOption

__all__ = [
    "app",
    "challenge_cmd",
    "issue_cmd",
    "present_cmd",
    "usage_cmd",
    "verify_cmd",
]

app = typer.Typer(
    help="Charging tickets (SPEC §6): offline, anonymous authorization at a charging station.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("issue")
def issue_cmd(
    key: Annotated[str, typer.Option(help="Issuer private key (PEM path, file: or envvar: URI).")],
    out: Annotated[Path, typer.Option(help="Where to write the signed ticket (JSON).")],
    holder_key_out: Annotated[
        Path, typer.Option(help="Where to write the new holder private key (PEM, mode 0600).")
    ],
    max_sessions: Annotated[int, typer.Option(help="limits.maxSessions (per station).")],
    valid_for: Annotated[
        str | None, typer.Option(help="Validity as PTnHnMnS from notBefore, e.g. PT24H.")
    ] = None,
    not_after: Annotated[
        str | None, typer.Option(help="notAfter, e.g. 2026-12-01T00:00:00Z.")
    ] = None,
    not_before: Annotated[str | None, typer.Option(help="notBefore (default: now).")] = None,
    operator: Annotated[
        list[str] | None, typer.Option(help="scope.operators pattern (repeat).")
    ] = None,
    station: Annotated[
        list[str] | None, typer.Option(help="scope.stations pattern (repeat).")
    ] = None,
    evse: Annotated[
        list[str] | None, typer.Option(help="scope.evses pattern, e.g. 'DE*GEF*E*' (repeat).")
    ] = None,
    max_energy_wh: Annotated[int | None, typer.Option(help="limits.maxEnergyWh.")] = None,
    max_cost: Annotated[str | None, typer.Option(help="limits.maxCost amount, e.g. 20.00.")] = None,
    currency: Annotated[str | None, typer.Option(help="Currency of --max-cost (ISO 4217).")] = None,
    tariff: Annotated[
        list[str] | None, typer.Option(help="Referenced tariff as TARIFF_ID=DIGEST (repeat).")
    ] = None,
    ticket_id: Annotated[
        str | None, typer.Option(help="ticketId (default: 128 random bits).")
    ] = None,
    holder_algorithm: Annotated[str, typer.Option(help="Holder key algorithm.")] = "Ed25519",
    force: Annotated[bool, typer.Option(help="Overwrite an existing holder key file.")] = False,
    certificates: Annotated[
        Path | None,
        typer.Option("--certificates", help="Issuer certificate chain PEM, leaf first (required)."),
    ] = None,
    as_json: JsonOption = False,
    old_chain: Annotated[Path | None, typer.Option("--chain", hidden=True)] = None,
) -> None:
    """Sign a ChargingTicket for a fresh holder key, and write both out.

    Example:

        ocpp-e2e ticket issue --key keys-example/ticket-issuer.key.pem
        --certificates keys-example/ticket-issuer.chain.pem --out ticket.json
        --holder-key-out holder.key.pem --valid-for PT24H --evse 'DE*GEF*E*' --max-sessions 2
    """
    chain = required(
        renamed(certificates, old_chain, "--certificates", "--chain"), "--certificates"
    )
    with _input_errors():
        if holder_key_out.exists() and not force:
            _fail(f"{holder_key_out}: exists; give --force to overwrite it")
        if (max_cost is None) != (currency is None):
            _fail("give --max-cost and --currency together")
        cost = None
        if max_cost is not None and currency is not None:
            try:
                cost = Money(Decimal(max_cost), currency)
            except InvalidOperation:
                _fail(f"--max-cost: {max_cost!r} is not a decimal number")
        duration = None
        if valid_for is not None:
            try:
                duration = parse_duration(valid_for)
            except ValueError as exc:
                _fail(f"--valid-for: {exc}")
        signer = load_signer(key, certificates=pem_chain_der(chain.read_bytes()))
        issued = issue_ticket(
            signer,
            scope=TicketScope(
                operators=tuple(operator) if operator else None,
                stations=tuple(station) if station else None,
                evses=tuple(evse) if evse else None,
            ),
            limits=TicketLimits(max_sessions, max_energy_wh, cost),
            now=system_clock(),
            not_before=parse_timestamp(not_before, "--not-before") if not_before else None,
            valid_for=duration,
            not_after=parse_timestamp(not_after, "--not-after") if not_after else None,
            tariffs=[TariffRef.parse(t) for t in tariff or ()],
            ticket_id=ticket_id,
            holder_algorithm=holder_algorithm,
        )
        write_private_key(holder_key_out, issued.holder_key)
        write_json(out, issued.ticket)
    t = issued.ticket
    emit(
        as_json,
        {
            "ticketId": t["ticketId"],
            "issuer": t["issuer"],
            "notBefore": t["notBefore"],
            "notAfter": t["notAfter"],
            "ticket": str(out),
            "holderKey": str(holder_key_out),
        },
        lambda: (
            f"ticket {t['ticketId']} of {t['issuer']} valid {t['notBefore']} .. "
            f"{t['notAfter']} -> {out}; holder key -> {holder_key_out}"
        ),
    )


@app.command("challenge")
def challenge_cmd(
    ledger: Annotated[Path, typer.Option(help="The station's ledger file (created if missing).")],
    as_json: JsonOption = False,
    station: Annotated[
        str | None, typer.Option("--station", help="This station's identity (required).")
    ] = None,
    old_station: Annotated[str | None, typer.Option("--station-id", hidden=True)] = None,
) -> None:
    """Issue a fresh challenge into the station's ledger and print it (valid 60 s, usable once).

    Example:

        ocpp-e2e ticket challenge --ledger ledger.sqlite --station cs-0001
    """
    station_id = required(renamed(station, old_station, "--station", "--station-id"), "--station")
    with _input_errors(), TicketLedger(ledger) as book:
        challenge = book.issue_challenge(station_id, now=system_clock())
    emit(as_json, challenge.to_dict(), lambda: challenge.value)


@app.command("present")
def present_cmd(
    ticket: Annotated[Path, typer.Option(help="The signed ticket (JSON).")],
    holder_key: Annotated[
        str,
        typer.Option(help="The holder key written at issue: PEM path, or a key URI (pkcs11:...)."),
    ],
    challenge: Annotated[str, typer.Option(help="The challenge the station issued.")],
    evse_id: Annotated[str, typer.Option(help="The EVSE's identity.")],
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
    encrypt_to: Annotated[
        Path | None,
        typer.Option(
            help="Encrypt the presentation to this station ESP public key (PEM; docs/esp.md §9.9)."
        ),
    ] = None,
    station: Annotated[
        str | None, typer.Option("--station", help="The station's identity (required).")
    ] = None,
    old_station: Annotated[str | None, typer.Option("--station-id", hidden=True)] = None,
) -> None:
    """Sign a TicketPresentation over a station's challenge with the holder key.

    With --encrypt-to the signed presentation is encrypted to the station's ESP key, so nothing
    on the way reads the ticket.

    Example:

        ocpp-e2e ticket present --ticket ticket.json --holder-key holder.key.pem
        --challenge "$CHALLENGE" --station cs-0001 --evse-id 'DE*GEF*E0001*1' --out p.json
    """
    station_id = required(renamed(station, old_station, "--station", "--station-id"), "--station")
    with _input_errors():
        body = present_ticket(
            read_json(ticket),
            load_signer(holder_key),
            station_id=station_id,
            evse_id=evse_id,
            challenge=challenge,
            timestamp=system_clock(),
        )
        if encrypt_to is not None:
            from ..esp import load_esp_public_text
            from ..tickets import encrypt_presentation

            text = encrypt_to.read_bytes().decode("ascii", errors="replace")
            key = load_esp_public_text(text, source=str(encrypt_to))
            body = encrypt_presentation(body, key, station_id=station_id, now=system_clock())
        write_json(out, body)


@app.command("verify")
def verify_cmd(
    presentation: Annotated[
        Path, typer.Argument(help="The presentation (JSON file, or - for stdin).")
    ],
    ledger: Annotated[Path, typer.Option(help="The station's ledger file.")],
    trust_anchor: Annotated[
        list[Path], typer.Option(help="Root certificate PEM trusted for issuers (repeat).")
    ],
    evse_id: Annotated[str, typer.Option(help="This EVSE's identity.")],
    operator_id: Annotated[
        str | None, typer.Option(help="This station's operator id (for scope.operators).")
    ] = None,
    tariff: Annotated[
        str | None, typer.Option(help="The tariff this EVSE charges, TARIFF_ID=DIGEST.")
    ] = None,
    crl: Annotated[list[Path] | None, typer.Option(help="CRL file (repeat).")] = None,
    esp_key: Annotated[
        list[Path] | None,
        typer.Option(
            help="This station's ESP private key (repeat): decrypt an encrypted presentation."
        ),
    ] = None,
    as_json: JsonOption = False,
    station: Annotated[
        str | None, typer.Option("--station", help="This station's identity (required).")
    ] = None,
    old_station: Annotated[str | None, typer.Option("--station-id", hidden=True)] = None,
) -> None:
    """Decide, offline, on a presentation; on acceptance a session is recorded in the ledger.

    Exit 0 when accepted, 1 when refused (the verdict and reason say why). An encrypted
    presentation (docs/esp.md §9.9) needs --esp-key; when it does not decrypt, exit 1 with
    ``refused: <outcome>: <reason>``.

    Example:

        ocpp-e2e ticket verify p.json --ledger ledger.sqlite
        --trust-anchor keys-example/root-ca.crt.pem --station cs-0001 --evse-id 'DE*GEF*E0001*1'
    """
    station_id = required(renamed(station, old_station, "--station", "--station-id"), "--station")
    with _input_errors():
        data = read_input(presentation)
        if b'"EncryptedTicketPresentation"' in data:
            data = _decrypted(data, esp_key or [], station_id)
        validator = ChainValidator.from_files(trust_anchor, crls=crl or ())
        ref = TariffRef.parse(tariff) if tariff else None
        with TicketLedger(ledger) as book:
            decision = TicketVerifier(
                certificates=validator,
                ledger=book,
                station_id=station_id,
                evse_id=evse_id,
                operator_id=operator_id,
                tariff=ref,
            ).verify(data, now=system_clock())
    emit(
        as_json,
        decision.to_dict(),
        lambda: (
            f"{decision.verdict.value}: {decision.reason}"
            + (f" (session {decision.session_id})" if decision.session_id else "")
        ),
    )
    raise typer.Exit(0 if decision.accepted else 1)


def _decrypted(data: bytes, keys: list[Path], station_id: str) -> bytes:
    from ..canonical import dumps
    from ..esp import EspReceiver, load_esp_private_key
    from ..tickets import decrypt_presentation

    if not keys:
        _fail("the presentation is encrypted: give this station's ESP key with --esp-key")
    receiver = EspReceiver([load_esp_private_key(k) for k in keys])
    opened = decrypt_presentation(data, receiver, station_id=station_id, now=system_clock())
    if not opened.ok or opened.presentation is None:
        typer.echo(f"refused: {opened.outcome.value}: {opened.reason}", err=True)
        raise typer.Exit(1)
    return dumps(opened.presentation)


@app.command("usage")
def usage_cmd(
    ledger: Annotated[Path, typer.Option(help="The station's ledger file.")],
    session: Annotated[str, typer.Option(help="The session id from 'ticket verify'.")],
    energy_wh: Annotated[int, typer.Option(help="Energy the session has used so far (Wh).")],
    cost: Annotated[str | None, typer.Option(help="Cost so far, a decimal.")] = None,
    currency: Annotated[str | None, typer.Option(help="Currency of --cost.")] = None,
) -> None:
    """Record what a ticket session has consumed (absolute values; later reports replace earlier).

    Example:

        ocpp-e2e ticket usage --ledger ledger.sqlite --session "$SESSION" --energy-wh 7300
    """
    with _input_errors(), TicketLedger(ledger) as book:
        amount = None
        if cost is not None:
            try:
                amount = Decimal(cost)
            except InvalidOperation:
                _fail(f"--cost: {cost!r} is not a decimal number")
        book.record_usage(session, energy_wh=energy_wh, cost=amount, currency=currency)
