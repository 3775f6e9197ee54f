"""Readers for captured OCPP message logs (SPEC §8): one stream of records, whatever the format.

Every reader is a generator over the lines of one file: memory stays flat however long the log.
It yields :class:`LogRecord` for each frame and :class:`UnreadableLine` for each line that should
have been a frame but cannot be read; nothing is dropped. Lines of a software log that are not
message lines at all (start-up banners, connection events) are counted in :class:`ReadStats`.

Formats (``--format``):

``jsonl``
    The normalized log, one JSON object a line:
    ``{"ts", "station", "direction", "ocpp", "frame"}``; ``frame`` is the exact wire text (a
    string, preferred) or the frame as a JSON array; ``ocpp`` is optional.
``ocpp-lib``
    Lines of the Python ``ocpp`` library's logger: ``<id>: send <frame>`` and
    ``<id>: receive message <frame>``, after a logging prefix that holds a timestamp
    (``%(asctime)s``). Whether ``send`` goes to the station or to the CSMS depends on which side
    wrote the log, so these logs need ``side``.
``steve``
    SteVe's ``WebSocketLogger`` lines
    ``[chargeBoxId=<id>, sessionId=<s>] Sending: <frame>`` / ``Received: <frame>`` after the
    usual log4j prefix with a timestamp. SteVe is a CSMS: ``Received`` is ``toCSMS``.
``everest``
    EVerest libocpp's message log: a header ``<ts>: ChargePoint>CentralSystem <Action>`` (or
    ``CentralSystem>ChargePoint``) followed by the frame JSON on the next lines, up to a blank
    line. The log is per station and does not name it, so these logs need ``station``.
``auto``
    The first line of a file that looks like one of the formats (a line starting with ``{`` is
    ``jsonl``) fixes the format for the rest of that file; lines before it are counted as other
    lines. A file in which no line matches is an error.
"""

from __future__ import annotations

import bz2
import enum
import gzip
import io
import lzma
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import BinaryIO, NamedTuple, cast

import orjson

from ..errors import InputError
from ..model import Direction

#: OCPP versions a frame CONTEXT can name (SPEC §3).
OCPP_VERSIONS = ("1.6", "2.0.1", "2.1")
#: A frame over 1 MiB is refused by the verifier anyway (SPEC §2); an EVerest record that grows
#: beyond this without a blank line is reported instead of buffered further.
MAX_FRAME_BYTES = 1 << 20
_SHOWN = 120  # characters of an unreadable line quoted in its finding


class LogFormat(enum.StrEnum):
    """The formats :func:`read_logs` understands."""

    AUTO = "auto"
    JSONL = "jsonl"
    OCPP_LIB = "ocpp-lib"
    STEVE = "steve"
    EVEREST = "everest"


class Side(enum.StrEnum):
    """Which end of the connection wrote an ``ocpp-lib`` log."""

    CSMS = "csms"
    STATION = "station"


class LogRecord(NamedTuple):
    """One captured frame: where it was read, when, on which connection and which way."""

    source: str
    line: int
    ts: datetime
    station: str
    direction: Direction
    ocpp: str
    frame: str


class UnreadableLine(NamedTuple):
    """A line that should hold a frame but cannot be read; ``reason`` says why."""

    source: str
    line: int
    reason: str
    text: str


class RawLines(NamedTuple):
    """Lines of a JSON Lines log not parsed yet: ``lines[i]`` (without its newline) is line
    ``numbers[i]`` of ``source``. Parse them with :func:`read_jsonl_line`, wherever that is cheapest
    (the audit parses them in its worker processes)."""

    source: str
    numbers: Sequence[int]
    lines: list[bytes]


@dataclass
class ReadStats:
    """Counts of what the readers saw, per run (all files)."""

    lines: int = 0
    records: int = 0
    unreadable: int = 0
    other: int = 0
    formats: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadOptions:
    """How to read logs.

    ``ocpp`` is the version for records that do not name one; ``side`` is required for
    ``ocpp-lib`` logs and ``station`` for ``everest`` logs; ``tz`` is the zone of timestamps
    written without an offset (log prefixes usually are local time).
    """

    format: LogFormat = LogFormat.AUTO
    ocpp: str = "2.0.1"
    side: Side | None = None
    station: str | None = None
    tz: tzinfo = UTC

    def __post_init__(self) -> None:
        if self.ocpp not in OCPP_VERSIONS:
            raise InputError(
                f"unknown OCPP version {self.ocpp!r}; use one of {', '.join(OCPP_VERSIONS)}"
            )
        if self.format is LogFormat.EVEREST and not self.station:
            raise InputError(
                "EVerest message logs do not name the station; give its identity (--station)"
            )
        if self.format is LogFormat.OCPP_LIB and self.side is None:
            raise InputError(
                "in ocpp library logs 'send' means toStation on a CSMS and toCSMS on a station; "
                "say which side wrote the log (--side csms|station)"
            )


