"""``ocpp-e2e keygen -a X25519``, ``encrypt`` and ``decrypt``: exit 0 on success, 1 with the outcome
when an envelope is refused, 2 with a one-line error for usage and input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocpp_e2e.cli import app

runner = CliRunner()
CALL = '[2,"42","Reset",{"type":"Immediate"}]'


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    """Station key (X25519), CSMS key (hybrid), a reply keyring folder and a CALL file."""
    assert (
        run(
            "keygen",
            "-a",
            "X25519",
            "-o",
            tmp_path / "st.pem",
            "--public-out",
            tmp_path / "st.pub.pem",
        )[0]
        == 0
    )
    code, out, _ = run(
        "keygen",
        "-a",
        "ML-KEM-768+X25519",
        "-o",
        tmp_path / "cs.pem",
        "--public-out",
        tmp_path / "cs.pub.pem",
    )
    assert code == 0 and "ESP recipient key" in out
    (tmp_path / "ring").mkdir()
    (tmp_path / "ring" / "csms.pem").write_bytes((tmp_path / "cs.pub.pem").read_bytes())
    (tmp_path / "call.json").write_text(CALL)
    code, _, err = run(
        "encrypt",
        tmp_path / "call.json",
        "--station",
        "CS-1",
        "--direction",
        "toStation",
        "--to",
        tmp_path / "st.pub.pem",
        "--reply-to",
        tmp_path / "cs.pub.pem",
        "-o",
        tmp_path / "outer.json",
    )
    assert code == 0, err
    return tmp_path


def test_encrypt_then_decrypt_gives_the_frame_back(setup: Path) -> None:
    code, out, _ = run(
        "decrypt",
        setup / "outer.json",
        "--station",
        "cs-1",
        "--direction",
        "toStation",
        "--key",
        setup / "st.pem",
        "--reply-keyring",
        setup / "ring",
    )
    assert (code, out) == (0, CALL + "\n")


def test_the_answer_round_trip_through_the_cli(setup: Path) -> None:
    (setup / "res.json").write_text('[3,"42",{"status":"Accepted"}]')
    code, _, err = run(
        "encrypt",
        setup / "res.json",
        "--station",
        "cs-1",
        "--direction",
        "toCSMS",
        "--answering",
        setup / "outer.json",
        "--key",
        setup / "st.pem",
        "--reply-keyring",
        setup / "ring",
        "-o",
        setup / "answer.json",
    )
    assert code == 0, err
    code, out, err = run(
        "decrypt",
        setup / "answer.json",
        "--station",
        "cs-1",
        "--direction",
        "toCSMS",
        "--key",
        setup / "cs.pem",
        "--request",
        setup / "outer.json",
        "--call",
        setup / "call.json",
    )
    assert (code, out) == (0, '[3,"42",{"status":"Accepted"}]\n'), err


def test_a_refused_envelope_exits_1_naming_the_outcome(setup: Path) -> None:
    code, out, err = run(
        "decrypt",
        setup / "outer.json",
        "--station",
        "cs-2",
        "--direction",
        "toStation",
        "--key",
        setup / "st.pem",
        "--reply-keyring",
        setup / "ring",
    )
    assert code == 1 and out == ""
    assert err.startswith("refused: undecryptable: ")


def test_decrypt_json_reports_the_outcome(setup: Path) -> None:
    code, out, _ = run(
        "decrypt",
        setup / "outer.json",
        "--station",
        "cs-1",
        "--direction",
        "toStation",
        "--key",
        setup / "cs.pem",
        "--json",
    )
    assert code == 1
    assert json.loads(out)["outcome"] == "wrong-recipient"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--direction", "sideways"], "--direction must be"),
        (["--ocpp", "3.0"], "--ocpp 3.0: unknown OCPP version"),
        (["--suite", "nope"], "unknown suite"),
    ],
)
def test_encrypt_usage_errors_are_one_line(setup: Path, args: list[str], fragment: str) -> None:
    base = [
        "encrypt",
        setup / "call.json",
        "--station",
        "cs-1",
        "--direction",
        "toStation",
        "--to",
        setup / "st.pub.pem",
        "--reply-to",
        setup / "cs.pub.pem",
    ]
    # later options win in typer: the override comes last
    code, _, err = run(*base, *args)
    assert code == 2
    assert err.startswith("error: ") and fragment in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_encrypt_to_a_signing_key_is_an_input_error(setup: Path, tmp_path: Path) -> None:
    run(
        "keygen",
        "-a",
        "Ed25519",
        "-o",
        tmp_path / "sig.pem",
        "--public-out",
        tmp_path / "sig.pub.pem",
    )
    code, _, err = run(
        "encrypt",
        setup / "call.json",
        "--station",
        "cs-1",
        "--direction",
        "toStation",
        "--to",
        tmp_path / "sig.pub.pem",
        "--reply-to",
        setup / "cs.pub.pem",
    )
    assert code == 2 and "not an ESP recipient key" in err


def test_decrypt_needs_both_request_and_call_for_an_answer(setup: Path) -> None:
    code, _, err = run(
        "decrypt",
        setup / "outer.json",
        "--station",
        "cs-1",
        "--direction",
        "toCSMS",
        "--key",
        setup / "cs.pem",
        "--request",
        setup / "outer.json",
    )
    assert code == 2 and "--call" in err


def test_a_hybrid_key_with_a_password_is_refused_at_keygen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PW", "secret")
    code, _, err = run(
        "keygen", "-a", "ML-KEM-768+X25519", "-o", tmp_path / "k.pem", "--password-env", "PW"
    )
    assert code == 2 and "cannot be password-encrypted" in err


def test_a_certified_station_key_through_the_cli(tmp_path: Path) -> None:
    """A CA certifies the station's X25519 key; the CSMS trusts the root, not a keyring."""
    d = tmp_path
    assert (
        run("pki", "init-root", "root", "--key-type", "ES256", "--days", "30", "--out", d)[0] == 0
    )
    code, _, err = run(
        "pki",
        "issue-ca",
        "esp-ca",
        "--ca",
        d / "root.crt.pem",
        "--key-agreement",
        "--days",
        "20",
        "--out",
        d,
    )
    assert code == 0, err
    code, _, err = run(
        "pki",
        "issue-key-agreement",
        "cs-1",
        "--ca",
        d / "esp-ca.crt.pem",
        "--identity",
        "cs-1",
        "--days",
        "10",
        "--out",
        d,
    )
    assert code == 0, err
    assert "usages:   keyAgreement" in run("pki", "show", d / "cs-1.crt.pem")[1]
    run(
        "keygen",
        "-a",
        "ML-KEM-768+X25519",
        "-o",
        d / "csms.pem",
        "--public-out",
        d / "csms.pub.pem",
    )
    (d / "call.json").write_text('[2,"9","Heartbeat",{}]')
    code, _, err = run(
        "encrypt",
        d / "call.json",
        "--station",
        "cs-1",
        "--direction",
        "toCSMS",
        "--to",
        d / "csms.pub.pem",
        "--reply-to",
        d / "cs-1.pub.pem",
        "--reply-certificates",
        d / "cs-1.chain.pem",
        "-o",
        d / "outer.json",
    )
    assert code == 0, err
    code, out, err = run(
        "decrypt",
        d / "outer.json",
        "--station",
        "cs-1",
        "--direction",
        "toCSMS",
        "--key",
        d / "csms.pem",
        "--trust-anchor",
        d / "root.crt.pem",
    )
    assert (code, out) == (0, '[2,"9","Heartbeat",{}]\n'), err
    # The same certificate on another station's connection: its identity is not that station's.
    code, _, err = run(
        "encrypt",
        d / "call.json",
        "--station",
        "cs-2",
        "--direction",
        "toCSMS",
        "--to",
        d / "csms.pub.pem",
        "--reply-to",
        d / "cs-1.pub.pem",
        "--reply-certificates",
        d / "cs-1.chain.pem",
        "-o",
        d / "outer2.json",
    )
    code, _, err = run(
        "decrypt",
        d / "outer2.json",
        "--station",
        "cs-2",
        "--direction",
        "toCSMS",
        "--key",
        d / "csms.pem",
        "--trust-anchor",
        d / "root.crt.pem",
    )
    assert code == 1 and err.startswith("refused: unknown-reply-key: ")


def test_a_hybrid_key_cannot_be_certified(setup: Path) -> None:
    run("pki", "init-root", "root", "--key-type", "ES256", "--days", "30", "--out", setup)
    code, _, err = run(
        "pki",
        "issue-key-agreement",
        "x",
        "--ca",
        setup / "root.crt.pem",
        "--identity",
        "csms",
        "--public-key",
        setup / "cs.pub.pem",
        "--days",
        "1",
        "--out",
        setup,
    )
    assert code == 2 and "goes in an ESP keyring" in err
