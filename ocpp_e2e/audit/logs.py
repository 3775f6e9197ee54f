"""Readers for captured OCPP message logs (SPEC §8): one stream of records, whatever the format.

Every reader is a generator over one file: memory stays flat however long the log. It yields
:class:`LogRecord` for each frame (with the number of the line, message or packet where it
starts) and :class:`UnreadableLine` for each line that should have been a frame but cannot be
read; nothing is dropped. Lines of a software log that are not message lines at all (start-up
banners, connection events, tracebacks, the application's own JSON lines) are counted as other
lines in :class:`ReadStats`.

Formats (``--format``; docs/audit.md shows a sample line of each):

``jsonl``
    The normalized log, one JSON object a line: ``{"ts", "station", "direction", "ocpp",
    "frame"}``; ``frame`` is the exact wire text (a string, preferred) or the frame as a JSON
    array, audited as the text it has in the line; ``ts`` and ``ocpp`` are optional.
``ocpp-lib``
    The Python ``ocpp`` library's logger: ``<id>: send <frame>`` / ``<id>: receive message
    <frame>``, with or without a logging prefix.
``steve``
    SteVe's ``[chargeBoxId=<id>, sessionId=<s>] Sending: <frame>`` / ``Received: <frame>``.
``everest``
    EVerest libocpp's message log: ``<ts>: ChargePoint>CentralSystem <Action>`` then the frame.
``evcc``
    evcc / ocpp-go: ``sent JSON message to <id>: <frame>`` / ``received JSON message from
    <id>: <frame>``, and evcc's newer ``send <id>: <frame>`` / ``recv <id>: <frame>``.
``json``, ``har``, ``pcap``
    Structured JSON logs, browser HAR files and packet captures: see
    :mod:`ocpp_e2e.audit.structured`, :mod:`ocpp_e2e.audit.har`, :mod:`ocpp_e2e.audit.pcap`.
``auto``
    The format that most lines of the file's first :data:`DETECT_LINES` lines (fewer when they
    hold more than :data:`DETECT_BYTES`) match (never decided by one line); HAR and capture files
    by their content.

Text formats: a frame logged over several lines (pretty-printed JSON, a journal that wraps long
lines with a repeated prefix, EVerest's blocks) is joined until its brackets close; tabs, CRLF,
ANSI colour codes and a byte-order mark are taken in stride; a timestamp is optional (without one
freshness is not judged, and the report says so).
"""

from __future__ import annotations

import bz2
import enum
import gzip
import io
import json
import lzma
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, BinaryIO, NamedTuple, cast
from zlib import error as zlib_error

import orjson

from .._time import parse_rfc3339
from .._time import utc_of as _to_datetime
from ..context import normalize_station
from ..errors import InputError
from ..model import Direction
from ..versions import OCPP_VERSIONS, profile
from .infer import VersionVotes, call_of, writer_side

__all__ = [
    "BLOCK_BYTES",
    "DETECT_LINES",
    "INFER_RECORDS",
    "MAX_FRAME_BYTES",
    "READ_BYTES",
    "EvccReader",
    "EverestReader",
    "FrameVersions",
    "Item",
    "LineReader",
    "LogFormat",
    "LogRecord",
    "Message",
    "OcppLibReader",
    "Piece",
    "PrefixedReader",
    "RawLines",
    "ReadOptions",
    "ReadStats",
    "Side",
    "SteveReader",
    "UnreadableFile",
    "UnreadableLine",
    "make_reader",
    "note_file_from_stations",
    "open_log",
    "read_jsonl_line",
    "read_logs",
    "read_stream",
    "scan_stream",
    "text_format",
]

#: A frame over 1 MiB is refused by the verifier anyway (SPEC §2); a frame that grows beyond this
#: over several lines is reported instead of buffered further.
MAX_FRAME_BYTES = 1 << 20
#: Lines of a file scored to detect its format (``auto``) and to check an explicit one ...
DETECT_LINES = 2000
#: ... at most as many as fit in this many bytes (whole blocks of :data:`BLOCK_BYTES`): the lines
#: are held while the format is decided, so memory must not grow with the size of a line.
DETECT_BYTES = 8 << 20
#: Records held back at most while the version or the writing side is inferred.
INFER_RECORDS = 2000
_SHOWN = 120  # characters of an unreadable line quoted in its finding


class LogFormat(enum.StrEnum):
    """The formats :func:`read_logs` understands."""

    AUTO = "auto"
    JSONL = "jsonl"
    JSON = "json"
    OCPP_LIB = "ocpp-lib"
    STEVE = "steve"
    EVEREST = "everest"
    EVCC = "evcc"
    HAR = "har"
    PCAP = "pcap"


class Side(enum.StrEnum):
    """Which end of the connection wrote a log."""

    CSMS = "csms"
    STATION = "station"


class LogRecord(NamedTuple):
    """One captured frame: where it was read, when (None: the log has no time), on which
    connection and which way."""

    source: str
    line: int
    ts: datetime | None
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
    """Counts of what the readers saw, per run (all files).

    ``formats`` maps each file to its format; ``inferred`` each file to what was inferred about
    it and how (``format``, ``side``, ``ocpp``, ``time``, ...), in words for the report;
    ``station_facts`` each file to each station's own ``ocpp`` and ``side`` (a log can hold
    stations of several versions), keyed by the normalized station identity.
    ``records`` and ``unreadable`` are counted by whoever consumes the items.
    """

    lines: int = 0
    records: int = 0
    unreadable: int = 0
    other: int = 0
    formats: dict[str, str] = field(default_factory=dict)
    inferred: dict[str, dict[str, str]] = field(default_factory=dict)
    station_facts: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def note(self, source: str, what: str, text: str) -> None:
        """Record what was inferred about ``source``."""
        self.inferred.setdefault(source, {})[what] = text

    def note_station(self, source: str, station: str, what: str, text: str) -> None:
        """Record what was inferred about one station of ``source`` (its ``ocpp``, ``side``)."""
        key = normalize_station(station)
        self.station_facts.setdefault(source, {}).setdefault(key, {})[what] = text


