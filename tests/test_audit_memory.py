"""Memory of an audit is bounded by settings, not by the size of the frames or the log's length."""

from __future__ import annotations

import gc
import io
import json
import re
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocpp_e2e.audit import logs
from ocpp_e2e.audit.engine import AuditReplayCache
from ocpp_e2e.audit.findings import SEVERITY, Finding, FindingKind
from ocpp_e2e.audit.logs import LogRecord, ReadOptions, ReadStats, read_stream
from ocpp_e2e.audit.report import render_html
from ocpp_e2e.audit.run import AuditSettings, Listing, audit_logs, build_auditor
from ocpp_e2e.cli import app
from ocpp_e2e.keys import KeySigner, generate_private_key, load_spki, public_key_to_pem
from ocpp_e2e.model import Direction
from ocpp_e2e.sign import sign_frame

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SIGNER = KeySigner(generate_private_key("Ed25519"))


def _policy(tmp_path: Path) -> str:
    pem = public_key_to_pem(load_spki(SIGNER.public_key_der)).decode("ascii")
    policy = {
        "type": "SignaturePolicy",
        "id": "memory",
        "version": 1,
        "maxSignatureAge": "PT5M",
        "keys": [{"publicKey": pem, "name": "cs-1", "roles": ["station"]}],
        "rules": [
            {
                "id": "station",
                "effect": "permit",
                "match": {"kinds": ["request"]},
                "signers": {"roles": ["station"]},
            }
        ],
    }
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    return str(path)


def _big_report(i: int) -> str:
    items = [
        {"component": {"name": f"Component{n}"}, "variable": {"name": "x" * 900}}
        for n in range(100)
    ]
    payload = {
        "requestId": i,
        "generatedAt": "2026-03-02T08:00:00Z",
        "seqNo": 0,
        "reportData": items,
    }
    return sign_frame(
        json.dumps([2, f"m{i}", "NotifyReport", payload]),
        SIGNER,
        ocpp="2.0.1",
        station="cs-1",
        timestamp=T0,
    )


def test_answered_and_unanswered_calls_are_remembered_as_digests_not_parsed_frames(
    tmp_path: Path,
) -> None:
    # 100 signed CALLs of about 100 KB each: the auditor remembers the recent CALLs of a station
    # (to recognise a response moved to another request) and the waiting ones; kept as parsed
    # frames they held about 64 x 0.5 MB.
    auditor = build_auditor(AuditSettings(policy=_policy(tmp_path), now=datetime.now(UTC)))
    frames = [_big_report(i) for i in range(100)]
    records = [
        LogRecord(
            "log", i + 1, T0 + timedelta(milliseconds=i), "cs-1", Direction.TO_CSMS, "2.0.1", f
        )
        for i, f in enumerate(frames)
    ]
    auditor.audit(0, records[0])  # first-use caches are not what this measures
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i, record in enumerate(records[1:], 1):
            result = auditor.audit(i, record)
            assert result.verdict == "permit-signed"
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 2 << 20, f"{held} bytes held after 99 CALLs of 100 KB"


def test_format_detection_holds_at_most_detect_bytes_of_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The detection window is held in memory until the format is decided: with long lines it
    # stops at DETECT_BYTES (whole blocks), not at DETECT_LINES lines; every line is still read.
    monkeypatch.setattr(logs, "DETECT_BYTES", 1)
    frame = json.dumps([2, "1", "DataTransfer", {"vendorId": "x", "data": "y" * 900}])
    line = json.dumps({"ts": "2026-03-02T08:00:00Z", "station": "cs-1", "direction": "toCSMS"})
    text = "".join(line[:-1] + f', "frame": {json.dumps(frame)}}}\n' for _ in range(3000))
    stats = ReadStats()
    items = list(read_stream(io.BytesIO(text.encode()), "mem", ReadOptions(), stats))
    assert sum(type(i) is LogRecord for i in items) == 3000
    note = stats.inferred["mem"]["format"]
    m = re.fullmatch(r"jsonl \(detected: (\d+) of the first (\d+) non-blank lines\)", note)
    assert m is not None, note
    scored = int(m.group(2))
    assert scored < logs.DETECT_LINES
    assert scored * len(line) <= logs.BLOCK_BYTES + 2000


