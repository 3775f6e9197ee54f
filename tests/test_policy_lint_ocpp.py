"""Issue #12: `policy lint` checks actions, kinds and `where` paths against the OCPP JSON schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocpp_e2e.cli import app
from ocpp_e2e.policy import lint_policy_text

ROOT = Path(__file__).resolve().parent.parent

GRID = """type: SignaturePolicy
id: grid
version: 1
maxSignatureAge: PT5M
roles:
  grid-operator: {usage: gridOperator}
rules:
  - id: grid-limit
    effect: permit
    match: {actions: [SetChargingProfile], kinds: [request]}
    signers: {roles: [grid-operator]}
  - id: no-more-than-50-kw
    effect: forbid
    match: {actions: [SetChargingProfile]}
    where:
      - {path: "chargingProfile.chargingSchedule[*].chargingSchedulePeriods[*].limit", op: gt, value: 50000}
"""


def messages(text: str, *versions: str) -> list[str]:
    _doc, problems = lint_policy_text(text, fmt="yaml", source="p.yaml", ocpp=versions)
    return [str(p) for p in problems]


def test_a_typo_in_a_where_path_is_an_error_naming_the_closest_valid_spelling() -> None:
    assert messages(GRID, "2.0.1") == [
        "p.yaml:16: $.rules[1].where[0].path: path "
        "chargingProfile.chargingSchedule[*].chargingSchedulePeriods[*].limit: no member "
        "chargingSchedulePeriods in chargingProfile.chargingSchedule[*] of SetChargingProfile "
        "request (OCPP 2.0.1); did you mean chargingSchedulePeriod? (nor in any other message "
        "the rule matches)"
    ]


def test_the_corrected_path_lints_clean() -> None:
    fixed = GRID.replace("chargingSchedulePeriods", "chargingSchedulePeriod")
    assert messages(fixed, "1.6", "2.0.1", "2.1") == []


def test_an_unknown_action_names_the_closest_action() -> None:
    text = GRID.replace(
        "actions: [SetChargingProfile], kinds", "actions: [SetChargingProfil], kinds"
    )
    assert messages(text, "2.0.1")[0] == (
        "p.yaml:10: $.rules[0].match.actions[0]: SetChargingProfil is not an action of OCPP "
        "2.0.1; did you mean SetChargingProfile?"
    )


def test_paths_are_checked_against_the_versions_in_use() -> None:
    v16 = GRID.replace(
        "chargingProfile.chargingSchedule[*].chargingSchedulePeriods[*].limit",
        "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[*].limit",
    )
    assert messages(v16, "1.6") == []
    (problem,) = messages(v16, "2.0.1")
    assert "no member csChargingProfiles of SetChargingProfile request (OCPP 2.0.1)" in problem


def test_a_2_1_kind_is_an_error_when_2_1_is_not_in_use() -> None:
    text = GRID.replace("kinds: [request]", "kinds: [send]")
    assert messages(text, "2.0.1")[0] == (
        "p.yaml:10: $.rules[0].match.kinds[0]: kind send exists only in OCPP 2.1 (in use: 2.0.1)"
    )


def test_a_star_on_a_member_that_is_not_an_array_is_an_error() -> None:
    text = GRID.replace(
        "chargingProfile.chargingSchedule[*].chargingSchedulePeriods[*].limit",
        "chargingProfile[*].id",
    )
    (problem,) = messages(text, "2.0.1")
    assert "chargingProfile is a object, not an array" not in problem
    assert "chargingProfile is not an array" in problem


def test_every_shipped_policy_lints_clean_against_every_ocpp_version() -> None:
    files = sorted((ROOT / "policies").glob("*.yaml")) + sorted(
        (ROOT / "examples").rglob("*policy*.yaml")
    )
    assert files
    for path in files:
        assert messages(path.read_text(), "1.6", "2.0.1", "2.1") == [], path


def test_cli_lint_exits_1_and_prints_the_problem(tmp_path: Path) -> None:
    policy = tmp_path / "grid.yaml"
    policy.write_text(GRID)
    result = CliRunner().invoke(app, ["policy", "lint", str(policy), "--ocpp", "2.0.1"])
    assert result.exit_code == 1
    assert "did you mean chargingSchedulePeriod?" in result.output


def test_cli_lint_refuses_an_unknown_ocpp_version(tmp_path: Path) -> None:
    policy = tmp_path / "grid.yaml"
    policy.write_text(GRID)
    result = CliRunner().invoke(app, ["policy", "lint", str(policy), "--ocpp", "3.0"])
    assert result.exit_code == 2
    assert "--ocpp 3.0: unknown OCPP version" in result.output


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
def test_the_schemas_of_each_version_are_found(version: str) -> None:
    from ocpp_e2e.policy.ocpp_schemas import schemas

    assert ("Heartbeat", "request") in schemas(version)
    assert ("Heartbeat", "response") in schemas(version)
