"""Ticket presentations encrypted to the station's key (docs/esp.md §9.9): the station decrypts,
then verifies exactly as a plaintext presentation; every refusal has its outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_ticket_support import STATION, T0, issue, make_station, present

from ocpp_e2e.esp import EncryptionError, EspOutcome, EspReceiver, generate_esp_key
from ocpp_e2e.replay import MemoryReplayCache
from ocpp_e2e.tickets import (
    ENCRYPTED_PRESENTATION_TYPE,
    TicketVerdict,
    decrypt_presentation,
    encrypt_presentation,
)

STATION_KEY = generate_esp_key("ML-KEM-768+X25519")
OTHER_KEY = generate_esp_key("X25519")


def test_an_encrypted_presentation_is_decrypted_and_accepted(tmp_path: Path) -> None:
    station = make_station(tmp_path / "ledger.sqlite")
    presentation = present(issue(), station.challenge())
    sealed = encrypt_presentation(presentation, STATION_KEY.public, station_id=STATION, now=T0)
    assert sealed["type"] == ENCRYPTED_PRESENTATION_TYPE
    assert "ticket" not in str(sealed)  # nothing of the ticket travels in the clear
    opened = decrypt_presentation(sealed, EspReceiver([STATION_KEY]), station_id=STATION, now=T0)
    assert opened.outcome is EspOutcome.DECRYPTED, opened.reason
    assert opened.presentation == presentation
    decision = station.verifier.verify(opened.presentation, now=T0)
    assert decision.verdict is TicketVerdict.ACCEPTED, decision.reason


def _sealed(tmp_path: Path) -> dict[str, object]:
    station = make_station(tmp_path / "ledger.sqlite")
    presentation = present(issue(), station.challenge())
    return encrypt_presentation(presentation, STATION_KEY.public, station_id=STATION, now=T0)


def test_undecryptable_at_another_station(tmp_path: Path) -> None:
    opened = decrypt_presentation(
        _sealed(tmp_path), EspReceiver([STATION_KEY]), station_id="cs-0002", now=T0
    )
    assert opened.outcome is EspOutcome.UNDECRYPTABLE


def test_wrong_recipient_for_another_stations_key(tmp_path: Path) -> None:
    opened = decrypt_presentation(
        _sealed(tmp_path), EspReceiver([OTHER_KEY]), station_id=STATION, now=T0
    )
    assert opened.outcome is EspOutcome.WRONG_RECIPIENT


def test_replayed_presentation_envelope(tmp_path: Path) -> None:
    rx = EspReceiver([STATION_KEY], replay_cache=MemoryReplayCache())
    sealed = _sealed(tmp_path)
    assert decrypt_presentation(sealed, rx, station_id=STATION, now=T0).ok
    assert decrypt_presentation(sealed, rx, station_id=STATION, now=T0).outcome is (
        EspOutcome.REPLAYED
    )


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({"type": "EncryptedChargingTicket"}, EspOutcome.MALFORMED),
        ({"extra": 1}, EspOutcome.MALFORMED),
        ({"suite": "nope"}, EspOutcome.UNSUPPORTED_SUITE),
        ({"timestamp": "2030-06-01T13:00:00.000Z"}, EspOutcome.EXPIRED),
    ],
)
def test_envelope_refusals(tmp_path: Path, change: dict[str, object], outcome: EspOutcome) -> None:
    sealed = {**_sealed(tmp_path), **change}
    opened = decrypt_presentation(sealed, EspReceiver([STATION_KEY]), station_id=STATION, now=T0)
    assert opened.outcome is outcome


def test_malformed_text_is_refused_not_raised() -> None:
    opened = decrypt_presentation(b"{", EspReceiver([STATION_KEY]), station_id=STATION, now=T0)
    assert opened.outcome is EspOutcome.MALFORMED


def test_a_presentation_for_another_station_is_not_encrypted(tmp_path: Path) -> None:
    station = make_station(tmp_path / "ledger.sqlite")
    presentation = present(issue(), station.challenge())
    with pytest.raises(EncryptionError, match="for station"):
        encrypt_presentation(presentation, STATION_KEY.public, station_id="cs-0002", now=T0)


def test_the_ticket_cli_presents_encrypted_and_the_station_decrypts(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ocpp_e2e.cli import app
    from ocpp_e2e.esp import write_esp_private_key

    runner = CliRunner()
    keys = Path(__file__).resolve().parent.parent / "keys-example"
    station_key = generate_esp_key()
    write_esp_private_key(tmp_path / "station.esp.pem", station_key)
    write_esp_private_key(tmp_path / "other.esp.pem", OTHER_KEY)
    (tmp_path / "station.esp.pub.pem").write_bytes(station_key.public.to_pem())

    def run(*args: object) -> Any:
        return runner.invoke(app, [str(a) for a in args])

    issued = run(
        "ticket",
        "issue",
        "--key",
        keys / "ticket-issuer.key.pem",
        "--certificates",
        keys / "ticket-issuer.chain.pem",
        "--out",
        tmp_path / "ticket.json",
        "--holder-key-out",
        tmp_path / "holder.pem",
        "--valid-for",
        "PT1H",
        "--station",
        "cs-00*",
        "--max-sessions",
        "2",
    )
    assert issued.exit_code == 0, issued.stderr
    challenge = run(
        "ticket", "challenge", "--ledger", tmp_path / "l.sqlite", "--station", STATION
    )
    assert challenge.exit_code == 0, challenge.stderr
    presented = run(
        "ticket",
        "present",
        "--ticket",
        tmp_path / "ticket.json",
        "--holder-key",
        tmp_path / "holder.pem",
        "--challenge",
        challenge.stdout.strip(),
        "--station",
        STATION,
        "--evse-id",
        "DE*GEF*E0001*1",
        "--out",
        tmp_path / "p.json",
        "--encrypt-to",
        tmp_path / "station.esp.pub.pem",
    )
    assert presented.exit_code == 0, presented.stderr
    assert "EncryptedTicketPresentation" in (tmp_path / "p.json").read_text()
    base = [
        "ticket",
        "verify",
        tmp_path / "p.json",
        "--ledger",
        tmp_path / "l.sqlite",
        "--trust-anchor",
        keys / "root-ca.crt.pem",
        "--station",
        STATION,
        "--evse-id",
        "DE*GEF*E0001*1",
    ]
    wrong = run(*base, "--esp-key", tmp_path / "other.esp.pem")
    assert wrong.exit_code == 1 and "\nrefused: wrong-recipient: " in wrong.stderr
    missing = run(*base)
    assert missing.exit_code == 2 and "--esp-key" in missing.stderr
    accepted = run(*base, "--esp-key", tmp_path / "station.esp.pem")
    assert accepted.exit_code == 0, accepted.stdout + accepted.stderr
    assert accepted.stdout.startswith("accepted")
