"""Verification of OCMF signatures under trusted meter keys.

A record is ``valid`` only when its signature verifies under a trusted key of the
:class:`~ocpp_e2e.meter.trust.MeterKeyring` that covers its meter. A record that verifies only under
the public key carried in the same OCPP message is ``valid-untrusted``: the message could have been
produced by anyone holding any key, so this proves integrity of nothing.

>>> MeterVerdict.VALID_UNTRUSTED.value
'valid-untrusted'
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    encode_dss_signature,
)

from ..errors import KeyLoadError, MeterRecordError
from .algorithms import ALGORITHMS, algorithm_status
from .extract import FoundRecord, extract_records
from .record import OcmfRecord, parse_record
from .trust import MeterKey, MeterKeyring, decode_public_key, meter_key_id

__all__ = [
    "MeterVerdict",
    "MeterVerifier",
    "RecordVerification",
    "signature_der",
]


class MeterVerdict(enum.StrEnum):
    """The verdict on one signed meter record."""

    VALID = "valid"
    VALID_UNTRUSTED = "valid-untrusted"
    INVALID = "invalid"
    UNKNOWN_KEY = "unknown-key"
    MALFORMED = "malformed"
    UNSUPPORTED_ALGORITHM = "unsupported-algorithm"
    UNSUPPORTED_FORMAT = "unsupported-format"


@dataclass(frozen=True)
class RecordVerification:
    """The verdict on one record, with the reason and where the record was found.

    ``key`` is the trusted key that verified a ``valid`` record; ``embedded_key_id`` the key id
    of the key carried in the message, if any (informational: it never grants trust).
    """

    verdict: MeterVerdict
    reason: str
    where: str
    record: OcmfRecord | None = None
    key: MeterKey | None = None
    embedded_key_id: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def valid(self) -> bool:
        """True only for ``valid``: verified under a trusted key."""
        return self.verdict is MeterVerdict.VALID

    @property
    def verified(self) -> bool:
        """True for ``valid`` and ``valid-untrusted``: the bytes match *some* key."""
        return self.verdict in (MeterVerdict.VALID, MeterVerdict.VALID_UNTRUSTED)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view with stable field names."""
        out: dict[str, Any] = {
            "where": self.where,
            "verdict": self.verdict.value,
            "reason": self.reason,
        }
        if self.record is not None:
            rec = self.record
            out["algorithm"] = rec.algorithm
            if rec.algorithm_text != rec.algorithm:
                out["algorithmAsWritten"] = rec.algorithm_text
            out["meter"] = {"gatewaySerial": rec.gateway_serial, "meterSerial": rec.meter_serial}
            out["pagination"] = rec.pagination
            out["readings"] = [
                {
                    "time": r.time_text,
                    "transaction": r.transaction,
                    "value": None if r.value is None else str(r.value),
                    "unit": r.unit,
                    "identification": r.identification,
                    "status": r.status,
                    "errorFlags": r.error_flags,
                    **({"vendorMembers": _jsonable(dict(r.extra))} if r.extra else {}),
                }
                for r in rec.readings
            ]
            if rec.vendor_members:
                out["vendorMembers"] = _jsonable(rec.vendor_members)
        if self.key is not None:
            out["keyId"] = self.key.key_id
            out["signer"] = self.key.identity
        if self.embedded_key_id is not None:
            out["embeddedKeyId"] = self.embedded_key_id
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def _jsonable(value: Any) -> Any:
    # Numbers were read as exact decimals; they are shown as the decimal text the meter wrote.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _verify_signature(record: OcmfRecord, key: ec.EllipticCurvePublicKey) -> bool:
    """True when ``record``'s signature verifies under ``key`` over the exact payload bytes.

    The caller must have checked that the algorithm is supported and fits the key's curve. The
    signature may be DER, DER with non-minimal integers, or raw ``r||s`` (see
    :func:`signature_der`); any other signature does not verify.
    """
    der, _note = signature_der(record.signature, record.algorithm)
    if der is None:
        return False
    alg = ALGORITHMS[record.algorithm]
    try:
        key.verify(der, record.payload_bytes, ec.ECDSA(alg.hash()))
    except InvalidSignature:
        return False
    return True


