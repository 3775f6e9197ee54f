"""Policy life cycle (SPEC §7): signing, upgrades under the installed ``admins``, a policy store.

A new version is judged only by the installed one: its keys, roles and trust anchors verify the
signatures, its ``admins`` say how many and which signers it takes, and nothing in the new
document (not its keys, not its admins) takes part. It must keep the ``id`` and raise the
``version``, which also refuses replays and rollbacks of older signed versions.

>>> # store = PolicyStore("/var/lib/station/policy.json")
>>> # store.install("policies/station-csms-commands.yaml")     # first install: a local file
>>> # store.upgrade(Path("v4.signed.json").read_bytes(), now=now)  # later: signed by the admins
"""

from __future__ import annotations

import enum
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..canonical import parse
from ..errors import InputError, PolicyError, PolicyUpgradeError
from ..keys import Signer
from ..model import Outcome, Verification
from ..sign import sign_object
from .evaluate import CountedSigner, _signers_failure, counted_signers, satisfied
from .model import POLICY_CONTEXT, Policy, load_policy

__all__ = [
    "PolicyStore",
    "UpgradeResult",
    "UpgradeVerdict",
    "check_upgrade",
    "sign_policy",
]


class UpgradeVerdict(enum.StrEnum):
    """Whether a new policy version replaces the installed one."""

    ACCEPTED = "accepted"
    REFUSED = "refused"


@dataclass(frozen=True)
class UpgradeResult:
    """The verdict on a new policy version, with the reason and the signers that were counted."""

    verdict: UpgradeVerdict
    reason: str
    policy: Policy | None = None
    signers: tuple[CountedSigner, ...] = ()
    verification: Verification | None = None

    @property
    def accepted(self) -> bool:
        return self.verdict is UpgradeVerdict.ACCEPTED

    def to_dict(self) -> dict[str, Any]:
        """JSON view: ``{"verdict", "reason", "id", "version", "signers"}``."""
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "id": self.policy.id if self.policy else None,
            "version": self.policy.version if self.policy else None,
            "signers": [s.to_dict() for s in self.signers],
            "signatures": (
                [s.to_dict() for s in self.verification.signatures] if self.verification else []
            ),
        }


def sign_policy(
    policy: Policy | Mapping[str, Any],
    signers: Signer | Sequence[Signer],
    *,
    timestamp: datetime,
) -> dict[str, Any]:
    """Return the policy's JSON document with one more signature per signer (top-level carrier,
    CONTEXT ``{"type": "SignaturePolicy"}``). The document is checked first: a broken policy is
    never signed. Existing signatures are kept, so admins can sign one after another."""
    doc = policy.to_dict() if isinstance(policy, Policy) else dict(policy)
    Policy.from_dict(doc)
    return sign_object(doc, signers, context=POLICY_CONTEXT, carrier="top", timestamp=timestamp)


def _refuse(reason: str, **kw: Any) -> UpgradeResult:
    return UpgradeResult(UpgradeVerdict.REFUSED, reason, **kw)


def check_upgrade(
    installed: Policy, candidate: bytes | str | Mapping[str, Any], *, now: datetime
) -> UpgradeResult:
    """Judge a new version against the installed policy (SPEC §7 updates); never raises for a bad
    candidate: the result says why it is refused.

    ``candidate`` is best given as the bytes received, which are read with the strict I-JSON
    reader (SPEC §2) and verified as they are.
    """
    raw: bytes | str
    if isinstance(candidate, bytes | str):
        raw = candidate
    else:
        # A mapping goes through the same strict reader as bytes (SPEC §2: depth, numbers,
        # JSON types), so that no object model can make the checks below recurse or raise.
        try:
            raw = json.dumps(candidate, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError) as exc:
            return _refuse(f"the new version is not JSON: {exc}")
    try:
        value = parse(raw).value
    except InputError as exc:
        return _refuse(f"the new version is not I-JSON: {exc}")
    try:
        new = Policy.from_dict(value)
    except PolicyError as exc:
        return _refuse(f"the new version is not a valid policy: {'; '.join(exc.problems)}")
    if new.id != installed.id:
        return _refuse(
            f"the new document is policy {new.id!r}, the installed policy is {installed.id!r}",
            policy=new,
        )
    if new.version <= installed.version:
        return _refuse(
            f"version {new.version} is not newer than the installed version {installed.version} "
            "(rollbacks and replays are refused)",
            policy=new,
        )
    if installed.admins is None:
        return _refuse(
            f"the installed policy {installed.id} v{installed.version} names no admins: "
            "only a local install can replace it",
            policy=new,
        )
    if not new.signed:
        return _refuse("the new version is not signed", policy=new)
    try:
        verification = installed.verifier().verify_object(raw, context=POLICY_CONTEXT, now=now)
    except InputError as exc:  # e.g. more signatures than SPEC §2 allows on one object
        return _refuse(f"the new version's signatures cannot be verified: {exc}", policy=new)
    signers = counted_signers(installed, verification)
    for sig in verification.signatures:
        if sig.outcome is Outcome.INVALID and sig.trusted:
            return _refuse(
                f"signature #{sig.index} from known key {sig.identity or sig.key_id} is invalid "
                f"({sig.reason})",
                policy=new,
                signers=signers,
                verification=verification,
            )
    failure = _signers_failure(installed.admins, signers, verification.signatures)
    if failure is not None:
        return _refuse(
            f"the signatures do not satisfy the installed admins: {failure}",
            policy=new,
            signers=signers,
            verification=verification,
        )
    assert satisfied(installed.admins, signers)
    outside = new.valid_at(now)
    if outside is not None:
        return _refuse(outside, policy=new, signers=signers, verification=verification)
    names = ", ".join(str(s) for s in signers)
    return UpgradeResult(
        UpgradeVerdict.ACCEPTED,
        f"{new.id} v{installed.version} -> v{new.version} signed by {names}",
        new,
        signers,
        verification,
    )


class PolicyStore:
    """The one active policy of a verifier, persisted as its signed JSON document in a file.

    The first policy comes from a local file (:meth:`install`); later versions only through
    :meth:`upgrade`. Writes are atomic (a temporary file renamed over the old one).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @property
    def active(self) -> Policy | None:
        """The installed policy, or None when nothing is installed yet."""
        if not self.path.exists():
            return None
        return load_policy(self.path)

    def install(self, source: Path | str | Policy) -> Policy:
        """Install a policy from a local file (JSON or YAML) or object, replacing any other: the
        operator's local decision, with no admin check."""
        policy = source if isinstance(source, Policy) else load_policy(source)
        self._write(policy.to_dict())
        return policy

    def upgrade(self, candidate: bytes | str | Mapping[str, Any], *, now: datetime) -> Policy:
        """Replace the active policy with a new version signed by its admins; raise
        :class:`PolicyUpgradeError` with the reason when refused."""
        active = self.active
        if active is None:
            raise PolicyUpgradeError(f"{self.path}: no policy is installed; install one first")
        result = check_upgrade(active, candidate, now=now)
        if not result.accepted or result.policy is None:
            raise PolicyUpgradeError(f"{self.path}: upgrade refused: {result.reason}")
        self._write(result.policy.to_dict())
        return result.policy

    def _write(self, doc: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".policy-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(doc, out, indent=2, ensure_ascii=False)
                out.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
