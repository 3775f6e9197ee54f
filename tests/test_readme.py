"""The README's examples run and say what the README says they say."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_starts_with_the_two_setup_commands() -> None:
    first = _blocks("sh")[0].strip().splitlines()
    assert len(first) == 2
    assert (
        first[0].startswith("python3 -m venv .venv && .venv/bin/pip install")
        and " audit " in first[0]
    )
    assert (
        first[1]
        == "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/pytest"
    )
    assert README.startswith("```sh\n" + first[0])


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert _blocks("sh")[0].strip().splitlines()[1] in ci


def test_python_examples_run_and_print_what_the_comments_say(
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace: dict[str, object] = {}
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for block in _blocks("python"):
            exec(compile(block, "README.md", "exec"), namespace)  # our own README
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out.splitlines()
    assert out == ["[('untrusted-certificate', None)]", "True configuration-by-operator"]


def test_cli_walkthrough_runs_with_the_documented_exit_codes(tmp_path: Path) -> None:
    block = next(b for b in _blocks("sh") if "ocpp-e2e sign" in b)
    (tmp_path / "keys-example").symlink_to(ROOT / "keys-example")
    (tmp_path / "policies").symlink_to(ROOT / "policies")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    script = block.replace(". .venv/bin/activate\n", "")
    results = []
    for command in re.split(r"\n(?=ocpp-e2e |echo )", script.strip()):
        command = "\n".join(line for line in command.splitlines() if not line.startswith("#"))
        if not command.strip():
            continue
        proc = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        results.append(
            (
                command.split()[1] if command.startswith("ocpp-e2e") else "echo",
                proc.returncode,
                proc.stdout,
            )
        )
    codes = [(name, code) for name, code, _ in results]
    assert codes == [("echo", 0), ("sign", 0), ("verify", 0), ("inspect", 1), ("policy", 0)]
    assert "[0] valid: ops-1" in results[2][2]
    assert "invalid" in results[3][2]
    assert (
        "PERMIT — permitted by rule configuration-by-operator; signers: ops-1 [csms-operator]"
        in results[4][2]
    )


def test_the_first_setup_line_audits_the_example_and_finds_the_four_planted_problems() -> None:
    first = _blocks("sh")[0].strip().splitlines()[0]
    command = first.split("&& .venv/bin/", 2)[2]  # what runs after the install
    assert command.startswith("ocpp-e2e audit ")
    binary = Path(sys.executable).parent / "ocpp-e2e"
    proc = subprocess.run(
        [str(binary), *command.split()[1:]], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1, proc.stderr
    assert "audit FAILED: 4 finding(s) violate the policy" in proc.stdout
    for kind in ("invalid", "replayed", "denied", "unsigned-required"):
        assert kind in proc.stdout
