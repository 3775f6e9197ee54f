"""Logic that used to stand in two places now stands in one (issue 13): where the copies
disagreed, these tests show the case and the answer the one copy gives."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocpp_e2e._schema import json_path
from ocpp_e2e.cli import app
from ocpp_e2e.errors import InputError, KeyLoadError
from ocpp_e2e.esp import EspKeyring, EspPrivateKey, EspReceiver, generate_esp_key
from ocpp_e2e.esp.frames import EncryptionError
from ocpp_e2e.esp.structures import open_structure, seal_structure
from ocpp_e2e.gateway import GatewayConfigError, load_config
from ocpp_e2e.gateway.config import DEFAULT_SUBPROTOCOLS, StationGroup, schema
from ocpp_e2e.keys import Keyring
from ocpp_e2e.meter.trust import MeterKeyring
from ocpp_e2e.policy import check_document
from ocpp_e2e.replay import MemoryReplayCache
from ocpp_e2e.versions import VERSIONS, profile

KEYS = Path(__file__).resolve().parent.parent / "keys-example"
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


# --------------------------------------------------------------------------- keyrings


def test_a_keyring_file_with_a_member_besides_keys_is_refused() -> None:
    # The frame keyring's copy accepted {"keys": [...], "x": 1}; the ESP keyring's refused it.
    with pytest.raises(KeyLoadError, match=r'^k\.json: a keyring file is a JSON object \{"keys"'):
        Keyring.parse(b'{"keys": [], "comment": "x"}', source="k.json")


def test_a_meter_keyring_with_a_duplicate_member_is_refused(tmp_path: Path) -> None:
    # The meter keyring's copy read JSON loosely: the second "keys" silently won.
    path = tmp_path / "meters.json"
    path.write_text('{"keys": [], "keys": []}')
    with pytest.raises(KeyLoadError, match=r"meters\.json: not a meter keyring .*duplicate"):
        MeterKeyring.load(path)


def test_a_meter_keyring_with_a_member_besides_keys_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "meters.json"
    path.write_text('{"keys": [], "comment": "x"}')
    with pytest.raises(KeyLoadError, match=r'a meter keyring file is a JSON object \{"keys"'):
        MeterKeyring.load(path)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (["x"], r"^r: keys\[0\]: expected an object$"),
        ([{"publicKey": 1}], r"^r: keys\[0\]\.publicKey: required, "),
        ([{"publicKey": "x", "name": 7}], r"^r: keys\[0\]\.name: must be a string$"),
        ([{"publicKey": "x", "colour": "red"}], r"^r: keys\[0\]: unknown member\(s\) colour$"),
    ],
)
def test_every_keyring_reads_its_entries_with_the_same_checks(
    entries: list[object], message: str
) -> None:
    for reader in (Keyring.from_entries, EspKeyring.from_entries, MeterKeyring.from_entries):
        with pytest.raises(KeyLoadError, match=message):
            reader(entries, source="r")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- ESP structures

NOW = datetime(2026, 12, 7, 22, 40, tzinfo=UTC)


def _sealed(**changes: object) -> tuple[dict[str, object], EspPrivateKey]:
    key = generate_esp_key()
    env = seal_structure(b'{"type":"TicketPresentation"}', type_="TicketPresentation",
                         station="CS-1", recipient=key.public, now=NOW)  # fmt: skip
    return env | changes, key


def _open(env: dict[str, object], receiver: EspReceiver) -> tuple[str, str]:
    opened = open_structure(env, receiver, type_="TicketPresentation", station="cs-1", now=NOW)
    return opened.outcome.value, opened.reason


def test_a_structure_replayed_is_refused_as_a_frame_is() -> None:
    env, key = _sealed()
    receiver = EspReceiver([key], replay_cache=MemoryReplayCache())
    assert _open(env, receiver)[0] == "decrypted"
    assert _open(env, receiver) == (
        "replayed",
        "this envelope was received before (same encapsulated key)",
    )


def test_a_structure_in_a_suite_not_accepted_names_the_accepted_ones() -> None:
    env, key = _sealed()
    outcome, reason = _open(env, EspReceiver([key], suites=["X25519-SHA256-CHACHA20POLY1305"]))
    assert outcome == "unsupported-suite"
    assert reason == (
        f"suite {env['suite']!r} is not accepted here (accepted: X25519-SHA256-CHACHA20POLY1305)"
    )


def test_a_structure_whose_ct_is_not_base64url_says_so() -> None:
    env, key = _sealed(ct="not base64!")
    outcome, reason = _open(env, EspReceiver([key]))
    assert outcome == "malformed"
    assert reason.startswith("ct is not base64url (")


def test_a_structure_for_another_key_is_for_the_wrong_recipient() -> None:
    env, _key = _sealed()
    outcome, reason = _open(env, EspReceiver([generate_esp_key()]))
    assert outcome == "wrong-recipient"
    assert (
        reason == f"the envelope is for key {env['recipient']}, which this receiver does not hold"
    )


# --------------------------------------------------------------------------- CLI helpers


def test_keygen_refuses_an_empty_password_rather_than_writing_the_key_unencrypted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # keygen's copy took "" as a password and wrote the key in the clear; the PKI's refused it.
    monkeypatch.setenv("OCPP_E2E_TEST_EMPTY", "")
    out = tmp_path / "k.pem"
    result = CliRunner().invoke(
        app, ["keygen", "--out", str(out), "--password-env", "OCPP_E2E_TEST_EMPTY"]
    )
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "error: --password-env: environment variable OCPP_E2E_TEST_EMPTY is not set or empty\n"
    )
    assert not out.exists()


def test_the_pki_names_the_option_of_a_missing_ca_password(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["pki", "issue", "leaf", "--ca", str(KEYS / "operations-ca.crt.pem"), "--identity", "x",
         "--usage", "csmsOperator", "--out", str(tmp_path),
         "--ca-password-env", "OCPP_E2E_TEST_UNSET"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "error: --ca-password-env: environment variable OCPP_E2E_TEST_UNSET is not set or empty\n"
    )


def test_a_ticket_that_is_not_json_is_named_in_the_error(tmp_path: Path) -> None:
    # ticket's copy of the JSON reader did not name the file; the tariff commands' did.
    ticket = tmp_path / "ticket.json"
    ticket.write_text("{nope")
    result = CliRunner().invoke(
        app,
        ["ticket", "present", "--ticket", str(ticket), "--holder-key", str(KEYS / "station-1.key.pem"),
         "--challenge", "c", "--station", "cs-1", "--evse-id", "e"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"error: {ticket}: $ (line 1, column 2): expected a member name in double quotes"
    )


# --------------------------------------------------------------------------- registries


def test_an_unsupported_key_names_the_algorithms_of_the_table() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from ocpp_e2e.algorithms import algorithm_of

    with pytest.raises(KeyLoadError) as caught:
        algorithm_of(ec.generate_private_key(ec.SECP256K1()))
    assert str(caught.value) == (
        "unsupported curve secp256k1 (use a key of Ed25519, ES256, ES384, ES512, ML-DSA-65)"
    )


def test_the_pkcs11_row_loads_its_module_on_first_use_and_refuses_a_password() -> None:
    from ocpp_e2e.keys import load_signer

    with pytest.raises(KeyLoadError, match=r"^pkcs11: a token key has a PIN, not a password"):
        load_signer("pkcs11:token=t;object=k", b"secret")


# --------------------------------------------------------------------------- front modules


@pytest.mark.parametrize(
    ("module", "name"),
    [("ocpp_e2e", "Verifier"), ("ocpp_e2e.audit", "audit_logs"),
     ("ocpp_e2e.integrations", "subprotocol_for")],
)  # fmt: skip
def test_a_front_module_loads_a_name_once_and_keeps_it(module: str, name: str) -> None:
    # The package kept a loaded name; audit and integrations imported it again on every use.
    import importlib

    front = importlib.import_module(module)
    value = getattr(front, name)
    assert front.__dict__[name] is value
    with pytest.raises(AttributeError, match=f"^module '{module}' has no attribute 'nope'$"):
        front.nope
