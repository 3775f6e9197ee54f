"""Cost receipts (SPEC §6 ``CostReceipt``): a signed bill that names its tariff by digest.

A receipt lets a driver prove later what was billed against which signed tariff, and lets an
auditor check that the bill is the one the tariff implies::

    {"type": "CostReceipt", "receiptId": "...", "issuedAt": "2026-03-02T18:40:00.000Z",
     "tariff": {"tariffId": "...", "digest": "..."}, "session": {<the session record>},
     "cost": {<calculate_cost(...).to_dict()>}, "signatures": [...]}

Signatures are top-level, CONTEXT ``{"type": "CostReceipt"}``. No usage is required of the signer
(SPEC §5 defines none for receipts): the verdict names the signers, and the caller decides whom it
trusts for bills (e.g. a station's ``chargingStation`` identity or the CSMS's).
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._time import SPEC_TIMESTAMP, format_timestamp
from ..canonical import parse
from ..context import structure_context
from ..errors import InputError, TariffError
from ..keys import Signer
from ..model import SignatureResult, Verification
from ..sign import sign_object
from ..verify import Verifier
from .cost import calculate_cost
from .signing import _judge, _signer_view, tariff_digest

__all__ = [
    "RECEIPT_CONTEXT",
    "ReceiptVerdict",
    "ReceiptVerification",
    "build_receipt",
    "first_difference",
    "load_receipt",
    "sign_receipt",
    "verify_receipt",
]

#: CONTEXT of a receipt signature (SPEC §3, §6).
RECEIPT_CONTEXT: Mapping[str, str] = structure_context("CostReceipt")
_MEMBERS = frozenset(
    {"type", "receiptId", "issuedAt", "tariff", "session", "cost", "meterRecords", "signatures"}
)
_DIGEST_TEXT = re.compile(r"[A-Za-z0-9_-]{43}")


def build_receipt(
    tariff: Mapping[str, Any],
    session: Mapping[str, Any],
    *,
    receipt_id: str | None = None,
    issued_at: datetime,
    meter_records: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Bill ``session`` under ``tariff`` and return the unsigned receipt.

    ``meter_records`` (``{"begin": {"digest"}, "end": {"digest"}}``, see
    :func:`ocpp_e2e.tariffs.evidence.meter_references`) names the OCMF records of the session.

    >>> tariff = {"tariffId": "t1", "currency": "EUR", "fixedFee": {"prices": [{"priceFixed": 2}]}}
    >>> from datetime import UTC
    >>> r = build_receipt(tariff,
    ...                   {"start": "2026-03-02T10:00:00Z", "stop": "2026-03-02T10:05:00Z",
    ...                    "meterStartWh": 0, "meterStopWh": 0}, receipt_id="r-1",
    ...                   issued_at=datetime(2026, 3, 2, 10, 6, tzinfo=UTC))
    >>> r["tariff"]["tariffId"], r["cost"]["totalInclTax"]
    ('t1', '2.00')
    """
    cost = calculate_cost(tariff, session)
    return {
        "type": "CostReceipt",
        "receiptId": receipt_id if receipt_id is not None else str(uuid.uuid4()),
        "issuedAt": format_timestamp(issued_at),
        "tariff": {"tariffId": tariff["tariffId"], "digest": tariff_digest(tariff)},
        "session": dict(session),
        "cost": cost.to_dict(),
        **({"meterRecords": dict(meter_records)} if meter_records is not None else {}),
    }


def load_receipt(
    data: bytes | str | Mapping[str, Any], *, source: str = "receipt"
) -> dict[str, Any]:
    """Read a receipt strictly (SPEC §2) and check its members; :class:`TariffError` otherwise."""
    if isinstance(data, Mapping):
        value: Any = dict(data)
    else:
        try:
            value = parse(data).value
        except InputError as exc:
            raise exc.with_source(source) from None
    if not isinstance(value, dict):
        raise TariffError("a receipt is a JSON object", "$", source=source)
    unknown = sorted(set(value) - _MEMBERS)
    if unknown:
        raise TariffError(f"unknown member(s) {', '.join(unknown)}", "$", source=source)
    if value.get("type") != "CostReceipt":
        raise TariffError('type must be "CostReceipt"', "$.type", source=source)
    for name in ("receiptId", "issuedAt", "tariff", "session", "cost"):
        if name not in value:
            raise TariffError(f"'{name}' is required", "$", source=source)
    if not isinstance(value["receiptId"], str) or not value["receiptId"]:
        raise TariffError("must be a non-empty string", "$.receiptId", source=source)
    if (
        not isinstance(value["issuedAt"], str)
        or SPEC_TIMESTAMP.fullmatch(value["issuedAt"]) is None
    ):
        raise TariffError(
            "must be a UTC timestamp YYYY-MM-DDTHH:MM:SS[.mmm]Z", "$.issuedAt", source=source
        )
    ref = value["tariff"]
    if (
        not isinstance(ref, dict)
        or set(ref) != {"tariffId", "digest"}
        or not all(isinstance(v, str) for v in ref.values())
    ):
        raise TariffError("must be {tariffId, digest} (strings)", "$.tariff", source=source)
    for name in ("session", "cost"):
        if not isinstance(value[name], dict):
            raise TariffError("must be an object", f"$.{name}", source=source)
    if "meterRecords" in value:
        refs = value["meterRecords"]
        if not isinstance(refs, dict) or set(refs) != {"begin", "end"}:
            raise TariffError("must be {begin, end}", "$.meterRecords", source=source)
        for side in ("begin", "end"):
            ref = refs[side]
            if (
                not isinstance(ref, dict)
                or set(ref) != {"digest"}
                or not isinstance(ref["digest"], str)
                or _DIGEST_TEXT.fullmatch(ref["digest"]) is None
            ):
                raise TariffError(
                    "must be {digest}: base64url SHA-256 (43 characters) of the record's "
                    "signed payload",
                    f"$.meterRecords.{side}",
                    source=source,
                )
    return value


