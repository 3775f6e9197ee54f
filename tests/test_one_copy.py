"""Logic that used to stand in two places now stands in one (issue 13): where the copies
disagreed, these tests show the case and the answer the one copy gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocpp_e2e._schema import json_path
from ocpp_e2e.cli import app
from ocpp_e2e.errors import InputError
from ocpp_e2e.esp.frames import EncryptionError
from ocpp_e2e.gateway import GatewayConfigError, load_config
from ocpp_e2e.gateway.config import DEFAULT_SUBPROTOCOLS, StationGroup, schema
from ocpp_e2e.policy import check_document
from ocpp_e2e.versions import VERSIONS, profile

POLICY = str(Path(__file__).resolve().parent.parent / "policies" / "grid-14a-enwg.yaml")
GATEWAY = """\
listen: {{port: 9000}}
upstream: {{url: "ws://127.0.0.1:1/ocpp"}}
stations:
  - {{group: a, identities: ["CS-*"]}}
{extra}"""


def _gateway_problems(tmp_path: Path, extra: str) -> tuple[Path, tuple[str, ...]]:
    path = tmp_path / "gw.yaml"
    path.write_text(GATEWAY.format(extra=extra))
    with pytest.raises(GatewayConfigError) as caught:
        load_config(path)
    return path, caught.value.problems


# --------------------------------------------------------------------------- JSON Schema problems


def test_a_member_name_that_is_no_identifier_is_quoted_in_its_json_path() -> None:
    assert json_path(["rules", 0, "signers"]) == "$.rules[0].signers"
    assert json_path(["odd key", "it's"]) == "$['odd key']['it\\'s']"


def test_the_gateway_names_the_line_of_an_unknown_member_whose_name_has_a_space(
    tmp_path: Path,
) -> None:
    # The gateway's own copy wrote "$.odd key", a path its YAML line table does not hold, so the
    # problem was placed on line 1; the policy linter's quoting finds line 5.
    path, problems = _gateway_problems(tmp_path, "odd key: 1\n")
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:5: $['odd key']: unknown member 'odd key' (known: ")


def test_the_gateway_says_an_empty_list_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(GATEWAY.format(extra="").replace('["CS-*"]', "[]"))
    with pytest.raises(GatewayConfigError) as caught:
        load_config(path)
    assert caught.value.problems == (
        f"{path}:4: $.stations[0].identities: must not be an empty list",
    )


def test_a_policy_value_outside_an_enum_lists_the_choices_plainly() -> None:
    doc = {"type": "SignaturePolicy", "id": "p", "version": 1, "rules": [], "mode": "strict"}
    problems = check_document(doc)
    assert [(p.path, p.message) for p in problems] == [
        ("$.mode", "'strict' is not one of enforce, audit")
    ]


# --------------------------------------------------------------------------- versions


def test_the_gateway_offers_every_versions_subprotocol_newest_first() -> None:
    assert DEFAULT_SUBPROTOCOLS == ("ocpp2.1", "ocpp2.0.1", "ocpp1.6")
    assert tuple(p.subprotocol for p in VERSIONS.values())[::-1] == DEFAULT_SUBPROTOCOLS


def test_the_gateway_schema_accepts_exactly_the_versions_subprotocols() -> None:
    enum = schema()["properties"]["subprotocols"]["items"]["enum"]
    assert enum == [p.subprotocol for p in VERSIONS.values()]


def test_the_gateway_refuses_a_subprotocol_of_no_known_version(tmp_path: Path) -> None:
    path, problems = _gateway_problems(tmp_path, "subprotocols: [ocpp2.0.1, ocpp1.5]\n")
    assert problems == (
        f"{path}:5: $.subprotocols[1]: 'ocpp1.5' is not one of ocpp1.6, ocpp2.0.1, ocpp2.1",
    )


def test_an_unknown_version_is_refused_with_the_callers_error_type() -> None:
    with pytest.raises(InputError, match=r"^unknown OCPP version '3\.0'; expected one of 1\.6, "):
        profile("3.0")
    with pytest.raises(EncryptionError, match=r"^unknown OCPP version '3\.0'; expected one of"):
        profile("3.0", error=EncryptionError)


@pytest.mark.parametrize(
    "args",
    [
        ["verify", "--station", "cs-1", "--ocpp", "3.0", "-"],
        ["audit", "--policy", POLICY, "--ocpp", "3.0", "-"],
        ["meter", "verify", "--ocpp", "3.0", "-"],
        ["policy", "lint", "--ocpp", "3.0", "-"],
        ["policy", "check", "--policy", POLICY, "--station", "cs-1", "--ocpp", "3.0", "-"],
        [
            "decrypt",
            "--station",
            "cs-1",
            "--direction",
            "toCSMS",
            "--ocpp",
            "3.0",
            "--key",
            "k.pem",
            "-",
        ],
    ],
)
def test_every_command_refuses_an_unknown_ocpp_version_in_the_same_words(args: list[str]) -> None:
    result = CliRunner().invoke(app, args, input="")
    assert result.exit_code == 2, result.output
    assert "error: --ocpp 3.0: unknown OCPP version; expected one of 1.6, 2.0.1, 2.1" in (
        result.output
    )


# --------------------------------------------------------------------------- identities


@pytest.mark.parametrize(
    ("identity", "matches"),
    [("CS-1", True), ("cs-77", True), ("XCS-1", False), ("cs*-1", True), ("CSX-1", False)],
)
def test_a_gateway_station_group_matches_identities_as_the_spec_does(
    identity: str, matches: bool
) -> None:
    group = StationGroup("g", ("CS-*", "CS*-1"), {})
    assert group.matches(identity) is matches
