"""One fuzz target per entry point that reads outside input.

Each target is a function ``target(data: bytes) -> None`` that feeds ``data`` to one documented
library entry point. It returns when the entry point gave a verdict or raised the project's own
error (:class:`~ocpp_e2e.errors.OcppE2EError`); any other exception escapes, and the fuzzer reports
it as a crash. ``seeds(name)`` is the seed corpus: the files of ``tests/data`` the entry point
reads, plus a few signed samples made here with the demo keys (signatures that verify reach the
code behind the signature check).

Run one with ``fuzz/run.py`` (see ``fuzz/README.md``); ``tests/test_fuzz_targets.py`` runs every
target over its seeds without atheris, so a target cannot rot.
"""

from __future__ import annotations

import contextlib
import functools
import json
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ocpp_e2e.errors import OcppE2EError

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
KEYS = REPO / "keys-example"
POLICIES = REPO / "policies"
#: The verifiers' clock: inside the demo certificates' validity.
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)

Target = Callable[[bytes], None]
TARGETS: dict[str, Target] = {}
_SEEDS: dict[str, Callable[[], list[bytes]]] = {}


def target(name: str, seeds: Callable[[], list[bytes]]) -> Callable[[Target], Target]:
    def register(fn: Target) -> Target:
        def guarded(data: bytes) -> None:
            # The project's own error is a clear refusal, not a crash.
            with contextlib.suppress(OcppE2EError):
                fn(data)

        guarded.__name__ = fn.__name__
        guarded.__doc__ = fn.__doc__
        TARGETS[name] = guarded
        _SEEDS[name] = seeds
        return guarded

    return register


def seeds(name: str) -> list[bytes]:
    """The seed corpus of target ``name``."""
    return _SEEDS[name]()


def _files(*patterns: str) -> Callable[[], list[bytes]]:
    def read() -> list[bytes]:
        out = []
        for pattern in patterns:
            for path in sorted(REPO.glob(pattern)):
                if path.is_file():
                    out.append(path.read_bytes())
        return out

    return read


def _plus(*parts: Callable[[], list[bytes]]) -> Callable[[], list[bytes]]:
    return lambda: [item for part in parts for item in part()]


# ----------------------------------------------------------------------------- shared setup


@functools.cache
def _signer(name: str) -> Any:
    from ocpp_e2e.keys import load_signer
    from ocpp_e2e.pki.validate import pem_chain_der

    chain = pem_chain_der((KEYS / f"{name}.chain.pem").read_bytes())
    return load_signer(f"file:{KEYS / name}.key.pem", certificates=chain)


@functools.cache
def _validator() -> Any:
    from ocpp_e2e.pki import ChainValidator

    return ChainValidator.from_files([KEYS / "root-ca.crt.pem"])


@functools.cache
def _verifier() -> Any:
    from ocpp_e2e.keys import Keyring
    from ocpp_e2e.verify import Verifier

    return Verifier(Keyring.load(KEYS / "keyring.json"), certificates=_validator(), identity="csms")


@functools.cache
def _policy(name: str) -> Any:
    from ocpp_e2e.policy import load_policy

    return load_policy(POLICIES / name)


def _text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _json_seeds() -> list[bytes]:
    return _files(
        "tests/data/core/*.json",
        "tests/data/tariffs/*.json",
        "tests/data/tickets/*.json",
        "tests/data/policy/*.json",
    )()


def _signed_frames() -> list[bytes]:
    from ocpp_e2e.sign import sign_frame

    call = [2, "m1", "SetChargingProfile", {"evseId": 1, "chargingProfile": {"id": 1}}]
    out = []
    for signer in ("csms-operator", "grid-operator", "security-officer"):
        text = sign_frame(call, [_signer(signer)], ocpp="2.0.1", station="station-1", timestamp=NOW)
        out.append(text.encode() if isinstance(text, str) else text)
    out.append(b'[3,"m1",{"status":"Accepted"}]')
    out.append(b'[4,"m1","SecurityError","refused",{}]')
    return out