Item = LogRecord | UnreadableLine
#: What :func:`scan_stream` yields: items, and JSON Lines still to be parsed.
Piece = LogRecord | UnreadableLine | RawLines
#: Bytes read from a log file at once; lines are split from these blocks.
BLOCK_BYTES = 1 << 20


# --------------------------------------------------------------------------- files


@contextmanager
def open_log(path: str) -> Iterator[BinaryIO]:
    """Open a log file (``-`` is stdin) as a binary stream, transparently gunzipping it.

    Compression is recognised by the gzip magic bytes, not by the file name. Raises
    :class:`InputError` naming the file when it cannot be opened.

    Example: ``with open_log("day.jsonl.gz") as stream: first = stream.readline()``.
    """
    with ExitStack() as stack:
        if path == "-":
            buffered = sys.stdin.buffer
            if not isinstance(buffered, io.BufferedReader):
                buffered = io.BufferedReader(cast(io.RawIOBase, buffered))
        elif "://" in path:
            buffered = io.BufferedReader(cast(io.RawIOBase, stack.enter_context(_open_url(path))))
        else:
            try:
                buffered = stack.enter_context(open(path, "rb"))
            except OSError as exc:
                raise InputError(f"cannot open log file ({exc.strerror})", source=path) from exc
        head = buffered.peek(6)[:6]
        if head[:2] == b"\x1f\x8b":
            yield cast(BinaryIO, stack.enter_context(gzip.GzipFile(fileobj=buffered, mode="rb")))
        elif head[:3] == b"BZh":
            yield cast(BinaryIO, stack.enter_context(bz2.BZ2File(buffered, mode="rb")))
        elif head == b"\xfd7zXZ\x00":
            yield cast(BinaryIO, stack.enter_context(lzma.LZMAFile(buffered, mode="rb")))
        else:
            yield cast(BinaryIO, buffered)


@contextmanager
def _open_url(url: str) -> Iterator[BinaryIO]:
    """An fsspec URL (``s3://``, ``gs://``, ``file://``, ``memory://`` ...) opened for reading."""
    import fsspec

    try:
        opened = fsspec.open(url, "rb").open()
    except (OSError, ValueError, ImportError) as exc:
        raise InputError(f"cannot open log file ({exc})", source=url) from exc
    try:
        yield cast(BinaryIO, opened)
    finally:
        opened.close()


def _blocks(stream: BinaryIO, source: str) -> Iterator[tuple[int, list[bytes]]]:
    """Lines in blocks: (number of the first line, the lines without their ``\\n``)."""
    number = 1
    rest = b""
    try:
        while True:
            chunk = stream.read(BLOCK_BYTES)
            if not chunk:
                break
            lines = (rest + chunk).split(b"\n") if rest else chunk.split(b"\n")
            rest = lines.pop()
            if lines:
                yield number, lines
                number += len(lines)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read past line {number - 1} ({exc})", source=source) from exc
    if rest:
        yield number, [rest]


def read_logs(
    paths: Iterable[str], options: ReadOptions, stats: ReadStats | None = None
) -> Iterator[Item]:
    """Yield the records and unreadable lines of every file in ``paths``, in file order.

    >>> opts = ReadOptions(format=LogFormat.JSONL)
    >>> list(read_logs([], opts))
    []
    """
    stats = stats if stats is not None else ReadStats()
    for path in paths:
        with open_log(path) as stream:
            yield from read_stream(stream, path, options, stats)


