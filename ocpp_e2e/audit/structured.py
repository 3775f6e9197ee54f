"""Structured JSON logs (``--format json``): one JSON object a line, the frame in a field.

Applications that log JSON (ECS/Elastic, Loki exports, Docker's json-file driver, ``journalctl -o
json``) keep the frame, or a whole log message that holds it, in one member. ``--field
NAME=PATH`` says where (dotted path into the object), for NAME ``frame``, ``station``, ``time``
and ``direction``; without it the common places are tried, in this order:

===========  ==============================================================================
frame        ``frame``, ``ocpp.frame``, ``message``, ``msg``, ``line``, ``log``, ``MESSAGE``
station      ``station``, ``chargeBoxId``, ``chargePointId``, ``stationId``, ``ocpp.station``,
             ``labels.station``, ``labels.chargeBoxId``
time         ``@timestamp``, ``timestamp``, ``ts``, ``time``, ``__REALTIME_TIMESTAMP``
direction    ``direction``, ``ocpp.direction``, ``labels.direction``
===========  ==============================================================================

A frame member that is the frame itself (a JSON array, or text starting with ``[``) needs the
station and direction members; a frame member that is a log message of one of the text formats
(``cs-1: send [2,...]``, SteVe, evcc ...) is read by that format's reader, with the object's
time and station where the message has none. A JSON array is audited as the text it has in the
line (SPEC §8).

>>> frame_like({"message": 'cs-1: send [2,"1","Heartbeat",{}]'}, None)
True
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from .._time import parse_rfc3339
from ..errors import InputError
from .logs import (
    LineReader,
    Message,
    ReadOptions,
    ReadStats,
    _object_members,
    make_reader,
    text_format,
)

__all__ = [
    "DEFAULT_PATHS",
    "FIELD_NAMES",
    "StructuredReader",
    "frame_like",
    "parse_fields",
]

FIELD_NAMES = ("frame", "station", "time", "direction")
DEFAULT_PATHS: dict[str, tuple[str, ...]] = {
    "frame": ("frame", "ocpp.frame", "message", "msg", "line", "log", "MESSAGE"),
    "station": (
        "station",
        "chargeBoxId",
        "chargePointId",
        "stationId",
        "ocpp.station",
        "labels.station",
        "labels.chargeBoxId",
    ),
    "time": ("@timestamp", "timestamp", "ts", "time", "__REALTIME_TIMESTAMP"),
    "direction": ("direction", "ocpp.direction", "labels.direction"),
}
_WAYS = {
    "toCSMS": "toCSMS",
    "toStation": "toStation",
    "out": "out",
    "send": "out",
    "sent": "out",
    "tx": "out",
    "outgoing": "out",
    "in": "in",
    "receive": "in",
    "received": "in",
    "recv": "in",
    "rx": "in",
    "incoming": "in",
}
_FRAME_START = re.compile(r"\s*\[\s*[2-6]\s*,")


def parse_fields(specs: list[str]) -> dict[str, str]:
    """``NAME=PATH`` options into a mapping; InputError for anything else.

    >>> parse_fields(["frame=ocpp.msg"])
    {'frame': 'ocpp.msg'}
    """
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or name not in FIELD_NAMES or not path or any(not p for p in path.split(".")):
            raise InputError(
                f"--field {spec!r}: use NAME=DOTTED.PATH with NAME one of {', '.join(FIELD_NAMES)}"
            )
        out[name] = path
    return out


def _paths(name: str, options: ReadOptions | None) -> tuple[str, ...]:
    if options is not None and name in options.fields:
        return (options.fields[name],)
    return DEFAULT_PATHS[name]


def _get(obj: Any, path: str) -> Any:
    if path in obj:  # a flat key with dots ("log.level" in ECS)
        return obj[path]
    for part in path.split("."):
        if type(obj) is not dict or part not in obj:
            return None
        obj = obj[part]
    return obj


def _frame_value(obj: dict[str, Any], options: ReadOptions | None) -> tuple[str | None, Any]:
    for path in _paths("frame", options):
        value = _get(obj, path)
        if type(value) is list or type(value) is str:
            return path, value
    return None, None


def frame_like(obj: dict[str, Any], options: ReadOptions | None) -> bool:
    """Whether a JSON log object carries a frame, or a message line of a text format."""
    _path, value = _frame_value(obj, options)
    if type(value) is list:
        return True
    if type(value) is str:
        return bool(_FRAME_START.match(value)) or text_format(value.strip()) is not None
    return False


def _exact(text: str, path: str) -> str | None:
    """The text of the member at ``path`` of the object ``text``, as written."""
    start, end = 0, len(text)
    parts = [path] if path in orjson.loads(text) else path.split(".")
    for part in parts:
        found = [(s, e) for n, s, e in _object_members(text[start:end]) if n == part]
        if len(found) != 1:
            return None
        start, end = start + found[0][0], start + found[0][1]
    return text[start:end]


def _time(value: Any, options: ReadOptions) -> datetime | None:
    """A time member: RFC 3339 text, a log-style stamp, or epoch seconds/ms/µs/ns."""
    if type(value) is str:
        text = value.strip()
        if text.isdigit():
            value = int(text)
        else:
            try:
                return parse_rfc3339(text)
            except ValueError:
                from .logs import _prefix_time

                ts, problem = _prefix_time(text, options.tz)
                if problem is not None:
                    raise ValueError(problem) from None
                return ts
    if type(value) is int or type(value) is float:
        number = float(value)
        for scale in (1.0, 1e3, 1e6, 1e9):
            if abs(number / scale) < 1e11:
                try:
                    return datetime.fromtimestamp(number / scale, UTC)
                except (OverflowError, OSError, ValueError) as exc:
                    raise ValueError(f"epoch time {value} does not exist") from exc
        raise ValueError(f"epoch time {value} does not exist")
    return None


class StructuredReader(LineReader):
    """Reads structured JSON log lines (see the module documentation)."""

    def __init__(self, source: str, options: ReadOptions, stats: ReadStats | None) -> None:
        super().__init__(source, options)
        self.stats = stats
        self._inner: LineReader | None = None

    def feed(self, number: int, text: str | None) -> Iterator[Message]:
        if text is None:
            yield Message(number, None, None, "", "", "not UTF-8")
            return
        stripped = text.strip()
        if not stripped:
            return
        try:
            obj = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            obj = None
        if type(obj) is not dict:
            self.other += 1
            return
        path, value = _frame_value(obj, self.options)
        if path is None:
            self.other += 1
            return
        problem: str | None = None
        ts: datetime | None = None
        for tpath in _paths("time", self.options):
            raw_time = _get(obj, tpath)
            if raw_time is None:
                continue
            try:
                ts = _time(raw_time, self.options)
            except ValueError as exc:
                problem = f"impossible time in member {tpath!r}: {exc}"
            break
        station = None
        for spath in _paths("station", self.options):
            found = _get(obj, spath)
            if type(found) is str and found:
                station = found
                break
        if type(value) is str and not _FRAME_START.match(value):
            yield from self._inner_message(number, value, ts, station, problem, text)
            return
        if type(value) is list:
            try:
                frame = _exact(stripped, path)
            except ValueError:
                frame = None
            if frame is None:
                yield Message(
                    number, ts, station, "", "", f"duplicate member on the path {path!r}", text
                )
                return
        else:
            frame = value.strip()
        way = ""
        for dpath in _paths("direction", self.options):
            found = _get(obj, dpath)
            if type(found) is str and found in _WAYS:
                way = _WAYS[found]
                break
        if not way:
            problem = problem or "no direction member (give --field direction=PATH)"
        if station is None and not self.options.station:
            problem = problem or "no station member (give --field station=PATH or --station)"
        yield Message(number, ts, station, way, frame, problem, text)

    def _inner_message(
        self,
        number: int,
        message: str,
        ts: datetime | None,
        station: str | None,
        problem: str | None,
        text: str,
    ) -> Iterator[Message]:
        lines = message.rstrip("\r\n").split("\n")
        for k, line in enumerate(lines):
            if self._inner is None:
                fmt = text_format(line.rstrip())
                if fmt is None:
                    self.other += k == 0
                    continue
                self._inner = make_reader(fmt, self.source, self.options)
                self.messages_format = fmt
                if self.stats is not None:
                    self.stats.note(self.source, "messages", f"{fmt.value} lines inside the JSON")
            before = self._inner.other
            for msg in self._inner.feed(number, line.rstrip()):
                yield _fill(msg, ts, station, problem, text)
            if k == 0 and self._inner.other > before:
                self._inner.other = before
                self.other += 1

    def finish(self) -> Iterator[Message]:
        if self._inner is not None:
            yield from self._inner.finish()


def _fill(
    msg: Message, ts: datetime | None, station: str | None, problem: str | None, text: str
) -> Message:
    return msg._replace(
        ts=msg.ts if msg.ts is not None else ts,
        station=msg.station or station,
        problem=msg.problem or problem,
        text=text,
    )
