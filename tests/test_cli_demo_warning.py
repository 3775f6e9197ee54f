"""The CLI says loudly when it loads the published demo keys (keys-example/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ocpp_e2e.cli import DEMO_WARNING, uses_demo_material

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "ocpp-e2e"


def test_a_path_into_keys_example_is_demo_material() -> None:
    assert uses_demo_material(["verify", "x.json", "--keyring", "keys-example/keyring.json"])
    assert uses_demo_material(["--keyring=keys-example/keyring.json"])


def test_a_file_that_refers_to_the_demo_keys_is_demo_material() -> None:
    assert uses_demo_material([str(ROOT / "policies" / "station-csms-commands.yaml")])


def test_other_files_are_not_demo_material(tmp_path: Path) -> None:
    frame = tmp_path / "frame.json"
    frame.write_text('[2, "1", "Heartbeat", {}]')
    assert not uses_demo_material(["canonicalize", str(frame), "--out", str(tmp_path / "missing")])


def test_the_command_warns_on_stderr_when_demo_keys_load(tmp_path: Path) -> None:
    frame = tmp_path / "frame.json"
    frame.write_text('[2, "1", "Heartbeat", {}]')
    demo = subprocess.run(
        [str(CLI), "verify", str(frame), "--station", "cs-0001", "--keyring", str(ROOT / "keys-example" / "keyring.json")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    plain = subprocess.run(
        [str(CLI), "canonicalize", str(frame)], capture_output=True, text=True, check=False
    )
    assert DEMO_WARNING in demo.stderr
    assert DEMO_WARNING not in plain.stderr and plain.returncode == 0


def test_the_demo_root_marker_is_the_first_line_of_the_demo_root() -> None:
    from ocpp_e2e.cli import DEMO_ROOT_MARKER

    lines = (ROOT / "keys-example" / "root-ca.crt.pem").read_text().splitlines()
    assert lines[1] == DEMO_ROOT_MARKER


def test_a_signed_policy_in_json_form_that_trusts_the_demo_root_is_demo_material(
    tmp_path: Path,
) -> None:
    import json

    from ocpp_e2e.policy import load_policy

    policy = load_policy(ROOT / "policies" / "grid-14a-enwg.yaml")
    as_json = tmp_path / "active.json"
    as_json.write_text(json.dumps(policy.to_dict()))
    assert "keys-example" not in as_json.read_text()
    assert uses_demo_material(["policy", "upgrade", "--installed", str(as_json)])