def read_stream(
    stream: BinaryIO, source: str, options: ReadOptions, stats: ReadStats
) -> Iterator[Item]:
    """Yield the items of one binary stream of log lines (see :func:`read_logs`)."""
    for piece in scan_stream(stream, source, options, stats):
        if isinstance(piece, RawLines):
            for number, raw in zip(piece.numbers, piece.lines, strict=True):
                item = read_jsonl_line(piece.source, number, raw, options.ocpp)
                if item is None:
                    continue
                if isinstance(item, UnreadableLine):
                    stats.unreadable += 1
                else:
                    stats.records += 1
                yield item
        else:
            yield piece


def scan_stream(
    stream: BinaryIO, source: str, options: ReadOptions, stats: ReadStats
) -> Iterator[Piece]:
    """Like :func:`read_stream`, but JSON Lines come out unparsed, as :class:`RawLines`.

    ``stats`` counts every line and the items yielded here; whoever parses the raw lines counts
    their records and unreadable lines.
    """
    fmt = options.format
    reader: _Reader | None = None
    raw_mode = fmt is LogFormat.JSONL
    if fmt is not LogFormat.AUTO:
        stats.formats[source] = fmt.value
        if not raw_mode:
            reader = _make_reader(fmt, source, options)
    nonblank = 0
    for first, lines in _blocks(stream, source):
        stats.lines += len(lines)
        if raw_mode:
            yield RawLines(source, range(first, first + len(lines)), lines)
            continue
        for k, raw in enumerate(lines):
            number = first + k
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                stats.unreadable += 1
                yield UnreadableLine(
                    source, number, f"not UTF-8 ({exc.reason} at byte {exc.start})", ""
                )
                continue
            if text.strip():
                nonblank += 1
            if reader is None:
                detected = _detect(text)
                if detected is None:
                    if text.strip():
                        stats.other += 1
                    continue
                stats.formats[source] = detected.value
                if detected is LogFormat.JSONL:
                    raw_mode = True
                    yield RawLines(source, range(number, first + len(lines)), lines[k:])
                    break
                reader = _make_reader(detected, source, options)
            for item in reader.feed(number, text):
                if isinstance(item, UnreadableLine):
                    stats.unreadable += 1
                else:
                    stats.records += 1
                yield item
    if reader is not None:
        for item in reader.finish():
            if isinstance(item, UnreadableLine):
                stats.unreadable += 1
            else:
                stats.records += 1
            yield item
        stats.other += reader.other
    elif not raw_mode and nonblank:
        raise InputError(
            "no line matches a known log format (jsonl, ocpp-lib, steve, everest); "
            "check the file or give --format",
            source=source,
        )


# --------------------------------------------------------------------------- timestamps

# RFC 3339 for the normalized log; the log adapters also take a space for "T", a comma before the
# fraction (Python's %(asctime)s and log4j's %d) and no offset (then ReadOptions.tz applies).
_TS = r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(Z|z|[+-]\d\d:?\d\d)?"
_TS_RE = re.compile(_TS)
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|z|[+-]\d\d:\d\d)"
)


