"""Revocation kept by a CA: a small JSON state file beside the CA certificate, and CRLs from it.

The state file of ``grid-ca.crt.pem`` is ``grid-ca.revoked.json``::

    {"ca": "<key id of the CA>", "crlNumber": 2,
     "revoked": [{"serial": "5fa0...", "revokedAt": "2027-01-01T00:00:00Z",
                  "reason": "keyCompromise", "subject": "CN=dso-example"}]}

>>> from datetime import UTC, datetime, timedelta
>>> from ocpp_e2e.keys import generate_private_key
>>> from ocpp_e2e.pki import create_root
>>> now = datetime(2026, 11, 22, 10, tzinfo=UTC)
>>> ca = create_root(generate_private_key(), "demo-root", valid_for=timedelta(days=1),
...                  not_before=now)
>>> leaf = ca.issue(generate_private_key().public_key(), "cs-1", ["chargingStation"],
...                 valid_for=timedelta(hours=1), not_before=now)
>>> state = RevocationState.empty(ca)
>>> _ = state.revoke(ca, leaf, at=now + timedelta(minutes=5))
>>> crl = state.crl(ca, now=now + timedelta(minutes=6))
>>> crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from ..errors import PKIError
from ..keys import key_id
from .issue import CertificateAuthority, certificate_name

__all__ = [
    "REASONS",
    "RevocationState",
    "Revoked",
    "state_path",
]

_TIME = "%Y-%m-%dT%H:%M:%SZ"

#: CRL reason names (RFC 5280 §5.3.1), as written in the state file and on the command line.
REASONS: Mapping[str, x509.ReasonFlags] = {
    flag.value: flag for flag in x509.ReasonFlags if flag is not x509.ReasonFlags.remove_from_crl
}


def state_path(ca_certificate_path: Path | str) -> Path:
    """The revocation state file beside a CA certificate (``x.crt.pem`` -> ``x.revoked.json``)."""
    path = Path(ca_certificate_path)
    stem = path.name.removesuffix(".pem").removesuffix(".crt")
    return path.with_name(f"{stem}.revoked.json")


def _ca_key_id(ca: CertificateAuthority) -> str:
    return key_id(
        ca.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


@dataclass(frozen=True)
class Revoked:
    """One revoked certificate of a CA."""

    serial: int
    revoked_at: datetime
    reason: str | None = None
    subject: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "serial": f"{self.serial:x}",
            "revokedAt": self.revoked_at.strftime(_TIME),
        }
        if self.reason is not None:
            out["reason"] = self.reason
        if self.subject is not None:
            out["subject"] = self.subject
        return out


@dataclass
class RevocationState:
    """The certificates a CA has revoked and the number of its last CRL."""

    ca: str
    crl_number: int = 0
    revoked: list[Revoked] = field(default_factory=list)

    @classmethod
    def empty(cls, ca: CertificateAuthority) -> RevocationState:
        return cls(ca=_ca_key_id(ca))

    @classmethod
    def load(cls, path: Path | str, ca: CertificateAuthority) -> RevocationState:
        """Load ``path``; a missing file is an empty state. Refuses another CA's state file."""
        path = Path(path)
        if not path.exists():
            return cls.empty(ca)
        try:
            doc = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise PKIError(f"{path}: cannot read revocation state ({exc})") from exc
        try:
            if set(doc) != {"ca", "crlNumber", "revoked"}:
                raise PKIError("members must be exactly ca, crlNumber, revoked")
            state = cls(
                ca=str(doc["ca"]),
                crl_number=int(doc["crlNumber"]),
                revoked=[
                    Revoked(
                        serial=int(item["serial"], 16),
                        revoked_at=datetime.strptime(item["revokedAt"], _TIME).replace(tzinfo=UTC),
                        reason=item.get("reason"),
                        subject=item.get("subject"),
                    )
                    for item in doc["revoked"]
                ],
            )
        except (PKIError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PKIError(f"{path}: not a revocation state file ({exc})") from exc
        if state.ca != _ca_key_id(ca):
            raise PKIError(f"{path}: this state belongs to another CA (key id {state.ca})")
        return state

    def save(self, path: Path | str) -> None:
        """Write the state atomically (a temporary file renamed over the old one)."""
        path = Path(path)
        doc = {
            "ca": self.ca,
            "crlNumber": self.crl_number,
            "revoked": [r.to_dict() for r in self.revoked],
        }
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n", "utf-8")
        os.replace(tmp, path)

    def revoke(
        self,
        ca: CertificateAuthority,
        certificate: x509.Certificate | int,
        *,
        at: datetime,
        reason: str | None = None,
    ) -> Revoked:
        """Revoke a certificate this CA issued (or a serial number, for a lost certificate)."""
        if reason is not None and reason not in REASONS:
            raise PKIError(f"unknown revocation reason {reason!r}; use one of {', '.join(REASONS)}")
        subject: str | None = None
        if isinstance(certificate, x509.Certificate):
            try:
                certificate.verify_directly_issued_by(ca.certificate)
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm) as exc:
                raise PKIError(
                    f"'{certificate_name(certificate)}' was not issued by CA '{ca.name}'; "
                    "revoke it with the CA that issued it"
                ) from exc
            serial = certificate.serial_number
            subject = certificate.subject.rfc4514_string()
        else:
            serial = certificate
        for old in self.revoked:
            if old.serial == serial:
                raise PKIError(
                    f"serial {serial:x} is already revoked by CA '{ca.name}' since "
                    f"{old.revoked_at.strftime(_TIME)}"
                )
        when = at.astimezone(UTC).replace(microsecond=0)
        entry = Revoked(serial=serial, revoked_at=when, reason=reason, subject=subject)
        self.revoked.append(entry)
        return entry

    def crl(
        self,
        ca: CertificateAuthority,
        *,
        now: datetime,
        next_update: timedelta = timedelta(days=7),
    ) -> x509.CertificateRevocationList:
        """Sign the next CRL (its number one above the last) listing every revoked certificate."""
        self.crl_number += 1
        return ca.issue_crl(
            (
                (r.serial, r.revoked_at, REASONS[r.reason] if r.reason else None)
                for r in self.revoked
            ),
            number=self.crl_number,
            this_update=now,
            next_update=next_update,
        )
