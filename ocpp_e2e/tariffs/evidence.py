"""The evidence chain of a bill: signed tariff → signed meter readings → signed receipt, offline.

A :class:`~ocpp_e2e.tariffs.receipt` ``CostReceipt`` may name the OCMF records that begin and end
its session (``meterRecords``: the digest of each record's signed payload, exactly the bytes the
meter signed). :func:`verify_evidence` then checks, with nothing but files:

1. the receipt is signed by a trusted key (:func:`verify_receipt`);
2. the tariff is the one the receipt names (digest) and is signed by a ``tariffSigning`` key
   (:func:`verify_tariff`);
3. the begin and end records are the ones the receipt names, and each verifies under a trusted
   meter key (:class:`~ocpp_e2e.meter.MeterVerifier`: ``valid``, not merely ``valid-untrusted``);
4. the records make one transaction of one meter (begin before end, no contradiction), and the
   energy billed (``meterStopWh - meterStartWh``) equals the meter's (end minus begin of the
   energy register, in Wh);
5. the receipt's amounts are exactly what the tariff implies for its session.

One verdict; every failed check is listed with its reason, not only the first.

>>> EvidenceVerdict.VALID.value
'valid'
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from .._b64 import b64url_encode
from ..errors import MeterRecordError, TariffError
from ..meter import MeterVerifier, TransactionChecker, parse_record
from ..meter.record import OcmfRecord
from ..meter.transactions import Severity
from ..verify import Verifier
from .cost import calculate_cost
from .receipt import ReceiptVerification, first_difference, load_receipt, verify_receipt
from .session import Session
from .signing import TariffVerification, verify_tariff

__all__ = [
    "EvidenceCheck",
    "EvidenceVerdict",
    "EvidenceVerification",
    "meter_references",
    "record_digest",
    "verify_evidence",
]


def record_digest(record: OcmfRecord | str | bytes) -> str:
    """Base64url SHA-256 of the record's signed payload bytes, as a receipt names it.

    >>> record_digest('OCMF|{"PG":"T1","RD":[{"TM":"2024-01-01T10:00:00,000+0000 S","ST":"G"}]}|{"SD":"00"}')
    '6IT_DRFk_gHBk_XHSH9AhrM8-EdTShXvbc1wQOKoQIY'
    """
    parsed = record if isinstance(record, OcmfRecord) else parse_record(record)
    return b64url_encode(hashlib.sha256(parsed.payload_bytes).digest())


def meter_references(begin: str | bytes, end: str | bytes) -> dict[str, Any]:
    """The ``meterRecords`` member of a receipt for these begin and end records."""
    return {"begin": {"digest": record_digest(begin)}, "end": {"digest": record_digest(end)}}


class EvidenceVerdict(enum.StrEnum):
    """The one verdict on a receipt and its evidence."""

    VALID = "valid"
    INVALID = "invalid"


@dataclass(frozen=True)
class EvidenceCheck:
    """One link of the chain: its name, whether it holds and why."""

    name: str
    ok: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"check": self.name, "ok": self.ok, "reason": self.reason}


@dataclass(frozen=True)
class EvidenceVerification:
    """The verdict, every check in chain order, and the pieces it was built from."""

    verdict: EvidenceVerdict
    checks: tuple[EvidenceCheck, ...]
    receipt: ReceiptVerification
    tariff: TariffVerification | None = None
    meter_energy_wh: Decimal | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def valid(self) -> bool:
        """True only when every check holds."""
        return self.verdict is EvidenceVerdict.VALID

    @property
    def reasons(self) -> list[str]:
        """The reason of every failed check, in chain order."""
        return [f"{c.name}: {c.reason}" for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as ``tariff verify-receipt --json`` prints it."""
        out: dict[str, Any] = {
            "verdict": self.verdict.value,
            "checks": [c.to_dict() for c in self.checks],
            "receipt": self.receipt.to_dict(),
        }
        if self.tariff is not None:
            out["tariffVerification"] = self.tariff.to_dict()
        if self.meter_energy_wh is not None:
            out["meterEnergyWh"] = _plain(self.meter_energy_wh)
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def verify_evidence(
    receipt: Mapping[str, Any] | bytes | str,
    verifier: Verifier,
    *,
    tariff: Mapping[str, Any],
    now: datetime,
    meter_verifier: MeterVerifier | None = None,
    meter_records: Sequence[str | bytes] = (),
    source: str = "receipt",
) -> EvidenceVerification:
    """Check a receipt and its evidence offline; see the module docstring for the chain.

    ``meter_records`` are candidate OCMF records (any order, others ignored); the ones whose
    payload digests the receipt names are used. A receipt that names no meter records is judged
    on its signature, tariff and amounts, and the result says the energy is not evidenced.
    Signatures are verified (certificates and their revocation judged) at ``now``.
    """
    checks: list[EvidenceCheck] = []
    notes: list[str] = []
    doc = load_receipt(receipt, source=source)
    rv = verify_receipt(doc, verifier, source=source, now=now)
    checks.append(EvidenceCheck("receipt-signature", rv.valid, rv.reason))
    tv = verify_tariff(tariff, verifier, now=now)
    checks.append(EvidenceCheck("tariff-signature", tv.accepted, tv.reason))
    named = rv.tariff_digest == tv.digest and rv.tariff_id == tv.tariff_id
    checks.append(
        EvidenceCheck(
            "tariff-named",
            named,
            f"the receipt names tariff {rv.tariff_id} with digest {rv.tariff_digest}"
            + ("" if named else f"; the tariff given is {tv.tariff_id} with digest {tv.digest}"),
        )
    )
    checks.append(_amounts(doc, tariff))
    energy: Decimal | None = None
    refs = doc.get("meterRecords")
    if refs is None:
        notes.append("the receipt names no meter records: its energy is not evidenced")
    else:
        energy = _meter_checks(doc, refs, meter_verifier, meter_records, checks)
    ok = all(c.ok for c in checks)
    return EvidenceVerification(
        EvidenceVerdict.VALID if ok else EvidenceVerdict.INVALID,
        tuple(checks),
        rv,
        tv,
        energy,
        tuple(notes),
    )


