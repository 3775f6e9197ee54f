"""Every example in docs/*.md that claims to run does run, and shows what the page says it shows.

The pages follow these conventions, and this file holds them to them:

- Every fenced block names its language. ``python``, ``sh`` and ``console`` blocks run, unless the
  line right before the fence is ``<!-- illustrative: REASON -->`` (a fragment that needs a running
  CSMS, the reader's own handler or files, or minutes of benchmark). How many blocks each page
  marks so is pinned in ``ILLUSTRATIVE``: a broken example cannot hide behind a new marker.
- Python blocks of one page run in order in one namespace. Every ``print(...)`` states what it
  prints, in a trailing comment or in the comment lines right after it; the page's whole output
  must be exactly those lines.
- ``sh`` blocks run with bash. Every command must exit 0 unless a comment says ``exit N``: a
  trailing comment on the command, or the comment lines before it (they speak of the next
  ``ocpp-e2e`` command). Of ``command || echo "... $?"`` the output must show ``exit N`` instead.
  A double-quoted text in that comment must appear in the command's output (``…`` is any text).
- ``console`` blocks: a ``$ `` line is a command (with ``\\`` continuations and here-documents),
  the lines up to the next ``$ `` are its output as a terminal shows it (stdout and stderr), where
  ``...`` inside a line stands for any text and a line ``...`` for any lines. A command must exit 0
  unless the next command is ``echo $?``, whose output then states the status.

Examples run in a scratch directory linked to the repository's example material (keys-example/,
policies/, examples/, tests/), with the virtual environment's ``bin`` first on PATH, so that they
read what a reader at the repository root reads and write nothing into the repository.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ocpp_e2e.cli import DEMO_WARNING

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = (
    "architecture.md",
    "signatures.md",
    "policies.md",
    "pki.md",
    "tariffs.md",
    "tickets.md",
    "meter-values.md",
    "audit.md",
    "integration.md",
    "performance.md",
    "esp.md",
    "gateway.md",
    "security.md",
)
RUNNABLE = ("python", "sh", "console")
LANGUAGES = (*RUNNABLE, "json", "yaml", "text")
MARKER = re.compile(r"<!-- illustrative: (\S.*\S) -->")
# Blocks each page marks as illustrative: a change here must be a deliberate one.
ILLUSTRATIVE = {
    "architecture.md": 1,  # the guard's contract for a transport: needs the reader's transport
    "meter-values.md": 1,  # a synopsis of `meter verify` over the reader's own files
    "audit.md": 2,  # the reader's own log and policy; a Dask cluster and S3 bucket
    "integration.md": 3,  # a server's async main with the reader's handler; the three-process
    # demo; production settings with the reader's paths, signer and metrics
    "performance.md": 5,  # benchmarks that take minutes
    "gateway.md": 2,  # a long-running server; a benchmark that takes minutes
    "signatures.md": 1,  # a PKCS#11 token (tests/test_pkcs11.py does the same with SoftHSM2)
}
LINKED = ("keys-example", "policies", "examples", "tests")


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: where it starts, its language, its text, its marker."""

    page: str
    line: int
    language: str
    text: str
    illustrative: str | None

    @property
    def where(self) -> str:
        """``docs/PAGE:LINE`` of the opening fence."""
        return f"docs/{self.page}:{self.line}"


def blocks(page: str) -> list[Block]:
    """Every fenced block of ``docs/PAGE``, in order."""
    lines = (DOCS / page).read_text().splitlines()
    found: list[Block] = []
    start: int | None = None
    language = ""
    for number, line in enumerate(lines, 1):
        if start is None and line.startswith("```"):
            start, language = number, line[3:].strip()
        elif start is not None and line.strip() == "```":
            before = MARKER.fullmatch(lines[start - 2].strip()) if start > 1 else None
            body = "\n".join(lines[start : number - 1]) + "\n"
            found.append(Block(page, start, language, body, before.group(1) if before else None))
            start = None
    assert start is None, f"docs/{page}:{start}: the fence is never closed"
    return found


def runnable(page: str, language: str) -> list[Block]:
    """The blocks of one language on a page that are meant to run."""
    return [b for b in blocks(page) if b.language == language and b.illustrative is None]


