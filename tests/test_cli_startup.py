"""What starting the command costs: sub-command groups are imported when used, and the demo-key
check reads the head of a file, not the whole file (an audit's log may be gigabytes)."""

from __future__ import annotations

import enum
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from ocpp_e2e.cli import COMMANDS, DEMO_ROOT_MARKER, DEMO_SCAN_BYTES, app, uses_demo_material
from ocpp_e2e.cli._params import install


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


# --------------------------------------------------------------------------- start cost


def test_the_command_table_holds_each_commands_own_name_and_help() -> None:
    group = typer.main.get_command(app)
    group._load(None)  # every module: the real commands
    shown = {n: c for n, c in group.commands.items() if not c.hidden}
    assert list(shown) == list(COMMANDS)
    for name, command in shown.items():
        first = (command.short_help or command.help or "").split("\n\n")[0]
        assert COMMANDS[name][1] == first, f"update COMMANDS[{name!r}] in ocpp_e2e/cli/__init__.py"


def test_help_lists_every_command_without_importing_any() -> None:
    loaded = _modules_after(
        "from ocpp_e2e.cli import app\n"
        "from typer.testing import CliRunner\n"
        "out = CliRunner().invoke(app, ['--help']).output\n"
        "assert all(name in out for name in ('keygen', 'gateway', 'decrypt', 'audit')), out"
    )
    assert not {m for m in loaded if m.startswith("ocpp_e2e.cli.") and m != "ocpp_e2e.cli._params"}
    assert not {"cryptography", "pydantic", "jsonschema"} & {m.split(".")[0] for m in loaded}


def _help_of(group: Any, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as stop:
        group.main(["--help"], prog_name="ocpp-e2e")
    assert stop.value.code == 0
    return capsys.readouterr().out


def test_the_listing_is_the_same_as_with_every_command_built(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lazy = _help_of(typer.main.get_command(app), capsys)
    group = typer.main.get_command(app)
    group._load(None)  # every command built: the listing shows their own help
    assert lazy == _help_of(group, capsys)
    assert all(name in lazy for name in COMMANDS)


def test_an_audit_imports_neither_dask_fsspec_pydantic_nor_the_other_commands(
    tmp_path: Path,
) -> None:
    log = tmp_path / "one.jsonl"
    log.write_text(
        '{"ts":"2026-03-02T08:00:00Z","station":"cs-1","direction":"toCSMS",'
        '"frame":"[2,\\"1\\",\\"Heartbeat\\",{}]"}\n'
    )
    policy = Path(__file__).resolve().parent.parent / "examples" / "audit" / "policy.yaml"
    loaded = _modules_after(
        "import sys\n"
        f"sys.argv = ['ocpp-e2e', 'audit', {str(log)!r}, '--policy', {str(policy)!r}, '--json']\n"
        "import contextlib, io\n"
        "from ocpp_e2e.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main()\n    except SystemExit as exc:\n"
        "        assert exc.code in (0, 1), exc.code"
    )
    tops = {m.split(".")[0] for m in loaded}
    assert not {"dask", "distributed", "fsspec", "pydantic"} & tops
    for module in ("cluster", "har", "pcap"):
        assert f"ocpp_e2e.audit.{module}" not in loaded
    for group in ("pki", "ticket", "meter", "tariff", "policy", "core", "esp", "gateway"):
        assert f"ocpp_e2e.cli.{group}" not in loaded
    assert "rich.progress" not in loaded  # no terminal: no progress bar


class _Color(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


def _app_of(function: Any) -> typer.Typer:
    one = typer.Typer()
    one.command()(function)
    return one


def _run(
    args: list[str], direct: bool, capsys: pytest.CaptureFixture[str]
) -> tuple[Any, str, list[Any], Any]:
    """Exit code, output and the values the command got, with or without direct converters."""
    got: list[Any] = []
    command = typer.main.get_command(_app_of(_options))
    command.callback = lambda **kw: got.append(kw)
    if direct:
        install(command)
    try:
        command.main(args, prog_name="options")
        code: Any = 0
    except SystemExit as stop:
        code = stop.code
    out = capsys.readouterr()
    return code, out.out + out.err, got, command


def _options(
    number: Annotated[int, typer.Option("--number")] = 1,
    ratio: Annotated[float, typer.Option("--ratio")] = 0.5,
    name: Annotated[str, typer.Option("--name")] = "x",
    path: Annotated[Path | None, typer.Option("--path")] = None,
    color: Annotated[_Color, typer.Option("--color")] = _Color.RED,
    many: Annotated[list[str] | None, typer.Option("--many")] = None,
    ranged: Annotated[int, typer.Option("--ranged", min=1, max=9)] = 5,
) -> None:
    pass


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--number", "42", "--ratio", "2.25", "--name", "é", "--path", "a/b"],
        ["--number", "-7", "--ratio", "3", "--color", "blue", "--many", "a", "--many", "b"],
        ["--color", "BLUE"],
        ["--number", "1e3"],
        ["--number", "4.0"],
        ["--number", " 5"],
        ["--number", "x"],
        ["--ratio", "inf"],
        ["--ratio", "1e-3"],
        ["--ratio", "x"],
        ["--color", "green"],
        ["--path", ""],
        ["--ranged", "0"],
        ["--ranged", "3"],
        ["--number", "99999999999999999999999"],
    ],
)
def test_values_are_converted_as_typer_converts_them(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, output, got, command = _run(args, True, capsys)
    assert (code, output, got) == _run(args, False, capsys)[:3]
    if args[:1] == ["--number"] and len(args) > 2:  # common values: no pydantic adapter built
        converted = [p for p in command.params if p._runtime_param and p.name != "ranged"]
        assert converted and all(not p._runtime_param._typer for p in converted)


def test_the_audit_commands_help_imports_neither_cryptography_nor_the_audit_engine() -> None:
    loaded = _modules_after(
        "import contextlib, io, sys\n"
        "sys.argv = ['ocpp-e2e', 'audit', '--help']\n"
        "from ocpp_e2e.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main()\n    except SystemExit as exc:\n        assert exc.code == 0\n"
    )
    assert "ocpp_e2e.cli.audit" in loaded
    assert not {"cryptography", "jsonschema", "pydantic"} & {m.split(".")[0] for m in loaded}
    for module in ("run", "engine", "report", "cluster"):
        assert f"ocpp_e2e.audit.{module}" not in loaded
