"""The frame shapes the benchmarks measure: what stations and CSMSs really send (issue 16).

Each shape is a list of distinct signed OCPP 2.0.1 CALL frames, written the way a sender writes
them (orjson's compact UTF-8, or ``json.dumps(separators=(",", ":"))`` as the ``ocpp`` package does,
which escapes every non-ASCII character as ``\\uXXXX``), with the signing inputs and signature
values a bare Ed25519 verify needs. The signing inputs are computed independently of ocpp-e2e
(``rfc8785`` over the same values) and checked with a bare verify while the shapes are built, so a
benchmark compares ``verify_frame`` with exactly the primitive work it wraps.

Shapes (``SHAPES``):

- MeterValues of 3 KB with integer values, integral floats (``1234.0``, ``0.0``: as stations
  send them), one-decimal floats, and numbers with exponents (``1.5e-06``, ``2.5e+16``: the forms
  RFC 8785 writes without an exponent), written by orjson and by the ``ocpp`` package;
- NotifyReport of 3 KB and of 30 KB: ASCII; non-ASCII below U+E000 (UTF-8, and as ``\\u``
  escapes written by the ``ocpp`` package); plus one ``\\u001b``; control characters; plus one
  U+FFFD; plus one emoji (outside the BMP, raw or as an escaped surrogate pair); member names with
  characters at or above U+E000 and outside the BMP (where RFC 8785's UTF-16 order differs from
  code point order);
- Heartbeat; SetChargingProfile with 24 periods of float limits.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import rfc8785
from cryptography.hazmat.primitives.asymmetric import ed25519

from ocpp_e2e._b64 import b64url_decode
from ocpp_e2e.keys import Keyring, KeySigner
from ocpp_e2e.sign import sign_frame

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
STATION = "cs-0001"
OCPP = "2.0.1"

Writer = Callable[[Any], bytes]
Payload = Callable[[int, random.Random], tuple[str, dict[str, Any]]]


def write_orjson(value: Any) -> bytes:
    """Compact UTF-8, shortest floats (``1234.0`` for an integral float): most CSMS stacks."""
    return orjson.dumps(value)


def write_ocpp(value: Any) -> bytes:
    """What the ``ocpp`` package sends: ``json.dumps`` with compact separators (ASCII only)."""
    return json.dumps(value, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- payloads


def _timestamp(i: int) -> str:
    return (NOW - timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meter_values(number: Callable[[random.Random], Any]) -> Payload:
    """A 3 KB MeterValues request: 16 sampled values whose ``value`` comes from ``number``."""

    def build(i: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
        samples = [
            {
                "value": number(rng),
                "context": "Sample.Periodic",
                "measurand": "Energy.Active.Import.Register",
                "phase": ["L1", "L2", "L3"][n % 3],
                "location": "Outlet",
                "unitOfMeasure": {"unit": "Wh", "multiplier": 0},
            }
            for n in range(16)
        ]
        return "MeterValues", {
            "evseId": 1 + i % 4,
            "meterValue": [{"timestamp": _timestamp(i), "sampledValue": samples}],
        }

    return build


def _integer(rng: random.Random) -> int:
    return rng.randint(0, 5_000_000)


def _integral_float(rng: random.Random) -> float:
    return 0.0 if rng.random() < 0.2 else float(rng.randint(0, 5_000_000))


def _one_decimal(rng: random.Random) -> float:
    return round(rng.uniform(0, 50_000), 1)


def _exponent(rng: random.Random) -> float:
    # Python writes these with an exponent; RFC 8785 writes e-6 and e+16..e+20 without one.
    mantissa = rng.choice([1.5, 2.0, 3.25, 7.0, 9.5])
    return mantissa * 10.0 ** rng.choice([-7, -6, -6, 16, 17, 20, 21])


ASCII_TEXT = "Charging point 1, car park north, level 2"
LATIN_TEXT = "Ladesäule Größe, Straße № 5 – Café «Nord» ½ €"


def notify_report(
    items: int,
    text: str = ASCII_TEXT,
    extra: str = "",
    odd_names: bool = False,
) -> Payload:
    """NotifyReport with ``items`` report entries (9 ≈ 3 KB, 100 ≈ 30 KB).

    ``extra`` is appended to the value of the middle entry (one character anywhere); with
    ``odd_names`` the middle entry's ``customData`` has member names with U+FFFD and an emoji.
    """

    def build(i: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
        data = []
        for n in range(items):
            value = f"{text} #{rng.randint(0, 10**6)}"
            entry: dict[str, Any] = {
                "component": {"name": f"Connector{n % 7}", "evse": {"id": 1 + n % 2}},
                "variable": {"name": f"Description{n}"},
                "variableAttribute": [{"type": "Actual", "value": value, "mutability": "ReadOnly"}],
                "variableCharacteristics": {"dataType": "string", "supportsMonitoring": False},
            }
            if n == items // 2:
                entry["variableAttribute"][0]["value"] = value + extra
                if odd_names:
                    entry["customData"] = {
                        "vendorId": "com.example",
                        "note\ufffd": "a",
                        "note\U0001f50c": "b",
                        "note\ue000": "c",
                    }
            data.append(entry)
        return "NotifyReport", {
            "requestId": i,
            "generatedAt": _timestamp(i),
            "seqNo": 0,
            "tbc": False,
            "reportData": data,
        }

    return build


def heartbeat(i: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
    return "Heartbeat", {}


def set_charging_profile(i: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
    periods = [
        {"startPeriod": n * 900, "limit": round(rng.uniform(4000, 22000), 1), "numberPhases": 3}
        for n in range(24)
    ]
    periods[0]["limit"] = 16.0
    return "SetChargingProfile", {
        "evseId": 0,
        "chargingProfile": {
            "id": i,
            "stackLevel": 1,
            "chargingProfilePurpose": "ChargingStationMaxProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [
                {
                    "id": i,
                    "startSchedule": _timestamp(i),
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": periods,
                }
            ],
        },
    }


# --------------------------------------------------------------------------- building


@dataclass
class Shape:
    """Signed frames of one shape and the bare-verify work they wrap."""

    name: str
    frames: list[bytes]
    unsigned: list[bytes]
    inputs: list[tuple[bytes, bytes]]  # (signing input, raw signature)
    size: int = field(default=0)
    stations: list[str] = field(default_factory=list)  # the station of each frame


def build_shape(
    name: str,
    payload: Payload,
    writer: Writer,
    count: int,
    key: ed25519.Ed25519PrivateKey,
    seed: int = 7,
    *,
    stations: int = 1,
    sample: int | None = None,
) -> Shape:
    """``count`` distinct frames of one shape, signed with ``key``; frame i travels on station
    ``cs-{i % stations + 1:04d}`` (``cs-0001`` with one station). Signing inputs for the bare
    verify are computed for the first ``sample`` frames (all by default)."""
    rng = random.Random(seed)
    signer = KeySigner(key)
    public = key.public_key()
    frames, unsigned, inputs, names = [], [], [], []
    for i in range(count):
        station = STATION if stations == 1 else f"cs-{i % stations + 1:04d}"
        action, body = payload(i, rng)
        frame: list[Any] = [2, f"{name[:20]}-{i:06d}", action, body]
        plain = writer(frame)
        signed = orjson.loads(sign_frame(plain, signer, ocpp=OCPP, station=station, timestamp=NOW))
        sigs = signed[3]["customData"]["signatures"]
        frame[3] = {**body, "customData": {"vendorId": "org.ocpp-e2e", "signatures": sigs}}
        wire = writer(frame)
        frames.append(wire)
        unsigned.append(plain)
        names.append(station)
        if sample is not None and i >= sample:
            continue
        sig = sigs[0]
        data = rfc8785.dumps(
            {
                "context": {"ocpp": OCPP, "station": station, "action": action, "kind": "request"},
                "payload": body,
                "signature": {k: v for k, v in sig.items() if k != "value"},
            }
        )
        value = b64url_decode(sig["value"])
        public.verify(value, data)  # the shape is what it claims: a valid signature
        inputs.append((data, value))
    size = sum(len(f) for f in frames) // len(frames)
    return Shape(name, frames, unsigned, inputs, size, names)


# name -> (payload builder, writer, frames per round); 3 KB shapes first, then 30 KB.
SHAPES: dict[str, tuple[Payload, Writer, int]] = {
    "MeterValues 3 KB, integers": (meter_values(_integer), write_orjson, 200),
    "MeterValues 3 KB, integral floats 1234.0/0.0": (
        meter_values(_integral_float),
        write_orjson,
        200,
    ),
    "MeterValues 3 KB, integral floats, ocpp package": (
        meter_values(_integral_float),
        write_ocpp,
        200,
    ),
    "MeterValues 3 KB, one-decimal floats": (meter_values(_one_decimal), write_orjson, 200),
    "MeterValues 3 KB, exponents 1.5e-06/2.5e+16": (meter_values(_exponent), write_ocpp, 200),
    "NotifyReport 3 KB, ASCII": (notify_report(9), write_orjson, 200),
    "NotifyReport 3 KB, non-ASCII UTF-8": (notify_report(9, LATIN_TEXT), write_orjson, 200),
    "NotifyReport 3 KB, non-ASCII, ocpp package (\\u escapes)": (
        notify_report(9, LATIN_TEXT),
        write_ocpp,
        200,
    ),
    "NotifyReport 3 KB, ocpp package + one \\u001b": (
        notify_report(9, LATIN_TEXT, "\x1b"),
        write_ocpp,
        200,
    ),
    "NotifyReport 3 KB, control characters \\n \\t \\u0000": (
        notify_report(9, ASCII_TEXT, "\n\t\x00\x7f"),
        write_orjson,
        200,
    ),
    "NotifyReport 3 KB, + one U+FFFD (UTF-8)": (
        notify_report(9, LATIN_TEXT, "\ufffd"),
        write_orjson,
        200,
    ),
    "NotifyReport 3 KB, + one emoji (UTF-8)": (
        notify_report(9, LATIN_TEXT, "\U0001f50c"),
        write_orjson,
        200,
    ),
    "NotifyReport 3 KB, ocpp package + one emoji (surrogate pair)": (
        notify_report(9, LATIN_TEXT, "\U0001f50c"),
        write_ocpp,
        200,
    ),
    "NotifyReport 3 KB, member names >= U+E000 and outside the BMP": (
        notify_report(9, LATIN_TEXT, odd_names=True),
        write_orjson,
        200,
    ),
    "Heartbeat": (heartbeat, write_orjson, 400),
    "SetChargingProfile, 24 periods": (set_charging_profile, write_orjson, 300),
    "NotifyReport 30 KB, ASCII": (notify_report(100), write_orjson, 40),
    "NotifyReport 30 KB, non-ASCII UTF-8": (notify_report(100, LATIN_TEXT), write_orjson, 40),
    "NotifyReport 30 KB, ocpp package (\\u escapes)": (
        notify_report(100, LATIN_TEXT),
        write_ocpp,
        40,
    ),
    "NotifyReport 30 KB, ocpp package + one \\u001b": (
        notify_report(100, LATIN_TEXT, "\x1b"),
        write_ocpp,
        40,
    ),
    "NotifyReport 30 KB, + one U+FFFD (UTF-8)": (
        notify_report(100, LATIN_TEXT, "\ufffd"),
        write_orjson,
        40,
    ),
    "NotifyReport 30 KB, ocpp package + one emoji": (
        notify_report(100, LATIN_TEXT, "\U0001f50c"),
        write_ocpp,
        40,
    ),
}


def build_all(
    key: ed25519.Ed25519PrivateKey, only: str | None = None, scale: float = 1.0
) -> list[Shape]:
    """Every shape (or those whose name contains ``only``), ``scale`` times the frame counts."""
    return [
        build_shape(name, payload, writer, max(4, int(count * scale)), key)
        for name, (payload, writer, count) in SHAPES.items()
        if only is None or only.lower() in name.lower()
    ]


def keyring_for(key: ed25519.Ed25519PrivateKey) -> Keyring:
    ring = Keyring()
    ring.add(key.public_key(), name=STATION)
    return ring


# --------------------------------------------------------------------------- measuring


def load_average() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
