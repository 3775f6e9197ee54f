"""The audit on real logs (tests/data/audit/real/README.md): one test per log, counted by eye.

Each case gives the frames, unreadable and other lines the log holds, what the reader must infer
from it, and the findings about pairing and readability (the policy here permits everything, in
audit mode, so only those are left).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ocpp_e2e.audit.logs import LogFormat, ReadOptions
from ocpp_e2e.audit.run import AuditSettings, audit_logs

REAL = Path(__file__).parent / "data" / "audit" / "real"
SETTINGS = AuditSettings(policy=str(REAL / "pairing-policy.json"))

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