def scratch(tmp_path: Path) -> Path:
    """A working directory that sees the repository's example material."""
    work = tmp_path / "work"
    work.mkdir()
    for name in LINKED:
        (work / name).symlink_to(ROOT / name)
    return work


def environment() -> dict[str, str]:
    """The reader's shell: the venv's commands first on PATH, output in terminal order."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, "PATH": path, "PYTHONUNBUFFERED": "1", "COLUMNS": "1000"}


# --------------------------------------------------------------------------- the pages themselves


@pytest.mark.parametrize("page", PAGES)
def test_every_fenced_block_names_a_known_language(page: str) -> None:
    unnamed = [(b.where, b.language) for b in blocks(page) if b.language not in LANGUAGES]
    assert unnamed == []


@pytest.mark.parametrize("page", PAGES)
def test_illustrative_markers_are_the_pinned_ones_and_each_marks_a_runnable_block(
    page: str,
) -> None:
    text = (DOCS / page).read_text()
    markers = MARKER.findall(text)
    marked = [b for b in blocks(page) if b.illustrative is not None]
    assert len(markers) == ILLUSTRATIVE.get(page, 0)
    assert [b.illustrative for b in marked] == markers  # none stands anywhere but before a fence
    assert all(b.language in RUNNABLE for b in marked)
    assert text.count("<!-- illustrative") == len(markers)  # no misspelt marker


def test_the_pages_list_is_every_page_in_docs() -> None:
    assert sorted(PAGES) == sorted(p.name for p in DOCS.glob("*.md"))


# --------------------------------------------------------------------------- python


def stated_output(block: Block) -> list[str]:
    """The lines a Python block's ``print`` calls are documented to print."""
    lines = block.text.splitlines()
    expected: list[str] = []
    for index, line in enumerate(lines):
        if not re.match(r"\s*print\(", line):
            continue
        trailing = re.search(r"\)\s+# ?(.*)$", line)
        following = []
        for after in lines[index + 1 :]:
            if not after.strip().startswith("#"):
                break
            following.append(after.strip()[1:].removeprefix(" "))
        stated = [trailing.group(1)] if trailing else following
        assert stated, f"{block.where}: `{line.strip()}` does not say what it prints"
        expected += stated
    return expected


PYTHON_PAGES = [p for p in PAGES if runnable(p, "python")]


