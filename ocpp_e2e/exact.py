"""SPEC §2 for frames without signatures: read exactly, refuse only what makes readers disagree.

A frame that carries no signature is still refused for a duplicate member name, invalid UTF-8, a
byte-order mark, a lone surrogate, ``NaN``/``Infinity`` or nesting deeper than 32 — so that no two
readers can see two different frames — but its numbers are kept exactly: integers of any size as
``int``, and a decimal literal as the ``float`` it reads as when that float is exactly its value
(``4200.5``), else as a :class:`~decimal.Decimal` (``4199.99999999999999999``), so that policy
``where`` conditions compare the value that was sent. The size limit is the caller's setting.

The strict reader (:mod:`ocpp_e2e.canonical`) stays the one for anything signed; this one is
only asked after it refused, and the caller then checks that the frame carries no signatures.

>>> read_exact('[2, "1", "ClearChargingProfile", {"chargingProfileId": 1152921504606846976}]', max_bytes=None)[3]
{'chargingProfileId': 1152921504606846976}
>>> read_exact('{"limit": 4199.99999999999999999}', max_bytes=None)["limit"]
Decimal('4199.99999999999999999')
>>> read_exact('{"a": 1, "a": 2}', max_bytes=None)
Traceback (most recent call last):
...
ocpp_e2e.errors.IJSONError: $: duplicate member name "a"
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from .canonical import MAX_BYTES, MAX_DEPTH
from .errors import IJSONError

__all__ = [
    "read_exact",
]

_BOM = b"\xef\xbb\xbf"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class _Refused(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"duplicate member name {orjson.dumps(key).decode()}")
            seen.add(key)
    return out


def _decimal(literal: str) -> float | Decimal:
    try:
        exact = Decimal(literal)
    except InvalidOperation:  # an exponent beyond Decimal's range: no exact value to keep
        raise _Refused(
            f"number {literal[:40]}{'…' if len(literal) > 40 else ''} has an exponent beyond "
            "what can be read exactly"
        ) from None
    try:
        as_float = float(literal)
    except OverflowError:  # pragma: no cover - float() returns inf instead
        return exact
    if as_float == as_float and abs(as_float) != float("inf") and Decimal(as_float) == exact:
        return as_float
    return exact


def _integer(literal: str) -> int:
    try:
        return int(literal)
    except ValueError:  # beyond the interpreter's digit limit for int() (4300 by default)
        raise _Refused(
            f"integer of {len(literal.lstrip('-'))} digits is too long to read"
        ) from None


def _constant(literal: str) -> Any:
    raise _Refused(f"{literal} is not JSON")


def read_exact(data: bytes | str, *, max_bytes: int | None = MAX_BYTES) -> Any:
    """Parse JSON as SPEC §2 reads frames without signatures; raise
    :class:`~ocpp_e2e.errors.IJSONError` with the place and the reason.

    ``max_bytes`` is the size limit (default 1 MiB; None: no limit, for text the application
    itself wrote).
    """
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise IJSONError(f"lone surrogate at character {exc.start}", "$") from None
    else:
        raw = bytes(data)
    if max_bytes is not None and len(raw) > max_bytes:
        raise IJSONError(
            f"input of {len(raw)} bytes exceeds the limit of {max_bytes} bytes for frames "
            "without signatures",
            "$",
        )
    if raw.startswith(_BOM):
        raise IJSONError("input starts with a byte-order mark", "$ (line 1, column 1)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise IJSONError(f"invalid UTF-8 at byte {exc.start} (line {line})", "$") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_float=_decimal,
            parse_int=_integer,
            parse_constant=_constant,
        )
    except _Refused as exc:
        raise IJSONError(str(exc), "$") from None
    except json.JSONDecodeError as exc:
        raise IJSONError(exc.msg, f"$ (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise IJSONError(f"nesting deeper than {MAX_DEPTH} levels", "$") from None
    _check_depth(value)
    if _SURROGATE_ESCAPE.search(text) is not None:
        _check_surrogates(value)
    return value


def _check_depth(value: Any) -> None:
    """Nesting of at most MAX_DEPTH containers, without recursion."""
    level: list[Any] = [value]
    depth = 1
    while level:
        children: list[Any] = []
        for item in level:
            members = item.values() if type(item) is dict else item if type(item) is list else ()
            children.extend(m for m in members if type(m) is dict or type(m) is list)
        if children and depth >= MAX_DEPTH:
            raise IJSONError(f"nesting deeper than {MAX_DEPTH} levels", "$")
        level = children
        depth += 1


def _check_surrogates(value: Any) -> None:
    """Lone surrogates (from ``\\ud800`` escapes) in any string, without recursion."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            for key, member in item.items():
                _check_text(key)
                stack.append(member)
        elif type(item) is list:
            stack.extend(item)
        elif type(item) is str:
            _check_text(item)


def _check_text(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise IJSONError("lone surrogate in a string", "$") from None
