"""Policies can require encryption per action (docs/esp.md §9.8, proposed SPEC §7 change):
``match.encrypted``; and the guard tells the policy which frames arrived encrypted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from ocpp_e2e.errors import ConnectionSetupError, PolicyError
from ocpp_e2e.esp import EspKeyInfo, EspKeyring, EspReceiver, encrypt_frame, generate_esp_key
from ocpp_e2e.guard import STATION, Answer, Deliver, EncryptRule, EspConnection, EspSettings, Guard
from ocpp_e2e.model import Verification
from ocpp_e2e.policy import Effect, Policy, evaluate
from ocpp_e2e.replay import MemoryReplayCache

NOW = datetime(2026, 12, 7, 22, 40, tzinfo=UTC)
PROFILE = '[2,"7","SetChargingProfile",{"evseId":1,"chargingProfile":{"id":1}}]'
DOC: dict[str, Any] = {
    "type": "SignaturePolicy",
    "id": "esp-required",
    "version": 1,
    "mode": "enforce",
    "rules": [
        {
            "id": "charging-limits-encrypted",
            "effect": "forbid",
            "match": {"actions": ["SetChargingProfile"], "encrypted": False},
        },
        {"id": "anything", "effect": "permit", "signers": "none"},
    ],
}
POLICY = Policy.from_dict(DOC)


def verification(action: str = "SetChargingProfile") -> Verification:
    ctx = {"ocpp": "2.0.1", "station": "cs-1", "action": action, "kind": "request"}
    return Verification(ctx, {"evseId": 1}, ())


def test_a_plaintext_frame_is_denied_by_a_rule_that_requires_encryption() -> None:
    decision = evaluate(POLICY, verification(), now=NOW)
    assert (decision.effect, decision.rule) == (Effect.DENY, "charging-limits-encrypted")


def test_the_same_frame_arrived_encrypted_is_permitted_and_says_so() -> None:
    decision = evaluate(POLICY, verification(), now=NOW, encrypted=True)
    assert (decision.effect, decision.rule) == (Effect.PERMIT, "anything")
    assert decision.context["encrypted"] is True
    (forbid,) = [r for r in decision.rules if r.rule == "charging-limits-encrypted"]
    assert forbid.reason == "the frame arrived encrypted, the rule matches plaintext frames"


def test_other_actions_need_no_encryption() -> None:
    assert evaluate(POLICY, verification("Heartbeat"), now=NOW).effect is Effect.PERMIT


def test_a_permit_rule_can_match_encrypted_frames_only() -> None:
    doc = {
        **DOC,
        "rules": [
            {
                "id": "encrypted-only",
                "effect": "permit",
                "match": {"encrypted": True},
                "signers": "none",
            }
        ],
    }
    policy = Policy.from_dict(doc)
    plain = evaluate(policy, verification(), now=NOW)
    assert plain.effect is Effect.DENY
    assert (
        plain.rules[0].reason == "the frame arrived in plaintext, the rule matches encrypted frames"
    )
    assert evaluate(policy, verification(), now=NOW, encrypted=True).effect is Effect.PERMIT
    assert policy.rules[0].match.to_dict() == {"encrypted": True}


@pytest.mark.parametrize(
    ("match", "fragment"),
    [
        ({"types": ["Tariff"], "encrypted": True}, "structures (types) have none"),
        ({"encrypted": "yes"}, "encrypted"),
    ],
)
def test_encrypted_is_checked_when_loading(match: dict[str, Any], fragment: str) -> None:
    doc = {**DOC, "rules": [{"id": "r", "effect": "forbid", "match": match}]}
    with pytest.raises(PolicyError) as caught:
        Policy.from_dict(doc)
    assert any(fragment in p for p in caught.value.problems), caught.value.problems


def test_the_guard_tells_the_policy_which_frames_arrived_encrypted() -> None:
    station_key, csms_key = generate_esp_key(), generate_esp_key()
    guard = Guard(POLICY, POLICY.verifier(), replay_cache=MemoryReplayCache(), clock=lambda: datetime.now(UTC))
    settings = EspSettings(
        EspReceiver(
            [station_key],
            reply_keys=EspKeyring([EspKeyInfo(csms_key.public, "csms")]),
            replay_cache=MemoryReplayCache(),
        ),
        peer_keys=EspKeyring([EspKeyInfo(csms_key.public, "csms")]),
        reply_key=station_key,
        encrypt=[EncryptRule()],
    )
    conn = EspConnection(guard.connection("CS-1", ocpp="2.0.1", side=STATION), settings)
    sealed = encrypt_frame(
        PROFILE,
        ocpp="2.0.1",
        station="CS-1",
        direction="toStation",
        recipient=station_key.public,
        reply_to=csms_key.public, now=datetime.now(UTC),
    )

    async def scenario() -> tuple[Any, Any, str]:
        encrypted = await conn.receive(sealed.text)
        plain = await conn.receive(PROFILE.replace('"7"', '"8"'))
        answer = await conn.send('[3,"7",{"status":"Accepted"}]')
        return encrypted, plain, answer

    encrypted, plain, answer = asyncio.run(scenario())
    assert isinstance(encrypted, Deliver) and encrypted.message == PROFILE
    assert encrypted.event.decision.context["encrypted"] is True
    assert isinstance(plain, Answer) and "charging-limits-encrypted" in plain.frame
    # The answer to the encrypted request goes back encrypted to the key it named.
    assert '"status":"Accepted","data"' not in answer and '"data":"{' in answer
    assert "Accepted" in answer  # the outer DataTransfer result's own status only


def test_an_enforcing_guard_needs_a_replay_cache_for_envelopes_too() -> None:
    key = generate_esp_key()
    guard = Guard(POLICY, POLICY.verifier(), replay_cache=MemoryReplayCache(), clock=lambda: datetime.now(UTC))
    settings = EspSettings(EspReceiver([key]), peer_keys=EspKeyring(), reply_key=key)
    with pytest.raises(ConnectionSetupError, match="replay cache for encrypted frames"):
        EspConnection(guard.connection("CS-1", ocpp="2.0.1", side=STATION), settings)