def _finding(line: int, detail: str = "x") -> Finding:
    kind = FindingKind.UNANSWERED_CALL
    return Finding(kind, SEVERITY[kind], "log", line, detail)


def test_the_listing_keeps_the_first_findings_in_input_order_whatever_order_they_come_in() -> None:
    listing = Listing(3)
    listing.extend([(0, 9, _finding(9)), (0, 5, _finding(5, "a")), (0, 5, _finding(5, "b"))])
    listing.extend([(1, 1, _finding(1)), (0, 2, _finding(2))])  # held: 5 < 2 * 3
    listing.extend([(0, 7, _finding(7))])  # 6 held: cut to the first 3
    listing.extend([(0, 1, _finding(1))])
    assert [(f.line, f.detail) for f in listing.first()] == [(1, "x"), (2, "x"), (5, "a")]
    assert listing.seen == 7


def test_findings_beyond_max_findings_are_counted_and_the_report_says_they_are_not_listed(
    tmp_path: Path,
) -> None:
    # 30 unsigned requests where the policy wants a station's signature: 30 findings.
    log = tmp_path / "unsigned.jsonl"
    log.write_text(
        "".join(
            json.dumps(
                {
                    "ts": f"2026-03-02T08:00:{i:02d}Z",
                    "station": "cs-1",
                    "direction": "toCSMS",
                    "frame": json.dumps([2, f"m{i}", "Heartbeat", {}]),
                }
            )
            + "\n"
            for i in range(30)
        )
    )
    settings = AuditSettings(policy=_policy(tmp_path), max_findings=10, now=datetime.now(UTC))
    report = audit_logs([str(log)], ReadOptions(), settings)
    assert [f.line for f in report.findings] == list(range(1, 11))
    summary = report.summary.to_dict()
    assert (summary["findings"], summary["findingsNotListed"]) == (30, 20)
    assert summary["byKind"] == {"unsigned-required": 30}
    assert report.exit_status == 1
    html = render_html(report)
    assert "The table holds the first 10 of 30 findings; 20 were counted but not kept" in html
    everything = audit_logs([str(log)], ReadOptions(), AuditSettings(policy=_policy(tmp_path), now=datetime.now(UTC)))
    assert len(everything.findings) == 30
    assert "findingsNotListed" not in everything.summary.to_dict()


def test_max_findings_below_one_is_a_usage_error(tmp_path: Path) -> None:
    log = tmp_path / "one.jsonl"
    log.write_text(
        '{"station":"cs-1","direction":"toCSMS","frame":"[2,\\"1\\",\\"Heartbeat\\",{}]"}\n'
    )
    result = CliRunner().invoke(
        app, ["audit", str(log), "--policy", _policy(tmp_path), "--max-findings", "0"]
    )
    assert result.exit_code == 2
    assert "--max-findings must be at least 1, not 0" in result.output


def test_the_audit_replay_cache_tells_key_ids_and_digests_apart_in_less_memory() -> None:
    cache = AuditReplayCache()
    digest = bytes(range(32))
    assert cache.check_and_add("kid-a", digest, T0, T0) is False
    assert cache.check_and_add("kid-a", digest, T0, T0) is True
    assert cache.check_and_add("kid-b", digest, T0, T0) is False  # same input, other key
    assert cache.check_and_add("kid-a", bytes(32), T0, T0) is False
    assert len(cache) == 3

    def held(add: Callable[[int], object]) -> int:
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for i in range(20_000):
                add(i)
            return tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()

    pairs: set[tuple[str, bytes]] = set()  # what it kept before: (key id, digest) pairs
    as_pairs = held(lambda i: pairs.add(("kid-a" * 9, i.to_bytes(32, "big"))))
    as_keys = held(lambda i: cache.check_and_add("kid-a" * 9, i.to_bytes(32, "big"), T0, T0))
    assert as_keys < 0.85 * as_pairs, (as_keys / 20_000, as_pairs / 20_000)
