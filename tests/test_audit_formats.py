"""Captures, HAR files and structured JSON logs, built here to reach each corner of the readers.

(The real files of these formats are in tests/data/audit/real/; these show what they do not:
fragmented and masked WebSocket messages, TCP segments out of order and retransmitted, a
connection whose start was not captured, HAR station identities, ``--field`` paths.)
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
from pathlib import Path

import dpkt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsproto.frame_protocol import FrameProtocol

from ocpp_e2e.audit.logs import (
    LogFormat,
    LogRecord,
    ReadOptions,
    ReadStats,
    Side,
    UnreadableLine,
    read_logs,
)
from ocpp_e2e.errors import InputError
from ocpp_e2e.model import Direction

CLIENT, SERVER = ("10.0.0.2", 50000), ("10.0.0.1", 9000)
UPGRADE = (
    b"GET /ocpp/CS%2D7 HTTP/1.1\r\nHost: csms\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
)
ACCEPT = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
)


class _Tcp:
    """Builds the packets of one TCP connection (Ethernet/IPv4)."""

    def __init__(self) -> None:
        self.seq = {CLIENT: 1000, SERVER: 5000}
        self.packets: list[tuple[float, bytes]] = []
        self.t = 1_770_000_000.0

    def packet(
        self,
        src: tuple[str, int],
        data: bytes,
        flags: int = dpkt.tcp.TH_ACK,
        seq: int | None = None,
    ) -> None:
        dst = SERVER if src == CLIENT else CLIENT
        tcp = dpkt.tcp.TCP(
            sport=src[1],
            dport=dst[1],
            seq=self.seq[src] if seq is None else seq,
            flags=flags,
            data=data,
        )
        ip = dpkt.ip.IP(
            src=socket.inet_aton(src[0]),
            dst=socket.inet_aton(dst[0]),
            p=dpkt.ip.IP_PROTO_TCP,
            data=tcp,
        )
        eth = dpkt.ethernet.Ethernet(
            src=b"\x00" * 6, dst=b"\x00" * 6, type=dpkt.ethernet.ETH_TYPE_IP, data=ip
        )
        self.t += 0.5
        self.packets.append((self.t, bytes(eth)))

    def send(self, src: tuple[str, int], data: bytes) -> None:
        self.packet(src, data)
        self.seq[src] += len(data)

    def handshake(self) -> None:
        self.packet(CLIENT, b"", dpkt.tcp.TH_SYN, seq=self.seq[CLIENT] - 1)
        self.packet(SERVER, b"", dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, seq=self.seq[SERVER] - 1)

    def write(self, path: Path, *, ng: bool = False) -> None:
        with open(path, "wb") as out:
            writer = dpkt.pcapng.Writer(out) if ng else dpkt.pcap.Writer(out)
            for ts, buf in self.packets:
                writer.writepkt(buf, ts=ts)


def _ws(client: bool) -> FrameProtocol:
    return FrameProtocol(client, [])


def _read(path: Path, **kw: object) -> tuple[list[LogRecord], list[UnreadableLine], ReadStats]:
    stats = ReadStats()
    items = list(read_logs([str(path)], ReadOptions(**kw), stats))  # type: ignore[arg-type]
    return (
        [i for i in items if isinstance(i, LogRecord)],
        [i for i in items if isinstance(i, UnreadableLine)],
        stats,
    )


def test_capture_with_fragmented_masked_messages_and_reordered_segments(tmp_path: Path) -> None:
    tcp = _Tcp()
    tcp.handshake()
    tcp.send(CLIENT, UPGRADE)
    tcp.send(SERVER, ACCEPT)
    station = _ws(client=True)  # the station masks what it sends
    call = '[2,"1","Heartbeat",{}]'
    fragments = station.send_data(call[:5], fin=False) + station.send_data(call[5:], fin=True)
    # the frames in two TCP segments, the second captured first, and the first retransmitted
    first, second = fragments[:7], fragments[7:]
    seq = tcp.seq[CLIENT]
    tcp.packet(CLIENT, second, seq=seq + len(first))
    tcp.packet(CLIENT, first, seq=seq)
    tcp.packet(CLIENT, first, seq=seq)
    tcp.seq[CLIENT] += len(fragments)
    csms = _ws(client=False)
    tcp.send(SERVER, csms.send_data('[3,"1",{"currentTime":"2026-03-02T08:00:00Z"}]', fin=True))
    tcp.send(SERVER, csms.ping(b"x"))
    path = tmp_path / "frag.pcapng"
    tcp.write(path, ng=True)
    records, bad, stats = _read(path)
    assert bad == []
    assert [(r.line, r.station, r.direction, r.ocpp, r.frame) for r in records] == [
        (6, "CS-7", Direction.TO_CSMS, "1.6", call),
        (8, "CS-7", Direction.TO_STATION, "1.6", '[3,"1",{"currentTime":"2026-03-02T08:00:00Z"}]'),
    ]
    assert stats.formats == {str(path): "pcap"}


def test_a_connection_whose_start_was_not_captured_is_reported(tmp_path: Path) -> None:
    tcp = _Tcp()
    tcp.send(CLIENT, _ws(client=True).send_data('[2,"1","Heartbeat",{}]', fin=True))
    path = tmp_path / "late.pcap"
    tcp.write(path)
    records, bad, _ = _read(path)
    assert records == []
    assert [(b.line, b.reason) for b in bad] == [
        (1, "a TCP connection whose start was not captured: cannot be read")
    ]


def test_broken_websocket_framing_is_reported_not_skipped(tmp_path: Path) -> None:
    tcp = _Tcp()
    tcp.handshake()
    tcp.send(CLIENT, UPGRADE)
    tcp.send(SERVER, ACCEPT)
    tcp.send(CLIENT, _ws(client=False).send_data("unmasked from a client", fin=True))
    path = tmp_path / "bad.pcap"
    tcp.write(path)
    _, bad, _ = _read(path)
    assert len(bad) == 1 and bad[0].reason.startswith("WebSocket framing broken")


def test_a_capture_without_websocket_traffic_is_an_input_error(tmp_path: Path) -> None:
    tcp = _Tcp()
    tcp.handshake()
    tcp.send(CLIENT, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    path = tmp_path / "http.pcap"
    tcp.write(path)
    with pytest.raises(InputError, match="no WebSocket connection in 3 packets"):
        _read(path)


def test_a_truncated_capture_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.pcap"
    path.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x00" * 10)
    with pytest.raises(InputError, match=r"cut\.pcap: not a readable pcap"):
        _read(path)


# --------------------------------------------------------------------------- HAR


def _har(messages: list[dict[str, object]], url: str = "wss://csms.example/ocpp/SIM-1") -> bytes:
    entry = {
        "request": {"method": "GET", "url": url, "headers": []},
        "response": {
            "status": 101,
            "headers": [{"name": "Sec-WebSocket-Protocol", "value": "ocpp2.0.1"}],
        },
        "_resourceType": "websocket",
        "_webSocketMessages": messages,
    }
    return json.dumps(
        {"log": {"version": "1.2", "entries": [{"request": {"url": "https://x/"}}, entry]}},
        indent=2,
    ).encode()


def test_har_websocket_messages_are_records_of_the_browser_station(tmp_path: Path) -> None:
    path = tmp_path / "session.har"
    path.write_bytes(
        _har(
            [
                {
                    "type": "send",
                    "time": 1770000000.25,
                    "opcode": 1,
                    "data": '[2,"1","Heartbeat",{}]',
                },
                {
                    "type": "receive",
                    "time": 1770000000.5,
                    "opcode": 1,
                    "data": '[3,"1",{"currentTime":"2026-02-02T02:40:00Z"}]',
                },
                {"type": "receive", "time": 1770000001, "opcode": 9, "data": ""},
                {"type": "oops", "time": 1770000002, "opcode": 1, "data": "x"},
            ]
        )
    )
    records, bad, stats = _read(path)
    assert [(r.line, r.station, r.direction, r.ocpp) for r in records] == [
        (1, "SIM-1", Direction.TO_CSMS, "2.0.1"),
        (2, "SIM-1", Direction.TO_STATION, "2.0.1"),
    ]
    assert records[0].ts is not None and records[0].ts.timestamp() == 1770000000.25
    assert [(b.line, b.reason) for b in bad] == [
        (4, "a WebSocket message without type send/receive and data")
    ]
    assert stats.formats == {str(path): "har"}
    assert stats.other == 2  # the page request, the ping


def test_a_har_file_without_websockets_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "page.har"
    path.write_text('{"log": {"entries": [{"request": {"url": "https://x/"}}]}}')
    with pytest.raises(InputError, match="holds no WebSocket connection"):
        _read(path)


# --------------------------------------------------------------------------- structured JSON


def test_field_paths_say_where_frame_station_time_and_direction_are(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    path.write_text(
        '{"t": 1770000000123, "ocpp": {"cp": "cs-9", "dir": "rx", "msg": [2, "1", "Heartbeat", {}]}}\n'
        '{"t": 1770000000200, "ocpp": {"cp": "cs-9", "dir": "tx", "msg": "[3,\\"1\\",{\\"currentTime\\":\\"2026-02-02T02:40:00Z\\"}]"}}\n'
        '{"t": 1770000000300, "level": "info", "text": "unrelated"}\n'
    )
    fields = {"frame": "ocpp.msg", "station": "ocpp.cp", "time": "t", "direction": "ocpp.dir"}
    records, bad, stats = _read(path, format=LogFormat.JSON, fields=fields, side=Side.CSMS)
    assert bad == []
    assert [(r.station, r.direction, r.frame) for r in records] == [
        ("cs-9", Direction.TO_CSMS, '[2, "1", "Heartbeat", {}]'),
        ("cs-9", Direction.TO_STATION, '[3,"1",{"currentTime":"2026-02-02T02:40:00Z"}]'),
    ]
    assert records[0].ts is not None and records[0].ts.timestamp() == 1770000000.123
    assert stats.other == 1


def test_a_loki_export_line_holding_a_steve_line_is_read(tmp_path: Path) -> None:
    steve = (
        "[INFO ] 2024-02-26 09:10:45,446 de.rwth.idsg.steve.ocpp.ws.WebSocketLogger - "
        '[chargeBoxId=lesbos_left, sessionId=5863] Received: [2,"5c","Heartbeat",{}]'
    )
    path = tmp_path / "loki.jsonl"
    path.write_text(
        json.dumps(
            {"labels": {"app": "steve"}, "timestamp": "2024-02-26T09:10:45.446Z", "line": steve}
        )
        + "\n"
    )
    records, bad, stats = _read(path)
    assert bad == []
    assert [(r.station, r.direction, r.ocpp) for r in records] == [
        ("lesbos_left", Direction.TO_CSMS, "1.6")
    ]
    assert stats.formats == {str(path): "json"}


def test_a_structured_frame_without_direction_is_an_unreadable_line(tmp_path: Path) -> None:
    path = tmp_path / "nodir.jsonl"
    path.write_text('{"station": "a", "message": "[2,\\"1\\",\\"Heartbeat\\",{}]"}\n')
    _, bad, _ = _read(path, format=LogFormat.JSON)
    assert [b.reason for b in bad] == ["no direction member (give --field direction=PATH)"]


def test_a_bad_field_option_is_a_usage_error() -> None:
    from ocpp_e2e.audit.structured import parse_fields

    with pytest.raises(InputError, match="--field 'colour=x'"):
        parse_fields(["colour=x"])


# --------------------------------------------------------------------------- totality


_PIECES = st.sampled_from(
    [
        "2026-03-02 08:00:01,250 INFO ocpp: cs-1: receive message ",
        "[INFO ] 2026-13-45 08:00:01,594 x - [chargeBoxId=A, sessionId=s] Received: ",
        "2023/07/02 22:27:40 sent JSON message to goe: ",
        "2026-03-02T08:00:01.455Z: ChargePoint>CentralSystem Heartbeat\n",
        '[2,"1","Heartbeat",{}]', '[3,"1",{', "}]", "\n", "\t", "\r\n", "\x1b[0m", "\ufeff",
        '{"frame":[2,"1","A",{}],"station":"a","direction":"in"}', '{"message":"x: send [2,', '"',
        "\\", "{", "[", "]",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=30), st.sampled_from(list(LogFormat)))
def test_any_text_in_any_format_gives_items_or_an_input_error(
    pieces: list[str], fmt: LogFormat
) -> None:
    data = "".join(pieces).encode()
    options = ReadOptions(format=fmt, station="cs-1", side=Side.CSMS)
    try:
        items = list(read_stream_bytes(data, options))
    except InputError:
        return
    assert all(isinstance(i, LogRecord | UnreadableLine) for i in items)


@settings(max_examples=100, deadline=None)
@given(
    st.binary(max_size=400),
    st.sampled_from([b"\xd4\xc3\xb2\xa1", b"\x0a\x0d\x0d\x0a", b'{"log": {']),
)
def test_any_bytes_after_a_capture_or_har_head_give_items_or_an_input_error(
    tail: bytes, head: bytes
) -> None:
    with contextlib.suppress(InputError):
        list(read_stream_bytes(head + tail, ReadOptions()))


def read_stream_bytes(data: bytes, options: ReadOptions) -> list[LogRecord | UnreadableLine]:
    from ocpp_e2e.audit.logs import read_stream

    return list(read_stream(io.BufferedReader(io.BytesIO(data)), "mem", options, ReadStats()))  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [b'""', b"[]", b"42", b'{"log": []}', b'{"log": {"entries": {}}}'])
def test_har_that_is_json_but_not_an_object_with_log_entries_is_an_input_error(text: bytes) -> None:
    with pytest.raises(InputError, match=r"not a HAR file: no log\.entries list"):
        read_stream_bytes(text, ReadOptions(format=LogFormat.HAR))


# --------------------------------------------------------------------------- no subprotocol


def test_a_capture_without_a_negotiated_subprotocol_takes_the_version_its_frames_tell(
    tmp_path: Path,
) -> None:
    tcp = _Tcp()
    tcp.handshake()
    tcp.send(CLIENT, UPGRADE.replace(b"Sec-WebSocket-Protocol: ocpp1.6\r\n", b""))
    tcp.send(SERVER, ACCEPT.replace(b"Sec-WebSocket-Protocol: ocpp1.6\r\n", b""))
    station = _ws(client=True)
    boot = '[2,"1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
    tcp.send(CLIENT, station.send_data(boot, fin=True))
    csms = _ws(client=False)
    answer = '[3,"1",{"currentTime":"2026-03-02T08:00:00Z","interval":60,"status":"Accepted"}]'
    tcp.send(SERVER, csms.send_data(answer, fin=True))
    path = tmp_path / "noproto.pcap"
    tcp.write(path)
    records, bad, stats = _read(path)
    assert bad == []
    assert [(r.station, r.direction, r.ocpp) for r in records] == [
        ("CS-7", Direction.TO_CSMS, "1.6"),
        ("CS-7", Direction.TO_STATION, "1.6"),
    ]
    assert stats.station_facts[str(path)]["cs-7"]["ocpp"] == (
        "1.6 (inferred: BootNotification at line 5 fits only OCPP 1.6)"
    )
    assert stats.inferred[str(path)]["ocpp"] == stats.station_facts[str(path)]["cs-7"]["ocpp"]


def test_a_har_without_subprotocols_infers_each_stations_version_from_its_frames(
    tmp_path: Path,
) -> None:
    # real-derived: Chromium's HAR of a 1.6 and a 2.0.1 station with the chosen subprotocols
    # taken out of the handshake answers, as a server that negotiates none would leave them
    har = json.loads(
        (Path(__file__).parent / "data/audit/real/captures/browser-mixed.har").read_text()
    )
    for entry in har["log"]["entries"]:
        headers = entry["response"]["headers"]
        entry["response"]["headers"] = [
            h for h in headers if h["name"].lower() != "sec-websocket-protocol"
        ]
    path = tmp_path / "noproto.har"
    path.write_text(json.dumps(har))
    records, bad, stats = _read(path)
    assert bad == [] and len(records) == 16
    assert {(r.station, r.ocpp) for r in records} == {
        ("BROWSER-16", "1.6"),
        ("BROWSER-201", "2.0.1"),
    }
    facts = stats.station_facts[str(path)]
    assert facts["browser-16"]["ocpp"] == (
        "1.6 (inferred: BootNotification at line 1 fits only OCPP 1.6)"
    )
    assert facts["browser-201"]["ocpp"] == (
        "2.0.1 (inferred: BootNotification at line 9 fits only OCPP 2.0.1 or 2.1)"
    )