def _signed_structures() -> list[bytes]:
    from ocpp_e2e.canonical import dumps
    from ocpp_e2e.sign import sign_object

    tariff = json.loads((DATA / "tariffs" / "per-kwh.tariff.json").read_text())
    tariff.pop("signatures", None)
    signed = sign_object(
        tariff,
        [_signer("tariff-signer")],
        context={"type": "Tariff"},
        carrier="customData",
        timestamp=NOW,
    )
    return [dumps(signed)]


# ----------------------------------------------------------------------------- the targets


@target("canonical", _plus(_json_seeds, lambda: [b'{"a":[1,2.5e3,"\\u00e9"]}']))
def canonical(data: bytes) -> None:
    """exact.read_exact (frames without signatures) and canonical.parse (SPEC §2 strict I-JSON
    reader), then the RFC 8785 writer on what it read."""
    from ocpp_e2e.canonical import dumps, parse
    from ocpp_e2e.exact import read_exact

    with contextlib.suppress(OcppE2EError):
        read_exact(data, max_bytes=1 << 20)  # the reader of frames without signatures (SPEC §2)
    parsed = parse(data)
    dumps(parsed.value)


@target("frame", _plus(_signed_frames, _files("tests/data/core/*.json")))
def frame(data: bytes) -> None:
    """verify_frame on a CALL/response received on station-1's connection, then the policy."""
    from ocpp_e2e.frames import parse_frame
    from ocpp_e2e.policy import evaluate

    for version in ("1.6", "2.0.1", "2.1"):
        try:
            parse_frame(data, ocpp=version)
        except OcppE2EError:
            continue
    result = _verifier().verify_frame(data, ocpp="2.0.1", station="station-1", now=NOW)
    evaluate(_policy("station-csms-commands.yaml"), result.verification, now=NOW)


@target("structure", _plus(_signed_structures, _json_seeds))
def structure(data: bytes) -> None:
    """verify_object: signature objects of a §6 structure (every member rule of SPEC §1)."""
    for kind in ("Tariff", "ChargingTicket", "SignaturePolicy"):
        _verifier().verify_object(data, context={"type": kind}, now=NOW)


@target("policy-json", _files("policies/*.json", "tests/data/policy/*.json"))
def policy_json(data: bytes) -> None:
    """loads_policy on JSON text (SPEC §7 loader), then the verifier it configures."""
    from ocpp_e2e.policy import loads_policy

    text = _text(data)
    if text is not None:
        loads_policy(text, fmt="json", source="fuzz.json").verifier()


def _policy_yaml_seeds() -> list[bytes]:
    return _files("policies/*.yaml", "tests/data/policy/*.yaml", "tests/data/integration/*.yaml")()


@target("policy-yaml", _policy_yaml_seeds)
def policy_yaml(data: bytes) -> None:
    """loads_policy on YAML text (YAML 1.2 core schema subset of SPEC §7)."""
    from ocpp_e2e.policy import loads_policy

    text = _text(data)
    if text is not None:
        loads_policy(text, fmt="yaml", source="fuzz.yaml").verifier()


def _upgrade_seeds() -> list[bytes]:
    from ocpp_e2e.canonical import dumps
    from ocpp_e2e.policy import sign_policy

    doc = _policy("policy-admin-quorum.yaml").to_dict()
    doc.pop("signatures", None)
    doc["version"] = doc["version"] + 1
    signed = sign_policy(doc, [_signer("policy-admin-1"), _signer("policy-admin-2")], timestamp=NOW)
    return [dumps(signed), dumps(doc)]


@target("policy-upgrade", _upgrade_seeds)
def policy_upgrade(data: bytes) -> None:
    """check_upgrade on a candidate received from the network (documented never to raise)."""
    from ocpp_e2e.policy import check_upgrade

    check_upgrade(_policy("policy-admin-quorum.yaml"), data, now=NOW)