def signature_der(signature: bytes, algorithm: str) -> tuple[bytes | None, str | None]:
    """The canonical DER form of an OCMF ``SD`` value, and a note when it was written otherwise.

    Encodings real meters produce, each read to the same ``(r, s)`` pair and noted:
    - DER whose INTEGERs are written as fixed-size unsigned numbers (eBZ LD3 via Compleo:
      ``02 18 e1 0a ...`` without the zero byte a high bit needs, ``02 18 00 7d ...`` with one
      it does not need), which strict DER parsers refuse;
    - raw ``r||s`` of twice the curve's size (IEEE P1363, Isabellenhuette), which OCMF's
      ``SM: application/x-der`` does not foresee.
    Anything else (trailing bytes, indefinite lengths, negative numbers, zero) gives
    ``(None, reason)``: the signature does not verify.

    >>> signature_der(bytes.fromhex("3006020101020101"), "ECDSA-secp256r1-SHA256")
    (b'0\\x06\\x02\\x01\\x01\\x02\\x01\\x01', None)
    """
    pair = _ber_pair(signature)
    if pair is not None:
        r, s = pair
        der = encode_dss_signature(r, s)
        if der == signature:
            return der, None
        return der, (
            "SD is DER with INTEGERs written as fixed-size unsigned numbers (a missing or "
            "superfluous leading zero byte); read as the same (r, s)"
        )
    alg = ALGORITHMS.get(algorithm)
    if alg is not None and alg.curve is not None:
        size = (alg.curve().key_size + 7) // 8
        if len(signature) == 2 * size:
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            if r > 0 and s > 0:
                return (
                    encode_dss_signature(r, s),
                    "SD is raw r||s (IEEE P1363), not DER as OCMF Table 8 says",
                )
    return None, "SD is neither a DER ECDSA signature (SEQUENCE of two INTEGERs) nor raw r||s"


def _ber_pair(data: bytes) -> tuple[int, int] | None:
    # SEQUENCE { INTEGER r, INTEGER s } with short-form lengths, nothing after, r and s not 0.
    def length(pos: int) -> tuple[int, int] | None:
        # Short form only: every table curve fits, and no meter is known to write long forms.
        if pos >= len(data) or data[pos] >= 0x80:
            return None
        return data[pos], pos + 1

    if data[:1] != b"\x30":
        return None
    seq = length(1)
    if seq is None or seq[1] + seq[0] != len(data):
        return None
    pos = seq[1]
    values: list[int] = []
    for _ in range(2):
        if data[pos : pos + 1] != b"\x02":
            return None
        got = length(pos + 1)
        if got is None or got[0] == 0 or got[1] + got[0] > len(data):
            return None
        body = data[got[1] : got[1] + got[0]]
        # Read unsigned: a high first bit is a meter's missing zero byte, never a negative r or s
        # (ECDSA's r and s are positive by definition).
        values.append(int.from_bytes(body, "big"))
        pos = got[1] + got[0]
    if pos != len(data) or values[0] == 0 or values[1] == 0:
        return None
    return values[0], values[1]


