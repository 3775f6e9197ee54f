"""Log readers (SPEC §8): every adapter, gzip, stdin, and no line dropped silently."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ocpp_e2e._time import parse_rfc3339
from ocpp_e2e.audit.logs import (
    LogFormat,
    LogRecord,
    ReadOptions,
    ReadStats,
    Side,
    UnreadableLine,
    read_logs,
    read_stream,
)
from ocpp_e2e.errors import InputError
from ocpp_e2e.model import Direction

DATA = Path(__file__).parent / "data" / "audit"


def _read(
    path: Path | str, **kw: object
) -> tuple[list[LogRecord], list[UnreadableLine], ReadStats]:
    stats = ReadStats()
    items = list(read_logs([str(path)], ReadOptions(**kw), stats))  # type: ignore[arg-type]
    records = [i for i in items if isinstance(i, LogRecord)]
    bad = [i for i in items if isinstance(i, UnreadableLine)]
    return records, bad, stats


def _stream(text: str, **kw: object) -> list[LogRecord | UnreadableLine]:
    return list(read_stream(io.BytesIO(text.encode()), "mem", ReadOptions(**kw), ReadStats()))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- jsonl


def test_jsonl_reads_string_and_array_frames_with_their_lines() -> None:
    records, _bad, _ = _read(DATA / "sample.jsonl", format=LogFormat.JSONL)
    assert [(r.line, r.direction, r.ocpp) for r in records] == [
        (1, Direction.TO_CSMS, "2.0.1"),
        (3, Direction.TO_STATION, "2.1"),
    ]
    assert records[0].frame == '[2,"1","Heartbeat",{}]'
    assert records[1].frame == '[3,"1",{"currentTime":"2026-03-02T08:00:00Z"}]'
    assert records[1].ts == datetime(2026, 3, 2, 8, 0, 0, 500000, tzinfo=UTC)


def test_jsonl_reports_each_unreadable_line_with_its_number_and_reason() -> None:
    _records, bad, stats = _read(DATA / "sample.jsonl", format=LogFormat.JSONL)
    assert [(b.line, b.reason.split(" (")[0]) for b in bad] == [
        (4, "not JSON"),
        (5, "ts: not an RFC 3339 date-time with offset: '2026-03-02 08:00:01'"),
        (6, "direction: must be 'toCSMS' or 'toStation'"),
        (7, "unknown member(s) extra"),
    ]
    assert all(b.source == str(DATA / "sample.jsonl") for b in bad)
    assert (stats.lines, stats.records, stats.unreadable) == (7, 2, 4)


def test_jsonl_default_ocpp_version_comes_from_the_options() -> None:
    records, _, _ = _read(DATA / "sample.jsonl", format=LogFormat.JSONL, ocpp="1.6")
    assert records[0].ocpp == "1.6"


def test_jsonl_missing_member_is_unreadable() -> None:
    items = _stream(
        '{"ts":"2026-03-02T08:00:00Z","station":"a","direction":"toCSMS"}\n', format=LogFormat.JSONL
    )
    assert isinstance(items[0], UnreadableLine)
    assert items[0].reason == "missing member 'frame'"


def test_jsonl_unknown_ocpp_version_is_unreadable() -> None:
    line = (
        '{"ts":"2026-03-02T08:00:00Z","station":"a","direction":"toCSMS",'
        '"ocpp":"2.0","frame":"[]"}\n'
    )
    items = _stream(line, format=LogFormat.JSONL)
    assert isinstance(items[0], UnreadableLine)
    assert items[0].reason == "ocpp: must be one of 1.6, 2.0.1, 2.1"


def test_invalid_utf8_line_is_unreadable_not_fatal() -> None:
    good = b'{"ts":"2026-03-02T08:00:00Z","station":"a","direction":"toCSMS","frame":"[]"}\n'
    data = b'\xff\xfe{"x"\n' + good
    items = list(
        read_stream(io.BytesIO(data), "mem", ReadOptions(format=LogFormat.JSONL), ReadStats())
    )
    assert isinstance(items[0], UnreadableLine)
    assert items[0].line == 1 and items[0].reason.startswith("not UTF-8")
    assert isinstance(items[1], LogRecord)


def test_rfc3339_offsets_are_converted_to_utc() -> None:
    assert parse_rfc3339("2026-03-02T09:00:00+01:00") == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- ocpp library


def test_ocpp_lib_csms_side_send_goes_to_the_station() -> None:
    records, _, _ = _read(DATA / "ocpp_lib_csms.log", format=LogFormat.OCPP_LIB, side=Side.CSMS)
    assert [(r.line, r.station, r.direction) for r in records] == [
        (2, "cs-0002", Direction.TO_CSMS),
        (3, "cs-0002", Direction.TO_STATION),
        (4, "cs-0002", Direction.TO_STATION),
        (5, "cs-0002", Direction.TO_CSMS),
    ]
    assert records[0].frame == '[2,"1001","Heartbeat",{}]'
    assert records[0].ts == datetime(2026, 3, 2, 8, 0, 1, 250000, tzinfo=UTC)


def test_ocpp_lib_station_side_send_goes_to_the_csms() -> None:
    records, _, _ = _read(DATA / "ocpp_lib_csms.log", format=LogFormat.OCPP_LIB, side=Side.STATION)
    assert [r.direction for r in records] == [
        Direction.TO_STATION,
        Direction.TO_CSMS,
        Direction.TO_CSMS,
        Direction.TO_STATION,
    ]


def test_ocpp_lib_iso_prefix_with_offset_is_read_in_utc() -> None:
    records, _, _ = _read(DATA / "ocpp_lib_csms.log", format=LogFormat.OCPP_LIB, side=Side.CSMS)
    assert records[2].ts == datetime(2026, 3, 2, 7, 0, 2, 500000, tzinfo=UTC)


def test_ocpp_lib_line_without_timestamp_is_a_record_without_capture_time() -> None:
    records, bad, stats = _read(
        DATA / "ocpp_lib_csms.log", format=LogFormat.OCPP_LIB, side=Side.CSMS
    )
    assert bad == []
    assert (records[3].line, records[3].ts) == (5, None)
    assert stats.other == 1  # the websockets start-up line
    assert stats.inferred[str(DATA / "ocpp_lib_csms.log")]["time"] == (
        "missing on 1 frame(s): their freshness is not judged"
    )


def test_ocpp_lib_local_time_prefix_uses_the_given_zone() -> None:
    records, _, _ = _read(
        DATA / "ocpp_lib_csms.log",
        format=LogFormat.OCPP_LIB,
        side=Side.CSMS,
        tz=ZoneInfo("Europe/Berlin"),
    )
    assert records[0].ts == datetime(2026, 3, 2, 7, 0, 1, 250000, tzinfo=UTC)


def test_ocpp_lib_side_is_inferred_from_who_sends_a_station_only_call() -> None:
    records, _, stats = _read(DATA / "ocpp_lib_csms.log")
    assert [r.direction for r in records][:2] == [Direction.TO_CSMS, Direction.TO_STATION]
    assert stats.inferred[str(DATA / "ocpp_lib_csms.log")]["side"] == (
        "csms (inferred: it receives Heartbeat at line 2)"
    )


def test_ocpp_lib_log_whose_frames_cannot_tell_the_side_needs_side() -> None:
    log = 'cs-1: send [2,"1","DataTransfer",{"vendorId":"x"}]\n'
    with pytest.raises(InputError, match=r"no frame of the first 1 tells .*--side csms\|station"):
        _stream(log)


# --------------------------------------------------------------------------- SteVe


def test_steve_received_is_to_csms_and_sending_to_station() -> None:
    records, _, _ = _read(DATA / "steve.log", format=LogFormat.STEVE, ocpp="1.6")
    assert [(r.line, r.station, r.direction, r.ocpp) for r in records] == [
        (3, "CS-0001", Direction.TO_CSMS, "1.6"),
        (4, "CS-0001", Direction.TO_STATION, "1.6"),
        (5, "CS-0001", Direction.TO_CSMS, "1.6"),
    ]
    assert records[0].ts == datetime(2026, 3, 2, 8, 0, 1, 594000, tzinfo=UTC)
    assert records[1].frame.endswith('"2026-03-02T08:00:01.700Z"}]')


def test_steve_connection_events_count_as_other_lines() -> None:
    _, bad, stats = _read(DATA / "steve.log", format=LogFormat.STEVE)
    assert bad == []
    assert stats.other == 2


# --------------------------------------------------------------------------- EVerest


def test_everest_frames_span_lines_and_start_at_their_header() -> None:
    records, bad, stats = _read(DATA / "everest.log", format=LogFormat.EVEREST, station="cs-0001")
    assert [(r.line, r.direction) for r in records] == [
        (4, Direction.TO_CSMS),
        (18, Direction.TO_STATION),
    ]
    assert records[0].frame.startswith("[\n  2,\n")
    assert records[1].ts == datetime(2026, 3, 2, 8, 0, 1, 467000, tzinfo=UTC)
    assert all(r.station == "cs-0001" for r in records)
    assert [(b.line, b.reason) for b in bad] == [(29, "message header without a frame")]
    assert stats.other == 1  # the SYS> line


def test_everest_without_station_is_a_usage_error() -> None:
    with pytest.raises(InputError, match="--station"):
        _read(DATA / "everest.log")


# --------------------------------------------------------------------------- auto, gzip, stdin


@pytest.mark.parametrize(
    ("name", "kw", "fmt"),
    [
        ("sample.jsonl", {}, "jsonl"),
        ("steve.log", {}, "steve"),
        ("everest.log", {"station": "x"}, "everest"),
        ("ocpp_lib_csms.log", {"side": Side.CSMS}, "ocpp-lib"),
    ],
)
def test_auto_detects_each_format(name: str, kw: dict[str, object], fmt: str) -> None:
    _, _, stats = _read(DATA / name, **kw)
    assert stats.formats == {str(DATA / name): fmt}


def test_auto_refuses_a_file_in_no_known_format() -> None:
    with pytest.raises(InputError, match="not a log this audit can read"):
        _stream("hello\nworld\n")


def test_gzip_is_recognised_by_its_magic_bytes(tmp_path: Path) -> None:
    packed = tmp_path / "day.log"  # no .gz suffix on purpose
    packed.write_bytes(gzip.compress((DATA / "sample.jsonl").read_bytes()))
    records, bad, _ = _read(packed)
    assert len(records) == 2 and len(bad) == 4


def test_truncated_gzip_is_an_input_error_naming_the_file(tmp_path: Path) -> None:
    packed = tmp_path / "cut.gz"
    packed.write_bytes(gzip.compress((DATA / "sample.jsonl").read_bytes() * 50)[:-30])
    with pytest.raises(InputError, match=r"cut\.gz: cannot read past line"):
        _read(packed)


def test_several_files_are_read_in_order(tmp_path: Path) -> None:
    stats = ReadStats()
    paths = [str(DATA / "sample.jsonl"), str(DATA / "steve.log")]
    items = list(read_logs(paths, ReadOptions(), stats))
    assert [i.source for i in items if isinstance(i, LogRecord)] == [paths[0]] * 2 + [paths[1]] * 3


def test_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BufferedReader(io.BytesIO((DATA / "sample.jsonl").read_bytes())))
    monkeypatch.setattr("sys.stdin", fake)
    records, _, _ = _read("-")
    assert [r.source for r in records] == ["-", "-"]


def test_missing_file_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"nope\.log: cannot open log file"):
        _read("nope.log")
