"""``ocpp-e2e ticket``: the walk-through of docs/tickets.md, exit codes and JSON output."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

from test_ticket_support import KEYS, ROOT
from typer.testing import CliRunner

from ocpp_e2e.cli.ticket import app

runner = CliRunner()
ROOT_CA = str(KEYS / "root-ca.crt.pem")
EVSE = "DE*GEF*E0001*1"


def _issue(
    tmp: Path, *extra: str, name: str = "ticket-issuer", evse: str = "DE*GEF*E*"
) -> list[str]:
    return [
        "issue",
        "--key", str(KEYS / f"{name}.key.pem"),
        "--certificates", str(KEYS / f"{name}.chain.pem"),
        "--out", str(tmp / "ticket.json"),
        "--holder-key-out", str(tmp / "holder.key.pem"),
        "--valid-for", "PT1H",
        "--station", "cs-00*",
        "--evse", evse,
        "--max-sessions", "1",
        *extra,
    ]  # fmt: skip


def _challenge(tmp: Path) -> str:
    result = runner.invoke(
        app, ["challenge", "--ledger", str(tmp / "ledger.sqlite"), "--station", "cs-0001"]
    )
    assert result.exit_code == 0, result.output
    return result.output.strip()


def _present(tmp: Path, challenge: str, evse: str = EVSE) -> Path:
    out = tmp / "presentation.json"
    result = runner.invoke(
        app,
        [
            "present",
            "--ticket", str(tmp / "ticket.json"),
            "--holder-key", str(tmp / "holder.key.pem"),
            "--challenge", challenge,
            "--station", "cs-0001",
            "--evse-id", evse,
            "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def _verify(tmp: Path, presentation: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(
        app,
        [
            "verify", str(presentation),
            "--ledger", str(tmp / "ledger.sqlite"),
            "--trust-anchor", ROOT_CA,
            "--station", "cs-0001",
            "--evse-id", EVSE,
            *extra,
        ],
    )  # fmt: skip
    return result.exit_code, result.output


def test_issue_challenge_present_verify_accepts_with_exit_0(tmp_path: Path) -> None:
    assert runner.invoke(app, _issue(tmp_path)).exit_code == 0
    code, output = _verify(tmp_path, _present(tmp_path, _challenge(tmp_path)))
    assert code == 0
    assert output.startswith("accepted: session 1 of 1 started (session ")


def test_issued_holder_key_file_is_owner_only(tmp_path: Path) -> None:
    assert runner.invoke(app, _issue(tmp_path)).exit_code == 0
    mode = stat.S_IMODE((tmp_path / "holder.key.pem").stat().st_mode)
    assert mode == 0o600


def test_issued_ticket_names_the_certificate_identity_as_issuer(tmp_path: Path) -> None:
    result = runner.invoke(app, [*_issue(tmp_path), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["issuer"] == "emp-example"
    ticket = json.loads((tmp_path / "ticket.json").read_text())
    assert ticket["scope"] == {"stations": ["cs-00*"], "evses": ["DE*GEF*E*"]}
    assert "signatures" in ticket


def test_replayed_presentation_exits_1_with_verdict_in_json(tmp_path: Path) -> None:
    runner.invoke(app, _issue(tmp_path))
    presentation = _present(tmp_path, _challenge(tmp_path))
    assert _verify(tmp_path, presentation)[0] == 0
    code, output = _verify(tmp_path, presentation, "--json")
    assert code == 1
    assert json.loads(output)["verdict"] == "replayed"


def test_presentation_at_an_evse_out_of_scope_exits_1(tmp_path: Path) -> None:
    runner.invoke(app, _issue(tmp_path, evse="DE*GEF*E9*"))
    presentation = _present(tmp_path, _challenge(tmp_path))
    code, output = _verify(tmp_path, presentation)
    assert code == 1
    assert output.strip() == "out-of-scope: EVSE 'DE*GEF*E0001*1' matches none of ['DE*GEF*E9*']"


def test_issuing_with_a_key_lacking_ticket_issuing_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, _issue(tmp_path, name="csms-operator"))
    assert result.exit_code == 2
    assert "lacks usage ticketIssuing" in result.output


def test_issuing_over_an_existing_holder_key_needs_force(tmp_path: Path) -> None:
    (tmp_path / "holder.key.pem").write_text("keep me")
    result = runner.invoke(app, _issue(tmp_path))
    assert result.exit_code == 2
    assert "exists; give --force" in result.output
    assert (tmp_path / "holder.key.pem").read_text() == "keep me"


def test_verify_of_a_missing_file_exits_2_with_one_line(tmp_path: Path) -> None:
    code, output = _verify(tmp_path, tmp_path / "absent.json")
    assert code == 2
    assert output.strip().splitlines() == [
        f"error: {tmp_path / 'absent.json'}: No such file or directory"
    ]


def test_bad_valid_for_exits_2(tmp_path: Path) -> None:
    args = _issue(tmp_path)
    args[args.index("PT1H")] = "1 hour"
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "--valid-for" in result.output


def test_usage_report_exhausts_energy_for_the_next_session(tmp_path: Path) -> None:
    runner.invoke(app, _issue(tmp_path, "--max-energy-wh", "5000", "--max-sessions", "3"))
    code, output = _verify(tmp_path, _present(tmp_path, _challenge(tmp_path)), "--json")
    assert code == 0
    session = json.loads(output)["sessionId"]
    result = runner.invoke(
        app,
        [
            "usage",
            "--ledger",
            str(tmp_path / "ledger.sqlite"),
            "--session",
            session,
            "--energy-wh",
            "5000",
        ],
    )
    assert result.exit_code == 0, result.output
    code, output = _verify(tmp_path, _present(tmp_path, _challenge(tmp_path)), "--json")
    assert code == 1
    assert json.loads(output)["verdict"] == "energy-exhausted"


def _doc_blocks(language: str) -> list[str]:
    text = (ROOT / "docs" / "tickets.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def test_docs_library_example_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _doc_blocks("python")[0]],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "accepted session 1 of 1 started"


def test_docs_walk_through_runs_with_the_documented_outcomes() -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-e", "-c", "set +e\n" + _doc_blocks("sh")[0]],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    out = result.stdout + result.stderr
    assert '"verdict": "accepted"' in out
    assert "replayed: the challenge was already used at " in out
    assert "exit status: 1" in out
    assert "energy-exhausted: 30000 Wh used of maxEnergyWh 30000" in out
    assert "error: the issuer's certificate lacks usage ticketIssuing (it has: csmsOperator)" in out
