"""SPEC §5 domain usages: extended key usage OIDs under a UUID arc (ITU-T X.667).

>>> USAGE_OIDS["gridOperator"].dotted_string
'2.25.41907878048834227219801527880191530256.4'
>>> usage_name(USAGE_OIDS["gridOperator"])
'gridOperator'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cryptography.x509 import ObjectIdentifier

from ..errors import PKIError

__all__ = [
    "ALL_USAGES",
    "KEY_AGREEMENT_OID",
    "KEY_AGREEMENT_USAGE",
    "USAGE_ARC",
    "USAGE_NAMES",
    "USAGE_OIDS",
    "check_usages",
    "sorted_usages",
    "usage_name",
]

#: The arc of SPEC §5 (a UUID-based OID, ITU-T X.667 / RFC 4122 as an integer under 2.25).
USAGE_ARC = "2.25.41907878048834227219801527880191530256"

#: Usage name -> OID, exactly the SPEC §5 table (suffixes .1 to .11), in table order.
USAGE_OIDS: Mapping[str, ObjectIdentifier] = {
    name: ObjectIdentifier(f"{USAGE_ARC}.{suffix}")
    for suffix, name in enumerate(
        (
            "csmsOperator",
            "chargingStation",
            "networkingNode",
            "gridOperator",
            "tariffSigning",
            "ticketIssuing",
            "chargingTicket",
            "policyAdmin",
            "firmwareSigning",
            "meterSigning",
            "securityOfficer",
        ),
        start=1,
    )
}

#: OID -> usage name (the inverse of :data:`USAGE_OIDS`).
USAGE_NAMES: Mapping[ObjectIdentifier, str] = {oid: name for name, oid in USAGE_OIDS.items()}

#: docs/esp.md §9.7 (proposed SPEC §5 row .12): the key receives ESP payloads encrypted to it. It
#: is kept apart from the signing usages above: an X25519 key never signs, and no signature
#: policy role can be granted by it.
KEY_AGREEMENT_USAGE = "keyAgreement"
KEY_AGREEMENT_OID = ObjectIdentifier(f"{USAGE_ARC}.12")

#: Every domain usage name.
ALL_USAGES: frozenset[str] = frozenset(USAGE_OIDS)


def usage_name(oid: ObjectIdentifier) -> str | None:
    """The SPEC usage name of an EKU OID, or None when the OID is not a domain usage."""
    return USAGE_NAMES.get(oid)


def check_usages(names: Iterable[str]) -> frozenset[str]:
    """Return the names as a set; raise :class:`PKIError` listing any that SPEC §5 does not define.

    >>> sorted(check_usages(["tariffSigning"]))
    ['tariffSigning']
    """
    given = frozenset(names)
    unknown = sorted(given - ALL_USAGES)
    if unknown:
        raise PKIError(
            f"unknown usage(s) {', '.join(unknown)}; SPEC §5 defines {', '.join(USAGE_OIDS)}"
        )
    return given


def sorted_usages(names: Iterable[str]) -> list[str]:
    """Usage names in SPEC table order (stable output for people and JSON)."""
    order = list(USAGE_OIDS)
    return sorted(names, key=order.index)
