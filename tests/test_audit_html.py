"""The HTML report's traffic view: every frame per station, filterable, findings marked."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from ocpp_e2e.audit.logs import ReadOptions
from ocpp_e2e.audit.report import render_html
from ocpp_e2e.audit.run import AuditSettings, audit_logs
from ocpp_e2e.cli import app

ROOT = Path(__file__).parent.parent
REAL = ROOT / "tests" / "data" / "audit" / "real"
POLICY = str(ROOT / "examples" / "audit" / "policy.yaml")
LOGS = [
    str(REAL / "evcc-10109-evbox-journal-a.log"),
    str(REAL / "ha-lbbrhzn-ocpp-2-wallboxpulsar.log"),
]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _data(page: str) -> dict[str, object]:
    m = re.search(r'<script type="application/json" id="audit-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1))  # type: ignore[no-any-return]


def test_the_report_embeds_every_frame_per_station_with_its_pairing() -> None:
    settings = AuditSettings(policy=POLICY, keep_frames=100, now=datetime.now(UTC))
    report = audit_logs(LOGS, ReadOptions(), settings)
    traffic = _data(render_html(report))["traffic"]
    assert isinstance(traffic, dict)
    assert {k: len(v) for k, v in traffic.items()} == {"evb-p21124929": 3, "wallboxpulsar": 5}
    # [file, line, ts, direction, action, message id, line of the CALL answered, verdict]
    assert traffic["wallboxpulsar"][1] == [
        LOGS[1], 4, "2021-03-17T20:23:00.000Z", "toCSMS", "TriggerMessage",
        "d63f7e70-68e8-4cf3-ab3d-7dade9a7efc9", 3, "deny",
    ]  # fmt: skip
    # the answer to the malformed (cut) DataTransfer CALL: no pairing line, but no orphan finding
    assert traffic["evb-p21124929"][1][5:] == [
        "2cb92a95-df12-4647-b7e3-40e5b5a64b89",
        None,
        "unread",
    ]


def test_the_traffic_view_keeps_only_the_first_frames_in_input_order() -> None:
    report = audit_logs(LOGS, ReadOptions(), AuditSettings(policy=POLICY, keep_frames=4, now=datetime.now(UTC)))
    page = render_html(report)
    traffic = _data(page)["traffic"]
    assert isinstance(traffic, dict)
    assert sorted((row[0], row[1]) for rows in traffic.values() for row in rows) == [
        (LOGS[0], 1), (LOGS[0], 2), (LOGS[0], 3), (LOGS[1], 3),
    ]  # fmt: skip
    assert "The traffic view lists the first 4 of 8 frames." in page


def test_the_traffic_view_renders_in_a_headless_browser_with_findings_marked(
    tmp_path: Path,
) -> None:
    page = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["audit", *LOGS, "--policy", POLICY, "--html", str(page)])
    assert result.exit_code == 1, result.output
    assert CHROMIUM is not None, "chromium is not installed (apt-get install chromium)"
    proc = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0",
            f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    dom = proc.stdout
    # the first station is shown: its 3 frames, each marked with its findings
    assert 'id="t-total">3<' in dom and 'id="t-shown">3<' in dom
    assert dom.count('<tr id="frame-') == 3
    assert dom.count('class="marked"') == 3
    assert "response-without-call" in dom and ">malformed<" in dom
    # each station's option names the OCPP version its frames were read in
    assert '<option value="wallboxpulsar">wallboxpulsar (5, OCPP 1.6)</option>' in dom
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console