@target("keys", _files("keys-example/*.pub.pem", "keys-example/keyring.json"))
def keys(data: bytes) -> None:
    """Keyring files (JSON or PEM), PEM/base64url public keys and SPKI DER."""
    from ocpp_e2e.keys import Keyring, load_public_key_text, load_spki

    Keyring.parse(data, source="fuzz-keyring")
    with contextlib.suppress(OcppE2EError):
        load_spki(data)
    text = _text(data)
    if text is not None:
        load_public_key_text(text)


@target(
    "pki",
    _files("keys-example/*.chain.pem", "keys-example/*-ca.crt.pem", "tests/data/pki/*.pem"),
)
def pki(data: bytes) -> None:
    """Certificate chains (PEM or DER) validated against the demo root; CRLs; trust anchors."""
    from ocpp_e2e.pki import ChainValidator
    from ocpp_e2e.pki.validate import pem_chain_der

    chain = pem_chain_der(data) if b"-----BEGIN" in data else [data]
    _validator().validate(chain, at=NOW, now=NOW)
    ChainValidator([data])
    ChainValidator([KEYS.joinpath("root-ca.crt.pem").read_bytes()], crls=[data])


@target("ocmf", _files("tests/data/meter/*.ocmf", "tests/data/meter/real/*"))
def ocmf(data: bytes) -> None:
    """OCMF signed meter records: parse and verify under the demo meter key."""
    from ocpp_e2e.meter import MeterVerifier
    from ocpp_e2e.meter.trust import MeterKeyring

    MeterVerifier(MeterKeyring()).verify_text(data)


def _audit_seeds() -> list[bytes]:
    return _files("tests/data/audit/*", "tests/data/audit/real/*", "examples/audit/*.jsonl")()


@functools.cache
def _audit_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="fuzz-audit-"))


@target("audit", _audit_seeds)
def audit(data: bytes) -> None:
    """A whole audit (every log format) of one log file: a bad line is a finding, never a crash."""
    from ocpp_e2e.audit.logs import LogFormat, ReadOptions, Side
    from ocpp_e2e.audit.run import AuditSettings, audit_logs

    path = _audit_dir() / "log"
    path.write_bytes(data)
    settings = AuditSettings(policy=str(POLICIES / "csms-station-messages.yaml"), now=datetime.now(UTC))
    for options in (
        ReadOptions(),
        ReadOptions(format=LogFormat.OCPP_LIB, side=Side.CSMS),
        ReadOptions(format=LogFormat.EVEREST, station="cs-0001"),
    ):
        audit_logs([str(path)], options, settings)


def _tariff_seeds() -> list[bytes]:
    return _plus(_signed_structures, _files("tests/data/tariffs/*.json"))()


@target("tariff", _tariff_seeds)
def tariff(data: bytes) -> None:
    """Signed tariffs, session records (costed under a demo tariff) and cost receipts."""
    from ocpp_e2e.tariffs import calculate_cost, verify_tariff
    from ocpp_e2e.tariffs.receipt import verify_receipt

    for step in (
        lambda: verify_tariff(data, _verifier(), now=NOW),
        lambda: calculate_cost(_demo_tariff(), _session(data)),
        lambda: verify_receipt(data, _verifier(), tariff=_demo_tariff(), now=NOW),
    ):
        with contextlib.suppress(OcppE2EError):
            step()


@functools.cache
def _demo_tariff() -> dict[str, Any]:
    return json.loads((DATA / "tariffs" / "time-of-day.tariff.json").read_text())


def _session(data: bytes) -> Any:
    from ocpp_e2e.canonical import loads
    from ocpp_e2e.tariffs.session import Session

    return Session.from_dict(loads(data), source="fuzz-session")


@functools.cache
def _ticket_verifier() -> Any:
    from ocpp_e2e.tickets import TicketLedger, TicketVerifier

    ledger = TicketLedger(_audit_dir() / "ledger.sqlite")
    return TicketVerifier(
        certificates=_validator(), ledger=ledger, station_id="station-1", evse_id="DE*GEF*E1*1"
    )


