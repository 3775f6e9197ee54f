"""Whole audits: the shipped example, workers, gzip, unreadable lines, the CLI and the HTML report."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from typer.testing import CliRunner

from ocpp_e2e.audit.logs import LogFormat, LogRecord, ReadOptions
from ocpp_e2e.audit.report import json_lines, render_html
from ocpp_e2e.audit.run import AuditSettings, audit_logs, build_auditor
from ocpp_e2e.cli import app
from ocpp_e2e.keys import KeySigner, load_private_key
from ocpp_e2e.model import Direction
from ocpp_e2e.pki.issue import load_certificates_file
from ocpp_e2e.sign import sign_frame

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "audit"
LOG = str(EXAMPLE / "day.jsonl.gz")
POLICY = str(EXAMPLE / "policy.yaml")
SETTINGS = AuditSettings(policy=POLICY, now=datetime.now(UTC))
PLANTED = [
    ("invalid", "cs-0001", "MeterValues"),
    ("replayed", "cs-0002", "Reset"),
    ("denied", "cs-0002", "SetChargingProfile"),
    ("unsigned-required", "cs-0001", "UpdateFirmware"),
]


@pytest.fixture(scope="module")
def example_report_json() -> list[str]:
    return list(json_lines(audit_logs([LOG], ReadOptions(), SETTINGS)))


def test_example_log_has_exactly_the_four_planted_problems(example_report_json: list[str]) -> None:
    findings = [json.loads(line) for line in example_report_json[:-1]]
    assert [(f["kind"], f["station"], f["action"]) for f in findings] == PLANTED
    summary = json.loads(example_report_json[-1])
    assert (summary["findings"], summary["passed"], summary["unreadableLines"]) == (4, False, 0)
    assert summary["frames"] > 2000


def test_two_workers_give_the_same_output_as_one(example_report_json: list[str]) -> None:
    two = list(json_lines(audit_logs([LOG], ReadOptions(), SETTINGS, workers=2)))
    assert two == example_report_json


def test_unreadable_lines_are_findings_in_input_order(tmp_path: Path) -> None:
    lines = gzip.decompress(Path(LOG).read_bytes()).decode().splitlines()[:10]
    lines.insert(3, "this is not a record")
    log = tmp_path / "cut.jsonl"
    log.write_text("\n".join(lines) + "\n")
    report = audit_logs([str(log)], ReadOptions(), SETTINGS)
    assert [(f.kind.value, f.line) for f in report.findings] == [("unreadable-line", 4)]
    assert report.exit_status == 1
    assert report.summary.to_dict()["unreadableLines"] == 1


def test_gzip_and_plain_copies_of_a_log_audit_the_same(tmp_path: Path) -> None:
    plain = tmp_path / "day.jsonl"
    plain.write_bytes(gzip.decompress(Path(LOG).read_bytes()))
    a = audit_logs([str(plain)], ReadOptions(), SETTINGS)
    b = audit_logs([LOG], ReadOptions(), SETTINGS)
    assert [f.to_dict() | {"file": ""} for f in a.findings] == [
        f.to_dict() | {"file": ""} for f in b.findings
    ]


def test_station_key_signing_on_another_stations_connection_is_wrong_station() -> None:
    keys = ROOT / "keys-example"
    chain = [
        c.public_bytes(Encoding.DER) for c in load_certificates_file(keys / "station-2.chain.pem")
    ]
    signer = KeySigner(load_private_key(keys / "station-2.key.pem"), certificates=chain)
    from datetime import UTC, datetime

    at = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    frame = sign_frame(
        '[2,"x","Heartbeat",{}]', signer, ocpp="2.0.1", station="cs-0001", timestamp=at
    )
    result = build_auditor(SETTINGS).audit(
        0, LogRecord("l", 1, at, "cs-0001", Direction.TO_CSMS, "2.0.1", frame)
    )
    assert [f.kind.value for f in result.findings] == ["wrong-station"]
    assert result.findings[0].detail == "signed by station cs-0002 on the connection of cs-0001"


def test_zero_workers_is_refused() -> None:
    from ocpp_e2e.errors import InputError

    with pytest.raises(InputError, match="at least 1"):
        audit_logs([LOG], ReadOptions(), SETTINGS, workers=0)


# --------------------------------------------------------------------------- CLI


runner = CliRunner()


def test_cli_exits_1_on_the_example_and_lists_the_findings() -> None:
    result = runner.invoke(app, ["audit", LOG, "--policy", POLICY])
    assert result.exit_code == 1
    assert "replayed (critical)" in result.output and "audit FAILED" in result.output


def test_cli_exits_0_when_nothing_violates_the_policy(tmp_path: Path) -> None:
    lines = gzip.decompress(Path(LOG).read_bytes()).decode().splitlines()[:20]
    log = tmp_path / "morning.jsonl"
    log.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["audit", str(log), "--policy", POLICY])
    assert result.exit_code == 0, result.output


def test_cli_json_prints_one_object_per_finding_then_the_summary() -> None:
    result = runner.invoke(app, ["audit", "--json", LOG, "--policy", POLICY])
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["type"] for o in objects] == ["finding"] * 4 + ["summary"]
    assert set(objects[0]) == {
        "type",
        "kind",
        "severity",
        "file",
        "line",
        "ts",
        "station",
        "direction",
        "messageId",
        "action",
        "decision",
        "rule",
        "signers",
        "detail",
    }


def test_cli_missing_policy_is_a_usage_error() -> None:
    result = runner.invoke(app, ["audit", LOG, "--policy", "nope.yaml"])
    assert result.exit_code == 2
    assert "nope.yaml" in result.output


def test_cli_missing_log_is_a_usage_error() -> None:
    result = runner.invoke(app, ["audit", "nope.jsonl", "--policy", POLICY])
    assert result.exit_code == 2
    assert "nope.jsonl: cannot open log file" in result.output


def test_cli_ocpp_lib_log_whose_side_cannot_be_inferred_is_a_usage_error(tmp_path: Path) -> None:
    data = tmp_path / "lib.log"
    data.write_text('cs-1: send [2,"1","DataTransfer",{"vendorId":"x"}]\n')
    result = runner.invoke(app, ["audit", str(data), "--policy", POLICY])
    assert result.exit_code == 2
    assert "--side csms|station" in result.output


# --------------------------------------------------------------------------- HTML


def test_html_report_is_self_contained(tmp_path: Path) -> None:
    page = render_html(audit_logs([LOG], ReadOptions(), SETTINGS))
    assert 'id="finding-count">4<' in page
    for needle in ("http://", "https://", "<link", " src="):
        assert needle not in page.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
            "https://firmware.example", ""
        )


def test_html_report_escapes_script_end_in_findings(tmp_path: Path) -> None:
    log = tmp_path / "evil.jsonl"
    log.write_text('{"x": "</script><script>alert(1)</script>"}\n')
    page = render_html(audit_logs([str(log)], ReadOptions(format=LogFormat.JSONL), SETTINGS))
    assert "</script><script>alert(1)" not in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_report_loads_in_a_headless_browser_without_console_errors(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = runner.invoke(app, ["audit", LOG, "--policy", POLICY, "--html", str(page)])
    assert result.exit_code == 1
    assert CHROMIUM is not None
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    dom = proc.stdout
    assert 'id="finding-count">4<' in dom
    # the script ran: it filled the table and the counters
    assert 'id="shown-count">4<' in dom and 'id="total-count">4<' in dom
    assert dom.count("sev-critical") >= 2
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console