@dataclass(frozen=True)
class ReadOptions:
    """How to read logs.

    ``ocpp`` is the version of records that do not name one (None: inferred from the frames,
    else 2.0.1; SteVe and evcc speak 1.6); ``side`` which end wrote an ``ocpp-lib`` log (None:
    inferred from who sends BootNotification and the like); ``station`` the identity for logs
    that do not name it (EVerest, a station's own log); ``tz`` the zone of timestamps written
    without an offset; ``fields`` where structured JSON logs keep the frame, station, time and
    direction (dotted paths, see :mod:`ocpp_e2e.audit.structured`).
    """

    format: LogFormat = LogFormat.AUTO
    ocpp: str | None = None
    side: Side | None = None
    station: str | None = None
    tz: tzinfo = UTC
    fields: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ocpp is not None:
            profile(self.ocpp)

    @property
    def default_ocpp(self) -> str:
        """The version of a normalized record that names none."""
        return self.ocpp or "2.0.1"


Item = LogRecord | UnreadableLine
#: What :func:`scan_stream` yields: items, and JSON Lines still to be parsed.
Piece = LogRecord | UnreadableLine | RawLines
#: Bytes read from a log file at once; lines are split from these blocks.
BLOCK_BYTES = 1 << 20
#: Bytes asked of the stream at once (a block is several reads): a stream that breaks loses at
#: most this much before the break.
READ_BYTES = 1 << 16


# --------------------------------------------------------------------------- files


class UnreadableFile(InputError):
    """A log file that cannot be opened or read to its end (an I/O error, broken compression).

    ``line`` is the first line not read (0: the file could not be opened). An audit reports it
    as an unreadable line there and goes on with the other files: what was read before stays
    audited, and nothing after it is presented as read.
    """

    def __init__(self, reason: str, source: str, line: int) -> None:
        super().__init__(reason, source=source)
        self.line = line


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
                raise UnreadableFile(f"cannot open log file ({exc.strerror})", path, 0) from exc
        try:
            head = buffered.peek(6)[:6]
        except OSError as exc:
            raise UnreadableFile(f"cannot read the log file ({exc})", path, 1) from exc
        if head[:2] == b"\x1f\x8b":
            gz = gzip.GzipFile(fileobj=buffered, mode="rb")
            yield cast(BinaryIO, stack.enter_context(io.BufferedReader(gz)))
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
        raise UnreadableFile(f"cannot open log file ({exc})", url, 0) from exc
    try:
        yield cast(BinaryIO, opened)
    finally:
        opened.close()


def _blocks(stream: BinaryIO, source: str) -> Iterator[tuple[int, list[bytes]]]:
    """Lines in blocks: (number of the first line, the lines without their ``\\n``); a
    byte-order mark at the start of the file is dropped.

    The stream is read :data:`READ_BYTES` at a time, so that when it breaks (an I/O error, a
    compressed file cut short) every whole line before the break is still yielded; then
    :class:`UnreadableFile` names the first line that could not be read.
    """
    number = 1
    rest = b""
    first = True
    chunks: list[bytes] = []
    size = 0
    broken: BaseException | None = None
    while broken is None:
        try:
            chunk = stream.read(READ_BYTES)
        except (OSError, EOFError, gzip.BadGzipFile, zlib_error, lzma.LZMAError) as exc:
            broken, chunk = exc, b""
        if chunk:
            if first:
                first = False
                if chunk.startswith(b"\xef\xbb\xbf"):
                    chunk = chunk[3:]
            chunks.append(chunk)
            size += len(chunk)
            if size < BLOCK_BYTES:
                continue
        elif broken is None and not chunks:
            break
        lines = (rest + b"".join(chunks)).split(b"\n")
        chunks, size = [], 0
        rest = lines.pop()
        if lines:
            yield number, lines
            number += len(lines)
        if not chunk and broken is None:
            break
    if broken is not None:
        raise UnreadableFile(
            f"cannot read past line {number - 1} ({broken})", source, number
        ) from broken
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
    """Yield the items of one binary stream (see :func:`read_logs`); counts them in ``stats``."""
    for piece in scan_stream(stream, source, options, stats):
        if isinstance(piece, RawLines):
            default = options.default_ocpp
            for number, raw in zip(piece.numbers, piece.lines, strict=True):
                item = read_jsonl_line(piece.source, number, raw, default)
                if item is None:
                    continue
                _count(stats, item)
                yield item
        else:
            _count(stats, piece)
            yield piece


def _count(stats: ReadStats, item: Item) -> None:
    if type(item) is LogRecord:
        stats.records += 1
    else:
        stats.unreadable += 1


