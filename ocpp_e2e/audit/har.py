"""HAR files (``--format har``): WebSocket messages recorded by a browser.

Browser DevTools (and browser-based OCPP simulators, which run in the browser and so are the
charging station) keep a WebSocket connection as a HAR entry whose ``_webSocketMessages`` list
holds every message: ``{"type": "send"|"receive", "time": <epoch seconds>, "opcode": 1,
"data": <text>}``. The station identity is the last segment of the entry's URL path, the OCPP
version the ``Sec-WebSocket-Protocol`` the server chose. ``send`` is ``toCSMS`` (the browser is
the station) unless ``--side csms`` says the browser was the CSMS's side.

A record's ``line`` is the message's place in the file: messages are numbered 1, 2, ... over
all entries, in file order. The whole file is read into memory (HAR files are single JSON
documents).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

import orjson

from ..errors import InputError
from ..model import Direction
from ..versions import OCPP_VERSIONS
from .logs import (
    FrameVersions,
    LogFormat,
    LogRecord,
    Piece,
    ReadOptions,
    ReadStats,
    Side,
    UnreadableLine,
    note_file_from_stations,
)

__all__ = [
    "MAX_HAR_BYTES",
    "connection_version",
    "read_har",
    "station_from_url",
    "version_from_protocol",
]

#: A HAR file larger than this is refused rather than read into memory.
MAX_HAR_BYTES = 512 << 20


def station_from_url(url: str) -> str | None:
    """The station identity of an OCPP-J connection URL: its last path segment, decoded.

    >>> station_from_url("ws://csms.example:9000/ocpp/CS%2D01")
    'CS-01'
    """
    path = urlsplit(url).path.rstrip("/")
    last = path.rsplit("/", 1)[-1]
    return unquote(last) or None


def version_from_protocol(protocol: str | None) -> str | None:
    """The OCPP version of a WebSocket subprotocol name (``ocpp1.6``, ``ocpp2.0.1``, ...).

    >>> version_from_protocol("ocpp2.0.1")
    '2.0.1'
    """
    if not protocol:
        return None
    name = protocol.strip().lower()
    if name.startswith("ocpp") and name[4:] in OCPP_VERSIONS:
        return name[4:]
    return None


def connection_version(given: str | None, protocol: str | None) -> tuple[str | None, str]:
    """The OCPP version of one connection and how it is known: given, else the subprotocol the
    server chose; (None, why) when neither tells (the frames then do, per station).

    >>> connection_version(None, "ocpp1.6")
    ('1.6', '1.6 (the negotiated subprotocol ocpp1.6)')
    >>> connection_version(None, None)
    (None, 'no subprotocol was negotiated')
    """
    if given:
        return given, f"{given} (given)"
    version = version_from_protocol(protocol)
    if version is not None:
        return version, f"{version} (the negotiated subprotocol {protocol})"
    if protocol:
        return None, f"the negotiated subprotocol {protocol!r} is not an OCPP version"
    return None, "no subprotocol was negotiated"


def _header(headers: Any, name: str) -> str | None:
    if type(headers) is not list:
        return None
    for h in headers:
        if type(h) is dict and str(h.get("name", "")).lower() == name and type(h["value"]) is str:
            return str(h["value"])
    return None


def read_har(
    stream: BinaryIO, source: str, options: ReadOptions, stats: ReadStats
) -> Iterator[Piece]:
    """Yield the WebSocket messages of a HAR file as records (see the module documentation)."""
    data = stream.read(MAX_HAR_BYTES + 1)
    if len(data) > MAX_HAR_BYTES:
        raise InputError(f"HAR file larger than {MAX_HAR_BYTES >> 20} MiB", source=source)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        har = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not a HAR file: not JSON ({exc})", source=source) from exc
    log = har.get("log") if type(har) is dict else None
    entries = log.get("entries") if type(log) is dict else None
    if type(entries) is not list:
        raise InputError("not a HAR file: no log.entries list", source=source)
    stats.lines += data.count(b"\n") + 1
    out_dir = Direction.TO_STATION if options.side is Side.CSMS else Direction.TO_CSMS
    in_dir = out_dir.reverse
    side = "csms (given)" if options.side is Side.CSMS else "station (a browser is the client)"
    stats.note(source, "side", side)
    number = 0
    sockets = 0
    by_frames: FrameVersions | None = None  # connections that negotiated no version
    for entry in entries:
        messages = entry.get("_webSocketMessages") if type(entry) is dict else None
        if type(messages) is not list:
            stats.other += 1
            continue
        sockets += 1
        request = entry.get("request") if type(entry.get("request")) is dict else {}
        response = entry.get("response") if type(entry.get("response")) is dict else {}
        url = str(request.get("url")) if type(request.get("url")) is str else ""
        station = station_from_url(url) or options.station or "unnamed"
        chosen = _header(response.get("headers"), "sec-websocket-protocol")
        version, how = connection_version(options.ocpp, chosen)
        if version is not None:
            stats.note_station(source, station, "ocpp", how)
        elif by_frames is None:
            by_frames = FrameVersions(source, LogFormat.HAR, options, stats)
        stats.note_station(source, station, "side", side)
        for message in messages:
            number += 1
            if type(message) is not dict:
                yield UnreadableLine(
                    source, number, "a WebSocket message that is not an object", ""
                )
                continue
            if message.get("opcode", 1) != 1:
                stats.other += 1  # binary, ping, pong, close
                continue
            kind = message.get("type")
            text = message.get("data")
            if kind not in ("send", "receive") or type(text) is not str:
                yield UnreadableLine(
                    source, number, "a WebSocket message without type send/receive and data", ""
                )
                continue
            when = message.get("time")
            ts: datetime | None = None
            if type(when) is int or type(when) is float:
                try:
                    ts = datetime.fromtimestamp(float(when), UTC)
                except (OverflowError, OSError, ValueError):
                    yield UnreadableLine(source, number, f"time {when} does not exist", "")
                    continue
            direction = out_dir if kind == "send" else in_dir
            record = LogRecord(source, number, ts, station, direction, version or "", text)
            if version is None:
                assert by_frames is not None
                yield from by_frames.push(record)
            else:
                yield record
    if by_frames is not None:
        yield from by_frames.finish()
    if not sockets:
        raise InputError(
            "this HAR file holds no WebSocket connection (no entry with _webSocketMessages)",
            source=source,
        )
    note_file_from_stations(stats, source, "ocpp")