def _ticket_seeds() -> list[bytes]:
    from ocpp_e2e.canonical import dumps
    from ocpp_e2e.keys import KeySigner
    from ocpp_e2e.tickets import TicketLimits, TicketScope, issue_ticket, present_ticket

    issued = issue_ticket(
        _signer("ticket-issuer"),
        scope=TicketScope.from_dict({"stations": ["station-*"]}),
        limits=TicketLimits.from_dict({"maxSessions": 3}),
        not_before=NOW - timedelta(hours=1),
        valid_for=timedelta(hours=2), now=datetime.now(UTC),
    )
    challenge = _ticket_verifier().ledger.issue_challenge("station-1", now=NOW).value
    presented = present_ticket(
        issued.ticket,
        KeySigner(issued.holder_key),
        station_id="station-1",
        evse_id="DE*GEF*E1*1",
        challenge=challenge,
        timestamp=NOW,
    )
    return [dumps(presented), dumps(issued.ticket), *_files("tests/data/tickets/*.json")()]


@target("ticket", _ticket_seeds)
def ticket(data: bytes) -> None:
    """Charging tickets and ticket presentations as a station receives them."""
    from ocpp_e2e.canonical import loads
    from ocpp_e2e.tickets import ChargingTicket, verify_ticket

    _ticket_verifier().verify(data, now=NOW)
    value = loads(data)
    ChargingTicket.from_dict(value)
    verify_ticket(value, _validator(), now=NOW)


def _esp_parties() -> tuple[Any, Any, Any]:
    """Fixed ESP keys (deterministic, so seeds and target agree): station, CSMS (hybrid), and
    the receiver the station runs."""
    from cryptography.hazmat.primitives.asymmetric import x25519

    from ocpp_e2e.esp import EspKeyInfo, EspKeyring, EspReceiver
    from ocpp_e2e.esp.keys import _hybrid_from_seed, _x25519_private

    station = _x25519_private(x25519.X25519PrivateKey.from_private_bytes(bytes(range(32))))
    csms = _hybrid_from_seed(bytes(range(32, 64)))
    receiver = EspReceiver(
        [station], reply_keys=EspKeyring([EspKeyInfo(csms.public, "csms")]), max_plaintext=65536
    )
    return station, csms, receiver


def _esp_seeds() -> list[bytes]:
    from ocpp_e2e.canonical import dumps
    from ocpp_e2e.esp import encrypt_frame, esp_private_key_to_pem
    from ocpp_e2e.tickets import encrypt_presentation

    station, csms, _receiver = _esp_parties()
    request = encrypt_frame(
        '[2,"1","Reset",{"type":"Immediate"}]',
        ocpp="2.0.1",
        station="station-1",
        direction="toStation",
        recipient=station.public,
        reply_to=csms.public,
        now=NOW,
    )
    presentation = encrypt_presentation(
        {"type": "TicketPresentation"}, station.public, station_id="station-1", now=NOW
    )
    return [
        request.text.encode(),
        dumps(presentation),
        station.public.to_pem(),
        csms.public.spki,
        esp_private_key_to_pem(csms),
    ]


@target("esp", _esp_seeds)
def esp(data: bytes) -> None:
    """ESP (docs/esp.md): an outer frame decrypted by a station, an encrypted ticket presentation,
    recipient keys as PEM, SPKI DER and PKCS#8."""
    from ocpp_e2e.esp import load_esp_private_pem, load_esp_public_spki, load_esp_public_text
    from ocpp_e2e.tickets import decrypt_presentation

    _station, _csms, receiver = _esp_parties()
    opened = receiver.decrypt_frame(
        data, ocpp="2.0.1", station="station-1", direction="toStation", now=NOW
    )
    assert opened.outcome.value  # every input gets one outcome, never an exception
    decrypt_presentation(data, receiver, station_id="station-1", now=NOW)
    with contextlib.suppress(OcppE2EError):
        load_esp_public_spki(data)
    with contextlib.suppress(OcppE2EError):
        load_esp_private_pem(data)
    text = _text(data)
    if text is not None:
        load_esp_public_text(text)


def all_seeds() -> Iterator[tuple[str, bytes]]:
    for name in TARGETS:
        for item in seeds(name):
            yield name, item


__all__ = ["TARGETS", "all_seeds", "seeds"]
