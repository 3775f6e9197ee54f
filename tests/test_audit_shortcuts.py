"""The shortcuts of the audit's hot loop decide exactly as the long way does."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ocpp_e2e.audit.logs import LogFormat, LogRecord, ReadOptions, ReadStats, read_stream
from ocpp_e2e.audit.run import AuditSettings, AuditUnit
from ocpp_e2e.model import Direction

FRAME = '[2,"1","Heartbeat",{}]'


def _read(line: str) -> list[object]:
    stats = ReadStats()
    stream = io.BytesIO(line.encode() + b"\n")
    return list(read_stream(stream, "mem", ReadOptions(format=LogFormat.JSONL), stats))


@pytest.mark.parametrize(
    "line",
    [
        # the frame's text as orjson writes it, then a second member named with an escape
        '{"station":"cs-1","direction":"toCSMS","frame":"[]","fr\\u0061me":"[]"}',
        '{"station": "cs-1", "direction": "toCSMS", "frame": "[]", "fr\\u0061me": "[]"}',
        '{"station":"cs-1","direction":"toCSMS","frame" : "[]","frame":"[]"}',
        '{"frame":"[]","station":"cs-1","st\\u0061tion":"cs-2","direction":"toCSMS"}',
        '{"station":"cs-1","direction":"toCSMS","frame":"[2,\\"x\\"]","direction":"toCSMS"}',
    ],
)
def test_a_duplicate_member_is_found_beside_a_frame_text_that_is_skipped(line: str) -> None:
    (item,) = _read(line)
    assert not isinstance(item, LogRecord)
    assert item.reason.startswith("duplicate member"), item.reason


@pytest.mark.parametrize(
    "frame_text",
    [
        json.dumps(FRAME),  # \" escapes: as orjson writes them
        '"[2,\\"1\\",\\"Heartbeat\\",{\\"\\u00e9\\":1}]"',  # an escape orjson would not write
        '"[2,\\"1\\",\\"Heartbeat\\",{\\"\\\\u00e9\\":1}]"',  # \u inside the frame's own text
    ],
)
def test_a_frame_text_is_read_the_same_whether_or_not_it_is_skipped(frame_text: str) -> None:
    line = '{"ts": "2026-03-02T08:00:00Z", "station": "cs-1", "direction": "toCSMS", "frame": '
    (item,) = _read(line + frame_text + "}")
    assert isinstance(item, LogRecord)
    assert item.frame == json.loads(frame_text)


def test_rows_for_the_traffic_view_are_formatted_only_while_it_takes_them(tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "type": "SignaturePolicy",
                "id": "rows",
                "version": 1,
                "rules": [{"id": "all", "effect": "permit", "match": {}, "signers": "none"}],
            }
        )
    )
    records = [
        LogRecord("log", i, None, "cs-1", Direction.TO_CSMS, "2.0.1", f'[2,"{i}","Heartbeat",{{}}]')
        for i in range(1, 6)
    ]
    kept = AuditUnit(AuditSettings(policy=str(policy), keep_frames=3, now=datetime.now(UTC)), "2.0.1")
    kept.take((0, records[:2]))
    kept.take((0, records[2:4]))  # takes the third row, then the view is full
    kept.take((0, records[4:]))
    assert [row.line for _, _, _, row in kept.summary.rows] == [1, 2, 3]
    assert kept.auditor.rows is False
    none = AuditUnit(AuditSettings(policy=str(policy), now=datetime.now(UTC)), "2.0.1")
    none.take((0, records))
    assert none.summary.rows == [] and none.auditor.rows is False
    assert none.summary.verdicts == kept.summary.verdicts