def scan_stream(
    stream: BinaryIO, source: str, options: ReadOptions, stats: ReadStats
) -> Iterator[Piece]:
    """Like :func:`read_stream`, but JSON Lines come out unparsed, as :class:`RawLines`.

    ``stats`` counts lines and other lines here; whoever consumes the pieces counts records and
    unreadable lines (each item once).
    """
    fmt = options.format
    try:
        head = stream.peek(64)[:64] if hasattr(stream, "peek") else b""
    except (OSError, EOFError, zlib_error, lzma.LZMAError) as exc:  # broken compression
        raise UnreadableFile(f"cannot read the log file ({exc})", source, 1) from exc
    if fmt is LogFormat.PCAP or (fmt is LogFormat.AUTO and _is_capture(head)):
        yield from _special(LogFormat.PCAP, stream, source, options, stats)
        return
    if fmt is LogFormat.HAR or (fmt is LogFormat.AUTO and _is_har(head)):
        yield from _special(LogFormat.HAR, stream, source, options, stats)
        return
    blocks = _blocks(stream, source)
    window: list[bytes] = []
    first = 1
    held = 0
    for number, lines in blocks:
        if not window:
            first = number
        window.extend(lines)
        held += sum(map(len, lines))
        if len(window) >= DETECT_LINES or held >= DETECT_BYTES:
            break
    stats.lines += len(window)
    scores = _score(window[:DETECT_LINES], options)
    if not any(line.strip() for line in window):
        raise InputError("the log is empty: no line to audit", source=source)
    if fmt is LogFormat.AUTO:
        fmt = _choose(scores, source)
        total = sum(1 for line in window[:DETECT_LINES] if line.strip())
        stats.note(
            source,
            "format",
            f"{fmt.value} (detected: {scores[fmt]} of the first {total} non-blank lines)",
        )
    elif fmt is LogFormat.JSONL and not any(
        line.lstrip().startswith((b"{", b"\xef\xbb\xbf{")) for line in window[:DETECT_LINES]
    ):
        raise InputError(
            f"--format jsonl: none of the first {min(len(window), DETECT_LINES)} lines is a "
            "JSON object (a normalized record); "
            "check the file or let --format auto detect it",
            source=source,
        )
    stats.formats[source] = fmt.value
    if fmt is LogFormat.JSONL:
        if window:
            yield RawLines(source, range(first, first + len(window)), window)
        for number, lines in blocks:
            stats.lines += len(lines)
            yield RawLines(source, range(number, number + len(lines)), lines)
        return
    reader = make_reader(fmt, source, options, stats)
    resolve = _Resolver(source, fmt, options, stats, reader)
    found = 0
    for number, lines in _chain(first, window, blocks, stats):
        for k, raw in enumerate(lines):
            for out in reader.feed(number + k, _text(raw)):
                found += 1
                yield from resolve.push(out)
    for out in reader.finish():
        found += 1
        yield from resolve.push(out)
    yield from resolve.finish()
    stats.other += reader.other
    if not found:
        raise InputError(
            f"--format {fmt.value}: no line of this file is a {fmt.value} message line; "
            "check the file or let --format auto detect it",
            source=source,
        )


def _special(
    fmt: LogFormat, stream: BinaryIO, source: str, options: ReadOptions, stats: ReadStats
) -> Iterator[Piece]:
    """HAR files and packet captures: whole documents, not lines."""
    stats.formats[source] = fmt.value
    if options.format is LogFormat.AUTO:
        stats.note(source, "format", f"{fmt.value} (detected by its content)")
    if fmt is LogFormat.HAR:
        from .har import read_har

        yield from read_har(stream, source, options, stats)
    else:
        from .pcap import read_capture

        yield from read_capture(stream, source, options, stats)


def _chain(
    first: int,
    window: list[bytes],
    blocks: Iterator[tuple[int, list[bytes]]],
    stats: ReadStats,
) -> Iterator[tuple[int, list[bytes]]]:
    if window:
        yield first, window
    for number, lines in blocks:
        stats.lines += len(lines)
        yield number, lines


def _is_capture(head: bytes) -> bool:
    return head[:4] in (
        b"\xd4\xc3\xb2\xa1",
        b"\xa1\xb2\xc3\xd4",
        b"\x4d\x3c\xb2\xa1",
        b"\xa1\xb2\x3c\x4d",
        b"\x0a\x0d\x0d\x0a",
    )


_HAR_HEAD = re.compile(rb'^(?:\xef\xbb\xbf)?\s*\{\s*"log"\s*:\s*\{')


def _is_har(head: bytes) -> bool:
    return _HAR_HEAD.match(head) is not None


# --------------------------------------------------------------------------- lines

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]")


