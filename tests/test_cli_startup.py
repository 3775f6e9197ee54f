"""What starting the command costs: sub-command groups are imported when used, and the demo-key
check reads the head of a file, not the whole file (an audit's log may be gigabytes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from ocpp_e2e.cli import DEMO_ROOT_MARKER, DEMO_SCAN_BYTES, app, uses_demo_material


def _modules_after(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(out.stdout.split())


def test_importing_the_command_imports_no_sub_command_group() -> None:
    loaded = _modules_after("import ocpp_e2e.cli")
    for group in ("pki", "ticket", "meter", "tariff", "policy", "audit"):
        assert f"ocpp_e2e.cli.{group}" not in loaded
    assert "jsonschema" not in loaded


def test_the_audit_command_does_not_import_jsonschema() -> None:
    assert "jsonschema" not in _modules_after("import ocpp_e2e.cli.audit")


def test_every_sub_command_group_is_listed_and_runs() -> None:
    runner = CliRunner()
    listing = runner.invoke(app, ["--help"])
    assert listing.exit_code == 0
    for group in ("pki", "ticket", "meter", "tariff", "policy", "audit"):
        assert group in listing.output
        result = runner.invoke(app, [group, "--help"])
        assert result.exit_code == 0, result.output


def test_an_unknown_command_is_still_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["audits"])
    assert result.exit_code == 2


def test_the_demo_key_check_reads_only_the_head_of_a_file(tmp_path: Path) -> None:
    early = tmp_path / "early.log"
    early.write_bytes(b"x" * 1000 + DEMO_ROOT_MARKER.encode() + b"y" * (4 * DEMO_SCAN_BYTES))
    late = tmp_path / "late.log"
    late.write_bytes(b"x" * DEMO_SCAN_BYTES + DEMO_ROOT_MARKER.encode())
    assert uses_demo_material([str(early)]) is True
    assert uses_demo_material([str(late)]) is False
