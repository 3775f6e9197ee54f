"""A strict YAML reader for policy files: YAML 1.2 core schema, JSON data model, line numbers.

SPEC §7 reads YAML with the 1.2 core schema and without anchors, aliases, tags or merge keys, and a
duplicate key is an error. Rather than trust a library's resolver (ruamel.yaml resolves unquoted
timestamps even in 1.2 mode), this module takes ruamel.yaml's event stream and builds plain JSON
values itself, resolving plain scalars with the core schema regular expressions of YAML 1.2.2
§10.3.2. Everything else is a string: ``NO`` stays ``"NO"``, ``2026-01-01`` stays ``"2026-01-01"``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

from .._schema import member_path
from ..canonical import reads_exactly

# YAML 1.2.2 §10.3.2 (core schema), tag resolution of plain scalars.
_NULL = re.compile(r"null|Null|NULL|~|")
_TRUE = re.compile(r"true|True|TRUE")
_FALSE = re.compile(r"false|False|FALSE")
_INT10 = re.compile(r"[-+]?[0-9]+")
_INT8 = re.compile(r"0o[0-7]+")
_INT16 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF_NAN = re.compile(r"[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN")

_MAX_SAFE = 2**53 - 1  # SPEC §2 / RFC 7493: integers beyond this are not I-JSON
_MAX_DEPTH = 32
#: Digits of 2^53 − 1 in octal (the longest of the three bases), so longer literals are too big.
_MAX_SAFE_DIGITS = 18


@dataclass(frozen=True)
class YamlProblem:
    """One defect of a YAML document: JSON path, 1-based line and what is wrong."""

    path: str
    line: int | None
    message: str


class YamlDocument:
    """The JSON value of a YAML document and the line where each JSON path starts."""

    def __init__(self, value: Any, lines: dict[str, int]) -> None:
        self.value = value
        self.lines = lines

    def line_of(self, path: str) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            if cut <= 0:
                return self.lines.get("$")
            path = path[:cut]


class _Builder:
    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.pos = 0
        self.lines: dict[str, int] = {}
        self.problems: list[YamlProblem] = []

    def problem(self, path: str, event: Event, message: str) -> None:
        self.problems.append(YamlProblem(path, event.start_mark.line + 1, message))

    def next(self) -> Event:
        event = self.events[self.pos]
        self.pos += 1
        return event

    def check_node(self, path: str, event: Event) -> None:
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self.problem(path, event, f"anchor &{anchor} is not allowed in a policy")
        tag = getattr(event, "tag", None)
        if tag is not None:
            self.problem(path, event, f"tag {tag} is not allowed in a policy")

    def value(self, path: str, depth: int) -> Any:
        event = self.next()
        self.lines.setdefault(path, event.start_mark.line + 1)
        if isinstance(event, AliasEvent):
            self.problem(path, event, f"alias *{event.anchor} is not allowed in a policy")
            return None
        self.check_node(path, event)
        if depth > _MAX_DEPTH:
            self.problem(path, event, f"nesting deeper than {_MAX_DEPTH}")
            self.skip(event)
            return None
        if isinstance(event, ScalarEvent):
            return self.scalar(path, event)
        if isinstance(event, SequenceStartEvent):
            items: list[Any] = []
            while not isinstance(self.events[self.pos], SequenceEndEvent):
                items.append(self.value(f"{path}[{len(items)}]", depth + 1))
            self.pos += 1
            return items
        if isinstance(event, MappingStartEvent):
            return self.mapping(path, depth)
        raise AssertionError(f"unexpected YAML event {event!r}")  # the parser guarantees structure

    def skip(self, event: Event) -> None:
        """Step over the rest of the node ``event`` starts, without recursion (it may be nested
        thousands deep)."""
        open_nodes = int(isinstance(event, SequenceStartEvent | MappingStartEvent))
        while open_nodes:
            event = self.next()
            if isinstance(event, SequenceStartEvent | MappingStartEvent):
                open_nodes += 1
            elif isinstance(event, SequenceEndEvent | MappingEndEvent):
                open_nodes -= 1

    def mapping(self, path: str, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while not isinstance(self.events[self.pos], MappingEndEvent):
            key_event = self.next()
            if isinstance(key_event, AliasEvent):
                self.problem(
                    path, key_event, f"alias *{key_event.anchor} is not allowed in a policy"
                )
                self.value(f"{path}.?", depth + 1)
                continue
            if not isinstance(key_event, ScalarEvent):
                self.problem(path, key_event, "a mapping key must be a plain string")
                self.pos -= 1
                self.value(f"{path}.?", depth + 1)  # skip the complex key
                self.value(f"{path}.?", depth + 1)
                continue
            self.check_node(path, key_event)
            key = key_event.value
            child = member_path(path, key)
            if key == "<<" and key_event.style is None:
                self.problem(child, key_event, "merge keys (<<) are not allowed in a policy")
            if key in out:
                first = self.lines.get(child)
                self.problem(child, key_event, f"duplicate key {key!r} (first on line {first})")
                self.value(f"{child}#dup", depth + 1)
                continue
            self.lines[child] = key_event.start_mark.line + 1
            out[key] = self.value(child, depth + 1)
        self.pos += 1
        return out

    def scalar(self, path: str, event: ScalarEvent) -> Any:
        text: str = event.value
        if event.style is not None:  # quoted or block scalars are always strings
            return text
        if _NULL.fullmatch(text):
            return None
        if _TRUE.fullmatch(text):
            return True
        if _FALSE.fullmatch(text):
            return False
        number: int | float | None = None
        if (_INT10.fullmatch(text) or _INT8.fullmatch(text) or _INT16.fullmatch(text)) and len(
            text.lstrip("+-0").removeprefix("x").removeprefix("o").lstrip("0")
        ) > _MAX_SAFE_DIGITS:
            # Checked before converting: int() of thousands of digits is refused by Python itself
            # (ValueError) and would take quadratic time below that limit.
            self.problem(path, event, f"integer of {len(text)} characters is beyond ±(2^53−1)")
            return None
        if _INT10.fullmatch(text):
            number = int(text)
        elif _INT8.fullmatch(text):
            number = int(text[2:], 8)
        elif _INT16.fullmatch(text):
            number = int(text[2:], 16)
        elif _INF_NAN.fullmatch(text):
            self.problem(path, event, f"{text} is not a JSON number")
            return None
        elif _FLOAT.fullmatch(text):
            number = float(text)
            if not math.isfinite(number):
                self.problem(path, event, f"{text} is beyond the range of a double")
                return None
            # SPEC §2: a literal whose exact value differs from the double it reads as is refused.
            if not reads_exactly(text, number):
                self.problem(path, event, f"{text} cannot be represented exactly; write {number!r}")
                return None
        if isinstance(number, int) and abs(number) > _MAX_SAFE:
            self.problem(path, event, f"integer {text} is beyond ±(2^53−1)")
            return None
        if number is not None:
            return number
        return text


def load_yaml(text: str) -> tuple[YamlDocument | None, list[YamlProblem]]:
    """Read one YAML document strictly; returns the document (None when unusable) and problems.

    >>> doc, problems = load_yaml("country: NO\\nday: 2026-01-01\\n")
    >>> doc.value, problems
    ({'country': 'NO', 'day': '2026-01-01'}, [])
    """
    yaml = YAML(typ="safe", pure=True)
    try:
        events = list(yaml.parse(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        return None, [YamlProblem("$", line, f"not valid YAML: {reason}")]
    except YAMLError as exc:
        return None, [YamlProblem("$", None, f"not valid YAML: {exc}")]
    docs = [e for e in events if isinstance(e, DocumentStartEvent)]
    if len(docs) != 1:
        return None, [YamlProblem("$", None, f"expected one YAML document, found {len(docs)}")]
    version = docs[0].version
    if version is not None and tuple(version) != (1, 2):
        major, minor = version
        return None, [
            YamlProblem(
                "$", docs[0].start_mark.line + 1, f"%YAML {major}.{minor}: policies are YAML 1.2"
            )
        ]
    body = [
        e
        for e in events
        if not isinstance(
            e, StreamStartEvent | StreamEndEvent | DocumentStartEvent | DocumentEndEvent
        )
    ]
    builder = _Builder(body)
    value = builder.value("$", 0)
    return YamlDocument(value, builder.lines), builder.problems
