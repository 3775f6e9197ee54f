"""Front modules that load their names on first use, so that a command-line start imports only
what it runs: one PEP 562 ``__getattr__`` for the package, ``ocpp_e2e.audit`` and
``ocpp_e2e.integrations``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, where: Mapping[str, str | tuple[str, str]]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: a name is read from its submodule
    ``where[name]`` (or the ``(submodule, attribute)`` pair), imported on first use, and kept in
    the package so that the next use is a plain attribute.

    >>> import ocpp_e2e.integrations as front
    >>> front.no_such_name
    Traceback (most recent call last):
    ...
    AttributeError: module 'ocpp_e2e.integrations' has no attribute 'no_such_name'
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        found = where.get(name)
        if found is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attribute = (found, name) if isinstance(found, str) else found
        value = getattr(importlib.import_module(f".{module}", package), attribute)
        namespace[name] = value
        return value

    return __getattr__
