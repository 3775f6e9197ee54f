"""The ``ocpp-e2e`` command: a thin typer skin over the library."""

from __future__ import annotations

import importlib

import typer

from . import core

app = typer.Typer(
    name="ocpp-e2e",
    help="End-to-end signatures, signature policies, PKI and audits for OCPP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
core.register(app)

# Sub-command groups, each a module of this package with a typer ``app``; one name per group.
_GROUPS: tuple[str, ...] = ("pki", "ticket", "meter", "tariff", "policy", "audit")

for _name in _GROUPS:
    _module = importlib.import_module(f"{__name__}.{_name}")
    app.add_typer(_module.app, name=_name.replace("_", "-"))


def main() -> None:
    """Entry point of the ``ocpp-e2e`` console script."""
    app()
