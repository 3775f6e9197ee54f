"""Options several commands take, declared once: one name and one meaning each (issue 13)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..versions import OCPP_VERSIONS

OcppOption = Annotated[
    str,
    typer.Option("--ocpp", help=f"OCPP version of the connection: {', '.join(OCPP_VERSIONS)}."),
]
StationOption = Annotated[
    str,
    typer.Option("--station", help="Identity of the charging station whose connection carries it."),
]
NowOption = Annotated[
    str | None, typer.Option("--now", help="Time of receipt (RFC 3339); default: the system clock.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