def _to_datetime(m: re.Match[str], tz: tzinfo) -> datetime:
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7) or ""
    micro = int(frac[:6].ljust(6, "0")) if frac else 0
    off = m.group(8)
    zone: tzinfo
    if off is None:
        zone = tz
    elif off in ("Z", "z"):
        zone = UTC
    else:
        sign = -1 if off[0] == "-" else 1
        digits = off[1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    if second == 60:  # a leap second: RFC 3339 allows it, datetime does not
        second = 59
    value = datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    return value.astimezone(UTC)


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 date-time with an offset into an aware UTC datetime.

    >>> parse_rfc3339("2026-03-01T08:00:00.250+01:00").isoformat()
    '2026-03-01T07:00:00.250000+00:00'
    """
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 date-time with offset: {text[:40]!r}")
    if m.group(8) == "Z" and m.group(6) != "60":
        # the common case, fast: fromisoformat reads exactly what the pattern allowed here
        return datetime.fromisoformat(text)
    return _to_datetime(m, UTC)


def _prefix_time(prefix: str, tz: tzinfo) -> datetime | None:
    m = _TS_RE.search(prefix)
    if m is None:
        return None
    return _to_datetime(m, tz)


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


# --------------------------------------------------------------------------- adapters


class _Reader:
    """One format's line parser for one file; ``other`` counts non-message lines."""

    def __init__(self, source: str, options: ReadOptions) -> None:
        self.source = source
        self.options = options
        self.other = 0

    def feed(self, number: int, text: str) -> Iterator[Item]:
        raise NotImplementedError

    def finish(self) -> Iterator[Item]:
        return iter(())

    def bad(self, number: int, reason: str, text: str) -> UnreadableLine:
        return UnreadableLine(self.source, number, reason, _shown(text))


# "gateway": what an ocpp-e2e gateway did with the frame (docs/gateway.md); an audit decides again.
_JSONL_MEMBERS = frozenset({"ts", "station", "direction", "ocpp", "frame", "gateway"})
_DIRECTIONS = {"toCSMS": Direction.TO_CSMS, "toStation": Direction.TO_STATION}


def read_jsonl_line(source: str, number: int, raw: bytes, ocpp: str) -> Item | None:
    """Read one line of the normalized log (without its newline); None for a blank line.

    ``ocpp`` is the version of a record that names none.

    >>> read_jsonl_line("log", 3, b"[]", "2.0.1").reason
    'not a JSON object'
    """
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as bad:
            return UnreadableLine(
                source, number, f"not UTF-8 ({bad.reason} at byte {bad.start})", ""
            )
        if not text.strip():
            return None
        return UnreadableLine(source, number, f"not JSON ({exc})", _shown(text))
    if type(obj) is not dict:
        return _bad_line(source, number, raw, "not a JSON object")
    problem = _jsonl_problem(obj)
    if problem:
        return _bad_line(source, number, raw, problem)
    try:
        ts = parse_rfc3339(obj["ts"])
    except ValueError as exc:
        return _bad_line(source, number, raw, f"ts: {exc}")
    frame = obj["frame"]
    frame_text = orjson.dumps(frame).decode("utf-8") if type(frame) is list else frame
    return LogRecord(
        source,
        number,
        ts,
        obj["station"],
        _DIRECTIONS[obj["direction"]],
        obj.get("ocpp", ocpp),
        frame_text,
    )


def _bad_line(source: str, number: int, raw: bytes, reason: str) -> UnreadableLine:
    # orjson read the line, so it is UTF-8
    return UnreadableLine(source, number, reason, _shown(raw.decode("utf-8").rstrip("\r\n")))


def _jsonl_problem(obj: dict[str, object]) -> str | None:
    if not obj.keys() <= _JSONL_MEMBERS:
        unknown = set(obj) - _JSONL_MEMBERS
        return f"unknown member(s) {', '.join(sorted(unknown))}"
    for name in ("ts", "station", "direction", "frame"):
        if name not in obj:
            return f"missing member {name!r}"
    if type(obj["ts"]) is not str:
        return "ts: must be an RFC 3339 string"
    station = obj["station"]
    if type(station) is not str or not station:
        return "station: must be a non-empty string"
    direction = obj["direction"]
    if type(direction) is not str or direction not in _DIRECTIONS:
        return "direction: must be 'toCSMS' or 'toStation'"
    if "ocpp" in obj and obj["ocpp"] not in OCPP_VERSIONS:
        return f"ocpp: must be one of {', '.join(OCPP_VERSIONS)}"
    if type(obj["frame"]) is not str and type(obj["frame"]) is not list:
        return "frame: must be the frame text or a JSON array"
    return None


# ocpp/charge_point.py logs `"%s: receive message %s", self.id, message` and `"%s: send %s"`.
# The id is the last colon-free token before the verb, so prefixes such as `INFO:ocpp:` work.
_OCPP_LIB = re.compile(r"(?:^|[\s:\]\[])([^\s:\[\]]+): (send|receive message) (\[.*)$")


class _OcppLibReader(_Reader):
    def feed(self, number: int, text: str) -> Iterator[Item]:
        m = _OCPP_LIB.search(text)
        if m is None:
            if text.strip():
                self.other += 1
            return
        side = self.options.side
        if side is None:
            raise InputError(
                f"line {number}: in ocpp library logs 'send' means toStation on a CSMS and "
                "toCSMS on a station; say which side wrote the log (--side csms|station)",
                source=self.source,
            )
        ts = _prefix_time(text[: m.start()], self.options.tz)
        if ts is None:
            yield self.bad(number, "no timestamp before the message (log with %(asctime)s)", text)
            return
        sent = m.group(2) == "send"
        to_station = sent if side is Side.CSMS else not sent
        direction = Direction.TO_STATION if to_station else Direction.TO_CSMS
        frame = m.group(3).rstrip()
        yield LogRecord(self.source, number, ts, m.group(1), direction, self.options.ocpp, frame)


# de.rwth.idsg.steve.ocpp.ws.WebSocketLogger: "[chargeBoxId={}, sessionId={}] Sending: {}".
_STEVE = re.compile(r"\[chargeBoxId=([^,\]]+),\s*sessionId=[^\]]*\]\s+(Sending|Received):\s+(.*)$")


class _SteveReader(_Reader):
    def feed(self, number: int, text: str) -> Iterator[Item]:
        m = _STEVE.search(text)
        if m is None:
            if text.strip():
                self.other += 1
            return
        ts = _prefix_time(text[: m.start()], self.options.tz)
        if ts is None:
            yield self.bad(number, "no timestamp in the log prefix", text)
            return
        frame = m.group(3).rstrip()
        if not frame.startswith("["):
            yield self.bad(number, "the logged message is not an OCPP-J frame", text)
            return
        direction = Direction.TO_STATION if m.group(2) == "Sending" else Direction.TO_CSMS
        yield LogRecord(self.source, number, ts, m.group(1), direction, self.options.ocpp, frame)


# libocpp MessageLogging: "<ts>: ChargePoint>CentralSystem <Action>" then the pretty-printed JSON
# frame and a blank line; "<ts>: SYS> ..." lines are connection events.
_EVEREST = re.compile(
    rf"^({_TS}): (ChargePoint>CentralSystem|CentralSystem>ChargePoint)\s+(\S+)\s*$"
)
_EVEREST_SYS = re.compile(rf"^{_TS}: SYS>")


class _EverestReader(_Reader):
    def __init__(self, source: str, options: ReadOptions) -> None:
        super().__init__(source, options)
        self._start = 0
        self._head: re.Match[str] | None = None
        self._body: list[str] = []
        self._size = 0

    def feed(self, number: int, text: str) -> Iterator[Item]:
        head = _EVEREST.match(text)
        if head is not None:
            yield from self._flush()
            self._start, self._head, self._body, self._size = number, head, [], 0
            return
        if self._head is None:
            if text.strip():
                self.other += 1
            return
        if not text.strip():
            if self._body:
                yield from self._flush()
            return
        if _EVEREST_SYS.match(text):
            yield from self._flush()
            self.other += 1
            return
        self._size += len(text) + 1
        if self._size > MAX_FRAME_BYTES:
            yield self.bad(self._start, "frame text runs over 1 MiB without a blank line", text)
            self._head, self._body = None, []
            return
        self._body.append(text)

    def finish(self) -> Iterator[Item]:
        yield from self._flush()

    def _flush(self) -> Iterator[Item]:
        head, body = self._head, self._body
        self._head, self._body = None, []
        if head is None:
            return
        if not body:
            yield self.bad(self._start, "message header without a frame", head.group(0))
            return
        ts_match = _TS_RE.fullmatch(head.group(1))
        assert ts_match is not None
        ts = _to_datetime(ts_match, self.options.tz)
        to_csms = head.group(10) == "ChargePoint>CentralSystem"
        direction = Direction.TO_CSMS if to_csms else Direction.TO_STATION
        station = self.options.station
        assert station is not None
        frame = "\n".join(body)
        yield LogRecord(self.source, self._start, ts, station, direction, self.options.ocpp, frame)


_READERS: dict[LogFormat, type[_Reader]] = {
    LogFormat.OCPP_LIB: _OcppLibReader,
    LogFormat.STEVE: _SteveReader,
    LogFormat.EVEREST: _EverestReader,
}


def _make_reader(fmt: LogFormat, source: str, options: ReadOptions) -> _Reader:
    if fmt is LogFormat.EVEREST and not options.station:
        raise InputError(
            "this is an EVerest message log, which does not name the station; give its identity "
            "(--station)",
            source=source,
        )
    return _READERS[fmt](source, options)


def _detect(text: str) -> LogFormat | None:
    stripped = text.lstrip()
    if not stripped:
        return None
    if stripped.startswith("{"):
        return LogFormat.JSONL
    if _STEVE.search(text):
        return LogFormat.STEVE
    if _EVEREST.match(text) or _EVEREST_SYS.match(text):
        return LogFormat.EVEREST
    if _OCPP_LIB.search(text):
        return LogFormat.OCPP_LIB
    return None