def _text(raw: bytes) -> str | None:
    """A line as text: CR, ANSI colour codes and trailing blanks removed; None if not UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    return text.rstrip("\r\n \t")


def _not_utf8(raw: bytes) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 ({exc.reason} at byte {exc.start})"
    return "not UTF-8"


# --------------------------------------------------------------------------- timestamps

# RFC 3339 for the normalized log; the log adapters also take a space, several spaces or a tab
# for "T", slashes in the date (Go's log package), a comma before the fraction (Python's
# %(asctime)s and log4j's %d) and no offset (then ReadOptions.tz applies).
_TS = (
    r"(\d{4})[-/](\d\d)[-/](\d\d)(?:[Tt]|[ \t]+)(\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?"
    r"(Z|z|[+-]\d\d:?\d\d)?"
)
_TS_RE = re.compile(_TS)
def _prefix_time(prefix: str, tz: tzinfo) -> tuple[datetime | None, str | None]:
    """(time, problem) of the first timestamp in a log prefix: (None, None) when there is none."""
    m = _TS_RE.search(prefix)
    if m is None:
        return None, None
    try:
        return _to_datetime(m, tz), None
    except ValueError as exc:
        return None, str(exc)


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


# --------------------------------------------------------------------------- JSON Lines

# "gateway": what an ocpp-e2e gateway did with the frame (docs/gateway.md); an audit decides again.
_JSONL_MEMBERS = frozenset({"ts", "station", "direction", "ocpp", "frame", "gateway"})
_DIRECTIONS = {"toCSMS": Direction.TO_CSMS, "toStation": Direction.TO_STATION}
_NAMES = (b'"ts"', b'"station"', b'"direction"', b'"ocpp"', b'"frame"')
_FRAME_NAME = re.compile(rb'"frame"[ \t\r\n]*:[ \t\r\n]*')
_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


def _skip(text: str, i: int) -> int:
    m = _WS.match(text, i)
    return m.end() if m is not None else i


def _object_members(text: str) -> list[tuple[str, int, int]]:
    """The members of the JSON object ``text`` (valid JSON): (name, start, end) of each value,
    in the order written, duplicates included. The values are not re-written: ``text[start:end]``
    is a member's text exactly as it stands.

    >>> _object_members('{"a": [1, 2], "a":3}')
    [('a', 6, 12), ('a', 18, 19)]
    """
    ws = _skip
    i = ws(text, 0)
    if text[i : i + 1] != "{":
        raise ValueError("not a JSON object")
    i = ws(text, i + 1)
    out: list[tuple[str, int, int]] = []
    if text[i : i + 1] == "}":
        return out
    while True:
        name, i = _DECODER.raw_decode(text, i)
        i = ws(text, i)
        if text[i : i + 1] != ":":
            raise ValueError("expected ':'")
        start = ws(text, i + 1)
        _value, end = _DECODER.raw_decode(text, start)
        out.append((name, start, end))
        i = ws(text, end)
        sep = text[i : i + 1]
        if sep == "}":
            return out
        if sep != ",":
            raise ValueError("expected ',' or '}'")
        i = ws(text, i + 1)


def read_jsonl_line(source: str, number: int, raw: bytes, ocpp: str) -> Item | None:
    """Read one line of the normalized log (without its newline); None for a blank line.

    ``ocpp`` is the version of a record that names none. A ``frame`` given as a JSON array is
    audited as the text it has in the line (SPEC §8); a duplicate member makes the line
    unreadable.

    >>> read_jsonl_line("log", 3, b"[]", "2.0.1").reason
    'not a JSON object'
    >>> read_jsonl_line("log", 4, b'{"station":"a","direction":"toCSMS","frame":"[]","frame":[]}',
    ...     "2.0.1").reason
    "duplicate member 'frame'"
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
        if text.startswith("\ufeff"):
            return read_jsonl_line(source, number, raw[3:], ocpp)
        return UnreadableLine(source, number, f"not JSON ({exc})", _shown(text))
    if type(obj) is not dict:
        return _bad_line(source, number, raw, "not a JSON object")
    frame = obj.get("frame")
    frame_text: Any = frame
    rest = _around_frame(raw, frame) if type(frame) is str else raw
    if type(frame) is list or b"\\u" in rest or any(rest.count(n) > 1 for n in _NAMES):
        # The exact text of the array, and members that a parser would silently merge.
        text = raw.decode("utf-8")
        members = _object_members(text)
        seen: set[str] = set()
        for name, start, end in members:
            if name in seen:
                return _bad_line(source, number, raw, f"duplicate member {name!r}")
            seen.add(name)
            if name == "frame" and type(frame) is list:
                frame_text = text[start:end]
    problem = _jsonl_problem(obj)
    if problem:
        return _bad_line(source, number, raw, problem)
    ts: datetime | None = None
    if "ts" in obj:
        try:
            ts = parse_rfc3339(obj["ts"])
        except ValueError as exc:
            return _bad_line(source, number, raw, f"ts: {exc}")
    return LogRecord(
        source,
        number,
        ts,
        obj["station"],
        _DIRECTIONS[obj["direction"]],
        obj.get("ocpp", ocpp),
        frame_text,
    )


def _around_frame(raw: bytes, frame: str) -> bytes:
    r"""The line without the text of its ``frame`` string, when that text is written as orjson
    writes it (as JSON Lines writers do); else the whole line.

    The frame is most of a line, and no member name can hide inside a string (its quotes are
    escaped), so the checks for repeated or escaped member names need only the rest.

    >>> _around_frame(b'{"ts":"x","frame":"[2,\\"1\\"]","station":"a"}', '[2,"1"]')
    b'{"ts":"x","frame":,"station":"a"}'
    >>> _around_frame(b'{"frame" : "[2,\\u0022\\"]"}', '[2,"\\"]')
    b'{"frame" : "[2,\\u0022\\"]"}'
    """
    at = raw.find(b'"frame"')
    head = _FRAME_NAME.match(raw, at) if at >= 0 else None
    if head is None:
        return raw
    text = orjson.dumps(frame)
    start = head.end()
    if not raw.startswith(text, start):
        return raw
    return raw[:start] + raw[start + len(text) :]


def _bad_line(source: str, number: int, raw: bytes, reason: str) -> UnreadableLine:
    # orjson read the line, so it is UTF-8
    return UnreadableLine(source, number, reason, _shown(raw.decode("utf-8").rstrip("\r\n")))


def _jsonl_problem(obj: dict[str, object]) -> str | None:
    if not obj.keys() <= _JSONL_MEMBERS:
        unknown = set(obj) - _JSONL_MEMBERS
        return f"unknown member(s) {', '.join(sorted(unknown))}"
    for name in ("station", "direction", "frame"):
        if name not in obj:
            return f"missing member {name!r}"
    if "ts" in obj and type(obj["ts"]) is not str:
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


# --------------------------------------------------------------------------- text adapters


class Message(NamedTuple):
    """A message line of a text log, before the writing side and the version are known.

    ``way`` is ``toCSMS``/``toStation``, or ``out``/``in`` relative to the writer (``ocpp-lib``,
    whose ``send`` depends on the side); ``problem`` is set when the line cannot be a record.
    """

    line: int
    ts: datetime | None
    station: str | None
    way: str
    frame: str
    problem: str | None = None
    text: str = ""


class _Balance:
    """Finds where a JSON array that starts a text ends, across lines (strings respected)."""

    __slots__ = ("depth", "escape", "in_string", "size")

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = False
        self.escape = False
        self.size = 0

    def feed(self, text: str) -> bool:
        """Take the next piece of text; True once the outermost bracket has closed."""
        self.size += len(text) + 1
        if not self.in_string and self.depth and '"' not in text and "\\" not in text:
            self.depth += text.count("[") + text.count("{") - text.count("]") - text.count("}")
            return self.depth <= 0
        for ch in text:
            if self.in_string:
                if self.escape:
                    self.escape = False
                elif ch == "\\":
                    self.escape = True
                elif ch == '"':
                    self.in_string = False
            elif ch == '"':
                self.in_string = True
            elif ch in "[{":
                self.depth += 1
            elif ch in "]}":
                self.depth -= 1
                if self.depth <= 0:
                    return True
        return False


