"""Robust reading of real-world logs: counts, detection, joined frames, prefixes, errors."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocpp_e2e.audit.logs import (
    LogFormat,
    LogRecord,
    ReadOptions,
    ReadStats,
    Side,
    UnreadableLine,
    read_stream,
)
from ocpp_e2e.audit.report import json_lines, render_html
from ocpp_e2e.audit.run import AuditSettings, audit_logs
from ocpp_e2e.cli import app
from ocpp_e2e.model import Direction

ROOT = Path(__file__).parent.parent
DATA = ROOT / "tests" / "data" / "audit"
POLICY = str(ROOT / "examples" / "audit" / "policy.yaml")
SETTINGS = AuditSettings(policy=POLICY, now=datetime.now(UTC))
runner = CliRunner()


def _read(
    text: str | bytes, **kw: object
) -> tuple[list[LogRecord], list[UnreadableLine], ReadStats]:
    data = text.encode() if isinstance(text, str) else text
    stats = ReadStats()
    items = list(read_stream(io.BytesIO(data), "mem", ReadOptions(**kw), stats))  # type: ignore[arg-type]
    return (
        [i for i in items if isinstance(i, LogRecord)],
        [i for i in items if isinstance(i, UnreadableLine)],
        stats,
    )


# --------------------------------------------------------------------------- counts


FIXTURES = [
    (DATA / "sample.jsonl", {}),
    (DATA / "steve.log", {}),
    (DATA / "everest.log", {"station": "cs-0001"}),
    (DATA / "ocpp_lib_csms.log", {}),
    (ROOT / "examples" / "audit" / "day.jsonl.gz", {}),
    # one CSMS, two stations of two OCPP versions (tests/data/audit/real/captures)
    (DATA / "real" / "captures" / "browser-mixed-csms.log", {}),
    (DATA / "real" / "captures" / "browser-mixed.har", {}),
    (DATA / "real" / "captures" / "browser-mixed.pcap", {}),
]


@pytest.mark.parametrize(("path", "kw"), FIXTURES, ids=lambda v: getattr(v, "name", ""))
def test_each_frame_is_counted_once_in_every_output(path: Path, kw: dict[str, object]) -> None:
    stats = ReadStats()
    from ocpp_e2e.audit.logs import read_logs

    items = list(read_logs([str(path)], ReadOptions(**kw), stats))  # type: ignore[arg-type]
    frames = sum(isinstance(i, LogRecord) for i in items)
    unreadable = sum(isinstance(i, UnreadableLine) for i in items)
    assert (stats.records, stats.unreadable) == (frames, unreadable)
    report = audit_logs([str(path)], ReadOptions(**kw), SETTINGS)  # type: ignore[arg-type]
    summary = json.loads(list(json_lines(report))[-1])
    assert summary["frames"] == frames
    assert sum(summary["verdicts"].values()) == frames
    assert sum(s["frames"] for s in summary["stations"].values()) == frames
    assert summary["unreadableLines"] == unreadable
    page = render_html(report)
    assert f"Frames<b>{frames}</b>" in page
    result = runner.invoke(app, ["audit", str(path), "--policy", POLICY, *_cli(kw)])
    assert result.exit_code in (0, 1), result.output
    table = re.search(r"│ frames\s+│\s+(\d+) │", result.output)
    assert table is not None and int(table.group(1)) == frames
    per_station = re.findall(r"│ station .*?│\s+(\d+) frames", result.output)
    assert sum(map(int, per_station)) == frames


def _cli(kw: dict[str, object]) -> list[str]:
    return [f"--{k}={v}" for k, v in kw.items()]


# --------------------------------------------------------------------------- errors


def test_an_empty_file_is_an_input_error(tmp_path: Path) -> None:
    log = tmp_path / "empty.log"
    log.write_text("\n \n")
    result = runner.invoke(app, ["audit", str(log), "--policy", POLICY])
    assert result.exit_code == 2
    assert "empty.log: the log is empty" in result.output


@pytest.mark.parametrize("fmt", ["steve", "everest", "evcc", "ocpp-lib", "json"])
def test_an_explicit_format_that_matches_no_line_is_an_input_error(fmt: str) -> None:
    log = str(DATA / "sample.jsonl") if fmt != "json" else str(DATA / "steve.log")
    result = runner.invoke(
        app, ["audit", log, "--policy", POLICY, "--format", fmt, "--station", "x"]
    )
    assert result.exit_code == 2, result.output
    assert f"--format {fmt}: no line of this file is a {fmt} message line" in result.output


def test_explicit_jsonl_on_a_text_log_is_an_input_error() -> None:
    result = runner.invoke(
        app, ["audit", str(DATA / "steve.log"), "--policy", POLICY, "--format", "jsonl"]
    )
    assert result.exit_code == 2
    assert "none of the first 5 lines is a JSON object" in result.output


def test_a_file_that_is_not_a_log_is_an_input_error(tmp_path: Path) -> None:
    log = tmp_path / "pic.png"
    log.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    result = runner.invoke(app, ["audit", str(log), "--policy", POLICY])
    assert result.exit_code == 2
    assert "pic.png: not a log this audit can read" in result.output


# --------------------------------------------------------------------------- JSON Lines, SPEC §8


def test_a_frame_array_is_audited_as_its_text_in_the_line() -> None:
    line = '{"station":"cs-1","direction":"toCSMS","frame":[2, "1","Heartbeat",{"a":1,"a":2}]}\n'
    records, bad, _ = _read(line, format=LogFormat.JSONL)
    assert bad == []
    assert records[0].frame == '[2, "1","Heartbeat",{"a":1,"a":2}]'


def test_a_duplicate_member_inside_the_frame_array_is_malformed_in_the_audit(
    tmp_path: Path,
) -> None:
    log = tmp_path / "dup.jsonl"
    log.write_text(
        '{"ts":"2026-03-02T08:00:00Z","station":"cs-1","direction":"toCSMS",'
        '"frame":[2,"1","Heartbeat",{"a":1,"a":2}]}\n'
    )
    report = audit_logs([str(log)], ReadOptions(), SETTINGS)
    assert [(f.kind.value, f.message_id) for f in report.findings] == [("malformed", "1")]
    assert "duplicate" in report.findings[0].detail


@pytest.mark.parametrize(
    "line",
    [
        '{"station":"cs-1","direction":"toCSMS","frame":"[2,\\"1\\",\\"Heartbeat\\",{}]","frame":[3,"1",{}]}',
        '{"station":"cs-1","direction":"toCSMS","frame":"[]","fr\\u0061me":"[]"}',
        '{"station":"cs-1","station":"cs-2","direction":"toCSMS","frame":"[]"}',
    ],
)
def test_a_line_with_a_duplicate_member_is_unreadable(line: str) -> None:
    records, bad, _ = _read(line + "\n", format=LogFormat.JSONL)
    assert records == []
    assert bad[0].reason.startswith("duplicate member")


def test_a_jsonl_record_without_ts_is_read_without_capture_time() -> None:
    records, bad, _ = _read(
        '{"station":"a","direction":"toCSMS","frame":"[2,\\"1\\",\\"Heartbeat\\",{}]"}\n'
    )
    assert bad == [] and records[0].ts is None


# --------------------------------------------------------------------------- detection


def test_detection_is_not_swayed_by_one_json_line_in_a_text_log() -> None:
    log = (
        '{"level":"info","msg":"starting"}\n'
        '2026-03-02 08:00:01,250 INFO ocpp: cs-1: receive message [2,"1","Heartbeat",{}]\n'
        '2026-03-02 08:00:01,251 INFO ocpp: cs-1: send [3,"1",{"currentTime":"2026-03-02T08:00:01Z"}]\n'
    )
    records, bad, stats = _read(log)
    assert stats.formats == {"mem": "ocpp-lib"}
    assert (len(records), bad, stats.other) == (2, [], 1)
    assert (
        stats.inferred["mem"]["format"] == "ocpp-lib (detected: 2 of the first 3 non-blank lines)"
    )


def test_pretty_printed_frames_are_joined_and_continuations_are_not_other_lines() -> None:
    # as in lbbrhzn/ocpp issue 2 (Home Assistant): the station sends pretty-printed JSON
    log = (
        "2021-03-17 20:23:00 INFO (MainThread) [ocpp] WallboxPulsar: send "
        '[2,"d6","TriggerMessage",{"requestedMessage":"BootNotification"}]\n'
        "2021-03-17 20:23:00 INFO (MainThread) [ocpp] WallboxPulsar: receive message "
        '[3,"d6",\n{\n"status": "Accepted"\n}]\n'
        "2021-03-17 20:23:01 WARNING (MainThread) [homeassistant] something else\n"
    )
    records, bad, stats = _read(log)
    assert bad == []
    assert [r.line for r in records] == [1, 2]
    assert records[1].frame == '[3,"d6",\n{\n"status": "Accepted"\n}]'
    assert stats.other == 1


def test_a_truncated_frame_ends_at_the_next_record_and_stays_a_frame() -> None:
    log = (
        '2021-10-08 14:39:40 INFO (MainThread) [ocpp] : receive message [3,"64b4",{"configurationKey":[]\n'
        "2021-10-08 14:39:40 ERROR (MainThread) [ocpp] Unable to parse message\n"
        "Traceback (most recent call last):\n"
    )
    records, _, stats = _read(log, side=Side.CSMS)
    assert [(r.line, r.frame, r.station) for r in records] == [
        (1, '[3,"64b4",{"configurationKey":[]', "unnamed")
    ]
    assert stats.other == 2


def test_a_journal_wrapping_a_long_line_with_its_prefix_is_joined() -> None:
    prefix = "Mar 14 10:53:44 raspberrypi evcc[27292]: "
    log = (
        f"{prefix}[ocpp  ] TRACE 2023/03/14 10:53:44 received JSON message from go-e: "
        '[2,"531","MeterValues",{"connectorId":1,\n'
        f'{prefix}"meterValue":[]}}]\n'
        f'{prefix}[ocpp  ] TRACE 2023/03/14 10:53:44 sent JSON message to go-e: [3,"531",{{}}]\n'
    )
    records, bad, _ = _read(log)
    assert bad == []
    assert [r.frame for r in records] == [
        '[2,"531","MeterValues",{"connectorId":1,\n"meterValue":[]}]',
        '[3,"531",{}]',
    ]


def test_tabs_crlf_ansi_colours_and_a_bom_are_taken_in_stride() -> None:
    log = (
        "\ufeff[INFO\t]\t2026-06-17\t05:46:33,026\tde.rwth.idsg.steve.ocpp.ws.WebSocketLogger\t-\t"
        '[chargeBoxId=TG2,\tsessionId=d7]\tReceived:\t[2,"6","Heartbeat",{}]\x1b[0m\r\n'
    )
    records, bad, _ = _read(log)
    assert bad == []
    assert (records[0].station, records[0].frame) == ("TG2", '[2,"6","Heartbeat",{}]')
    assert records[0].ts == datetime(2026, 6, 17, 5, 46, 33, 26000, tzinfo=UTC)
    assert records[0].ocpp == "1.6"


def test_an_impossible_date_in_a_prefix_is_an_unreadable_line_not_a_crash() -> None:
    log = (
        "[INFO ] 2026-13-45 08:00:01,594 WebSocketLogger - [chargeBoxId=A, sessionId=s] "
        'Received: [2,"1","Heartbeat",{}]\n'
        "[INFO ] 2026-03-02 08:00:01,594 WebSocketLogger - [chargeBoxId=A, sessionId=s] "
        'Received: [2,"2","Heartbeat",{}]\n'
        "2026-02-30T08:00:00.000Z: ChargePoint>CentralSystem Heartbeat\n"
    )
    records, bad, _ = _read(log)
    assert [r.line for r in records] == [2]
    assert bad[0].line == 1
    assert bad[0].reason.startswith("impossible date in the log prefix: '2026-13-45 08:00:01,594'")


def test_an_everest_header_without_action_is_read() -> None:
    log = '2026-03-02T08:00:01.455Z: ChargePoint>CentralSystem\n[2,"1","Heartbeat",{}]\n'
    records, bad, _ = _read(log, station="cs-1")
    assert bad == [] and records[0].direction is Direction.TO_CSMS


def test_a_zoneless_stamp_is_read_in_the_given_zone() -> None:
    from zoneinfo import ZoneInfo

    log = '2023/07/02 22:27:40 sent JSON message to goe1: [2,"1","Reset",{"type":"Soft"}]\n'
    records, _, _ = _read(log, tz=ZoneInfo("Europe/Berlin"))
    assert records[0].ts == datetime(2023, 7, 2, 20, 27, 40, tzinfo=UTC)


def test_websockets_debug_lines_and_app_json_are_other_lines_never_frames() -> None:
    log = (
        "2022-01-17 22:59:29 DEBUG (MainThread) [websockets.protocol] server < Frame(fin=True, "
        'opcode=<Opcode.TEXT: 1>, data=b\'[2,"29","MeterValues",{}]\', rsv1=False)\n'
        '{"level":"debug","frame":"[2,\\"1\\",\\"Heartbeat\\",{}]"}\n'
        '2022-01-17 23:00:00 INFO (MainThread) [ocpp] cs: receive message [2,"29","Heartbeat",{}]\n'
    )
    records, bad, stats = _read(log)
    assert [r.line for r in records] == [3]
    assert (bad, stats.other) == ([], 2)


def test_a_log_without_timestamps_is_read_and_said_so(tmp_path: Path) -> None:
    log = tmp_path / "plain.log"
    log.write_text(
        'INFO:ocpp:CP_1: send [2,"1","BootNotification",{"chargePointModel":"M","chargePointVendor":"V"}]\n'
        'INFO:ocpp:CP_1: receive message [3,"1",{"currentTime":"2026-01-01T00:00:00Z","interval":10,"status":"Accepted"}]\n'
    )
    report = audit_logs([str(log)], ReadOptions(), SETTINGS)
    summary = report.summary.to_dict()
    assert (summary["frames"], summary["untimedFrames"]) == (2, 2)
    assert summary["inferred"][str(log)] == {
        "format": "ocpp-lib (detected: 2 of the first 2 non-blank lines)",
        "side": "station (inferred: it sends BootNotification at line 1)",
        "ocpp": "1.6 (inferred: BootNotification at line 1 fits only OCPP 1.6)",
        "time": "none: freshness is not judged",
    }
    result = runner.invoke(app, ["audit", str(log), "--policy", POLICY])
    assert "2 frame(s) have no capture time: their freshness was not judged" in result.output


def test_the_grace_period_of_unanswered_calls_is_an_option(tmp_path: Path) -> None:
    log = tmp_path / "evcc.log"
    log.write_text(
        '2023/07/02 22:27:40 sent JSON message to goe1: [2,"1","Reset",{"type":"Soft"}]\n'
        '2023/07/02 22:27:50 received JSON message from goe1: [2,"2","Heartbeat",{}]\n'
    )
    args = ["audit", str(log), "--policy", POLICY, "--json"]
    default = runner.invoke(app, args)
    assert "unanswered-call" not in default.output
    short = runner.invoke(app, [*args, "--grace", "5"])
    kinds = [
        json.loads(line)["kind"] for line in short.output.splitlines()[:-1] if '"finding"' in line
    ]
    assert "unanswered-call" in kinds
    bad = runner.invoke(app, [*args, "--grace", "0"])
    assert bad.exit_code == 2 and "--grace must be more than 0" in bad.output
