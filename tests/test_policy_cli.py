"""``ocpp-e2e policy``: lint, check, explain, sign, upgrade; exit codes 0, 1 and 2."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from test_policy_support import DATA, KEYS_EXAMPLE, NOW, POLICIES, example_signer
from typer.testing import CliRunner

from ocpp_e2e.cli import app
from ocpp_e2e.sign import sign_frame

runner = CliRunner()
GRID = str(POLICIES / "grid-14a-enwg.yaml")
QUORUM = POLICIES / "policy-admin-quorum.yaml"
WHEN = "2027-03-01T12:00:00Z"


def grid_frame(limits: list[int], signer: str = "grid-operator") -> str:
    periods = [{"startPeriod": 900 * i, "limit": v} for i, v in enumerate(limits)]
    payload = {
        "evseId": 0,
        "chargingProfile": {
            "id": 100,
            "stackLevel": 0,
            "chargingProfilePurpose": "ChargingStationExternalConstraints",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [
                {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": periods}
            ],
        },
    }
    return sign_frame(
        [2, "p1", "SetChargingProfile", payload],
        example_signer(signer),
        ocpp="2.0.1",
        station="cs-0001",
        timestamp=NOW - timedelta(seconds=10),
    )


def test_lint_ok_exits_0() -> None:
    result = runner.invoke(app, ["policy", "lint", GRID])
    assert (result.exit_code, result.stdout) == (0, f"{GRID}: ok\n")


def test_lint_lists_every_problem_and_exits_1() -> None:
    result = runner.invoke(app, ["policy", "lint", str(DATA / "broken.yaml")])
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 4
    assert (
        f"{DATA / 'broken.yaml'}:12: $.rules[0].signers.threshold: threshold must be at least 1, not 0"
        in result.output
    )


def test_lint_json_output() -> None:
    result = runner.invoke(app, ["policy", "lint", "--json", str(DATA / "broken.yaml")])
    report = json.loads(result.stdout)
    assert report[str(DATA / "broken.yaml")][0] == {
        "path": "$.default",
        "line": 7,
        "message": "default: permit is allowed only with mode: audit",
    }


def test_lint_missing_file_exits_2() -> None:
    result = runner.invoke(app, ["policy", "lint", "nope.yaml"])
    assert result.exit_code == 2 and "cannot read policy file" in result.output


def test_check_prints_a_decision_per_frame(tmp_path: Path) -> None:
    frames = tmp_path / "frames.jsonl"
    frames.write_text(
        grid_frame([11000, 4200]) + "\n" + json.dumps([2, "h", "Heartbeat", {}]) + "\n"
    )
    result = runner.invoke(
        app,
        ["policy", "check", "--policy", GRID, "--station", "cs-0001", "--now", WHEN, str(frames)],
    )
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{frames}:1: PERMIT — permitted by rule grid-limit-watts; signers: dso-example [grid-operator]",
        f"{frames}:2: DENY — no rule permits Heartbeat request; default deny; signers: none",
    ]


def test_check_exits_0_when_every_frame_passes(tmp_path: Path) -> None:
    frame = tmp_path / "f.json"
    frame.write_text(grid_frame([5000]))
    result = runner.invoke(
        app,
        ["policy", "check", "--policy", GRID, "--station", "cs-0001", "--now", WHEN, str(frame)],
    )
    assert result.exit_code == 0, result.output


def test_check_json(tmp_path: Path) -> None:
    frame = tmp_path / "f.json"
    frame.write_text(grid_frame([3000]))
    result = runner.invoke(
        app,
        [
            "policy",
            "check",
            "--json",
            "--policy",
            GRID,
            "--station",
            "cs-0001",
            "--now",
            WHEN,
            str(frame),
        ],
    )
    out = json.loads(result.stdout)
    assert (out[0]["effect"], out[0]["allowed"], out[0]["frame"]) == ("deny", False, str(frame))


def test_check_with_a_broken_frame_exits_2(tmp_path: Path) -> None:
    frame = tmp_path / "f.json"
    frame.write_text('[2, "x"]')
    result = runner.invoke(
        app, ["policy", "check", "--policy", GRID, "--station", "cs-0001", str(frame)]
    )
    assert result.exit_code == 2 and result.stderr.splitlines()[-1].startswith("error: ")


def test_check_with_a_broken_policy_exits_2(tmp_path: Path) -> None:
    frame = tmp_path / "f.json"
    frame.write_text(grid_frame([5000]))
    result = runner.invoke(
        app,
        [
            "policy",
            "check",
            "--policy",
            str(DATA / "broken.yaml"),
            "--station",
            "cs-0001",
            str(frame),
        ],
    )
    assert result.exit_code == 2
    assert "(and 3 more; run policy lint)" in result.output


def test_explain_of_a_denied_grid_limit(tmp_path: Path) -> None:
    frame = tmp_path / "f.json"
    frame.write_text(grid_frame([11000, 7400, 3700]))
    result = runner.invoke(
        app,
        ["policy", "explain", "--policy", GRID, "--station", "cs-0001", "--now", WHEN, str(frame)],
    )
    assert result.exit_code == 1
    assert (
        "Decision: DENY — no rule permits SetChargingProfile request; default deny" in result.output
    )
    assert (
        "grid-limit-watts (permit) does not apply\n"
        "      because limit 3700 < 4200 at chargingProfile.chargingSchedule[0].chargingSchedulePeriod[2].limit"
    ) in result.output


def test_sign_then_upgrade_accepts_two_admins(tmp_path: Path) -> None:
    new = tmp_path / "v2.yaml"
    new.write_text(QUORUM.read_text().replace("version: 1", "version: 2"))
    signed = tmp_path / "v2.signed.json"
    result = runner.invoke(
        app,
        [
            "policy",
            "sign",
            str(new),
            "-o",
            str(signed),
            "--key",
            str(KEYS_EXAMPLE / "policy-admin-1.key.pem"),
            "--certificates",
            str(KEYS_EXAMPLE / "policy-admin-1.chain.pem"),
            "--key",
            str(KEYS_EXAMPLE / "policy-admin-2.key.pem"),
            "--certificates",
            str(KEYS_EXAMPLE / "policy-admin-2.chain.pem"),
        ],
    )
    assert result.exit_code == 0, result.output
    installed = tmp_path / "active.json"
    installed.write_text(json.dumps(json.loads(signed.read_text()) | {"version": 1}))
    result = runner.invoke(
        app, ["policy", "upgrade", "--installed", str(installed), "--write", str(signed)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "accepted: policy-admin-quorum v1 -> v2 signed by policy-admin-1"
    )
    assert json.loads(installed.read_text())["version"] == 2


def test_upgrade_with_one_admin_is_refused_with_exit_1(tmp_path: Path) -> None:
    new = tmp_path / "v2.yaml"
    new.write_text(QUORUM.read_text().replace("version: 1", "version: 2"))
    signed = tmp_path / "v2.signed.json"
    runner.invoke(
        app,
        [
            "policy",
            "sign",
            str(new),
            "-o",
            str(signed),
            "--key",
            str(KEYS_EXAMPLE / "policy-admin-1.key.pem"),
            "--certificates",
            str(KEYS_EXAMPLE / "policy-admin-1.chain.pem"),
        ],
    )
    result = runner.invoke(app, ["policy", "upgrade", "--installed", str(QUORUM), str(signed)])
    assert result.exit_code == 1
    assert result.stdout.startswith("refused: the signatures do not satisfy the installed admins")


def test_sign_needs_one_chain_per_key() -> None:
    result = runner.invoke(
        app, ["policy", "sign", str(QUORUM), "--key", "a.pem", "--key", "b.pem", "--certificates", "c.pem"]
    )
    assert result.exit_code == 2 and "give one --certificates per --key" in result.output


def test_every_command_has_help_with_an_example() -> None:
    for command in ("lint", "check", "explain", "sign", "upgrade"):
        result = runner.invoke(app, ["policy", command, "--help"])
        assert result.exit_code == 0 and "Example: ocpp-e2e policy" in result.output, command
