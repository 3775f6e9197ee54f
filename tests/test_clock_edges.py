"""The library never reads a clock: the time is passed in (docs/architecture.md, Conventions).

Every library call that judges time (verification, decisions, certificate chains and CRLs, the
ticket ledger, meter key trust, audits) or writes one (signatures, certificates, receipts,
tickets) takes it as a required keyword. The clock is read only at the edges: the CLI, the
gateway process and the integrations (``ocpp_e2e.integrations.system_clock``). A scan of the
package's source keeps it so; calls without the time raise TypeError.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import ocpp_e2e
from ocpp_e2e.audit import AuditSettings
from ocpp_e2e.audit.engine import FrameAuditor
from ocpp_e2e.esp import EspReceiver, decrypt_frame, encrypt_frame, generate_esp_key
from ocpp_e2e.guard import Guard, TrustedClock
from ocpp_e2e.integrations import system_clock
from ocpp_e2e.keys import Keyring, KeySigner, generate_private_key
from ocpp_e2e.pki import RevocationState, create_root
from ocpp_e2e.policy import Policy, check_upgrade, evaluate, sign_policy
from ocpp_e2e.sign import sign_frame, sign_object
from ocpp_e2e.tariffs import build_receipt, sign_tariff, verify_receipt, verify_tariff
from ocpp_e2e.tariffs.evidence import verify_evidence
from ocpp_e2e.tickets import TicketLedger, TicketVerifier, present_ticket, verify_ticket
from ocpp_e2e.tickets.issue import issue_ticket
from ocpp_e2e.verify import Verifier

PACKAGE = Path(ocpp_e2e.__file__).parent
#: The edges: programs that run in time (a CLI command, the gateway process, the adapters'
#: clock for their users). Everything else takes the time from its caller.
EDGES = ("cli", "gateway", "integrations")
#: Attribute reads that give the wall-clock time (called or passed on as a clock).
CLOCK_READS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
}
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def clock_reads(source: str) -> list[str]:
    """Every place in ``source`` that reads the wall clock: ``line: text``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime"):
            for alias in node.names:  # `from time import time` hides the read behind a name
                if (node.module, alias.name) in CLOCK_READS:
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in CLOCK_READS
        ):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
        if isinstance(node, ast.Attribute) and node.attr in ("now", "utcnow", "today"):
            inner = node.value  # datetime.datetime.now(...), _dt.datetime.now
            if isinstance(inner, ast.Attribute) and inner.attr in ("datetime", "date"):
                found.append(f"{node.lineno}: ...{inner.attr}.{node.attr}")
    return found


def library_modules() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] not in EDGES
    )


def test_the_scan_covers_the_library_and_leaves_out_the_edges() -> None:
    names = {str(p.relative_to(PACKAGE)) for p in library_modules()}
    assert {"verify.py", "sign.py", "guard/core.py", "audit/run.py", "tickets/ledger.py"} <= names
    assert "pki/issue.py" in names and "_time.py" in names
    assert not [n for n in names if n.split("/")[0] in EDGES]


@pytest.mark.parametrize("path", library_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_library_module_reads_the_clock(path: Path) -> None:
    assert clock_reads(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from datetime import UTC, datetime\nx = datetime.now(UTC)\n", ["2: datetime.now"]),
        ("import datetime\nx = datetime.datetime.utcnow()\n", ["2: ...datetime.utcnow"]),
        ("import time\nstamp = time.time()\n", ["2: time.time"]),
        ("from datetime import date\nday = date.today()\n", ["2: date.today"]),
        ("from time import time\n", ["1: from time import time"]),
        ("from dataclasses import field\nfrom datetime import datetime\n"
         "f = field(default_factory=datetime.now)\n", ["3: datetime.now"]),
        ("from datetime import datetime\nx = datetime.fromisoformat('2026-01-01')\n", []),
        ("import time\nstart = time.monotonic()\n", []),
    ],
)
def test_the_scan_finds_every_way_of_reading_the_clock(source: str, expected: list[str]) -> None:
    assert clock_reads(source) == expected


def test_the_edges_clock_is_the_system_clock_in_utc() -> None:
    before = datetime.now(UTC)
    now = system_clock()
    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)


# ---------------------------------------------------------------- the time is required

KEY = generate_private_key("Ed25519")
SIGNER = KeySigner(KEY)
FRAME = '[2,"1","Reset",{"type":"Immediate"}]'
POLICY = Policy.from_dict(
    {"type": "SignaturePolicy", "id": "demo", "version": 1, "mode": "audit", "rules": []}
)


def _ring() -> Keyring:
    ring = Keyring()
    ring.add(KEY.public_key(), name="ops-1", roles=["tariffSigning"])
    return ring


def _signed() -> str:
    return sign_frame(FRAME, SIGNER, ocpp="2.0.1", station="cs-1", timestamp=NOW)


def _root() -> Any:
    return create_root(generate_private_key("ES256"), "r", valid_for=timedelta(days=1), not_before=NOW)