@pytest.mark.parametrize("page", PYTHON_PAGES)
def test_python_examples_run_in_order_and_print_what_the_comments_say(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(scratch(tmp_path))
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in runnable(page, "python"):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            # Our own documentation, compiled as a reader's script would be (no inherited flags).
            exec(compile(block.text, block.where, "exec", dont_inherit=True), namespace)
        assert out.getvalue().splitlines() == stated_output(block), block.where


# --------------------------------------------------------------------------- shell


@dataclass(frozen=True)
class Command:
    """One command of a shell block and what the page says of it."""

    text: str
    status: int = 0
    shows: tuple[str, ...] = ()  # texts its output must contain (``…`` stands for any text)
    output: str | None = None  # console blocks: its whole output


def _heredoc_end(line: str) -> str | None:
    match = re.search(r"<<-?\s*(['\"]?)(\w+)\1", line)
    return match.group(2) if match else None


def _take_command(lines: list[str], index: int) -> tuple[list[str], int]:
    """The physical lines of the command starting at ``lines[index]`` (continuations and
    here-documents included) and the index after it."""
    taken = [lines[index]]
    index += 1
    while taken[-1].rstrip().endswith("\\") and index < len(lines):
        taken.append(lines[index])
        index += 1
    end = _heredoc_end("\n".join(taken))
    if end is not None:
        while index < len(lines):
            taken.append(lines[index])
            index += 1
            if taken[-1].strip() == end:
                break
    return taken, index


def _stated_status(comment: str) -> int | None:
    match = re.search(r"\bexit (\d+)\b", comment)
    return int(match.group(1)) if match else None


def sh_commands(block: Block) -> list[Command]:
    """The commands of an ``sh`` block with the exit status and output texts the comments state."""
    lines = block.text.splitlines()
    commands: list[Command] = []
    comment = ""  # the comment lines since the last command, joined
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        if line.lstrip().startswith("#"):
            comment += " " + line.strip().lstrip("#").strip()
            index += 1
            continue
        taken, index = _take_command(lines, index)
        text = "\n".join(taken)
        trailing = re.search(r"\s#\s(.*)$", taken[-1])
        said = trailing.group(1) if trailing else ""
        if "ocpp-e2e " in text:  # the comment before speaks of the next ocpp-e2e command
            said, comment = said or comment, ""
        status = _stated_status(said)
        shows = tuple(re.findall(r'"([^"]+)"', said))
        if status is not None and re.search(r'\|\| echo "[^"]*\$\?"', text):
            shows, status = (*shows, f"exit {status}"), 0
        commands.append(Command(text, status or 0, shows))
    return commands


def console_commands(block: Block) -> list[Command]:
    """The commands of a ``console`` block, each with its documented output and exit status."""
    lines = block.text.splitlines()
    assert lines and lines[0].startswith("$ "), f"{block.where}: a console block starts with `$ `"
    commands: list[Command] = []
    index = 0
    while index < len(lines):
        taken, index = _take_command(lines, index)
        output: list[str] = []
        while index < len(lines) and not lines[index].startswith("$ "):
            output.append(lines[index])
            index += 1
        text = "\n".join(taken)[2:]
        commands.append(Command(text, output="".join(f"{o}\n" for o in output)))
    for position, command in enumerate(commands[:-1]):
        if commands[position + 1].text.strip() == "echo $?":
            stated = (commands[position + 1].output or "").strip()
            commands[position] = Command(command.text, int(stated), output=command.output)
    return commands


def output_pattern(documented: str) -> re.Pattern[str]:
    """A documented console output as a pattern: ``...`` is any text, a line ``...`` any lines."""
    parts = []
    for line in documented.splitlines():
        if line.strip() == "...":
            parts.append(r"(?:.*\n)*?")
        else:
            parts.append(re.escape(line).replace(re.escape("..."), ".*") + r"\n")
    return re.compile("".join(parts))


@dataclass(frozen=True)
class Ran:
    """What one command did."""

    status: int | None  # None: never ran (the script stopped before it)
    output: str


def run_commands(commands: list[Command], work: Path, out: Path) -> list[Ran]:
    """Run the commands in order in one bash, from ``work``; each one's output and exit status are
    recorded separately, and ``$?`` still says what the previous command returned."""
    out.mkdir()
    script = []
    for number, command in enumerate(commands):
        script.append(
            f"{{\n{command.text}\n}} >'{out}/{number}.out' 2>&1\n"
            f"__status=$?; echo $__status >'{out}/{number}.status'; (exit $__status)\n"
        )
    subprocess.run(
        ["bash", "-c", "".join(script)],
        cwd=work, env=environment(), capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    ran = []
    for number in range(len(commands)):
        status = out / f"{number}.status"
        output = out / f"{number}.out"
        ran.append(
            Ran(
                int(status.read_text()) if status.exists() else None,
                output.read_text() if output.exists() else "",
            )
        )
    return ran


def check(block: Block, commands: list[Command], ran: list[Ran]) -> list[str]:
    """Every way the commands of a block did not do what the page says."""
    problems = []
    for command, result in zip(commands, ran, strict=True):
        first = command.text.splitlines()[0].strip()
        if result.status != command.status:
            problems.append(
                f"{block.where}: `{first}` exited {result.status}, the page says "
                f"{command.status}:\n{result.output}"
            )
        for text in command.shows:
            pattern = ".*".join(re.escape(part) for part in text.split("…"))
            if not re.search(pattern, result.output):
                problems.append(
                    f"{block.where}: `{first}` does not show {text!r}:\n{result.output}"
                )
        if command.output is not None and not output_pattern(command.output).fullmatch(
            result.output
        ):
            problems.append(
                f"{block.where}: `{first}` printed\n{result.output}\nthe page shows\n"
                f"{command.output}"
            )
    return problems


SHELL_BLOCKS = [b for p in PAGES for lang in ("sh", "console") for b in runnable(p, lang)]
Runs = dict[str, tuple[list[Command], list[Ran]]]


@pytest.fixture(scope="module")
def shell_runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Each shell block's commands and what they did, run once for all the tests of this file."""
    runs: Runs = {}
    for block in SHELL_BLOCKS:
        parse = sh_commands if block.language == "sh" else console_commands
        commands = parse(block)
        base = tmp_path_factory.mktemp("shell")
        runs[block.where] = (commands, run_commands(commands, scratch(base), base / "out"))
    return runs


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=[b.where for b in SHELL_BLOCKS])
def test_shell_examples_exit_and_print_as_the_page_says(block: Block, shell_runs: Runs) -> None:
    problems = check(block, *shell_runs[block.where])
    assert not problems, "\n\n".join(problems)


def _output_of(runs: Runs, block: Block, start: str) -> str:
    """The output of the block's command that starts with ``start``, without the demo warning
    (the page's ``text`` blocks show what goes to stdout)."""
    commands, ran = runs[block.where]
    (output,) = [r.output for c, r in zip(commands, ran, strict=True) if c.text.startswith(start)]
    return "".join(line for line in output.splitlines(True) if line.rstrip("\n") != DEMO_WARNING)


def test_tariff_walk_through_prints_what_the_steps_are_said_to_print(shell_runs: Runs) -> None:
    (walk,) = runnable("tariffs.md", "sh")
    step3, step6, step8 = (
        b for b in blocks("tariffs.md") if b.language == "text" and b.line > walk.line
    )
    placeholders = re.compile(re.escape("<") + r"[^>]*" + re.escape(">"))

    def shape(text: str) -> str:
        return ".*".join(re.escape(part) for part in placeholders.split(text))

    assert re.fullmatch(
        shape(step3.text), _output_of(shell_runs, walk, "ocpp-e2e tariff verify tariff.")
    )
    assert _output_of(shell_runs, walk, "ocpp-e2e tariff cost ") == step6.text
    receipt = _output_of(shell_runs, walk, "ocpp-e2e tariff verify-receipt receipt.json")
    assert re.fullmatch(shape(step8.text), receipt)
    page = " ".join((DOCS / "tariffs.md").read_text().split())
    meter = _output_of(shell_runs, walk, "ocpp-e2e meter verify session.ocmf")
    said = re.search(r"make one transaction of 11.700 kWh \(`([^`]+)`\)", page)
    assert said is not None and said.group(1) in meter and meter.endswith("OK\n")
    refused = _output_of(shell_runs, walk, "ocpp-e2e tariff verify-receipt more-receipt.json")
    said = re.search(r"only the meter contradicts it: `([^`]+)`", page)
    assert said is not None and said.group(1) in " ".join(refused.split())


# --------------------------------------------------------------------------- the conventions


def test_a_comment_before_a_command_states_the_exit_status_of_the_next_ocpp_e2e_command() -> None:
    block = Block("x.md", 1, "sh", '# refused: "no such key", exit 2\nK=k\nocpp-e2e sign a\n', None)
    assert sh_commands(block) == [Command("K=k"), Command("ocpp-e2e sign a", 2, ("no such key",))]


def test_an_echoed_status_turns_the_stated_exit_status_into_output() -> None:
    block = Block("x.md", 1, "sh", '# (exit 1)\nocpp-e2e verify t || echo "bad: exit $?"\n', None)
    (command,) = sh_commands(block)
    assert (command.status, command.shows) == (0, ("exit 1",))


def test_a_console_echo_of_the_status_states_the_previous_commands_exit_status() -> None:
    block = Block("x.md", 1, "console", "$ ocpp-e2e a \\\n  --b\nline\n$ echo $?\n1\n", None)
    first, echo = console_commands(block)
    assert (first.text, first.status, first.output) == ("ocpp-e2e a \\\n  --b", 1, "line\n")
    assert (echo.status, echo.output) == (0, "1\n")


def test_an_elision_line_stands_for_any_lines_and_an_inline_one_for_any_text() -> None:
    pattern = output_pattern("a ... b\n...\nend\n")
    assert pattern.fullmatch("a x y b\nmore\nlines\nend\n")
    assert pattern.fullmatch("a  b\nend\n")
    assert not pattern.fullmatch("a b\nend\n")
    assert not pattern.fullmatch("a x b\nend\nextra\n")