# A line that begins a new log record (not the continuation of a frame): a timestamp, a log
# level, a syslog or Go log prefix, a Python traceback.
_NEW_RECORD = re.compile(
    r"\s*(?:\[\s*)?(?:\d{4}[-/]\d\d[-/]\d\d|\d\d:\d\d:\d\d"
    r"|(?:TRACE|DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL|FATAL|SEVERE)\b"
    r"|[A-Z][a-z]{2,3}\.? +\d{1,2} \d\d:\d\d:\d\d"
    r"|[\w.-]+\s*\]\s*(?:TRACE|DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL|FATAL)\b"
    r"|Traceback \(most recent call last\))"
)
# Prefixes a journal or a container runtime repeats on every line of a wrapped message.
_OUTER = re.compile(
    r"[A-Z][a-z]{2,3}\.? +\d{1,2} \d\d:\d\d:\d\d \S+ [^\s:]+: |[\w.-]+\s+\| |\S+\s+\|\s"
)


class LineReader:
    """One format's line parser for one file; ``other`` counts non-message lines.

    :meth:`feed` takes each line as text (None for a line that is not UTF-8) and yields the
    :class:`Message` objects completed by it; :meth:`finish` the last one.
    """

    def __init__(self, source: str, options: ReadOptions) -> None:
        self.source = source
        self.options = options
        self.other = 0
        #: the text format of the messages when it is not the file's (JSON logs holding lines)
        self.messages_format: LogFormat | None = None

    def feed(self, number: int, text: str | None) -> Iterator[Message]:
        raise NotImplementedError

    def finish(self) -> Iterator[Message]:
        return iter(())


class _Pending:
    __slots__ = ("balance", "head", "outer", "parts", "prefix")

    def __init__(self, head: Message, first: str, prefix: str, outer: str | None) -> None:
        self.head = head
        self.parts = [first]
        self.balance = _Balance()
        self.prefix = prefix
        self.outer = outer


class PrefixedReader(LineReader):
    """A format whose message lines match :attr:`pattern`, frame last, after a log prefix.

    The pattern has the groups ``frame`` (where the frame starts) and whatever :meth:`message`
    needs. A frame whose brackets do not close on its line continues on the next lines (without
    a prefix, or with the line's own prefix repeated) until they do; a line that starts a new
    record first ends it as it is (then the frame is malformed, and the audit says so).
    """

    pattern: re.Pattern[str]

    def __init__(self, source: str, options: ReadOptions) -> None:
        super().__init__(source, options)
        self._pending: _Pending | None = None

    def message(self, m: re.Match[str], number: int, text: str) -> Message:
        raise NotImplementedError

    def feed(self, number: int, text: str | None) -> Iterator[Message]:
        if text is None:
            if self._pending is not None:
                yield from self._flush()
            yield Message(number, None, None, "", "", "not UTF-8")
            return
        pending = self._pending
        if pending is not None:
            rest = self._continuation(pending, text)
            if rest is not None:
                pending.parts.append(rest)
                if pending.balance.feed(rest) or pending.balance.size > MAX_FRAME_BYTES:
                    yield from self._flush()
                return
            yield from self._flush()
        m = self.pattern.search(text)
        if m is None:
            if text.strip():
                self.other += 1
            return
        msg = self.message(m, number, text)
        frame = msg.frame
        if msg.problem is not None or not frame.startswith("["):
            yield msg
            return
        if frame.endswith("]"):
            try:  # the common case: the whole frame on its line, read at C speed
                orjson.loads(frame)
                yield msg
                return
            except orjson.JSONDecodeError:
                pass
        balance = _Balance()
        if balance.feed(frame):
            yield msg
            return
        outer = _OUTER.match(text)
        pend = _Pending(msg, frame, text[: m.start("frame")], outer.group(0) if outer else None)
        pend.balance = balance
        self._pending = pend

    def _continuation(self, pending: _Pending, text: str) -> str | None:
        if self.pattern.search(text):
            return None
        if pending.prefix.strip() and text.startswith(pending.prefix):
            return text[len(pending.prefix) :]
        if pending.outer is not None:
            outer = _OUTER.match(text)
            if outer is not None:
                rest = text[outer.end() :]
                return None if _NEW_RECORD.match(rest) else rest
        if _NEW_RECORD.match(text):
            return None
        return text

    def _flush(self) -> Iterator[Message]:
        pending, self._pending = self._pending, None
        if pending is not None:
            frame = "\n".join(pending.parts).rstrip()
            yield pending.head._replace(frame=frame)

    def finish(self) -> Iterator[Message]:
        yield from self._flush()

    def time(self, prefix: str) -> tuple[datetime | None, str | None]:
        return _prefix_time(prefix, self.options.tz)


# ocpp/charge_point.py logs `"%s: receive message %s", self.id, message` and `"%s: send %s"`.
# The id is the last colon-free token before the verb (empty in some Home Assistant logs).
_OCPP_LIB = re.compile(
    r"(?:^|[\s:\]\[])(?P<id>[^\s:\[\]]*): (?P<verb>send|receive message)\s+(?P<frame>\[.*)$"
)


class OcppLibReader(PrefixedReader):
    pattern = _OCPP_LIB

    def message(self, m: re.Match[str], number: int, text: str) -> Message:
        ts, problem = self.time(text[: m.start()])
        way = "out" if m.group("verb") == "send" else "in"
        station = m.group("id") or None
        return Message(number, ts, station, way, m.group("frame"), _date(problem), text)


# de.rwth.idsg.steve.ocpp.ws.WebSocketLogger: "[chargeBoxId={}, sessionId={}] Sending: {}".
_STEVE = re.compile(
    r"\[chargeBoxId=(?P<id>[^,\]]+),\s*sessionId=[^\]]*\]\s+(?P<verb>Sending|Received):\s*"
    r"(?P<frame>.*)$"
)