#: (entry point, a call without its time, the keyword it lacks)
WITHOUT_TIME: list[tuple[str, Callable[[], object], str]] = [
    ("Verifier.verify_frame", lambda: Verifier(_ring()).verify_frame(_signed(), ocpp="2.0.1", station="cs-1"), "now"),  # type: ignore[call-arg]
    ("Verifier.verify_object", lambda: Verifier(_ring()).verify_object({"a": 1}, context={"type": "X"}), "now"),  # type: ignore[call-arg]
    ("policy.evaluate", lambda: evaluate(POLICY, Verifier().verify_object({}, context={}, now=NOW)), "now"),  # type: ignore[call-arg]
    ("policy.check_upgrade", lambda: check_upgrade(POLICY, "{}"), "now"),  # type: ignore[call-arg]
    ("esp.decrypt_frame", lambda: decrypt_frame("[]", EspReceiver([generate_esp_key()]), ocpp="2.0.1", station="cs-1", direction="toStation"), "now"),  # type: ignore[call-arg]
    ("tariffs.verify_tariff", lambda: verify_tariff({}, Verifier()), "now"),  # type: ignore[call-arg]
    ("tariffs.verify_receipt", lambda: verify_receipt({}, Verifier()), "now"),  # type: ignore[call-arg]
    ("tariffs.verify_evidence", lambda: verify_evidence({}, Verifier(), tariff={}), "now"),  # type: ignore[call-arg]
    ("tickets.verify_ticket", lambda: verify_ticket({}, Verifier()), "now"),  # type: ignore[call-arg, arg-type]
    ("TicketVerifier.verify", lambda: TicketVerifier.verify(None, {}), "now"),  # type: ignore[call-arg, arg-type]
    ("TicketLedger.issue_challenge", lambda: TicketLedger.issue_challenge(None, "cs-1"), "now"),  # type: ignore[call-arg, arg-type]
    ("RevocationState.crl", lambda: RevocationState.empty(_root()).crl(_root()), "now"),  # type: ignore[call-arg]
    ("RevocationState.revoke", lambda: RevocationState.empty(_root()).revoke(_root(), 1), "at"),  # type: ignore[call-arg]
    ("AuditSettings", lambda: AuditSettings(policy="p.yaml"), "now"),  # type: ignore[call-arg]
    ("FrameAuditor", lambda: FrameAuditor(Verifier(), lambda v, n: None), "now"),  # type: ignore[call-arg, arg-type, return-value]
    ("Guard", lambda: Guard(POLICY, Verifier()), "clock"),  # type: ignore[call-arg]
    ("TrustedClock", lambda: TrustedClock(clock_skew=timedelta(seconds=30)), "source"),  # type: ignore[call-arg]
    ("sign_frame", lambda: sign_frame(FRAME, SIGNER, ocpp="2.0.1", station="cs-1"), "timestamp"),  # type: ignore[call-arg]
    ("sign_object", lambda: sign_object({}, SIGNER, context={"type": "X"}), "timestamp"),  # type: ignore[call-arg]
    ("esp.encrypt_frame", lambda: encrypt_frame(FRAME, ocpp="2.0.1", station="cs-1", direction="toStation", recipient=generate_esp_key().public), "now"),  # type: ignore[call-arg]
    ("policy.sign_policy", lambda: sign_policy({}, [SIGNER]), "timestamp"),  # type: ignore[call-arg]
    ("tariffs.sign_tariff", lambda: sign_tariff({}, SIGNER), "timestamp"),  # type: ignore[call-arg]
    ("tariffs.build_receipt", lambda: build_receipt({}, {}), "issued_at"),  # type: ignore[call-arg]
    ("tickets.issue_ticket", lambda: issue_ticket(SIGNER, scope=None, limits=None), "now"),  # type: ignore[call-arg, arg-type]
    ("tickets.present_ticket", lambda: present_ticket({}, SIGNER, station_id="cs-1", evse_id="E1", challenge="c"), "timestamp"),  # type: ignore[call-arg]
    ("pki.create_root", lambda: create_root(generate_private_key("ES256"), "r", valid_for=timedelta(days=1)), "not_before"),  # type: ignore[call-arg]
]  # fmt: skip


@pytest.mark.parametrize(("name", "call", "keyword"), WITHOUT_TIME, ids=[w[0] for w in WITHOUT_TIME])
def test_a_call_without_the_time_raises_type_error(
    name: str, call: Callable[[], object], keyword: str
) -> None:
    # (a dataclass's fields are positional-or-keyword: AuditSettings says "positional")
    missing = f"missing 1 required (keyword-only|positional) argument: '{keyword}'"
    with pytest.raises(TypeError, match=missing):
        call()


@pytest.mark.parametrize(("name", "call", "keyword"), WITHOUT_TIME, ids=[w[0] for w in WITHOUT_TIME])
def test_the_time_has_no_default(name: str, call: Callable[[], object], keyword: str) -> None:
    # The same entry points, read from their signatures: a default (None meaning "now") would
    # be a clock read waiting to happen.
    targets: dict[str, Any] = {
        "Verifier.verify_frame": Verifier.verify_frame,
        "Verifier.verify_object": Verifier.verify_object,
        "policy.evaluate": evaluate,
        "policy.check_upgrade": check_upgrade,
        "esp.decrypt_frame": decrypt_frame,
        "tariffs.verify_tariff": verify_tariff,
        "tariffs.verify_receipt": verify_receipt,
        "tariffs.verify_evidence": verify_evidence,
        "tickets.verify_ticket": verify_ticket,
        "TicketVerifier.verify": TicketVerifier.verify,
        "TicketLedger.issue_challenge": TicketLedger.issue_challenge,
        "RevocationState.crl": RevocationState.crl,
        "RevocationState.revoke": RevocationState.revoke,
        "AuditSettings": AuditSettings,
        "FrameAuditor": FrameAuditor,
        "Guard": Guard,
        "TrustedClock": TrustedClock,
        "sign_frame": sign_frame,
        "sign_object": sign_object,
        "esp.encrypt_frame": encrypt_frame,
        "policy.sign_policy": sign_policy,
        "tariffs.sign_tariff": sign_tariff,
        "tariffs.build_receipt": build_receipt,
        "tickets.issue_ticket": issue_ticket,
        "tickets.present_ticket": present_ticket,
        "pki.create_root": create_root,
    }
    parameter = inspect.signature(targets[name]).parameters[keyword]
    assert parameter.default is inspect.Parameter.empty
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY or name == "AuditSettings"
