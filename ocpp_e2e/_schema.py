"""The shipped JSON Schemas and their errors as one line each: the JSON path of the place and a
reason a person reads. The policy linter and the gateway configuration loader both report this way.

>>> json_path(["rules", 0, "signers"]), json_path(["a b", "it's"])
('$.rules[0].signers', "$['a b']['it\\\\'s']")
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema

__all__ = ["json_path", "load_schema", "member_path", "schema_problems"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def member_path(parent: str, name: str) -> str:
    """The path of member ``name`` of the object at ``parent``: ``$.a`` or ``$['a b']``."""
    if _NAME.fullmatch(name):
        return f"{parent}.{name}"
    return parent + "['" + name.replace("\\", "\\\\").replace("'", "\\'") + "']"


def json_path(parts: Sequence[str | int]) -> str:
    """The JSON path of a place given as member names and list indexes."""
    out = "$"
    for p in parts:
        out = f"{out}[{p}]" if isinstance(p, int) else member_path(out, p)
    return out


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in ``ocpp_e2e/schemas`` (read once)."""
    value: dict[str, Any] = json.loads(
        resources.files("ocpp_e2e").joinpath(f"schemas/{name}").read_text("utf-8")
    )
    return value


#: A reader's own wording for an error it knows better: the reason, or None for the general one.
Special = Callable[["jsonschema.ValidationError", list[str | int]], "str | None"]


def schema_problems(
    validator: jsonschema.protocols.Validator,
    data: Any,
    *,
    list_known: bool = False,
    special: Special | None = None,
) -> list[tuple[str, str]]:
    """Every error of ``data`` against ``validator`` as ``(JSON path, reason)``, in document
    order. ``list_known`` names the allowed members after an unknown one."""
    out: list[tuple[str, str]] = []
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    for err in errors:
        path = list(err.absolute_path)
        reason = special(err, path) if special is not None else None
        if reason is not None:
            out.append((json_path(path), reason))
        elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set(err.schema.get("properties", {}))
            known = f" (known: {', '.join(sorted(allowed))})" if list_known else ""
            for extra in sorted(k for k in err.instance if k not in allowed):
                out.append((json_path([*path, extra]), f"unknown member {extra!r}{known}"))
        elif err.validator == "required":
            missing = re.search(r"'([^']+)' is a required property", err.message)
            name = missing.group(1) if missing else err.message
            out.append((json_path(path), f"required member {name!r} is missing"))
        elif err.validator == "minItems" and err.instance == []:
            out.append((json_path(path), "must not be an empty list"))
        elif err.validator == "if":  # reported by the then/else branch
            continue
        elif err.validator == "pattern" and "description" in err.schema:
            out.append((json_path(path), f"{err.instance!r} is not {err.schema['description']}"))
        elif err.validator == "enum":
            choices = ", ".join(str(c) for c in err.schema["enum"])
            out.append((json_path(path), f"{err.instance!r} is not one of {choices}"))
        else:
            out.append((json_path(path), err.message))
    return out
