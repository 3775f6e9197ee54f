"""Spreading an audit over workers: routing lines by station, pairing, merged results."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from ocpp_e2e.audit import run
from ocpp_e2e.audit.logs import ReadOptions, Side
from ocpp_e2e.audit.report import json_lines
from ocpp_e2e.audit.run import AuditSettings, AuditUnit, audit_logs, partition, route
from ocpp_e2e.errors import InputError
from ocpp_e2e.model import Direction

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data" / "audit"
SETTINGS = AuditSettings(policy=str(ROOT / "examples" / "audit" / "policy.yaml"))
TO_CS, TO_CSMS = Direction.TO_STATION, Direction.TO_CSMS


def _line(station: str, frame: object, key: str = '"station"') -> bytes:
    ts = '"ts":"2026-03-02T08:00:00Z"'
    frame_json = json.dumps(frame, separators=(",", ":"))
    return f'{{"frame":{frame_json},{ts},{key}:"{station}","direction":"toCSMS"}}'.encode()


# --------------------------------------------------------------------------- routing


@pytest.mark.parametrize("workers", [2, 3, 7])
def test_a_line_goes_to_the_worker_of_its_station(workers: int) -> None:
    for n in range(20):
        station = f"CS-{n:04d}"
        assert route(_line(station, '[2,"1","Heartbeat",{}]'), workers) == partition(
            station, workers
        )


def test_a_station_member_inside_a_frame_array_does_not_decide_the_route() -> None:
    decoy = [2, "1", "DataTransfer", {"vendorId": "x", "data": {"station": "cs-0001"}}]
    for n in range(20):
        station = f"cs-{n:04d}"
        assert route(_line(station, decoy), 2) == partition(station, 2)


def test_an_escaped_station_member_name_is_read_as_json_reads_it() -> None:
    decoy = [2, "1", "DataTransfer", {"vendorId": "x", "data": {"station": "cs-0001"}}]
    for n in range(20):
        station = f"cs-{n:04d}"
        line = _line(station, decoy, key='"st\\u0061tion"')
        assert route(line, 2) == partition(station, 2)


def test_spaces_around_the_colon_and_escapes_in_the_value_route_by_the_value() -> None:
    assert route(b'{"station" : "CS-0003", "frame": "[]"}', 7) == partition("cs-0003", 7)
    assert route(b'{"station":"cs\\u002d0003","frame":"[]"}', 7) == partition("cs-0003", 7)


def test_a_line_without_a_usable_station_goes_to_worker_0() -> None:
    assert route(b"not json", 3) == 0
    assert route(b'{"station":7}', 3) == 0
    assert route(b"[1,2]", 3) == 0


# --------------------------------------------------------------------------- whole runs


def test_two_workers_audit_a_text_log_like_one(tmp_path: Path) -> None:
    options = ReadOptions(side=Side.CSMS)
    paths = [str(DATA / "steve.log"), str(DATA / "ocpp_lib_csms.log")]
    one = list(json_lines(audit_logs(paths, options, SETTINGS, workers=1)))
    two = list(json_lines(audit_logs(paths, options, SETTINGS, workers=2)))
    assert two == one
    assert json.loads(one[-1])["frames"] > 0


def test_the_same_file_twice_is_audited_twice_in_order() -> None:
    log = str(DATA / "sample.jsonl")
    report = audit_logs([log, log], ReadOptions(), SETTINGS, workers=2)
    lines = [(f.file, f.line) for f in report.findings]
    assert lines == sorted(set(lines)) * 2


def test_progress_ends_with_every_line_done() -> None:
    seen: list[int] = []
    log = str(ROOT / "examples" / "audit" / "day.jsonl.gz")
    report = audit_logs([log], ReadOptions(), SETTINGS, workers=2, progress=seen.append)
    assert seen[-1] == report.summary.to_dict()["lines"]
    assert seen == sorted(seen)


def test_a_policy_that_does_not_load_in_the_workers_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("type: nothing\n")
    with pytest.raises(InputError, match=r"policy\.yaml"):
        audit_logs([str(DATA / "sample.jsonl")], ReadOptions(), AuditSettings(str(bad)), workers=2)


def test_workers_are_spawned_while_another_thread_runs_and_agree_with_one_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    methods: list[str] = []
    real = multiprocessing.get_context

    def recording(method: str) -> Any:
        methods.append(method)
        return real(method)

    monkeypatch.setattr(multiprocessing, "get_context", recording)
    log = str(ROOT / "examples" / "audit" / "day.jsonl.gz")
    one = list(json_lines(audit_logs([log], ReadOptions(), SETTINGS)))
    stop = threading.Event()
    busy = threading.Thread(target=stop.wait)  # stands for the terminal's progress bar
    busy.start()
    try:
        two = list(json_lines(audit_logs([log], ReadOptions(), SETTINGS, workers=2)))
    finally:
        stop.set()
        busy.join()
    assert methods == ["spawn"]
    assert two == one


def test_an_audit_leaves_no_thread_behind_so_the_next_one_can_fork() -> None:
    log = str(ROOT / "examples" / "audit" / "day.jsonl.gz")
    before = threading.active_count()
    audit_logs([log], ReadOptions(), SETTINGS, workers=2)
    assert threading.active_count() == before


def _failing_take(self: AuditUnit, work: object) -> list[object]:
    raise RuntimeError("disk on fire")


def _dying_take(self: AuditUnit, work: object) -> list[object]:
    os._exit(3)


def test_a_worker_that_fails_makes_the_audit_fail_with_its_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(AuditUnit, "take", _failing_take)  # inherited by the forked workers
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # fork, whatever pytest runs
    monkeypatch.setattr(run, "BATCH_BYTES", 16 << 10)  # many batches: the inboxes fill up
    log = str(ROOT / "examples" / "audit" / "day.jsonl.gz")
    with pytest.raises(InputError, match="worker failed: RuntimeError: disk on fire"):
        audit_logs([log], ReadOptions(), SETTINGS, workers=2)


def test_a_worker_that_dies_makes_the_audit_fail_with_its_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(AuditUnit, "take", _dying_take)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    log = str(ROOT / "examples" / "audit" / "day.jsonl.gz")
    with pytest.raises(InputError, match=r"died \(exit code 3\)"):
        audit_logs([log], ReadOptions(), SETTINGS, workers=2)
