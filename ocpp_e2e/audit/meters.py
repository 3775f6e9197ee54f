"""Signed meter values (OCMF) in audited frames: every record verified, every meter's sequence checked.

:class:`MeterAudit` looks into the requests that carry meter values (OCPP 1.6 ``MeterValues`` and
``StopTransaction``; 2.0.1/2.1 ``MeterValues`` and ``TransactionEvent``), verifies each OCMF record
with :class:`~ocpp_e2e.meter.MeterVerifier` under the trusted meter keys of the audit, and feeds the
``valid`` ones to a :class:`~ocpp_e2e.meter.TransactionChecker` per station (pagination, begin and
end, times, values; docs/meter-values.md). A checker per station keeps the audit's partitioning by
station exact: ``--workers N`` gives the same findings as one worker.

Record verdicts map to finding kinds (docs/audit.md): ``invalid`` is ``meter-invalid``;
``valid-untrusted`` and ``unknown-key`` are ``meter-untrusted``; ``malformed``,
``unsupported-algorithm`` and ``unsupported-format`` are ``meter-malformed``; every failed
transaction check is ``meter-transaction``.

>>> from ocpp_e2e.meter import MeterKeyring
>>> MeterAudit(MeterKeyring()).finish()
[]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import NamedTuple

from ..errors import KeyLoadError
from ..frames import Frame
from ..meter import (
    MeterFinding,
    MeterKeyring,
    MeterVerdict,
    MeterVerifier,
    TransactionChecker,
    trust,
)
from ..meter.extract import extract_records
from ..model import CertificateValidator
from ..versions import VERSIONS
from .findings import SEVERITY, Finding, FindingKind

__all__ = [
    "CARRIERS",
    "MeterAudit",
    "Place",
    "late_finding",
    "load_meter_keyring",
    "transaction_detail",
]

#: Actions whose requests can carry signed meter values, per OCPP version (docs/meter-values.md).
CARRIERS: dict[str, frozenset[str]] = {
    v: frozenset(p.meter_carriers) for v, p in VERSIONS.items()
}

# Text every carried record needs in the frame: 2.x "signedMeterValue" members, 1.6 "SignedData"
# sampled values (ocpp_e2e.meter.extract).
_MARKERS = {v: p.meter_marker for v, p in VERSIONS.items()}
_KIND: dict[MeterVerdict, FindingKind] = {
    MeterVerdict.INVALID: FindingKind.METER_INVALID,
    MeterVerdict.VALID_UNTRUSTED: FindingKind.METER_UNTRUSTED,
    MeterVerdict.UNKNOWN_KEY: FindingKind.METER_UNTRUSTED,
    MeterVerdict.MALFORMED: FindingKind.METER_MALFORMED,
    MeterVerdict.UNSUPPORTED_ALGORITHM: FindingKind.METER_MALFORMED,
    MeterVerdict.UNSUPPORTED_FORMAT: FindingKind.METER_MALFORMED,
}
# Separates the fields of a record's place inside the ``where`` text the transaction checker
# keeps, so that a finding reported at the end (a transaction without end) names its frame.
_SEP = "\x1f"


class Place(NamedTuple):
    """Where a frame was read: what a finding about one of its meter records needs."""

    file: str
    line: int
    ts: str
    station: str
    direction: str
    message_id: str
    action: str | None


def _encode(place: Place, path: str) -> str:
    return _SEP.join(
        (place.file, str(place.line), place.ts, place.station, place.direction,
         place.message_id, place.action or "", path)
    )  # fmt: skip


def _decode(where: str) -> tuple[Place, str]:
    file, line, ts, station, direction, message_id, action, path = where.split(_SEP)
    return Place(file, int(line), ts, station, direction, message_id, action or None), path


def _record_detail(path: str, meter: str | None, pagination: str | None, text: str) -> str:
    about = f" (meter {meter}, {pagination})" if meter is not None else ""
    return f"{path}{about}: {text}"


def transaction_detail(finding: MeterFinding, path: str) -> str:
    """The detail of a ``meter-transaction`` finding: the check, what failed and which record."""
    reading = "" if finding.reading is None else f", reading RD[{finding.reading}]"
    where = f"{path} (meter {finding.meter}, {finding.pagination or '?'}{reading})"
    return f"{finding.check.value}: {finding.reason}; {where}"


class MeterAudit:
    """Verifies the OCMF records of frames fed in capture order; one instance per worker.

    ``keyring`` holds the trusted meter keys; records that verify only under the key carried in
    the message are ``meter-untrusted`` (OCMF: the key must reach the verifier out of band).
    """

    def __init__(self, keyring: MeterKeyring) -> None:
        self.verifier = MeterVerifier(keyring)
        self._checkers: dict[str, TransactionChecker] = {}

    @staticmethod
    def carries(frame: Frame, ocpp: str, text: str | None = None) -> bool:
        """Whether ``frame`` (a request) may carry signed meter values: its action can, and its
        text ``text`` (if at hand) holds what every record needs."""
        action = frame.action
        if action is None or action not in CARRIERS[ocpp]:
            return False
        # The member name (2.x) or format value (1.6) that every record needs must be there,
        # unless a \u escape could spell it differently.
        return text is None or _MARKERS[ocpp] in text or "\\u" in text

    def check(self, frame: Frame, ocpp: str, place: Place) -> list[tuple[FindingKind, str]]:
        """Verify every record in ``frame`` (a request) and run the transaction checks.

        Returns (kind, detail) pairs in document order: each record's own finding, then those of
        the checks it took part in.
        """
        action = frame.action
        if action is None or action not in CARRIERS[ocpp]:
            return []
        found = extract_records(action, frame.payload, ocpp)
        if not found:
            return []
        checker = self._checkers.get(place.station)
        if checker is None:
            checker = self._checkers[place.station] = TransactionChecker()
        out: list[tuple[FindingKind, str]] = []
        for item in found:
            result = self.verifier.verify_found(item)
            rec = result.record
            meter, pg = (rec.meter, rec.pagination) if rec is not None else (None, None)
            if not result.valid:
                text = f"{result.verdict.value}: {result.reason}"
                out.append((_KIND[result.verdict], _record_detail(result.where, meter, pg, text)))
                continue
            for finding in checker.feed(replace(result, where=_encode(place, result.where))):
                out.append(
                    (FindingKind.METER_TRANSACTION, transaction_detail(finding, result.where))
                )
        return out

    def finish(self) -> list[Finding]:
        """Transactions still open at the end of the audit, by station (sorted), then meter.

        Each finding names the frame that carried the begin reading.
        """
        out: list[Finding] = []
        for station in sorted(self._checkers):
            for finding in self._checkers[station].finish():
                place, path = _decode(finding.where)
                out.append(late_finding(place, transaction_detail(finding, path)))
        return out


def late_finding(place: Place, detail: str) -> Finding:
    """A ``meter-transaction`` finding reported after the last frame (no policy decision)."""
    kind = FindingKind.METER_TRANSACTION
    return Finding(
        kind,
        SEVERITY[kind],
        place.file,
        place.line,
        detail,
        ts=place.ts or None,
        station=place.station,
        direction=place.direction,
        message_id=place.message_id,
        action=place.action,
    )


def load_meter_keyring(
    *,
    keys: Sequence[str] = (),
    keyrings: Sequence[str] = (),
    certificates: Sequence[str] = (),
    validator: CertificateValidator | None = None,
    at: datetime,
) -> MeterKeyring:
    """The trusted meter keys of an audit: :func:`ocpp_e2e.meter.trust.load_meter_keyring`, with
    ``validator`` built from the policy's trust anchors (a policy without them cannot validate
    meter certificates). Raises :class:`KeyLoadError` naming the file.
    """
    if certificates and validator is None:
        raise KeyLoadError(
            f"{certificates[0]}: meter certificates need trust anchors, and the policy has no "
            "trustAnchors"
        )
    return trust.load_meter_keyring(
        keys=keys, keyrings=keyrings, certificates=certificates, validator=validator, at=at
    )