class MeterVerifier:
    """Verifies OCMF records under a :class:`MeterKeyring`.

    >>> verifier = MeterVerifier(MeterKeyring())
    >>> verifier.verify_text("OCMF|{}|{}", where="line 1").verdict.value
    'malformed'
    """

    def __init__(self, keyring: MeterKeyring) -> None:
        self._keyring = keyring

    def verify_text(
        self,
        data: str | bytes,
        *,
        where: str = "record",
        embedded_key: str | bytes | None = None,
    ) -> RecordVerification:
        """Parse and verify one record; ``embedded_key`` is a key that came with it (untrusted)."""
        try:
            record = parse_record(data, where=where)
        except MeterRecordError as exc:
            text = str(exc)
            # The error names ``where`` first; the verdict carries ``where`` on its own.
            reason = text[len(where) + 2 :] if text.startswith(f"{where}: ") else text
            return RecordVerification(MeterVerdict.MALFORMED, reason, where)
        return self.verify_record(record, where=where, embedded_key=embedded_key)

    def verify_found(self, found: FoundRecord) -> RecordVerification:
        """Verify a record that :func:`extract_records` found in an OCPP payload."""
        if found.problem is not None or found.text is None:
            verdict = (
                MeterVerdict.UNSUPPORTED_FORMAT if found.unsupported else MeterVerdict.MALFORMED
            )
            return RecordVerification(verdict, found.problem or "no record", found.path)
        result = self.verify_text(found.text, where=found.path, embedded_key=found.public_key)
        if found.signing_method and result.record is not None:
            sa = result.record.algorithm
            if found.signing_method in ALGORITHMS and found.signing_method != sa:
                return RecordVerification(
                    MeterVerdict.MALFORMED,
                    f"signingMethod {found.signing_method} disagrees with the record's SA {sa}",
                    found.path,
                    result.record,
                )
        return result

    def verify_payload(
        self, action: str, payload: Any, ocpp_version: str
    ) -> list[RecordVerification]:
        """Find and verify every signed meter record in a parsed OCPP payload."""
        return [self.verify_found(f) for f in extract_records(action, payload, ocpp_version)]

    def verify_record(
        self,
        record: OcmfRecord,
        *,
        where: str = "record",
        embedded_key: str | bytes | ec.EllipticCurvePublicKey | None = None,
    ) -> RecordVerification:
        """Verify a parsed record: trusted keys first, then the embedded key."""
        supported, why = algorithm_status(record.algorithm)
        if not supported:
            return RecordVerification(
                MeterVerdict.UNSUPPORTED_ALGORITHM, why, where, record, notes=record.notes
            )
        notes: list[str] = list(record.notes)
        der, der_note = signature_der(record.signature, record.algorithm)
        if der is None:
            return RecordVerification(
                MeterVerdict.INVALID,
                f"the signature does not verify: {der_note}",
                where,
                record,
                notes=tuple(notes),
            )
        if der_note:
            notes.append(der_note)
        embedded: ec.EllipticCurvePublicKey | None = None
        embedded_id: str | None = None
        if embedded_key is not None:
            try:
                embedded = (
                    embedded_key
                    if isinstance(embedded_key, ec.EllipticCurvePublicKey)
                    else decode_public_key(embedded_key, where="publicKey in the message")
                )
                embedded_id = meter_key_id(embedded)
            except KeyLoadError as exc:
                notes.append(f"embedded key ignored: {exc}")
        candidates = self._keyring.candidates(
            record.algorithm, record.meter_serial, record.gateway_serial
        )
        for key in _trusted_first(candidates, embedded_id):
            if _verify_signature(record, key.key):
                return RecordVerification(
                    MeterVerdict.VALID,
                    f"verified under trusted meter key {key.identity}",
                    where,
                    record,
                    key,
                    embedded_id,
                    tuple(notes),
                )
        alg = ALGORITHMS[record.algorithm]
        embedded_fits = embedded is not None and embedded.curve.name == (
            alg.curve().name if alg.curve else ""
        )
        if embedded is not None and not embedded_fits:
            notes.append(f"embedded key is on {embedded.curve.name}, not the record's curve")
        if embedded is not None and embedded_fits and _verify_signature(record, embedded):
            untrusted = (
                "it is in the meter keyring, but not for this meter"
                if embedded_id in self._keyring
                else "it is not in the meter keyring"
            )
            return RecordVerification(
                MeterVerdict.VALID_UNTRUSTED,
                f"verified only under the key that came with the message ({untrusted})",
                where,
                record,
                None,
                embedded_id,
                tuple(notes),
            )
        tried = []
        if candidates:
            tried.append(f"{len(candidates)} trusted key(s) for meter {record.meter}")
        if embedded_fits:
            tried.append("the key in the message")
        if tried:
            return RecordVerification(
                MeterVerdict.INVALID,
                f"signature does not verify under {' or '.join(tried)}: the payload or the "
                "signature was changed, or another key signed it",
                where,
                record,
                None,
                embedded_id,
                tuple(notes),
            )
        return RecordVerification(
            MeterVerdict.UNKNOWN_KEY,
            f"no trusted {alg.curve_name} key for meter {record.meter} and no usable key in the "
            "message",
            where,
            record,
            None,
            embedded_id,
            tuple(notes),
        )


def _trusted_first(keys: Iterable[MeterKey], embedded_id: str | None) -> list[MeterKey]:
    # Each failed try costs a full ECDSA verification (benchmarks/bench_meter.py): try the key
    # the message names first, then keys bound to this meter, then unbound keys.
    return sorted(keys, key=lambda k: (k.key_id != embedded_id, k.meter is None))
