"""Properties of ESP (docs/esp.md), with bounded hypothesis examples: every inner frame comes back
byte for byte under any station identity, and no change to an envelope ever decrypts."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ocpp_e2e._b64 import b64url_decode, b64url_encode
from ocpp_e2e.canonical import dumps
from ocpp_e2e.esp import (
    EspKeyInfo,
    EspKeyring,
    EspOutcome,
    EspReceiver,
    encrypt_frame,
    generate_esp_key,
)

NOW = datetime(2026, 12, 7, 22, 40, tzinfo=UTC)
STATION_KEY = generate_esp_key("X25519")
CSMS_KEY = generate_esp_key("ML-KEM-768+X25519")
RECEIVER = EspReceiver([STATION_KEY], reply_keys=EspKeyring([EspKeyInfo(CSMS_KEY.public, None)]))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
identities = st.text(min_size=1, max_size=24).filter(lambda s: "\x00" not in s)


@settings(max_examples=25, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=8), json_values, max_size=5), station=identities)
def test_any_inner_frame_round_trips_exactly_for_any_station(
    payload: dict[str, object], station: str
) -> None:
    inner = dumps([2, "p1", "DataTransfer", payload])
    sealed = encrypt_frame(
        inner,
        ocpp="2.0.1",
        station=station,
        direction="toStation",
        recipient=STATION_KEY.public,
        reply_to=CSMS_KEY.public,
        now=NOW,
    )
    opened = RECEIVER.decrypt_frame(
        sealed.text, ocpp="2.0.1", station=station, direction="toStation", now=NOW
    )
    assert opened.outcome is EspOutcome.DECRYPTED, opened.reason
    assert opened.inner == inner


SEALED = encrypt_frame(
    '[2,"p2","Reset",{"type":"Immediate"}]',
    ocpp="2.0.1",
    station="cs-1",
    direction="toStation",
    recipient=STATION_KEY.public,
    reply_to=CSMS_KEY.public,
    now=NOW,
)
CT = b64url_decode(SEALED.envelope["ct"])


@settings(max_examples=60, deadline=None)
@given(position=st.integers(0, len(CT) - 1), flip=st.integers(1, 255))
def test_no_change_to_the_ciphertext_ever_decrypts(position: int, flip: int) -> None:
    ct = bytearray(CT)
    ct[position] ^= flip
    frame = orjson.loads(SEALED.text)
    envelope = orjson.loads(frame[3]["data"])
    envelope["ct"] = b64url_encode(bytes(ct))
    frame[3]["data"] = dumps(envelope).decode()
    opened = RECEIVER.decrypt_frame(
        dumps(frame), ocpp="2.0.1", station="cs-1", direction="toStation", now=NOW
    )
    assert opened.outcome is EspOutcome.UNDECRYPTABLE


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_get_one_outcome_and_never_decrypt(data: bytes) -> None:
    opened = RECEIVER.decrypt_frame(
        data, ocpp="2.0.1", station="cs-1", direction="toStation", now=NOW
    )
    assert opened.outcome is not EspOutcome.DECRYPTED and opened.reason
