"""The audit on real logs (tests/data/audit/real/README.md): one test per log, counted by eye.

Each case gives the frames, unreadable and other lines the log holds, what the reader must infer
from it, and the findings about pairing and readability (the policy here permits everything, in
audit mode, so only those are left).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ocpp_e2e.audit.logs import LogFormat, ReadOptions
from ocpp_e2e.audit.run import AuditSettings, audit_logs

REAL = Path(__file__).parent / "data" / "audit" / "real"
SETTINGS = AuditSettings(policy=str(REAL / "pairing-policy.json"), now=datetime.now(UTC))

# file, options, format, frames, unreadable lines, other lines, stations, OCPP version, findings
CASES: list[tuple[str, dict[str, Any], str, int, int, int, set[str], str | None, dict[str, int]]] = [
    ("ha-lbbrhzn-ocpp-2-wallboxpulsar.log", {}, "ocpp-lib", 5, 0, 2, {"wallboxpulsar"}, "1.6", {}),
    ("ha-lbbrhzn-ocpp-176-grizzle.log", {}, "ocpp-lib", 3, 0, 5, {"unnamed"}, "1.6", {"malformed": 1}),
    ("ha-lbbrhzn-ocpp-337-alfen.log", {}, "ocpp-lib", 4, 0, 2, {"ckcharger"}, "1.6", {}),
    ("ha-lbbrhzn-ocpp-154-evnex.log", {}, "ocpp-lib", 7, 0, 0, {"evnex-jaydca"}, "1.6", {}),
    ("ha-lbbrhzn-ocpp-609-chhome.log", {}, "ocpp-lib", 3, 0, 0, {"chhome-1"}, "1.6", {}),
    ("ha-lbbrhzn-ocpp-1858-foxess.log", {}, "ocpp-lib", 5, 0, 1, {"birzes25a"}, "2.0.1",
     {"response-without-call": 1}),
    ("ocpp-docs-tutorial-v201-csms.log", {}, "ocpp-lib", 6, 0, 6, {"some_id"}, "2.0.1", {}),
    ("ocpp-docs-tutorial-v201-chargepoint.log", {}, "ocpp-lib", 6, 0, 3, {"some_id"}, "2.0.1", {}),
    ("aws-ocpp-gateway-simulator-cp1.log", {}, "ocpp-lib", 4, 0, 2, {"cp1"}, "2.0.1", {}),
    ("aws-ocpp-gateway-simulator-cp2.log", {}, "ocpp-lib", 1, 0, 1, {"cp2"}, "2.0.1", {}),
    ("steve-libocpp-495.log", {}, "steve", 3, 0, 1, {"lesbos_left"}, "1.6", {}),
    ("steve-2058-tabs.log", {}, "steve", 1, 0, 0, {"tg2"}, "1.6", {"malformed": 1}),
    ("evcc-6735-goe-journal.log", {}, "evcc", 2, 0, 2, {"go-e"}, "1.6", {}),
    ("evcc-14579-ladestation.log", {}, "evcc", 7, 0, 0, {"ladestation"}, "1.6", {}),
    ("evcc-10109-evbox-journal-a.log", {}, "evcc", 3, 0, 8, {"evb-p21124929"}, "1.6",
     {"response-without-call": 1, "malformed": 1}),
    ("evcc-10109-evbox-journal-b.log", {}, "evcc", 6, 0, 0, {"evb-p21124929"}, "1.6", {"malformed": 3}),
    ("evcc-32078-compose.log", {}, "evcc", 7, 0, 0, {"4osnxerj7rxb4ehqu3cpsm"}, "1.6", {}),
    ("evcc-14733-evbox.log", {}, "evcc", 6, 0, 5, {"evb-p21302000"}, "1.6", {}),
    ("captures/ocpp16-plain.pcap", {}, "pcap", 12, 0, 0, {"cs-16-loop"}, "1.6", {}),
    ("captures/ocpp16-fragmented.pcap", {}, "pcap", 12, 0, 0, {"cs-16-loop"}, "1.6", {}),
    ("captures/ocpp201-deflate.pcap", {}, "pcap", 12, 0, 0, {"cs-201-loop"}, "2.0.1", {}),
    ("captures/ocpp201-deflate.pcapng", {}, "pcap", 12, 0, 0, {"cs-201-loop"}, "2.0.1", {}),
    ("captures/ocpp201-tls.pcap", {}, "pcap", 0, 1, 0, set(), None, {"unreadable-line": 1}),
    ("captures/ocpp16-plain-csms.log", {}, "ocpp-lib", 12, 0, 6, {"cs-16-loop"}, "1.6", {}),
    ("captures/ocpp16-plain-station.log", {}, "ocpp-lib", 12, 0, 0, {"cs-16-loop"}, "1.6", {}),
    ("captures/ocpp201-deflate-csms.log", {}, "ocpp-lib", 12, 0, 6, {"cs-201-loop"}, "2.0.1", {}),
    ("captures/ocpp201-deflate-station.log", {}, "ocpp-lib", 12, 0, 0, {"cs-201-loop"}, "2.0.1", {}),
    ("captures/ocpp201-tls-csms.log", {}, "ocpp-lib", 12, 0, 5, {"cs-201-loop"}, "2.0.1", {}),
    ("captures/ocpp201-tls-station.log", {}, "ocpp-lib", 12, 0, 0, {"cs-201-loop"}, "2.0.1", {}),
    ("captures/ocpp16-plain-csms.ecs.jsonl", {}, "json", 12, 0, 6, {"cs-16-loop"}, "1.6", {}),
    ("captures/ocpp201-deflate-csms.ecs.jsonl", {}, "json", 12, 0, 6, {"cs-201-loop"}, "2.0.1", {}),
    ("captures/ocpp201-tls-csms.ecs.jsonl", {}, "json", 12, 0, 5, {"cs-201-loop"}, "2.0.1", {}),
    # Chromium as two stations (1.6 and 2.0.1) of one CSMS: its HAR, the tcpdump, the CSMS's log
    ("captures/browser-mixed.har", {}, "har", 16, 0, 0, {"browser-16", "browser-201"},
     "1.6, 2.0.1", {}),
    ("captures/browser-mixed.pcap", {}, "pcap", 16, 0, 0, {"browser-16", "browser-201"},
     "1.6, 2.0.1", {}),
    ("captures/browser-mixed-csms.log", {}, "ocpp-lib", 16, 0, 8, {"browser-16", "browser-201"},
     "1.6, 2.0.1", {}),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_real_log_is_read_with_its_counted_frames_and_pairing(case: tuple[Any, ...]) -> None:
    name, kw, fmt, frames, unreadable, other, stations, version, findings = case
    path = str(REAL / name)
    report = audit_logs([path], ReadOptions(**kw), SETTINGS)
    summary = report.summary.to_dict()
    assert summary["files"] == {path: fmt}
    assert (summary["frames"], summary["unreadableLines"], summary["otherLines"]) == (
        frames,
        unreadable,
        other,
    )
    assert set(summary["stations"]) == stations
    assert sum(s["frames"] for s in summary["stations"].values()) == frames
    assert dict(Counter(f.kind.value for f in report.findings)) == findings
    if version is not None:
        assert summary["inferred"][path]["ocpp"].startswith(version + " (")
    # the same log read by its explicit format gives the same counts
    again = audit_logs([path], ReadOptions(format=LogFormat(fmt), **kw), SETTINGS)
    assert again.summary.to_dict()["frames"] == frames


def test_a_pretty_printed_answer_pairs_with_its_call() -> None:
    path = str(REAL / "ha-lbbrhzn-ocpp-2-wallboxpulsar.log")
    report = audit_logs([path], ReadOptions(), SETTINGS)
    assert report.findings == []  # both TriggerMessage answers paired, RemoteStop at the end
    inferred = report.summary.to_dict()["inferred"][path]
    assert inferred["side"] == "csms (inferred: it sends TriggerMessage at line 3)"


def test_a_truncated_answer_is_malformed_with_its_message_id_and_settles_its_call() -> None:
    path = str(REAL / "ha-lbbrhzn-ocpp-176-grizzle.log")
    report = audit_logs([path], ReadOptions(), SETTINGS)
    [bad] = report.findings
    assert (bad.kind.value, bad.line, bad.message_id) == (
        "malformed",
        2,
        "64b4a0fc-7282-4e26-ab30-cc3c2955c70d",
    )


def test_a_tls_connection_in_a_capture_is_reported_as_encrypted() -> None:
    path = str(REAL / "captures" / "ocpp201-tls.pcap")
    [finding] = audit_logs([path], ReadOptions(), SETTINGS).findings
    assert finding.detail.startswith("encrypted: cannot be read (a TLS connection)")


# --------------------------------------------------------------------------- per station

MIXED = ["browser-mixed-csms.log", "browser-mixed.har", "browser-mixed.pcap"]


@pytest.mark.parametrize("name", MIXED)
def test_each_station_of_a_mixed_log_is_read_in_its_own_ocpp_version(name: str) -> None:
    path = str(REAL / "captures" / name)
    summary = audit_logs([path], ReadOptions(), SETTINGS).summary.to_dict()
    stations = summary["stations"]
    assert stations["browser-16"]["ocpp"] == {"1.6": 8}
    assert stations["browser-201"]["ocpp"] == {"2.0.1": 8}
    said = {s: stations[s]["inferred"][path]["ocpp"] for s in stations}
    if name.endswith(".log"):
        assert said == {
            "browser-16": "1.6 (inferred: BootNotification at line 4 fits only OCPP 1.6)",
            "browser-201": "2.0.1 (inferred: BootNotification at line 8 fits only OCPP 2.0.1 or "
            "2.1)",
        }
        assert summary["inferred"][path]["ocpp"] == (
            "1.6, 2.0.1 (per station: 1.6 for browser-16; 2.0.1 for browser-201)"
        )
    else:
        assert said == {
            "browser-16": "1.6 (the negotiated subprotocol ocpp1.6)",
            "browser-201": "2.0.1 (the negotiated subprotocol ocpp2.0.1)",
        }


def test_a_chromium_har_holds_both_stations_frames_with_their_browser_times() -> None:
    path = str(REAL / "captures" / "browser-mixed.har")
    report = audit_logs(
        [path], ReadOptions(), AuditSettings(policy=SETTINGS.policy, keep_frames=50, now=datetime.now(UTC))
    )
    rows = [(station, row.direction, row.action) for _, station, _, row in report.summary.rows]
    assert rows[0] == ("browser-16", "toCSMS", "BootNotification")
    assert ("browser-201", "toStation", "GetVariables") in rows
    assert all(
        row.ts is not None and row.ts.startswith("2026-12-08T") for *_, row in report.summary.rows
    )


def _joined(tmp_path: Path, *names: str) -> str:
    """A log made of real logs' lines, one after the other (as one program writing for several
    stations would write them)."""
    out = tmp_path / "joined.log"
    out.write_bytes(b"".join((REAL / n).read_bytes() for n in names))
    return str(out)


def test_a_home_assistant_log_with_a_16_and_a_201_charger_infers_each(tmp_path: Path) -> None:
    # real-derived: an Alfen on 1.6 (issue 337) and a FoxESS on 2.0.1 (issue 1858), one log
    path = _joined(tmp_path, "ha-lbbrhzn-ocpp-337-alfen.log", "ha-lbbrhzn-ocpp-1858-foxess.log")
    report = audit_logs([path], ReadOptions(), SETTINGS)
    summary = report.summary.to_dict()
    assert summary["frames"] == 4 + 5 == sum(s["frames"] for s in summary["stations"].values())
    assert summary["stations"]["ckcharger"]["ocpp"] == {"1.6": 4}
    assert summary["stations"]["birzes25a"]["ocpp"] == {"2.0.1": 5}
    assert summary["stations"]["birzes25a"]["inferred"][path] == {
        "ocpp": "2.0.1 (inferred: SetVariables at line 8 fits only OCPP 2.0.1 or 2.1)",
        "side": "csms (inferred: it sends SetVariables at line 8)",
    }
    assert dict(Counter(f.kind.value for f in report.findings)) == {"response-without-call": 1}


def test_a_log_of_a_csms_and_a_station_writing_infers_the_side_of_each(tmp_path: Path) -> None:
    # real-derived: the ocpp package's tutorial CSMS (station SOME_ID) and the AWS simulator's
    # station CP1 logging into one file: 'send' means toStation for one and toCSMS for the other
    path = _joined(
        tmp_path, "ocpp-docs-tutorial-v201-csms.log", "aws-ocpp-gateway-simulator-cp1.log"
    )
    report = audit_logs(
        [path], ReadOptions(), AuditSettings(policy=SETTINGS.policy, keep_frames=50, now=datetime.now(UTC))
    )
    assert report.findings == []  # every answer pairs with its CALL, in the right direction
    stations = report.summary.to_dict()["stations"]
    assert stations["some_id"]["inferred"][path]["side"] == (
        "csms (inferred: it receives BootNotification at line 4)"
    )
    assert stations["cp1"]["inferred"][path]["side"] == (
        "station (inferred: it sends BootNotification at line 13)"
    )
    boots = [
        (s, r.direction) for _, s, _, r in report.summary.rows if r.action == "BootNotification"
    ]
    assert boots == [  # each BootNotification and its answer
        ("some_id", "toCSMS"),
        ("some_id", "toStation"),
        ("cp1", "toCSMS"),
        ("cp1", "toStation"),
    ]


def test_a_station_whose_frames_tell_nothing_takes_the_version_its_log_agrees_on(
    tmp_path: Path,
) -> None:
    log = tmp_path / "csms.log"
    log.write_text(
        (REAL / "ha-lbbrhzn-ocpp-337-alfen.log").read_text()
        + '2022-02-02 13:34:00 INFO (MainThread) [ocpp] quiet: receive message [2,"9","Heartbeat",{}]\n'
        + '2022-02-02 13:34:00 INFO (MainThread) [ocpp] quiet: send [3,"9",{"currentTime":"2022-02-02T13:34:00Z"}]\n'
    )
    summary = audit_logs([str(log)], ReadOptions(), SETTINGS).summary.to_dict()
    quiet = summary["stations"]["quiet"]
    assert quiet["ocpp"] == {"1.6": 2}
    assert quiet["inferred"][str(log)]["ocpp"] == (
        "1.6 (assumed: no frame of this station tells the version; the other stations of this log "
        "speak it)"
    )
    assert quiet["inferred"][str(log)]["side"] == "csms (inferred: it receives Heartbeat at line 7)"


def test_the_report_says_per_station_what_was_inferred_in_every_output() -> None:
    from typer.testing import CliRunner

    from ocpp_e2e.audit.report import render_html
    from ocpp_e2e.cli import app

    path = str(REAL / "captures" / "browser-mixed-csms.log")
    result = CliRunner().invoke(app, ["audit", path, "--policy", SETTINGS.policy])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "station browser-16 │ 8 frames, 0 findings, OCPP 1.6" in text
    assert "station browser-201 │ 8 frames, 0 findings, OCPP 2.0.1" in text
    assert (
        "station browser-201: ocpp: 2.0.1 (inferred: BootNotification at line 8 fits only OCPP "
        "2.0.1 or 2.1); side: csms (inferred: it receives BootNotification at line 8)"
    ) in text
    page = render_html(audit_logs([path], ReadOptions(), SETTINGS))
    assert "<td>2.0.1 (8)</td>" in page
    assert "side: csms (inferred: it receives BootNotification at line 4)" in page


def test_a_gateway_log_of_two_stations_counts_each_stations_frames_per_version(
    tmp_path: Path,
) -> None:
    # real-derived: the frames of the Chromium capture written as the normalized JSON Lines a
    # gateway logs (each line names the version its connection negotiated)
    from ocpp_e2e.audit.logs import LogRecord, ReadStats, read_logs

    capture = str(REAL / "captures" / "browser-mixed.pcap")
    records = [r for r in read_logs([capture], ReadOptions(), ReadStats()) if type(r) is LogRecord]
    log = tmp_path / "gateway.jsonl"
    log.write_text(
        "".join(
            json.dumps(
                {
                    "ts": r.ts.isoformat() if r.ts else None,
                    "station": r.station,
                    "direction": r.direction.value,
                    "ocpp": r.ocpp,
                    "frame": r.frame,
                }
            )
            + "\n"
            for r in records
        )
    )
    summary = audit_logs([str(log)], ReadOptions(), SETTINGS).summary.to_dict()
    assert summary["frames"] == 16
    assert {s: c["ocpp"] for s, c in summary["stations"].items()} == {
        "browser-16": {"1.6": 8},
        "browser-201": {"2.0.1": 8},
    }
