"""OCMF signed meter values inside OCPP messages: parse, verify, check transactions.

Layers inside this package: ``algorithms`` (OCMF Table 22) and ``record`` (parsing) know no keys;
``trust`` holds trusted meter keys; ``extract`` finds records in OCPP payloads; ``verify`` gives
each record a verdict; ``transactions`` checks sequences of verified records per meter.
"""

from __future__ import annotations

from .algorithms import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    algorithm_status,
    supported_algorithms,
    unsupported_algorithms,
)
from .extract import FoundRecord, extract_records
from .record import OcmfRecord, Reading, parse_record
from .sign import sign_payload
from .transactions import (
    SEVERITY,
    BilledEnergy,
    MeterCheck,
    MeterFinding,
    Severity,
    TransactionChecker,
)
from .trust import METER_USAGE, MeterKey, MeterKeyring, decode_public_key, load_meter_keyring
from .verify import MeterVerdict, MeterVerifier, RecordVerification

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "METER_USAGE",
    "SEVERITY",
    "BilledEnergy",
    "FoundRecord",
    "MeterCheck",
    "MeterFinding",
    "MeterKey",
    "MeterKeyring",
    "MeterVerdict",
    "MeterVerifier",
    "OcmfRecord",
    "Reading",
    "RecordVerification",
    "Severity",
    "TransactionChecker",
    "algorithm_status",
    "decode_public_key",
    "extract_records",
    "load_meter_keyring",
    "parse_record",
    "sign_payload",
    "supported_algorithms",
    "unsupported_algorithms",
]
