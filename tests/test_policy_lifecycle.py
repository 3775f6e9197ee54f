"""Policy life cycle (SPEC §7): signing, upgrades judged by the installed version, the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_policy_support import NOW, POLICIES, example_signer

from ocpp_e2e.errors import PolicyUpgradeError
from ocpp_e2e.keys import KeySigner, generate_private_key, public_key_to_pem
from ocpp_e2e.policy import (
    Policy,
    PolicyStore,
    UpgradeVerdict,
    check_upgrade,
    load_policy,
    sign_policy,
)

INSTALLED = load_policy(POLICIES / "policy-admin-quorum.yaml")
ADMIN_1 = example_signer("policy-admin-1")
ADMIN_2 = example_signer("policy-admin-2")


def next_version(**changes: Any) -> dict[str, Any]:
    doc = INSTALLED.to_dict()
    doc["version"] = 2
    doc.update(changes)
    return doc


def signed(doc: dict[str, Any], *signers: Any) -> bytes:
    return json.dumps(sign_policy(doc, list(signers), timestamp=NOW)).encode()


def test_upgrade_signed_by_two_admins_is_accepted() -> None:
    result = check_upgrade(INSTALLED, signed(next_version(), ADMIN_1, ADMIN_2), now=NOW)
    assert result.verdict is UpgradeVerdict.ACCEPTED, result.reason
    assert result.reason == (
        "policy-admin-quorum v1 -> v2 signed by policy-admin-1 [policy-admin], policy-admin-2 [policy-admin]"
    )


def test_admins_may_sign_one_after_another() -> None:
    first = sign_policy(next_version(), ADMIN_1, timestamp=NOW)
    both = sign_policy(first, ADMIN_2, timestamp=NOW)
    assert check_upgrade(INSTALLED, json.dumps(both), now=NOW).accepted


def test_upgrade_signed_by_one_admin_is_refused() -> None:
    result = check_upgrade(INSTALLED, signed(next_version(), ADMIN_1), now=NOW)
    assert result.verdict is UpgradeVerdict.REFUSED
    assert result.reason == (
        "the signatures do not satisfy the installed admins: needs 2 signers holding role policy-admin; "
        "counted 1: policy-admin-1 [policy-admin]"
    )


def test_same_admin_signing_twice_counts_once() -> None:
    result = check_upgrade(INSTALLED, signed(next_version(), ADMIN_1, ADMIN_1), now=NOW)
    assert not result.accepted and "counted 1: policy-admin-1" in result.reason


def test_new_version_naming_its_own_admins_is_refused() -> None:
    rogue = [KeySigner(generate_private_key()) for _ in range(2)]
    doc = next_version(
        keys=[
            {
                "publicKey": public_key_to_pem(s._key).decode(),
                "name": f"rogue-{i}",
                "roles": ["policy-admin"],
            }
            for i, s in enumerate(rogue)
        ],
    )
    result = check_upgrade(INSTALLED, signed(doc, *rogue), now=NOW)
    assert not result.accepted
    assert result.reason.endswith(
        f"not counted: #0 {rogue[0].key_id} is unknown-key, #1 {rogue[1].key_id} is unknown-key"
    )


def test_another_policys_id_is_refused() -> None:
    result = check_upgrade(
        INSTALLED, signed(next_version(id="other-policy"), ADMIN_1, ADMIN_2), now=NOW
    )
    assert (
        result.reason
        == "the new document is policy 'other-policy', the installed policy is 'policy-admin-quorum'"
    )


def test_rollback_to_an_older_version_is_refused() -> None:
    installed_v3 = Policy.from_dict({**INSTALLED.to_dict(), "version": 3})
    result = check_upgrade(installed_v3, signed(next_version(), ADMIN_1, ADMIN_2), now=NOW)
    assert result.reason == (
        "version 2 is not newer than the installed version 3 (rollbacks and replays are refused)"
    )


def test_same_version_replayed_is_refused() -> None:
    result = check_upgrade(INSTALLED, signed(next_version(version=1), ADMIN_1, ADMIN_2), now=NOW)
    assert not result.accepted and "not newer" in result.reason


def test_unsigned_new_version_is_refused() -> None:
    assert (
        check_upgrade(INSTALLED, json.dumps(next_version()), now=NOW).reason
        == "the new version is not signed"
    )


def test_installed_policy_without_admins_accepts_no_upgrade() -> None:
    doc = INSTALLED.to_dict()
    del doc["admins"]
    result = check_upgrade(Policy.from_dict(doc), signed(next_version(), ADMIN_1, ADMIN_2), now=NOW)
    assert result.reason == (
        "the installed policy policy-admin-quorum v1 names no admins: only a local install can replace it"
    )


def test_tampered_new_version_is_refused_for_the_invalid_signature() -> None:
    doc = json.loads(signed(next_version(), ADMIN_1, ADMIN_2))
    doc["rules"] = []
    result = check_upgrade(INSTALLED, json.dumps(doc), now=NOW)
    assert result.reason.startswith("signature #0 from known key policy-admin-1 is invalid")


def test_broken_new_version_is_refused_with_its_problems() -> None:
    result = check_upgrade(INSTALLED, json.dumps(next_version(extra=1)), now=NOW)
    assert result.reason == "the new version is not a valid policy: $.extra: unknown member 'extra'"


def test_new_version_already_expired_is_refused() -> None:
    doc = next_version(notAfter="2027-02-01T00:00:00Z")
    result = check_upgrade(INSTALLED, signed(doc, ADMIN_1, ADMIN_2), now=NOW)
    assert result.reason == "policy policy-admin-quorum v2 expired at 2027-02-01T00:00:00Z"


def test_upgrade_accepted_after_the_installed_policy_expired() -> None:
    doc = next_version(notAfter="2040-01-01T00:00:00Z")
    later = INSTALLED.not_after
    assert later is not None
    from datetime import timedelta

    result = check_upgrade(INSTALLED, signed(doc, ADMIN_1, ADMIN_2), now=later + timedelta(days=1))
    assert result.accepted, result.reason


def test_signing_a_broken_policy_is_refused() -> None:
    from ocpp_e2e.errors import PolicyError

    with pytest.raises(PolicyError):
        sign_policy(next_version(extra=1), ADMIN_1, timestamp=datetime.now(UTC))


def test_store_installs_locally_and_upgrades_with_admins(tmp_path: Path) -> None:
    store = PolicyStore(tmp_path / "active.json")
    assert store.active is None
    store.install(POLICIES / "policy-admin-quorum.yaml")
    store.upgrade(signed(next_version(), ADMIN_1, ADMIN_2), now=NOW)
    active = store.active
    assert active is not None and active.version == 2 and active.signed


def test_store_refuses_and_keeps_the_active_policy(tmp_path: Path) -> None:
    store = PolicyStore(tmp_path / "active.json")
    store.install(POLICIES / "policy-admin-quorum.yaml")
    with pytest.raises(PolicyUpgradeError) as info:
        store.upgrade(signed(next_version(), ADMIN_1), now=NOW)
    assert "upgrade refused: the signatures do not satisfy the installed admins" in str(info.value)
    assert store.active is not None and store.active.version == 1


def test_store_without_a_policy_refuses_upgrades(tmp_path: Path) -> None:
    with pytest.raises(PolicyUpgradeError, match="no policy is installed; install one first"):
        PolicyStore(tmp_path / "none.json").upgrade(b"{}", now=NOW)
