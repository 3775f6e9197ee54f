"""The ``ocpp-e2e`` command: a thin typer skin over the library."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from ._params import install

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

    Start cost follows the command invoked: a command's module (and what it imports) is imported,
    and its click objects built, only when that command runs. ``--help`` lists every command
    from :data:`COMMANDS` (name and one-line help) without importing any of them.
    """

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(n for n in super().list_commands(ctx) if n not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            if self._listing and cmd_name in COMMANDS:
                return TyperCommand(cmd_name, help=COMMANDS[cmd_name][1])
            self._load(COMMANDS[cmd_name][0] if cmd_name in COMMANDS else None)
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        argv = [str(a) for a in (sys.argv[1:] if args is None else args)]
        bad = not_utf8(argv)
        if bad is not None:
            typer.echo(f"error: {bad}", err=True)
            raise SystemExit(2)
        if uses_demo_material(argv):
            typer.echo(DEMO_WARNING, err=True)
        install(self)
        return super().main(args, *rest, **kwargs)

    def _load(self, module_name: str | None) -> None:
        """Build the commands of one module (of every module when None: a name that is not in
        the table may be a hidden alias, or a typo whose suggestions should know every command)
        into this group."""
        loaded: set[str] = self.__dict__.setdefault("_loaded", set())
        for name in [module_name] if module_name is not None else _MODULES:
            if name in loaded:
                continue
            loaded.add(name)
            module = importlib.import_module(f"{__package__}.{name}")
            if name in _GROUPS:
                command = typer.main.get_command(module.app)
                command.name = name
                install(command)
                self.add_command(command, name)
                continue
            holder = typer.Typer()
            module.register(holder)
            for cmd_name, command in typer.main.get_group(holder).commands.items():
                install(command)
                self.add_command(command, cmd_name)


app = typer.Typer(
    cls=_Group,
    name="ocpp-e2e",
    help="End-to-end signatures, signature policies, PKI and audits for OCPP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _top_level() -> None:
    # typer builds a group only for an app with a callback or several registered commands; the
    # commands are added when used (_Group), so the callback makes it a group.
    pass


#: Every command of ``ocpp-e2e``, in the order ``--help`` lists them: the module of this package
#: that defines it (a module with ``register(app)``, or a sub-command group with its own typer
#: ``app``), and the first paragraph of its help as that module gives it
#: (tests/test_cli_startup.py keeps the two equal).
COMMANDS: dict[str, tuple[str, str]] = {
    "keygen": ("core", "Generate a signing key; prints its key id (never the private key)."),
    "canonicalize": ("core", "Print the RFC 8785 canonical form of strict I-JSON (SPEC §2)."),
    "sign": ("core", "Sign an OCPP-J frame for a station's connection (SPEC §1, §3)."),
    "verify": (
        "core",
        "Verify every signature of a frame; exit 0 only when all are valid (and there is one).",
    ),
    "inspect": ("core", "Show a frame's signatures as a table: who, algorithm, when, verdict."),
    "gateway": (
        "gateway",
        "Run the OCPP security gateway: a WebSocket proxy in front of a CSMS that verifies, "
        "decides,\nsigns on behalf and logs every frame (see docs/gateway.md). SIGHUP reloads the "
        "policies;\nSIGTERM drains and stops.",
    ),
    "encrypt": ("esp", "Encrypt a frame into an ESP DataTransfer for one receiver (docs/esp.md)."),
    "decrypt": (
        "esp",
        "Decrypt an ESP frame; print the inner frame exactly as its sender wrote it.",
    ),
    "pki": (
        "pki",
        "A small PKI for SPEC §5: roots, sub-CAs per domain, leaves with usages, CRLs, checks.",
    ),
    "ticket": (
        "ticket",
        "Charging tickets (SPEC §6): offline, anonymous authorization at a charging station.",
    ),
    "meter": (
        "meter",
        "OCMF signed meter values (Eichrecht): verify records and their transactions.",
    ),
    "tariff": (
        "tariff",
        "Signed OCPP 2.1 tariffs (SPEC §6), their cost calculator and signed cost receipts.",
    ),
    "policy": ("policy", "Signature policies (SPEC §7): who may sign what, with which parameters."),
    "audit": (
        "audit",
        "Audit captured OCPP message logs: every frame verified, every decision explained.",
    ),
}
# Sub-command groups: modules with their own typer ``app``; the others have ``register(app)``.
_GROUPS = frozenset({"pki", "ticket", "meter", "tariff", "policy", "audit"})
# Every module that defines commands (each loaded at most once per group).
_MODULES: tuple[str, ...] = tuple(dict.fromkeys(module for module, _ in COMMANDS.values()))


def main() -> None:
    """Entry point of the ``ocpp-e2e`` console script."""
    app()
