"""Packet captures (``--format pcap``): OCPP-J over unencrypted ``ws://`` in pcap or pcapng files.

The capture file is read by ``dpkt`` (pcap and pcapng; Ethernet, Linux cooked v1/v2, BSD
loopback and raw IP links), TCP is reassembled per connection and direction (out-of-order
segments held, retransmissions dropped), the HTTP upgrade is parsed by ``h11`` (station identity
from the last segment of the request path, OCPP version from the subprotocol the server chose,
permessage-deflate from the extension it accepted) and the WebSocket frames by ``wsproto``
(masking, fragmentation, permessage-deflate, control frames). Each text message becomes a record:
the client's messages go ``toCSMS``, the server's ``toStation``; its ``line`` is the number of the
packet that completed it (1-based, as Wireshark counts) and its time that packet's time.

A TLS connection (``wss://``) cannot be read: it is reported once, as an unreadable item at its
first packet, "encrypted: cannot be read". A TCP connection whose start was not captured, or that
is not a WebSocket upgrade, is reported or counted too, never skipped silently.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

import dpkt
import h11
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import FrameProtocol, Opcode, ParseFailed

from ..errors import InputError
from ..model import Direction
from .har import connection_version, station_from_url
from .logs import (
    FrameVersions,
    LogFormat,
    LogRecord,
    Piece,
    ReadOptions,
    ReadStats,
    UnreadableLine,
    note_file_from_stations,
)

__all__ = [
    "MAX_GAP_BYTES",
    "read_capture",
]

#: Bytes buffered per direction of a connection while waiting for a missing segment.
MAX_GAP_BYTES = 16 << 20
_HTTP_METHODS = (b"GET ", b"POST", b"PUT ", b"HEAD", b"OPTI", b"DELE", b"PATC", b"CONN")

Endpoint = tuple[str, int]


@dataclass
class _Direction:
    next_seq: int | None = None
    held: dict[int, bytes] = field(default_factory=dict)
    held_bytes: int = 0
    buffer: bytearray = field(default_factory=bytearray)
    ws: FrameProtocol | None = None
    parts: list[str] = field(default_factory=list)
    failed: bool = False


@dataclass
class _Connection:
    client: Endpoint
    server: Endpoint
    first_packet: int
    up: _Direction = field(default_factory=_Direction)  # client to server
    down: _Direction = field(default_factory=_Direction)  # server to client
    state: str = "http"  # http, ws, other, tls, lost
    station: str = "unnamed"
    version: str = "2.0.1"
    requested: bool = False
    request_target: str = ""
    deflate: str | None = None


def _ip_packet(linktype: int, buf: bytes) -> Any:
    """The IP packet inside a link-layer frame, or None."""
    try:
        if linktype == dpkt.pcap.DLT_EN10MB:
            return dpkt.ethernet.Ethernet(buf).data
        if linktype == dpkt.pcap.DLT_LINUX_SLL:
            return dpkt.sll.SLL(buf).data
        if linktype == 276:  # DLT_LINUX_SLL2
            return dpkt.sll2.SLL2(buf).data
        if linktype in (dpkt.pcap.DLT_NULL, dpkt.pcap.DLT_LOOP):
            return dpkt.loopback.Loopback(buf).data
        if linktype in (dpkt.pcap.DLT_RAW, 12, 14, 228, 229):
            version = buf[0] >> 4 if buf else 0
            if version == 4:
                return dpkt.ip.IP(buf)
            if version == 6:
                return dpkt.ip6.IP6(buf)
    except (dpkt.UnpackError, IndexError, ValueError):
        return None
    return None


def _address(ip: Any) -> tuple[str, str]:
    family = socket.AF_INET6 if isinstance(ip, dpkt.ip6.IP6) else socket.AF_INET
    return socket.inet_ntop(family, ip.src), socket.inet_ntop(family, ip.dst)


def read_capture(
    stream: BinaryIO, source: str, options: ReadOptions, stats: ReadStats
) -> Iterator[Piece]:
    """Yield the OCPP frames of a capture file (see the module documentation)."""
    head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""
    try:
        reader: Any = (
            dpkt.pcapng.Reader(stream) if head == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(stream)
        )
        linktype = reader.datalink()
    except (ValueError, dpkt.UnpackError, dpkt.NeedData) as exc:
        raise InputError(f"not a readable pcap or pcapng file ({exc})", source=source) from exc
    capture = _Capture(source, options, stats)
    number = 0
    try:
        for ts, buf in reader:
            number += 1
            yield from capture.packet(number, float(ts), linktype, bytes(buf))
    except (ValueError, dpkt.UnpackError, dpkt.NeedData) as exc:
        raise InputError(f"cannot read past packet {number} ({exc})", source=source) from exc
    stats.lines += number
    yield from capture.finish()
    stats.note(source, "packets", f"{number} packets, {capture.websockets} WebSocket connection(s)")
    if capture.others:
        stats.note(
            source,
            "other connections",
            f"{capture.others} TCP connection(s) that are not WebSocket upgrades (not OCPP)",
        )
    if not capture.websockets and not capture.reported:
        raise InputError(
            f"no WebSocket connection in {number} packets: nothing to audit", source=source
        )


class _Capture:
    def __init__(self, source: str, options: ReadOptions, stats: ReadStats) -> None:
        self.source = source
        self.options = options
        self.stats = stats
        self.connections: dict[tuple[Endpoint, Endpoint], _Connection] = {}
        self.websockets = 0
        self.others = 0
        self.reported = 0
        self.by_frames: FrameVersions | None = None  # connections that negotiated no version

    def packet(self, number: int, ts: float, linktype: int, buf: bytes) -> Iterator[Piece]:
        ip = _ip_packet(linktype, buf)
        tcp = getattr(ip, "data", None)
        if not isinstance(tcp, dpkt.tcp.TCP):
            return
        src_ip, dst_ip = _address(ip)
        src, dst = (src_ip, tcp.sport), (dst_ip, tcp.dport)
        syn = bool(tcp.flags & dpkt.tcp.TH_SYN)
        ack = bool(tcp.flags & dpkt.tcp.TH_ACK)
        conn = self.connections.get((src, dst)) or self.connections.get((dst, src))
        if syn and not ack:
            conn = self.connections[(src, dst)] = _Connection(src, dst, number)
            conn.up.next_seq = (tcp.seq + 1) & 0xFFFFFFFF
            return
        if conn is None:
            if not tcp.data:
                return
            conn = self.connections[(src, dst)] = _Connection(src, dst, number)
            conn.state = "lost" if not tcp.data.startswith(_HTTP_METHODS) else "http"
            if conn.state == "lost":
                self.reported += 1
                yield UnreadableLine(
                    self.source,
                    number,
                    "a TCP connection whose start was not captured: cannot be read",
                    f"{src[0]}:{src[1]} -> {dst[0]}:{dst[1]}",
                )
                return
            conn.up.next_seq = tcp.seq
        upward = (src, dst) == (conn.client, conn.server)
        side = conn.up if upward else conn.down
        if syn and ack:
            side.next_seq = (tcp.seq + 1) & 0xFFFFFFFF
            return
        if side.next_seq is None:
            side.next_seq = tcp.seq
        data = bytes(tcp.data)
        if data:
            for chunk in self._reassemble(side, tcp.seq, data):
                yield from self._data(conn, upward, chunk, number, ts)

    def _reassemble(self, side: _Direction, seq: int, data: bytes) -> Iterator[bytes]:
        assert side.next_seq is not None
        offset = (seq - side.next_seq) & 0xFFFFFFFF
        if offset >= 1 << 31:  # before next_seq: a retransmission, maybe with new bytes
            behind = (side.next_seq - seq) & 0xFFFFFFFF
            if behind >= len(data):
                return
            data, offset = data[behind:], 0
        if offset > 0:
            if side.held_bytes < MAX_GAP_BYTES and seq not in side.held:
                side.held[seq] = data
                side.held_bytes += len(data)
            return
        yield data
        side.next_seq = (side.next_seq + len(data)) & 0xFFFFFFFF
        while side.held:
            progressed = False
            for held_seq in list(side.held):
                lag = (side.next_seq - held_seq) & 0xFFFFFFFF
                chunk = side.held[held_seq]
                if lag < 1 << 31 and lag < len(chunk):
                    del side.held[held_seq]
                    side.held_bytes -= len(chunk)
                    yield chunk[lag:]
                    side.next_seq = (side.next_seq + len(chunk) - lag) & 0xFFFFFFFF
                    progressed = True
                elif lag < 1 << 31:
                    del side.held[held_seq]
                    side.held_bytes -= len(chunk)
            if not progressed:
                break

    def _data(
        self, conn: _Connection, upward: bool, data: bytes, number: int, ts: float
    ) -> Iterator[Piece]:
        if conn.state in ("other", "tls", "lost"):
            return
        side = conn.up if upward else conn.down
        side.buffer.extend(data)
        if conn.state == "http":
            if upward and not conn.requested:
                if side.buffer[:1] == b"\x16" and side.buffer[1:2] == b"\x03":
                    conn.state = "tls"
                    self.reported += 1
                    yield UnreadableLine(
                        self.source,
                        conn.first_packet,
                        "encrypted: cannot be read (a TLS connection)",
                        f"{conn.client[0]}:{conn.client[1]} -> {conn.server[0]}:{conn.server[1]}",
                    )
                    return
                if (
                    not bytes(side.buffer[:4]).startswith(_HTTP_METHODS[:1])
                    and len(side.buffer) >= 4
                ):
                    self._other(conn)
                    return
                if not self._request(conn):
                    return
            if not upward and conn.requested and conn.state == "http" and not self._response(conn):
                return
            if conn.state != "ws":
                return
        yield from self._frames(conn, upward, number, ts)

    def _other(self, conn: _Connection) -> bool:
        """The connection is not an OCPP WebSocket: counted, and its bytes no longer read."""
        conn.state = "other"
        self.others += 1
        return False

    def _http_event(self, parser: h11.Connection, conn: _Connection, data: bytearray) -> Any:
        """The first HTTP event of ``data``; None when more bytes are needed or they are not
        HTTP (then the connection is :meth:`_other`)."""
        parser.receive_data(bytes(data))
        try:
            event = parser.next_event()
        except h11.RemoteProtocolError:
            self._other(conn)
            return None
        return None if event is h11.NEED_DATA else event

    def _request(self, conn: _Connection) -> bool:
        parser = h11.Connection(h11.SERVER)
        event = self._http_event(parser, conn, conn.up.buffer)
        if event is None:
            return False
        if not isinstance(event, h11.Request):
            return self._other(conn)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}
        if headers.get("upgrade", "").lower() != "websocket":
            return self._other(conn)
        conn.requested = True
        conn.request_target = event.target.decode("latin-1")
        conn.station = station_from_url(conn.request_target) or self.options.station or "unnamed"
        # h11 pauses after an upgrade request; what follows are WebSocket frames
        while parser.next_event() is not h11.PAUSED:
            pass
        rest, _closed = parser.trailing_data
        conn.up.buffer = bytearray(rest)
        return True

    def _response(self, conn: _Connection) -> bool:
        parser = h11.Connection(h11.CLIENT)
        parser.send(
            h11.Request(
                method="GET",
                target=conn.request_target or "/",
                headers=[("Host", "x"), ("Connection", "Upgrade"), ("Upgrade", "websocket")],
            )
        )
        event = self._http_event(parser, conn, conn.down.buffer)
        if event is None:
            return False
        if getattr(event, "status_code", 0) != 101:
            return self._other(conn)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}
        rest, _closed = parser.trailing_data
        conn.down.buffer = bytearray(rest)
        protocol = headers.get("sec-websocket-protocol")
        version, how = connection_version(self.options.ocpp, protocol)
        conn.version = version or ""
        if version is not None:
            self.stats.note_station(self.source, conn.station, "ocpp", how)
        elif self.by_frames is None:
            self.by_frames = FrameVersions(self.source, LogFormat.PCAP, self.options, self.stats)
        self.stats.note_station(
            self.source, conn.station, "side", "both (a capture sees both ends)"
        )
        offer = headers.get("sec-websocket-extensions", "")
        deflate = next(
            (
                part.strip()
                for part in offer.split(",")
                if part.strip().split(";")[0].strip() == PerMessageDeflate.name
            ),
            None,
        )
        conn.up.ws = FrameProtocol(False, self._extensions(deflate, server=True))
        conn.down.ws = FrameProtocol(True, self._extensions(deflate, server=False))
        conn.state = "ws"
        self.websockets += 1
        return True

    @staticmethod
    def _extensions(agreed: str | None, *, server: bool) -> list[Any]:
        if agreed is None:
            return []
        ext = PerMessageDeflate()
        if server:
            ext.accept(agreed)
        else:
            ext.finalize(agreed)
        return [ext]

    def _frames(self, conn: _Connection, upward: bool, number: int, ts: float) -> Iterator[Piece]:
        side = conn.up if upward else conn.down
        if side.failed or side.ws is None or not side.buffer:
            return
        side.ws.receive_bytes(bytes(side.buffer))
        side.buffer.clear()
        direction = Direction.TO_CSMS if upward else Direction.TO_STATION
        when = datetime.fromtimestamp(ts, UTC)
        try:
            for frame in side.ws.received_frames():
                if frame.opcode is Opcode.TEXT or (
                    frame.opcode is Opcode.CONTINUATION and side.parts
                ):
                    side.parts.append(str(frame.payload))
                    if frame.message_finished:
                        text = "".join(side.parts)
                        side.parts = []
                        record = LogRecord(
                            self.source, number, when, conn.station, direction, conn.version, text
                        )
                        if conn.version:
                            yield record
                        else:
                            assert self.by_frames is not None
                            yield from self.by_frames.push(record)
                elif frame.opcode is Opcode.BINARY:
                    yield UnreadableLine(
                        self.source, number, "a binary WebSocket message (OCPP-J is text)", ""
                    )
        except ParseFailed as exc:
            side.failed = True
            yield UnreadableLine(
                self.source,
                number,
                f"WebSocket framing broken ({exc}): the rest of this direction cannot be read",
                f"{conn.client[0]}:{conn.client[1]} -> {conn.server[0]}:{conn.server[1]}",
            )

    def finish(self) -> Iterator[Piece]:
        if self.by_frames is not None:
            yield from self.by_frames.finish()
        note_file_from_stations(self.stats, self.source, "ocpp")
        self.stats.note(self.source, "side", "both (a capture sees both ends)")