class SteveReader(PrefixedReader):
    pattern = _STEVE

    def message(self, m: re.Match[str], number: int, text: str) -> Message:
        ts, problem = self.time(text[: m.start()])
        way = "toStation" if m.group("verb") == "Sending" else "toCSMS"
        frame = m.group("frame")
        if problem is None and not frame.startswith("["):
            problem = "the logged message is not an OCPP-J frame"
            return Message(number, ts, m.group("id"), way, frame, problem, text)
        return Message(number, ts, m.group("id"), way, frame, _date(problem), text)


# ocpp-go: "sent JSON message to <id>: <frame>" / "received JSON message from <id>: <frame>"
# (server; a client names "server"); evcc since 0.128: "send|sent <id>: ..." / "recv <id>: ...".
_EVCC = re.compile(
    r"(?:^|\s)(?P<verb>sent JSON message to|received JSON message from|send|sent|recv)"
    r" (?P<id>[^\s:\[][^\s:]*): (?P<frame>\[.*)$"
)


class EvccReader(PrefixedReader):
    pattern = _EVCC

    def message(self, m: re.Match[str], number: int, text: str) -> Message:
        ts, problem = self.time(text[: m.start()])
        out = m.group("verb") in ("sent JSON message to", "send", "sent")
        peer = m.group("id")
        if peer == "server" and m.group("verb").endswith(("to", "from")):
            # an ocpp-go charge point's own log: it talks to "server"
            way = "toCSMS" if out else "toStation"
            return Message(number, ts, None, way, m.group("frame"), _date(problem), text)
        way = "toStation" if out else "toCSMS"
        return Message(number, ts, peer, way, m.group("frame"), _date(problem), text)


def _date(problem: str | None) -> str | None:
    return None if problem is None else f"impossible date in the log prefix: {problem}"


# libocpp MessageLogging: "<ts>: ChargePoint>CentralSystem <Action>" then the pretty-printed JSON
# frame and a blank line; "<ts>: SYS> ..." lines are connection events.
_EVEREST = re.compile(
    rf"^\s*(?P<ts>{_TS}):?\s+(?P<dir>ChargePoint>CentralSystem|CentralSystem>ChargePoint)"
    r"(?:\s+(?P<action>\S+))?\s*(?P<frame>\[.*)?$"
)
_EVEREST_SYS = re.compile(rf"^\s*{_TS}:?\s+SYS>")


class EverestReader(LineReader):
    def __init__(self, source: str, options: ReadOptions) -> None:
        super().__init__(source, options)
        self._head: Message | None = None
        self._parts: list[str] = []
        self._balance = _Balance()

    def feed(self, number: int, text: str | None) -> Iterator[Message]:
        if text is None:
            yield from self._flush()
            yield Message(number, None, None, "", "", "not UTF-8")
            return
        head = _EVEREST.match(text)
        if head is not None:
            yield from self._flush()
            ts_match = _TS_RE.match(head.group("ts"))
            assert ts_match is not None
            problem: str | None = None
            ts: datetime | None = None
            try:
                ts = _to_datetime(ts_match, self.options.tz)
            except ValueError as exc:
                problem = _date(str(exc))
            to_csms = head.group("dir") == "ChargePoint>CentralSystem"
            self._head = Message(
                number, ts, self.options.station, "toCSMS" if to_csms else "toStation", "",
                problem, text,
            )  # fmt: skip
            self._parts, self._balance = [], _Balance()
            if head.group("frame"):
                yield from self._body(head.group("frame"))
            return
        if _EVEREST_SYS.match(text):
            yield from self._flush()
            self.other += 1
            return
        if self._head is None:
            if text.strip():
                self.other += 1
            return
        if not text.strip():
            if self._parts:
                yield from self._flush()
            return
        yield from self._body(text)

    def _body(self, text: str) -> Iterator[Message]:
        self._parts.append(text)
        if self._balance.feed(text) or self._balance.size > MAX_FRAME_BYTES:
            yield from self._flush()

    def finish(self) -> Iterator[Message]:
        yield from self._flush()

    def _flush(self) -> Iterator[Message]:
        head, parts = self._head, self._parts
        self._head, self._parts = None, []
        if head is None:
            return
        if head.problem is not None:
            yield head
        elif not parts:
            yield head._replace(problem="message header without a frame", frame="")
        else:
            yield head._replace(frame="\n".join(parts).rstrip())


_READERS: dict[LogFormat, type[LineReader]] = {
    LogFormat.OCPP_LIB: OcppLibReader,
    LogFormat.STEVE: SteveReader,
    LogFormat.EVEREST: EverestReader,
    LogFormat.EVCC: EvccReader,
}


def make_reader(
    fmt: LogFormat, source: str, options: ReadOptions, stats: ReadStats | None = None
) -> LineReader:
    """The line reader of a text format."""
    if fmt is LogFormat.EVEREST and not options.station:
        raise InputError(
            "this is an EVerest message log, which does not name the station; give its identity "
            "(--station)",
            source=source,
        )
    if fmt is LogFormat.JSON:
        from .structured import StructuredReader

        return StructuredReader(source, options, stats)
    return _READERS[fmt](source, options)


# --------------------------------------------------------------------------- detection

_TEXT_PATTERNS: tuple[tuple[LogFormat, Callable[[str], object]], ...] = (
    (LogFormat.STEVE, _STEVE.search),
    (LogFormat.EVEREST, lambda t: _EVEREST.match(t) or _EVEREST_SYS.match(t)),
    (LogFormat.EVCC, _EVCC.search),
    (LogFormat.OCPP_LIB, _OCPP_LIB.search),
)
#: Ties go to the first format of this order.
_ORDER = (
    LogFormat.JSONL,
    LogFormat.STEVE,
    LogFormat.EVEREST,
    LogFormat.EVCC,
    LogFormat.OCPP_LIB,
    LogFormat.JSON,
)


def text_format(text: str) -> LogFormat | None:
    """The text format whose message line ``text`` is, if any."""
    for fmt, match in _TEXT_PATTERNS:
        if match(text):
            return fmt
    return None