def _amounts(doc: Mapping[str, Any], tariff: Mapping[str, Any]) -> EvidenceCheck:
    try:
        expected = calculate_cost(tariff, doc["session"]).to_dict()
    except TariffError as exc:
        return EvidenceCheck("amounts", False, f"the session cannot be billed: {exc}")
    difference = first_difference(doc["cost"], expected)
    if difference is None:
        return EvidenceCheck(
            "amounts", True, "the cost is exactly what the tariff implies for the session"
        )
    return EvidenceCheck(
        "amounts",
        False,
        f"the receipt's cost is not what the tariff implies: first difference at "
        f"cost{difference[1:]}",
    )


def _meter_checks(
    doc: Mapping[str, Any],
    refs: Mapping[str, Any],
    meter_verifier: MeterVerifier | None,
    candidates: Sequence[str | bytes],
    checks: list[EvidenceCheck],
) -> Decimal | None:
    by_digest: dict[str, tuple[OcmfRecord, str | bytes]] = {}
    for i, text in enumerate(candidates):
        try:
            parsed = parse_record(text, where=f"meter record {i + 1}")
        except MeterRecordError:
            continue
        by_digest.setdefault(record_digest(parsed), (parsed, text))
    found: dict[str, tuple[OcmfRecord, str | bytes]] = {}
    for side in ("begin", "end"):
        digest = refs[side]["digest"]
        hit = by_digest.get(digest)
        checks.append(
            EvidenceCheck(
                f"meter-{side}-present",
                hit is not None,
                f"record with payload digest {digest}"
                + (" given" if hit is not None else " not among the meter records given"),
            )
        )
        if hit is not None:
            found[side] = hit
    if meter_verifier is None:
        checks.append(EvidenceCheck("meter-signatures", False, "no trusted meter keys given"))
        return None
    results = {}
    for side, (_parsed, text) in found.items():
        result = meter_verifier.verify_text(text, where=f"{side} record")
        results[side] = result
        checks.append(
            EvidenceCheck(
                f"meter-{side}-signature", result.valid, f"{result.verdict}: {result.reason}"
            )
        )
    if len(found) != 2 or not all(r.valid for r in results.values()):
        return None
    checker = TransactionChecker()
    findings = checker.feed(results["begin"])
    if found["begin"][0].payload_bytes != found["end"][0].payload_bytes:
        findings += checker.feed(results["end"])
    failures = [f for f in findings if f.severity is Severity.FAILURE]
    checks.append(
        EvidenceCheck(
            "meter-transaction",
            not failures,
            "; ".join(f"{f.check.value}: {f.reason}" for f in failures)
            or "begin and end records make one transaction of one meter",
        )
    )
    billed = [b for b in checker.billed if b.energy_wh is not None]
    if not billed:
        checks.append(
            EvidenceCheck(
                "energy",
                False,
                "the records hold no begin/end pair of an energy register in kWh or Wh",
            )
        )
        return None
    meter_wh = billed[0].energy_wh
    assert meter_wh is not None
    try:
        session = Session.from_dict(doc["session"], source="receipt session")
    except TariffError as exc:
        checks.append(EvidenceCheck("energy", False, f"the receipt's session is unusable: {exc}"))
        return meter_wh
    session_wh = session.readings[-1][1] - session.readings[0][1]
    equal = session_wh == Fraction(meter_wh)
    checks.append(
        EvidenceCheck(
            "energy",
            equal,
            f"billed {_fraction_text(session_wh)} Wh; the meter's register {billed[0].register} "
            f"counted {_plain(meter_wh)} Wh ({billed[0].energy} {billed[0].unit}, "
            f"{billed[0].begin_pagination} to {billed[0].end_pagination})",
        )
    )
    return meter_wh


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _fraction_text(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return _plain(Decimal(value.numerator) / Decimal(value.denominator))