def sign_receipt(
    receipt: Mapping[str, Any], signer: Signer, *, timestamp: datetime
) -> dict[str, Any]:
    """Return a copy of ``receipt`` with one more top-level signature (CONTEXT ``CostReceipt``)."""
    load_receipt(receipt)
    return sign_object(receipt, signer, context=RECEIPT_CONTEXT, carrier="top", timestamp=timestamp)


class ReceiptVerdict(enum.StrEnum):
    """Whether a receipt holds: validly signed and, given the tariff, the bill it implies."""

    VALID = "valid"
    INVALID = "invalid"


@dataclass(frozen=True)
class ReceiptVerification:
    """The verdict on a receipt, its reason, and the signers (names, usages, roles)."""

    verdict: ReceiptVerdict
    reason: str
    receipt_id: str
    tariff_id: str
    tariff_digest: str
    verification: Verification
    signers: tuple[SignatureResult, ...]
    recomputed: bool

    @property
    def valid(self) -> bool:
        """True for :attr:`ReceiptVerdict.VALID`."""
        return self.verdict is ReceiptVerdict.VALID

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as ``tariff verify-receipt --json`` prints it."""
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "receiptId": self.receipt_id,
            "tariff": {"tariffId": self.tariff_id, "digest": self.tariff_digest},
            "recomputed": self.recomputed,
            "signers": [_signer_view(s) for s in self.signers],
            "signatures": [s.to_dict() for s in self.verification.signatures],
        }


def first_difference(a: Any, b: Any, path: str = "$") -> str | None:
    """The JSON path of the first place where ``a`` and ``b`` differ, or None when equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}"
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path} (length {len(a)} vs {len(b)})"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if (type(a) is type(b) and a == b) else f"{path} ({a!r} vs {b!r})"


def verify_receipt(
    receipt: Mapping[str, Any] | bytes | str,
    verifier: Verifier,
    *,
    tariff: Mapping[str, Any] | None = None,
    now: datetime,
    source: str = "receipt",
) -> ReceiptVerification:
    """Verify a receipt's signatures; with ``tariff``, also that it names this tariff's digest and
    that its ``cost`` is exactly what :func:`calculate_cost` gives for its session.

    The tariff's own signatures are not checked here (use :func:`verify_tariff`).
    """
    value = load_receipt(receipt, source=source)
    verification = verifier.verify_object(value, context=RECEIPT_CONTEXT, now=now)
    ok, reason, signers = _judge(
        verification,
        what="receipt",
        qualifies=lambda s: s.valid and s.trusted,
        requirement="that is trusted",
    )
    ref = value["tariff"]
    recomputed = False
    if ok and tariff is not None:
        digest = tariff_digest(tariff)
        if ref["tariffId"] != tariff["tariffId"] or ref["digest"] != digest:
            ok = False
            reason = (
                f"the receipt names tariff {ref['tariffId']} with digest {ref['digest']}; "
                f"the tariff given is "
                f"{tariff['tariffId']} with digest {digest}"
            )
        else:
            expected = calculate_cost(tariff, value["session"]).to_dict()
            difference = first_difference(value["cost"], expected)
            recomputed = True
            if difference is not None:
                ok = False
                reason = (
                    "the receipt's cost is not what the tariff implies: first difference at "
                    f"cost{difference[1:]}"
                )
            else:
                reason += "; the cost is exactly what the tariff implies"
    return ReceiptVerification(
        verdict=ReceiptVerdict.VALID if ok else ReceiptVerdict.INVALID,
        reason=reason,
        receipt_id=value["receiptId"],
        tariff_id=ref["tariffId"],
        tariff_digest=ref["digest"],
        verification=verification,
        signers=signers,
        recomputed=recomputed,
    )