def _score(lines: list[bytes], options: ReadOptions) -> dict[LogFormat, int]:
    """How many of ``lines`` each format reads as a message line."""
    scores: dict[LogFormat, int] = {}
    structured = None
    for raw in lines:
        text = _text(raw)
        if not text:
            continue
        stripped = text.lstrip()
        fmt: LogFormat | None = None
        if stripped.startswith("{"):
            try:
                obj = orjson.loads(stripped)
            except orjson.JSONDecodeError:
                obj = None
            if type(obj) is dict:
                if "frame" in obj and ("station" in obj or "direction" in obj):
                    fmt = LogFormat.JSONL
                else:
                    if structured is None:
                        from .structured import frame_like

                        structured = frame_like
                    if structured(obj, options):
                        fmt = LogFormat.JSON
        if fmt is None:
            fmt = text_format(text)
        if fmt is not None:
            scores[fmt] = scores.get(fmt, 0) + 1
    return scores


def _choose(scores: dict[LogFormat, int], source: str) -> LogFormat:
    best = max(scores.values(), default=0)
    if best == 0:
        raise InputError(
            "not a log this audit can read: none of its first lines is a message line of a known "
            "format (jsonl, json, ocpp-lib, steve, everest, evcc; har and pcap files by their "
            "content); check the file or give --format",
            source=source,
        )
    return next(fmt for fmt in _ORDER if scores.get(fmt, 0) == best)


# --------------------------------------------------------------------------- inference


_FORMAT_SIDE = {
    LogFormat.STEVE: "csms (SteVe is a CSMS)",
    LogFormat.EVCC: "csms (evcc and ocpp-go servers are CSMSs)",
    LogFormat.EVEREST: "station (EVerest libocpp runs in the station)",
}
_FORMAT_OCPP = {
    LogFormat.STEVE: "1.6",
    LogFormat.EVCC: "1.6",
}


def note_file_from_stations(stats: ReadStats, source: str, what: str) -> bool:
    """Note for ``source`` what its stations' facts say of ``what`` (``ocpp``, ``side``): the one
    station's words, the value all share, or which station has which. False if none says it."""
    facts = stats.station_facts.get(source, {})
    texts = {name: f[what] for name, f in facts.items() if what in f}
    if not texts:
        return False
    if len(texts) == 1:
        stats.note(source, what, next(iter(texts.values())))
        return True
    values: dict[str, list[str]] = {}
    for name, text in texts.items():
        values.setdefault(text.split(" ", 1)[0], []).append(name)
    if len(values) == 1:
        value = next(iter(values))
        stats.note(
            source, what, f"{value} (each of its {len(texts)} stations, inferred on its own)"
        )
        return True
    listed = "; ".join(
        f"{value} for {', '.join(names[:3])}{' and more' if len(names) > 3 else ''}"
        for value, names in sorted(values.items())
    )
    stats.note(source, what, f"{', '.join(sorted(values))} (per station: {listed})")
    return True


class FrameVersions:
    """The OCPP version of records no subprotocol named (a HAR entry or a captured connection
    that negotiated none), inferred per station from their frames as in text logs; records are
    held back meanwhile (at most :data:`INFER_RECORDS`)."""

    def __init__(self, source: str, fmt: LogFormat, options: ReadOptions, stats: ReadStats):
        self._resolver = _Resolver(source, fmt, options, stats)

    def push(self, record: LogRecord) -> Iterator[Item]:
        """Take a record whose ``ocpp`` is unknown; yield the records whose version is known."""
        way = "toCSMS" if record.direction is Direction.TO_CSMS else "toStation"
        msg = Message(record.line, record.ts, record.station, way, record.frame)
        return self._resolver.push(msg)

    def finish(self) -> Iterator[Item]:
        """The records still held, once the input ends."""
        return self._resolver._release()


class _Station:
    """What is known of one station of a log: its OCPP version and the side that wrote it."""

    __slots__ = ("name", "ocpp", "relative", "side", "votes")

    def __init__(self, name: str, ocpp: str | None, side: str | None) -> None:
        self.name = name
        self.ocpp = ocpp
        self.side = side
        self.votes = VersionVotes()
        # whether messages of this station whose direction depends on the writing side were seen
        self.relative = False

    def resolved(self) -> bool:
        return self.ocpp is not None and (self.side is not None or not self.relative)


