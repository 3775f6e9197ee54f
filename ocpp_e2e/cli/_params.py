"""Parameter values converted without building a pydantic adapter per parameter.

typer 0.29 converts every command-line value through a pydantic ``TypeAdapter`` built for its
parameter when the command runs: importing pydantic and building the adapters was about half of
the CPU time an ``ocpp-e2e audit`` spends before it reads its first line. The values this CLI
takes are strings, paths, integers, decimal numbers and enum choices; :func:`install` gives each
typer parameter of a command a converter for those, which hands every value it does not convert
exactly as typer would (and every value that fails) to typer's own adapter, built then. So
results and error messages stay typer's own; only the common case is cheaper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

try:  # typer >= 0.29 (pydantic adapters); older typer converts through click's types
    from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
    from typer._param_types import coerce_cli_choice, coerce_cli_path
    from typer.core import _TyperParameter
except ImportError:  # pragma: no cover - depends on the installed typer
    RuntimeParam = None  # type: ignore[assignment,misc]

__all__ = ["install"]

_INTEGER = re.compile(r"-?[0-9]{1,18}")
_DECIMAL = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")
_NOT_CONVERTED = object()


def _leaf(annotation: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    """``value`` converted as typer converts it for ``annotation``, or _NOT_CONVERTED."""
    if info.parser is not None:
        return _NOT_CONVERTED
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return coerce_cli_choice(
            value, choices=list(annotation), case_sensitive=info.case_sensitive, ctx=ctx
        )
    if info.min is not None or info.max is not None:
        return _NOT_CONVERTED
    kind = type(value)
    if annotation is str or annotation is int or annotation is float:
        if kind is annotation:  # a default, or a string for a string
            return value
        if kind is str and annotation is int and _INTEGER.fullmatch(value):
            return int(value)
        if kind is str and annotation is float and _DECIMAL.fullmatch(value):
            return float(value)
        return _NOT_CONVERTED
    if isinstance(annotation, type) and issubclass(annotation, Path):
        if info.path_type is not None and info.path_type is not annotation:
            return _NOT_CONVERTED
        if kind is not annotation and not (kind is str and value):
            return _NOT_CONVERTED
        path = value if kind is annotation else annotation(value)
        return coerce_cli_path(path, info, path_type=annotation, param=param, ctx=ctx)
    return _NOT_CONVERTED


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _Direct(RuntimeParam):
        """Converts the common values itself; anything else goes to typer's adapter."""

        descriptor: TypeDescriptor = field(compare=False)
        _typer: list[Any] = field(default_factory=list, compare=False)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                converted = self._direct(value, param, ctx)
            except Exception:  # typer's adapter says what is wrong, in its words
                converted = _NOT_CONVERTED
            if converted is not _NOT_CONVERTED:
                return converted
            if not self._typer:
                self._typer.append(build_runtime_param(self.descriptor))
            return self._typer[0]._coerce_value(value, param, ctx)

        def _direct(self, value: Any, param: Any, ctx: Any) -> Any:
            annotation: Any = self.annotation
            info = self.parameter_info
            if get_origin(annotation) is list:
                if not isinstance(value, list | tuple):
                    return _NOT_CONVERTED
                (item,) = get_args(annotation)
                out = [_leaf(item, info, v, param, ctx) for v in value]
                return _NOT_CONVERTED if any(o is _NOT_CONVERTED for o in out) else out
            return _leaf(annotation, info, value, param, ctx)


def _give(param: Any) -> None:
    if isinstance(param, _TyperParameter) and param._runtime_param is None:
        desc = param.type_descriptor
        if desc.file_annotation is None:
            param._runtime_param = _Direct(desc.parameter_info, desc.annotation, desc)


def install(command: Any) -> None:
    """Give every typer parameter of ``command`` and of its sub-commands (its ``--help`` too,
    which click builds when the command parses its arguments) the direct converter; a parameter
    that already converted a value keeps what it has."""
    if RuntimeParam is None:  # pragma: no cover - depends on the installed typer
        return
    if "get_params" not in vars(command):
        parameters = command.get_params

        def get_params(ctx: Any) -> list[Any]:
            params = parameters(ctx)
            for param in params:
                _give(param)
            return list(params)

        command.get_params = get_params
    for sub in getattr(command, "commands", {}).values():
        install(sub)
