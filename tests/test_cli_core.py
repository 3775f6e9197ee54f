"""CLI core commands: keygen, canonicalize, sign, verify, inspect. Exit 0 when all is good, 1 when
a verification failed, 2 for usage or input errors with a one-line message naming the file and the
problem, and never a traceback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocpp_e2e.cli import app
from ocpp_e2e.keys import generate_private_key, public_key_to_pem, write_private_key

runner = CliRunner()
RESET = '[2, "42", "Reset", {"type": "Immediate"}]'
RESET_RESULT = '[3, "42", {"status": "Accepted"}]'
STATION = "cs-0001"


def run(
    *args: str | Path, input: str | None = None, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args], input=input, env=env)
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result.exit_code, result.stdout, result.stderr


def assert_one_line_error(stderr: str, *fragments: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, stderr)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    """A private key file and a keyring folder holding its public key as ops-1."""
    key = generate_private_key("Ed25519")
    private = tmp_path / "ops.key.pem"
    write_private_key(private, key)
    ring = tmp_path / "ring"
    ring.mkdir()
    (ring / "ops-1.pem").write_bytes(public_key_to_pem(key))
    return private, ring


@pytest.fixture
def frame_file(tmp_path: Path) -> Path:
    path = tmp_path / "reset.json"
    path.write_text(RESET)
    return path


def signed_file(tmp_path: Path, private: Path, frame: Path, *extra: str) -> Path:
    out = tmp_path / "signed.json"
    code, _stdout, stderr = run(
        "sign", frame, "--key", private, "--station", STATION, "--out", out, *extra
    )
    assert code == 0, stderr
    return out


# --------------------------------------------------------------------------- keygen


@pytest.mark.parametrize("alg", ["Ed25519", "ES256", "ES384", "ES512"])
def test_keygen_writes_a_0600_key_and_prints_its_key_id(tmp_path: Path, alg: str) -> None:
    out = tmp_path / "k.pem"
    code, stdout, _ = run(
        "keygen", "--algorithm", alg, "--out", out, "--public-out", tmp_path / "k.pub.pem"
    )
    assert code == 0
    assert stdout.startswith("keyId ") and f"({alg})" in stdout
    assert len(stdout.split()[1]) == 43
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert (tmp_path / "k.pub.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")


def test_keygen_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "k.pem"
    out.write_text("precious")
    code, _, stderr = run("keygen", "--out", out)
    assert code == 2
    assert_one_line_error(stderr, str(out), "exists")
    assert out.read_text() == "precious"
    assert run("keygen", "--out", out, "--force")[0] == 0


def test_keygen_with_a_password_from_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "k.pem"
    code, _, _ = run("keygen", "--out", out, "--password-env", "KEY_PW", env={"KEY_PW": "s3cret"})
    assert code == 0
    assert b"ENCRYPTED PRIVATE KEY" in out.read_bytes()


def test_keygen_with_an_unset_password_variable_is_a_usage_error(tmp_path: Path) -> None:
    code, _, stderr = run(
        "keygen", "--out", tmp_path / "k.pem", "--password-env", "OCPP_E2E_UNSET_PW"
    )
    assert code == 2
    assert_one_line_error(stderr, "OCPP_E2E_UNSET_PW is not set")


def test_keygen_with_an_unknown_algorithm_is_a_usage_error(tmp_path: Path) -> None:
    code, _, stderr = run("keygen", "--out", tmp_path / "k.pem", "--algorithm", "RS256")
    assert code == 2
    assert_one_line_error(stderr, "--algorithm")


# --------------------------------------------------------------------------- canonicalize


def test_canonicalize_stdin_to_stdout() -> None:
    code, stdout, _ = run("canonicalize", "-", input='{"b": 1, "a": [4.2e3, "\\u20ac"]}')
    assert code == 0
    assert stdout == '{"a":[4200,"€"],"b":1}'


def test_canonicalize_file_to_file(tmp_path: Path) -> None:
    src, out = tmp_path / "in.json", tmp_path / "out.json"
    src.write_text('{"z": null, "a": true}')
    assert run("canonicalize", src, "--out", out)[0] == 0
    assert out.read_bytes() == b'{"a":true,"z":null}'


def test_canonicalize_a_file_that_is_not_json(tmp_path: Path) -> None:
    src = tmp_path / "notes.txt"
    src.write_text("hello world")
    code, stdout, stderr = run("canonicalize", src)
    assert code == 2 and stdout == ""
    assert_one_line_error(stderr, str(src), "unexpected character")


def test_canonicalize_refuses_duplicate_members_with_the_path(tmp_path: Path) -> None:
    src = tmp_path / "dup.json"
    src.write_text('{"a": {"b": 1, "b": 2}}')
    code, _, stderr = run("canonicalize", src)
    assert code == 2
    assert_one_line_error(stderr, str(src), "$.a", "duplicate member name")


def test_canonicalize_a_missing_file(tmp_path: Path) -> None:
    code, _, stderr = run("canonicalize", tmp_path / "absent.json")
    assert code == 2
    assert_one_line_error(stderr, "absent.json", "cannot read")


# --------------------------------------------------------------------------- sign and verify


def test_sign_then_verify(tmp_path: Path, keys: tuple[Path, Path], frame_file: Path) -> None:
    private, ring = keys
    signed = signed_file(tmp_path, private, frame_file)
    assert "customData" in signed.read_text()
    code, stdout, _ = run("verify", signed, "--station", STATION, "--keyring", ring)
    assert code == 0
    assert "[0] valid: ops-1" in stdout


def test_sign_to_stdout_and_verify_from_stdin(keys: tuple[Path, Path], frame_file: Path) -> None:
    private, ring = keys
    code, signed, _ = run("sign", frame_file, "--key", private, "--station", STATION)
    assert code == 0 and signed.endswith("\n")
    assert run("verify", "-", "--station", STATION, "--keyring", ring, input=signed)[0] == 0


def test_sign_16_frame_has_top_level_signatures(
    tmp_path: Path, keys: tuple[Path, Path], frame_file: Path
) -> None:
    private, ring = keys
    signed = signed_file(tmp_path, private, frame_file, "--ocpp", "1.6")
    assert "signatures" in json.loads(signed.read_text())[3]
    assert run("verify", signed, "--ocpp", "1.6", "--station", STATION, "--keyring", ring)[0] == 0
    assert run("verify", signed, "--ocpp", "2.0.1", "--station", STATION, "--keyring", ring)[0] == 1


def test_verify_json_output(tmp_path: Path, keys: tuple[Path, Path], frame_file: Path) -> None:
    private, ring = keys
    signed = signed_file(tmp_path, private, frame_file)
    code, stdout, _ = run("verify", signed, "--station", STATION, "--keyring", ring, "--json")
    doc = json.loads(stdout)
    assert code == 0 and doc["ok"] is True and doc["signers"] == ["ops-1"]
    assert doc["signatures"][0]["outcome"] == "valid" and doc["messageId"] == "42"


def test_verify_of_a_tampered_frame_exits_1(
    tmp_path: Path, keys: tuple[Path, Path], frame_file: Path
) -> None:
    private, ring = keys
    signed = signed_file(tmp_path, private, frame_file)
    signed.write_text(signed.read_text().replace("Immediate", "OnIdle"))
    code, stdout, _ = run("verify", signed, "--station", STATION, "--keyring", ring)
    assert code == 1 and "invalid" in stdout


def test_verify_on_another_station_exits_1(
    tmp_path: Path, keys: tuple[Path, Path], frame_file: Path
) -> None:
    private, ring = keys
    signed = signed_file(tmp_path, private, frame_file)
    assert run("verify", signed, "--station", "cs-0002", "--keyring", ring)[0] == 1


def test_verify_without_the_key_exits_1(
    tmp_path: Path, keys: tuple[Path, Path], frame_file: Path
) -> None:
    private, _ring = keys
    signed = signed_file(tmp_path, private, frame_file)
    code, stdout, _ = run("verify", signed, "--station", STATION)
    assert code == 1 and "unknown-key" in stdout


def test_verify_of_an_unsigned_frame_exits_1(frame_file: Path, keys: tuple[Path, Path]) -> None:
    code, stdout, _ = run("verify", frame_file, "--station", STATION, "--keyring", keys[1])
    assert code == 1 and "no signatures" in stdout


def test_verify_later_than_the_freshness_window_exits_1(
    tmp_path: Path, keys: tuple[Path, Path], frame_file: Path
) -> None:
    private, ring = keys
    signed = signed_file(tmp_path, private, frame_file)
    code, stdout, _ = run(
        "verify", signed, "--station", STATION, "--keyring", ring, "--now", "2099-01-01T00:00:00Z"
    )
    assert code == 1 and "expired" in stdout


def test_sign_and_verify_a_response_with_its_call(
    tmp_path: Path, keys: tuple[Path, Path], frame_file: Path
) -> None:
    private, ring = keys
    response = tmp_path / "result.json"
    response.write_text(RESET_RESULT)
    signed = signed_file(tmp_path, private, response, "--call", str(frame_file))
    assert (
        run("verify", signed, "--station", STATION, "--keyring", ring, "--call", frame_file)[0] == 0
    )
    code, stdout, _ = run("verify", signed, "--station", STATION, "--keyring", ring)
    assert code == 1 and "malformed" in stdout and "no pending CALL" in stdout


def test_signing_a_response_without_its_call_is_a_usage_error(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    response = tmp_path / "result.json"
    response.write_text(RESET_RESULT)
    code, _, stderr = run("sign", response, "--key", keys[0], "--station", STATION)
    assert code == 2
    assert_one_line_error(stderr, str(response), "needs the CALL")


def test_destination_and_receiver(
    tmp_path: Path, keys: tuple[Path, Path], frame_file: Path
) -> None:
    private, ring = keys
    signed = signed_file(tmp_path, private, frame_file, "--destination", "cs-0001")
    assert (
        run("verify", signed, "--station", STATION, "--keyring", ring, "--receiver", "cs-0001")[0]
        == 0
    )
    code, stdout, _ = run(
        "verify", signed, "--station", STATION, "--keyring", ring, "--receiver", "cs-0002"
    )
    assert code == 1 and "wrong-destination" in stdout


def test_chained_signature_from_the_cli(
    tmp_path: Path, keys: tuple[Path, Path], frame_file: Path
) -> None:
    private, ring = keys
    relay_key = generate_private_key("ES256")
    relay = tmp_path / "relay.key.pem"
    write_private_key(relay, relay_key)
    (ring / "relay-1.pem").write_bytes(public_key_to_pem(relay_key))
    first = signed_file(tmp_path, private, frame_file)
    second = tmp_path / "relayed.json"
    code, _, stderr = run(
        "sign", first, "--key", relay, "--station", STATION, "--chained", "--out", second
    )
    assert code == 0, stderr
    code, stdout, _ = run("verify", second, "--station", STATION, "--keyring", ring, "--json")
    doc = json.loads(stdout)
    assert (
        code == 0
        and doc["signers"] == ["ops-1", "relay-1"]
        and doc["signatures"][1]["chained"] is True
    )


def test_sign_with_an_encrypted_key_and_its_password(tmp_path: Path, frame_file: Path) -> None:
    key = tmp_path / "enc.pem"
    write_private_key(key, generate_private_key(), b"s3cret")
    code, _, stderr = run(
        "sign",
        frame_file,
        "--key",
        key,
        "--station",
        STATION,
        "--password-env",
        "PW",
        env={"PW": "s3cret"},
    )
    assert code == 0, stderr


def test_sign_with_a_key_from_an_environment_variable(
    tmp_path: Path, keys: tuple[Path, Path], frame_file: Path
) -> None:
    private, ring = keys
    out = tmp_path / "s.json"
    env = {"OPS_KEY": private.read_text()}
    code, _, stderr = run(
        "sign", frame_file, "--key", "envvar:OPS_KEY", "--station", STATION, "--out", out, env=env
    )
    assert code == 0, stderr
    assert run("verify", out, "--station", STATION, "--keyring", ring)[0] == 0


def test_inspect_shows_a_table(tmp_path: Path, keys: tuple[Path, Path], frame_file: Path) -> None:
    private, ring = keys
    signed = signed_file(tmp_path, private, frame_file)
    code, stdout, _ = run("inspect", signed, "--station", STATION, "--keyring", ring)
    assert code == 0
    assert "ops-1" in stdout and "Ed25519" in stdout and "valid" in stdout


def test_inspect_json_and_failure(
    tmp_path: Path, keys: tuple[Path, Path], frame_file: Path
) -> None:
    private, ring = keys
    signed = signed_file(tmp_path, private, frame_file)
    code, stdout, _ = run("inspect", signed, "--station", STATION, "--keyring", ring, "--json")
    assert code == 0 and json.loads(stdout)["signatures"][0]["signer"] == "ops-1"
    code, stdout, _ = run("inspect", signed, "--station", "cs-9", "--keyring", ring)
    assert code == 1 and "invalid" in stdout
    code, stdout, _ = run("inspect", signed, "--station", "cs-9", "--keyring", ring, "--json")
    assert code == 1 and json.loads(stdout)["signatures"][0]["outcome"] == "invalid"


def test_demo_keys_print_a_warning(tmp_path: Path, keys_example: Path, frame_file: Path) -> None:
    code, _, stderr = run(
        "sign", frame_file, "--key", keys_example / "csms-operator.key.pem", "--station", STATION
    )
    assert code == 0
    assert "DEMO keys" in stderr


def test_example_keyring_verifies_a_frame_signed_with_a_demo_key(
    keys_example: Path, frame_file: Path
) -> None:
    code, signed, _ = run(
        "sign", frame_file, "--key", keys_example / "csms-operator.key.pem", "--station", STATION
    )
    assert code == 0
    code, stdout, _ = run(
        "verify",
        "-",
        "--station",
        STATION,
        "--keyring",
        keys_example / "keyring.json",
        input=signed,
    )
    assert code == 0 and "ops-1" in stdout


# --------------------------------------------------------------------------- bad input -> exit 2


def test_frame_file_that_is_not_json(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    bad = tmp_path / "frame.json"
    bad.write_text("this is not JSON")
    commands: list[list[str | Path]] = [
        ["sign", bad, "--key", keys[0]],
        ["verify", bad],
        ["inspect", bad],
    ]
    for command in commands:
        code, _stdout, stderr = run(*command, "--station", STATION)
        assert code == 2, command
        assert_one_line_error(stderr, str(bad))


def test_truncated_frame(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    bad = tmp_path / "cut.json"
    bad.write_text('[2, "42", "Reset", {"type": "Imme')
    commands: list[list[str | Path]] = [["sign", bad, "--key", keys[0]], ["verify", bad]]
    for command in commands:
        code, _, stderr = run(*command, "--station", STATION)
        assert code == 2
        assert_one_line_error(stderr, str(bad), "truncated")


def test_json_that_is_not_a_frame(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    bad = tmp_path / "obj.json"
    bad.write_text('{"type": "Immediate"}')
    code, _, stderr = run("verify", bad, "--station", STATION)
    assert code == 2
    assert_one_line_error(stderr, str(bad), "OCPP-J frame")


def test_frame_that_breaks_spec_limits(tmp_path: Path) -> None:
    bad = tmp_path / "big.json"
    bad.write_text('[2, "1", "DataTransfer", {"vendorId": "x", "data": 9007199254740993}]')
    code, _, stderr = run("verify", bad, "--station", STATION)
    assert code == 2
    assert_one_line_error(stderr, str(bad), "$[3].data", "beyond")


def test_public_key_given_as_signing_key(
    tmp_path: Path, keys: tuple[Path, Path], frame_file: Path
) -> None:
    public = keys[1] / "ops-1.pem"
    code, _, stderr = run("sign", frame_file, "--key", public, "--station", STATION)
    assert code == 2
    assert_one_line_error(stderr, str(public), "not a private key")


def test_certificate_given_as_signing_key(keys_example: Path, frame_file: Path) -> None:
    cert = keys_example / "csms-operator.crt.pem"
    code, _, stderr = run("sign", frame_file, "--key", cert, "--station", STATION)
    assert code == 2
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1 and str(cert) in lines[0] and "not a private key" in lines[0]
    assert "Traceback" not in stderr


def test_missing_key_file(tmp_path: Path, frame_file: Path) -> None:
    code, _, stderr = run("sign", frame_file, "--key", tmp_path / "nope.pem", "--station", STATION)
    assert code == 2
    assert_one_line_error(stderr, "nope.pem", "cannot read")


def test_wrong_password_from_the_environment(tmp_path: Path, frame_file: Path) -> None:
    key = tmp_path / "enc.pem"
    write_private_key(key, generate_private_key(), b"s3cret")
    code, _, stderr = run(
        "sign",
        frame_file,
        "--key",
        key,
        "--station",
        STATION,
        "--password-env",
        "PW",
        env={"PW": "wrong"},
    )
    assert code == 2
    assert_one_line_error(stderr, str(key), "wrong password")


def test_encrypted_key_without_a_password(tmp_path: Path, frame_file: Path) -> None:
    key = tmp_path / "enc.pem"
    write_private_key(key, generate_private_key(), b"s3cret")
    code, _, stderr = run("sign", frame_file, "--key", key, "--station", STATION)
    assert code == 2
    assert_one_line_error(stderr, str(key), "give its password")


def test_broken_keyring_file(tmp_path: Path, frame_file: Path) -> None:
    ring = tmp_path / "ring.json"
    ring.write_text('{"keys": [{"publicKey": "AAAA"}')
    code, _, stderr = run("verify", frame_file, "--station", STATION, "--keyring", ring)
    assert code == 2
    assert_one_line_error(stderr, str(ring), "not a keyring")


def test_private_key_in_a_keyring_folder(
    tmp_path: Path, keys: tuple[Path, Path], frame_file: Path
) -> None:
    private, ring = keys
    (ring / "oops.pem").write_bytes(private.read_bytes())
    code, _, stderr = run("verify", frame_file, "--station", STATION, "--keyring", ring)
    assert code == 2
    assert_one_line_error(stderr, "oops.pem", "private key")


def test_missing_frame_file(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    code, _, stderr = run("verify", tmp_path / "absent.json", "--station", STATION)
    assert code == 2
    assert_one_line_error(stderr, "absent.json", "cannot read")


def test_call_file_that_is_not_a_call(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    response = tmp_path / "result.json"
    response.write_text(RESET_RESULT)
    bad_call = tmp_path / "call.json"
    bad_call.write_text("[2, ")
    code, _, stderr = run("verify", response, "--station", STATION, "--call", bad_call)
    assert code == 2
    assert_one_line_error(stderr, str(bad_call), "truncated")


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [("--ocpp", "3.0", "--ocpp 3.0: unknown OCPP version"), ("--now", "yesterday", "--now")],
)
def test_bad_option_values(frame_file: Path, option: str, value: str, fragment: str) -> None:
    code, _, stderr = run("verify", frame_file, "--station", STATION, option, value)
    assert code == 2
    assert_one_line_error(stderr, fragment)


@pytest.mark.parametrize("command", ["keygen", "canonicalize", "sign", "verify", "inspect"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    code, stdout, _ = run(command, "--help")
    assert code == 0 and "Example" in stdout


def test_installed_entry_point_reports_bad_input_without_a_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "ocpp-e2e"
    if not exe.exists():
        pytest.skip("ocpp-e2e is not installed in this environment")
    bad = tmp_path / "frame.json"
    bad.write_text('[2, "1", "Heartbeat", {"a": 1, "a": 2}]')
    proc = subprocess.run(
        [str(exe), "verify", str(bad), "--station", STATION],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr, str(bad), "duplicate member name")
