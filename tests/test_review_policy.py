"""Review findings on the policy life cycle: a hostile candidate gets a refusal, not an exception."""

from __future__ import annotations

import json

from test_policy_lifecycle import ADMIN_1, ADMIN_2, INSTALLED, next_version
from test_policy_support import NOW

from ocpp_e2e.policy import UpgradeVerdict, check_upgrade, sign_policy


def test_upgrade_with_more_than_16_signatures_is_refused() -> None:
    doc = sign_policy(next_version(), [ADMIN_1, ADMIN_2], timestamp=NOW)
    doc["signatures"] = doc["signatures"] * 9
    result = check_upgrade(INSTALLED, json.dumps(doc).encode(), now=NOW)
    assert result.verdict is UpgradeVerdict.REFUSED
    assert result.reason == (
        "the new version's signatures cannot be verified: "
        "top: 18 signatures on one object; at most 16"
    )
