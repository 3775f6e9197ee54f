"""Small I/O helpers shared by the CLI modules: reading inputs, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer

from .._time import parse_rfc3339
from ..errors import InputError, OcppE2EError
from ..integrations.clock import system_clock
from ..versions import OCPP_VERSIONS

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with status 2 (usage or input error)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


@contextmanager
def input_errors() -> Iterator[None]:
    """Turn the library's input errors and file errors into one-line messages with status 2."""
    try:
        yield
    except OcppE2EError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename or 'file'}: {exc.strerror}")


def renamed(value: T | None, old_value: T | None, name: str, old: str) -> T | None:
    """The value of option ``name``, which may still be given by its old spelling ``old`` (a
    hidden option kept for one release): that prints a one-line deprecation notice on stderr;
    both spellings at once is an error (exit 2).

    >>> renamed(None, None, "--station", "--station-id") is None
    True
    """
    if old_value is None or old_value == []:
        return value
    if value is not None and value != []:
        fail(f"{old} is the old spelling of {name}; give {name} only")
    typer.echo(
        f"warning: {old} is deprecated and goes away in the next release; use {name}", err=True
    )
    return old_value


def required(value: T | None, name: str) -> T:
    """A required option whose old spelling is still accepted (so the parser cannot require it)."""
    if value is None or value == []:
        fail(f"missing option {name}")
    return value


def check_ocpp(version: str, option: str = "--ocpp") -> str:
    """An OCPP version given on the command line, or exit 2 naming the supported ones."""
    if version not in OCPP_VERSIONS:
        fail(
            f"{option} {version}: unknown OCPP version; expected one of {', '.join(OCPP_VERSIONS)}"
        )
    return version


def password_from_env(env: str | None, option: str = "--password-env") -> bytes | None:
    """The password in environment variable ``env`` (None: no password). An unset or empty
    variable is an error: an empty password would leave a key unencrypted that was asked to be."""
    if env is None:
        return None
    value = os.environ.get(env)
    if not value:
        fail(f"{option}: environment variable {env} is not set or empty")
    return value.encode("utf-8")


def read_input(path: Path) -> bytes:
    """The bytes of a file, or of stdin for ``-`` (file errors are left to :func:`input_errors`)."""
    return sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()


def read_json(path: Path) -> Any:
    """The strict I-JSON value of a file, or of stdin for ``-``; an error names the file."""
    from ..canonical import loads

    try:
        return loads(read_input(path))
    except InputError as exc:
        raise exc.with_source(str(path)) from None


def write_json(path: Path | None, data: Any) -> None:
    """Indented JSON (UTF-8 as is) to a file, or to stdout for None or ``-``."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if path is None or str(path) == "-":
        typer.echo(text)
    else:
        path.write_text(text + "\n", encoding="utf-8")


def emit(as_json: bool, data: Mapping[str, Any], human: Callable[[], str]) -> None:
    """What a command prints: ``data`` as indented JSON with ``--json``, else the human text."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False) if as_json else human())


def read_bytes(source: str) -> tuple[bytes, str]:
    """The bytes of a file, or of stdin for ``-``, with a name for messages."""
    if source == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    path = Path(source)
    try:
        return path.read_bytes(), str(path)
    except IsADirectoryError:
        fail(f"{path}: is a folder, expected a file")
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror})")


def write_output(target: str, data: str | bytes) -> None:
    """Write to a file, or to stdout for ``-``."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if target == "-":
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()
        return
    try:
        Path(target).write_bytes(raw)
    except OSError as exc:
        fail(f"{target}: cannot write ({exc.strerror})")


def parse_now(value: str | None) -> datetime:
    """``--now`` (RFC 3339) or the system clock."""
    if value is None:
        return system_clock()  # the CLI is an edge: it passes the clock to the library
    try:
        return parse_rfc3339(value)
    except ValueError as exc:
        fail(f"--now: {exc}")