class _Resolver:
    """Turns messages into records once the writing side and the OCPP version are known, per
    station: a CSMS's log can hold stations of several versions, a log several writers.

    Messages are held back (at most :data:`INFER_RECORDS`), in file order, while a station in them
    is not resolved: until its frames tell what the options do not (the side of an ``ocpp-lib``
    log, the version of any text log). A station whose frames never tell takes what the file's
    other stations agree on, else the format's default (SteVe and evcc speak 1.6), else 2.0.1,
    said to be assumed; a side nothing tells is an input error (``--side``).
    """

    def __init__(
        self,
        source: str,
        fmt: LogFormat,
        options: ReadOptions,
        stats: ReadStats,
        reader: LineReader | None = None,
    ) -> None:
        self.source = source
        self.fmt = fmt
        self.reader = reader
        self.options = options
        self.stats = stats
        self.side: str | None = options.side.value if options.side else None
        if self.side is not None:
            self.side_how = f"{self.side} (given)"
        else:
            self.side_how = _FORMAT_SIDE.get(fmt, "")
        if self.side_how:
            stats.note(source, "side", self.side_how)
        self.ocpp: str | None = options.ocpp
        if self.ocpp is not None:
            stats.note(source, "ocpp", f"{self.ocpp} (given)")
        self.stations: dict[str, _Station] = {}
        self.by_name: dict[str | None, _Station] = {}  # the same, by the name as logged
        self.held: list[Message] = []
        self.waiting: set[str] = set()  # stations in ``held`` not resolved yet
        self.timed = 0
        self.untimed = 0
        self.unnamed = 0

    def _station(self, msg: Message) -> _Station:
        station = self.by_name.get(msg.station)
        if station is not None:
            return station
        key = normalize_station(msg.station or self.options.station or "unnamed")
        known = self.stations.get(key)
        if known is None:
            known = self.stations[key] = _Station(key, self.ocpp, self.side)
            if self.ocpp is not None:
                self.stats.note_station(self.source, key, "ocpp", f"{self.ocpp} (given)")
            if self.side_how:
                self.stats.note_station(self.source, key, "side", self.side_how)
        self.by_name[msg.station] = known
        return known

    def push(self, msg: Message) -> Iterator[Item]:
        station = None if msg.problem is not None else self._station(msg)
        if station is not None and not station.resolved():
            if msg.way in ("out", "in"):
                station.relative = True
            self._learn(station, msg)
            if station.resolved():
                self.waiting.discard(station.name)
            else:
                self.waiting.add(station.name)
        if not self.held and station is not None and station.resolved():
            yield self._item(msg, station)
            return
        self.held.append(msg)
        if not self.waiting or len(self.held) >= INFER_RECORDS:
            yield from self._release()

    def finish(self) -> Iterator[Item]:
        yield from self._release()
        if not self.side_how:
            self._note_file("side", None)
        if self.ocpp is None:
            self._note_file("ocpp", self._default_version)
        if self.untimed:
            what = (
                "none: freshness is not judged"
                if not self.timed
                else f"missing on {self.untimed} frame(s): their freshness is not judged"
            )
            self.stats.note(self.source, "time", what)
        if self.unnamed:
            self.stats.note(
                self.source,
                "station",
                f"not named on {self.unnamed} frame(s): "
                + (f"{self.options.station} (given)" if self.options.station else "'unnamed'"),
            )

    def _note_file(self, what: str, default: Callable[[], tuple[str, str]] | None) -> None:
        """The file's own line for ``what``: its one station's, or how its stations differ."""
        told = note_file_from_stations(self.stats, self.source, what)
        if not told and default is not None and self.fmt in _FORMAT_OCPP:
            self.stats.note(self.source, what, default()[1])

    def _learn(self, station: _Station, msg: Message) -> None:
        where = f"at line {msg.line}"
        if station.ocpp is None:
            station.votes.observe(msg.frame, where)
            decided = station.votes.decided()
            if decided is not None:
                station.ocpp = decided
                self.stats.note_station(
                    self.source,
                    station.name,
                    "ocpp",
                    f"{decided} (inferred: {station.votes.evidence})",
                )
        if station.side is None and station.relative and msg.way in ("out", "in"):
            call = call_of(msg.frame)
            if call is not None:
                side = writer_side(call[0], msg.way == "out")
                if side is not None:
                    station.side = side
                    verb = "sends" if msg.way == "out" else "receives"
                    self.stats.note_station(
                        self.source,
                        station.name,
                        "side",
                        f"{side} (inferred: it {verb} {call[0]} {where})",
                    )

    def _default_version(self) -> tuple[str, str]:
        """The version (and how it was chosen) of a station whose frames tell nothing."""
        fmt = self.fmt
        if self.reader is not None and self.reader.messages_format is not None:
            fmt = self.reader.messages_format
        default = _FORMAT_OCPP.get(fmt)
        if default is not None:
            return default, f"{default} ({fmt.value} speaks OCPP 1.6)"
        return "2.0.1", "2.0.1 (assumed: no frame tells the version; give --ocpp if it is another)"

    def _settle(self, station: _Station) -> None:
        """Decide what the frames of ``station`` did not tell."""
        if station.ocpp is None:
            best = station.votes.best()
            decided = {s.ocpp for s in self.stations.values() if s.votes.decided() is not None}
            if best is not None:
                station.ocpp, how = best, f"{best} (inferred: {station.votes.evidence})"
            elif len(decided) == 1:
                version = next(iter(decided))
                assert version is not None
                station.ocpp = version
                how = (
                    f"{version} (assumed: no frame of this station tells the version; the other "
                    "stations of this log speak it)"
                )
            else:
                station.ocpp, how = self._default_version()
            self.stats.note_station(self.source, station.name, "ocpp", how)
        if station.side is None and station.relative:
            sides = {s.side for s in self.stations.values() if s.side is not None}
            if len(sides) != 1:
                raise InputError(
                    "in ocpp library logs 'send' means toStation on a CSMS and toCSMS on a "
                    f"station, and no frame of the first {len(self.held)} tells which side "
                    f"wrote this log for station {station.name!r}; give --side csms|station",
                    source=self.source,
                )
            side = next(iter(sides))
            assert side is not None
            station.side = side
            self.stats.note_station(
                self.source,
                station.name,
                "side",
                f"{side} (assumed: no frame of this station tells; the other stations of this "
                "log were written by it)",
            )

    def _release(self) -> Iterator[Item]:
        for name in sorted(self.waiting):
            self._settle(self.stations[name])
        self.waiting.clear()
        held, self.held = self.held, []
        for msg in held:
            station = None if msg.problem is not None else self._station(msg)
            if station is not None and not station.resolved():
                self._settle(station)  # first seen after the others forced a release
            yield self._item(msg, station)

    def _item(self, msg: Message, station: _Station | None) -> Item:
        if msg.problem is not None or station is None:
            return UnreadableLine(self.source, msg.line, msg.problem or "", _shown(msg.text))
        way = msg.way
        if way == "out":
            way = "toStation" if station.side == "csms" else "toCSMS"
        elif way == "in":
            way = "toCSMS" if station.side == "csms" else "toStation"
        name = msg.station or self.options.station
        if name is None:
            name = "unnamed"
        if not msg.station:
            self.unnamed += 1
        if msg.ts is None:
            self.untimed += 1
        else:
            self.timed += 1
        assert station.ocpp is not None
        return LogRecord(
            self.source, msg.line, msg.ts, name, _DIRECTIONS[way], station.ocpp, msg.frame
        )
