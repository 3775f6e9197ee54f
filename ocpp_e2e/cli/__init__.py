"""The ``ocpp-e2e`` command: a thin typer skin over the library."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

from . import core, esp, gateway

__all__ = [
    "DEMO_ROOT_MARKER",
    "DEMO_SCAN_BYTES",
    "DEMO_WARNING",
    "app",
    "main",
    "not_utf8",
    "uses_demo_material",
]

DEMO_MARKER = "keys-example"
DEMO_SCAN_BYTES = 262144
# The first base64 line of the demo root certificate (keys-example/root-ca.crt.pem): it includes the
# root's random serial number, and stands verbatim in every file that embeds the demo root as a
# trust anchor, as PEM or as base64 DER (a signed policy's JSON form, say). A test keeps it current.
DEMO_ROOT_MARKER = "MIIBqDCCAS6gAwIBAgIUI0+gScb4IZmOUPAvWbpfz/h3doowCgYIKoZIzj0EAwMw"
DEMO_WARNING = (
    "warning: this uses the DEMO keys of keys-example/ — they are published, for examples and "
    "tests only; never deploy them"
)


def uses_demo_material(args: list[str]) -> bool:
    """Does any argument name the demo keys, or a file (a policy, a key, a chain) that refers to
    them or embeds the demo root?"""
    for arg in args:
        value = arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg
        if DEMO_MARKER in value:
            return True
        path = Path(value)
        try:
            if path.is_file():
                # The first 256 KiB, read as such: an audit's log of gigabytes is not read twice.
                with path.open("rb") as f:
                    head = f.read(DEMO_SCAN_BYTES)
                if DEMO_MARKER.encode() in head or DEMO_ROOT_MARKER.encode() in head:
                    return True
        except OSError:
            continue
    return False


def not_utf8(args: list[str]) -> str | None:
    """Why an argument cannot be used, when one is not valid UTF-8 (Python hands such bytes over
    as lone surrogates, which every later step — names in a CONTEXT, JSON output, report files —
    would trip over); None when all are fine.

    >>> not_utf8(["audit", b"log\\xff.jsonl".decode("utf-8", "surrogateescape")])
    "argument 2 ('log\\\\udcff.jsonl') is not valid UTF-8; give file names and values in UTF-8"
    """
    for i, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return f"argument {i} ({arg!r}) is not valid UTF-8; give file names and values in UTF-8"
    return None


class _Group(TyperGroup):
    """The top-level group: warns on stderr, before anything runs, when demo keys are in play.

    The sub-command groups (``pki``, ``audit``, ...) are imported when they are called (or listed
    by ``--help``), so that one command does not pay for importing all the others.
    """

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in _GROUPS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in _GROUPS and cmd_name not in self.commands:
            module = importlib.import_module(f"{__package__}.{cmd_name}")
            command = typer.main.get_command(module.app)
            command.name = cmd_name
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        argv = [str(a) for a in (sys.argv[1:] if args is None else args)]
        bad = not_utf8(argv)
        if bad is not None:
            typer.echo(f"error: {bad}", err=True)
            raise SystemExit(2)
        if uses_demo_material(argv):
            typer.echo(DEMO_WARNING, err=True)
        return super().main(args, *rest, **kwargs)


app = typer.Typer(
    cls=_Group,
    name="ocpp-e2e",
    help="End-to-end signatures, signature policies, PKI and audits for OCPP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
core.register(app)
gateway.register(app)
esp.register(app)

# Sub-command groups, each a module of this package with a typer ``app``; one name per group,
# imported when used (see _Group).
_GROUPS: tuple[str, ...] = ("pki", "ticket", "meter", "tariff", "policy", "audit")


def main() -> None:
    """Entry point of the ``ocpp-e2e`` console script."""
    app()
