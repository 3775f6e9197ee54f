"""Session records built from captured frames (``tariff session-from-log``), billed as is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocpp_e2e.cli.tariff import app
from ocpp_e2e.errors import TariffError
from ocpp_e2e.tariffs import calculate_cost
from ocpp_e2e.tariffs.fromlog import LoggedFrame, sessions_from_frames

DATA = Path(__file__).parent / "data" / "tariffs"
runner = CliRunner()


def _event(kind: str, ts: str, seq: int, value: object, **info: object) -> LoggedFrame:
    payload = {
        "eventType": kind,
        "timestamp": ts,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": seq,
        "transactionInfo": {"transactionId": "t", **info},
        "meterValue": [{"timestamp": ts, "sampledValue": [{"value": value}]}],
    }
    return LoggedFrame(
        None, "toCSMS", "2.0.1", json.dumps([2, str(seq), "TransactionEvent", payload]), f"l{seq}"
    )


def test_transaction_event_stream_becomes_a_billable_session() -> None:
    result = runner.invoke(app, ["session-from-log", str(DATA / "transaction-201.jsonl")])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert (record["meterStartWh"], record["meterStopWh"]) == (120000, 131700)
    assert record["meterValues"][0] == {"timestamp": "2026-03-02T10:20:00Z", "wh": 126500}
    assert record["idlePeriods"] == [
        {"start": "2026-03-02T10:30:00Z", "stop": "2026-03-02T10:45:00Z"}
    ]
    assert (record["reservationStart"], record["reservationStop"]) == (
        "2026-03-02T09:40:00Z",
        "2026-03-02T10:00:00Z",
    )
    tariff = {"tariffId": "t", "currency": "EUR", "energy": {"prices": [{"priceKwh": 0.5}]},
              "idleTime": {"prices": [{"priceMinute": 0.1}]}}  # fmt: skip
    assert calculate_cost(tariff, record).to_dict()["totalExclTax"] == "7.35"


def test_ocpp_16_start_meter_values_stop_become_a_session() -> None:
    result = runner.invoke(app, ["session-from-log", "--json", str(DATA / "transaction-16.jsonl")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["transactionId"] == "981"
    assert doc["session"]["meterValues"] == [{"timestamp": "2026-03-02T10:15:00Z", "wh": 7250}]
    assert (doc["session"]["meterStartWh"], doc["session"]["meterStopWh"]) == (5000, 9500)
    # StatusNotification of the transaction's connector and station only (connector 2 and
    # another station are ignored): idle from 10:25 (SuspendedEV) to the stop.
    assert doc["session"]["idlePeriods"] == [
        {"start": "2026-03-02T10:25:00Z", "stop": "2026-03-02T10:30:00Z"},
    ]
    assert doc["notes"] == []


def test_unknown_transaction_is_an_input_error() -> None:
    path = str(DATA / "transaction-16.jsonl")
    result = runner.invoke(app, ["session-from-log", path, "--transaction", "1"])
    assert result.exit_code == 2
    assert "transaction '1' does not start and end in the log" in result.output


def test_several_ended_transactions_need_a_choice(tmp_path: Path) -> None:
    both = tmp_path / "both.jsonl"
    both.write_text(
        (DATA / "transaction-16.jsonl").read_text() + (DATA / "transaction-201.jsonl").read_text()
    )
    result = runner.invoke(app, ["session-from-log", str(both)])
    assert result.exit_code == 2
    assert "ends 2 transactions (981, tx-42); pick one with --transaction" in result.output
    picked = runner.invoke(app, ["session-from-log", str(both), "--transaction", "tx-42"])
    assert picked.exit_code == 0


def test_transaction_without_its_end_is_not_billed() -> None:
    assert sessions_from_frames([_event("Started", "2026-03-02T10:00:00Z", 0, 1)]) == []


def test_meter_value_that_is_not_a_number_names_the_frame() -> None:
    frames = [_event("Started", "2026-03-02T10:00:00Z", 0, "lots")]
    with pytest.raises(TariffError, match=r"l0: meterValue\[0\]\.sampledValue\[0\]\.value"):
        sessions_from_frames(frames)


def test_energy_in_a_unit_that_is_not_energy_is_refused() -> None:
    frame = _event("Started", "2026-03-02T10:00:00Z", 0, 1)
    text = frame.frame.replace('{"value": 1}', '{"value": 1, "unitOfMeasure": {"unit": "varh"}}')
    with pytest.raises(TariffError, match="only Wh and kWh are energy units"):
        sessions_from_frames([LoggedFrame(None, "toCSMS", "2.0.1", text, "l0")])


def test_readings_that_go_backwards_are_left_out_with_a_note() -> None:
    frames = [
        _event("Started", "2026-03-02T10:00:00Z", 0, 100),
        _event("Updated", "2026-03-02T10:10:00Z", 1, 90),
        _event("Ended", "2026-03-02T10:20:00Z", 2, 150),
    ]
    (found,) = sessions_from_frames(frames)
    assert "meterValues" not in found.record
    assert any("below an earlier one: left out" in n for n in found.notes)


def test_export_register_readings_become_the_sessions_export_register() -> None:
    def event(kind: str, ts: str, seq: int, imp: int, exp: int) -> LoggedFrame:
        sampled = [
            {"value": imp},
            {"value": exp, "measurand": "Energy.Active.Export.Register"},
        ]
        payload = {
            "eventType": kind, "timestamp": ts, "triggerReason": "MeterValuePeriodic",
            "seqNo": seq, "transactionInfo": {"transactionId": "v2x"},
            "meterValue": [{"timestamp": ts, "sampledValue": sampled}],
        }  # fmt: skip
        text = json.dumps([2, str(seq), "TransactionEvent", payload])
        return LoggedFrame(None, "toCSMS", "2.1", text, f"l{seq}")

    (found,) = sessions_from_frames(
        [
            event("Started", "2026-03-02T10:00:00Z", 0, 0, 0),
            event("Updated", "2026-03-02T11:00:00Z", 1, 10000, 0),
            event("Ended", "2026-03-02T12:00:00Z", 2, 10000, 4000),
        ]
    )
    assert (found.record["meterStartExportWh"], found.record["meterStopExportWh"]) == (0, 4000)
    assert found.record["meterValues"] == [
        {"timestamp": "2026-03-02T11:00:00Z", "wh": 10000, "exportWh": 0}
    ]
