"""Signed tariffs (SPEC §6): OCPP 2.1 ``TariffType`` validation, signing, digests, cost, receipts.

- :mod:`.schema`: validation against the official OCPP 2.1 schemas (``ocpp`` package).
- :mod:`.signing`: :func:`sign_tariff` (``tariffSigning`` required), :func:`verify_tariff`,
  :func:`tariff_digest`.
- :mod:`.session` and :mod:`.cost`: session records and the exact cost calculator.
- :mod:`.receipt`: signed ``CostReceipt`` bills naming their tariff by digest.

See docs/tariffs.md for the semantics and a walk-through.
"""

from __future__ import annotations

from .cost import (
    MINOR_UNITS,
    CostLine,
    CostResult,
    Period,
    TaxAmount,
    apply_taxes,
    calculate_cost,
    minor_unit,
)
from .receipt import (
    RECEIPT_CONTEXT,
    ReceiptVerdict,
    ReceiptVerification,
    build_receipt,
    load_receipt,
    sign_receipt,
    verify_receipt,
)
from .schema import set_default_tariff_request, validate_set_default_tariff, validate_tariff
from .session import Session
from .signing import (
    TARIFF_CONTEXT,
    TARIFF_SIGNING,
    TariffVerdict,
    TariffVerification,
    check_tariff_signer,
    load_tariff,
    sign_tariff,
    tariff_digest,
    verify_tariff,
)

__all__ = [
    "MINOR_UNITS",
    "RECEIPT_CONTEXT",
    "TARIFF_CONTEXT",
    "TARIFF_SIGNING",
    "CostLine",
    "CostResult",
    "Period",
    "ReceiptVerdict",
    "ReceiptVerification",
    "Session",
    "TariffVerdict",
    "TariffVerification",
    "TaxAmount",
    "apply_taxes",
    "build_receipt",
    "calculate_cost",
    "check_tariff_signer",
    "load_receipt",
    "load_tariff",
    "minor_unit",
    "set_default_tariff_request",
    "sign_receipt",
    "sign_tariff",
    "tariff_digest",
    "validate_set_default_tariff",
    "validate_tariff",
    "verify_receipt",
    "verify_tariff",
]
