"""The ``ocpp-e2e`` command: a thin typer skin over the library."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from . import core, esp, gateway

DEMO_MARKER = "keys-example"
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
                head = path.read_bytes()[:262144]
                if DEMO_MARKER.encode() in head or DEMO_ROOT_MARKER.encode() in head:
                    return True
        except OSError:
            continue
    return False


class _Group(TyperGroup):
    """The top-level group: warns on stderr, before anything runs, when demo keys are in play."""

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        argv = [str(a) for a in (sys.argv[1:] if args is None else args)]
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

# Sub-command groups, each a module of this package with a typer ``app``; one name per group.
_GROUPS: tuple[str, ...] = ("pki", "ticket", "meter", "tariff", "policy", "audit")

for _name in _GROUPS:
    _module = importlib.import_module(f"{__name__}.{_name}")
    app.add_typer(_module.app, name=_name.replace("_", "-"))


def main() -> None:
    """Entry point of the ``ocpp-e2e`` console script."""
    app()
