"""Checking a signature policy document (SPEC §7): the shipped JSON Schema and the semantic rules
it cannot express. Every problem is reported with its JSON path (and line, for YAML); nothing here
builds a :class:`~ocpp_e2e.policy.model.Policy`.

>>> [p.message for p in check_document({"type": "SignaturePolicy", "id": "x", "version": 1})]
["required member 'rules' is missing"]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from cryptography import x509

from .._b64 import b64_decode, pem_blocks
from .._der import UNREADABLE_CERTIFICATE
from .._schema import load_schema, schema_problems
from .._time import CalendarRangeError, parse_duration, parse_rfc3339
from ..errors import KeyLoadError, PolicyError
from ..keys import key_id, load_public_key_text
from ._conditions import ORDERING, json_type, parse_path
from ._regexp import IRegexpError, compile_iregexp
from ._yaml import load_yaml

if TYPE_CHECKING:
    import jsonschema

__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "MAX_SIGNATURE_AGE_LIMIT",
    "POLICY_TYPE",
    "Problem",
    "anchor_bytes",
    "check_document",
    "lint_policy_text",
    "policy_error",
    "schema",
]

POLICY_TYPE = "SignaturePolicy"
MAX_SIGNATURE_AGE_LIMIT = timedelta(hours=1)
DEFAULT_CLOCK_SKEW = timedelta(seconds=30)


@dataclass(frozen=True)
class Problem:
    """One defect of a policy document: where (JSON path, line) and what is wrong."""

    path: str
    message: str
    line: int | None = None
    source: str | None = None

    def __str__(self) -> str:
        place = self.source or ""
        if self.line is not None:
            place += f":{self.line}" if place else f"line {self.line}"
        prefix = f"{place}: " if place else ""
        return f"{prefix}{self.path}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON view: ``{"path", "line", "message"}``."""
        return {"path": self.path, "line": self.line, "message": self.message}


def anchor_bytes(text: str) -> bytes:
    """A trust anchor as given (PEM text or standard base64 DER) to bytes the PKI reads."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return text.encode("ascii")
    return b64_decode(text)  # canonical standard base64 (SPEC §1), else a ValueError


def policy_error(problems: Sequence[Problem], source: str | None) -> PolicyError:
    lines = tuple(str(p) for p in problems)
    head = f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the policy"
    err = PolicyError(
        f"{head}: " + "; ".join(lines[:3]) + ("; ..." if len(lines) > 3 else ""), source=source
    )
    err.problems = lines
    return err


def schema() -> dict[str, Any]:
    """The JSON Schema of a policy document, shipped in ``ocpp_e2e/schemas``."""
    return load_schema("signature-policy.schema.json")


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # on first use: importing it costs a command-line start about 0.1 s

    return jsonschema.Draft202012Validator(schema())


def _threshold(err: jsonschema.ValidationError, path: list[str | int]) -> str | None:
    if err.validator == "minimum" and path and path[-1] == "threshold":
        return f"threshold must be at least 1, not {err.instance}"
    return None


def _schema_problems(data: Any) -> list[Problem]:
    return [Problem(p, m) for p, m in schema_problems(_validator(), data, special=_threshold)]


def check_document(data: Any) -> list[Problem]:
    """Every problem of a policy document (schema and semantics); empty when it can be loaded."""
    problems = _schema_problems(data)
    if not isinstance(data, dict):
        return problems
    problems.extend(_Semantics(data).run())
    # Report each place once, in document order.
    seen: set[tuple[str, str]] = set()
    unique = []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            unique.append(p)
    return unique


class _Semantics:
    """Checks the schema cannot express; defensive about shapes the schema already refused."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def run(self) -> list[Problem]:
        doc = self.doc
        defined_roles = self.check_keys()
        roles = doc.get("roles")
        if isinstance(roles, dict):
            defined_roles |= {r for r in roles if isinstance(r, str)}
            for name, grant in roles.items():
                if isinstance(grant, dict):
                    for i, pat in enumerate(grant.get("identities") or ()):
                        if isinstance(pat, str) and "*" in pat[:-1]:
                            self.add(
                                f"$.roles.{name}.identities[{i}]",
                                "only a trailing '*' is a wildcard in identity patterns",
                            )
        self.check_times()
        self.check_anchors()
        mode = doc.get("mode", "enforce")
        if doc.get("default") == "permit" and mode != "audit":
            self.add("$.default", "default: permit is allowed only with mode: audit")
        any_signers = False
        rules = doc.get("rules")
        ids: dict[str, int] = {}
        if isinstance(rules, list):
            for i, rule in enumerate(rules):
                if not isinstance(rule, dict):
                    continue
                rid = rule.get("id")
                if isinstance(rid, str):
                    if rid in ids:
                        self.add(
                            f"$.rules[{i}].id", f"rule id {rid!r} is used by rules[{ids[rid]}] too"
                        )
                    ids.setdefault(rid, i)
                any_signers |= self.check_rule(f"$.rules[{i}]", rule, defined_roles)
        admins = doc.get("admins")
        if isinstance(admins, dict):
            self.check_signers("$.admins", admins, defined_roles)
        age = doc.get("maxSignatureAge")
        if any_signers and age is None:
            self.add("$", "maxSignatureAge is required when a rule has signers (e.g. PT5M)")
        for member in ("maxSignatureAge", "clockSkew"):
            value = doc.get(member)
            if isinstance(value, str):
                try:
                    delta = parse_duration(value)
                except CalendarRangeError as exc:
                    self.add(f"$.{member}", f"{exc}; at most PT1H")
                    continue
                except ValueError:
                    continue  # the schema reports the form
                if delta > MAX_SIGNATURE_AGE_LIMIT:
                    self.add(f"$.{member}", f"{value} is longer than PT1H")
                if member == "maxSignatureAge" and delta <= timedelta(0):
                    self.add(f"$.{member}", "must be longer than zero")
        return self.problems

    def check_keys(self) -> set[str]:
        roles: set[str] = set()
        keys = self.doc.get("keys")
        if not isinstance(keys, list):
            return roles
        seen: dict[str, tuple[int, str | None]] = {}
        for i, entry in enumerate(keys):
            if not isinstance(entry, dict):
                continue
            for r in entry.get("roles") or ():
                if isinstance(r, str):
                    roles.add(r)
            text = entry.get("publicKey")
            if not isinstance(text, str):
                continue
            try:
                _pub, der = load_public_key_text(text)
            except KeyLoadError as exc:
                self.add(f"$.keys[{i}].publicKey", str(exc))
                continue
            kid = key_id(der)
            name = entry.get("name")
            if kid in seen and seen[kid][1] != name:
                self.add(
                    f"$.keys[{i}]",
                    f"key {kid} is also keys[{seen[kid][0]}] under another name "
                    "(one key, one identity)",
                )
            seen.setdefault(kid, (i, name if isinstance(name, str) else None))
        return roles

    def check_times(self) -> None:
        parsed: dict[str, datetime] = {}
        for member in ("notBefore", "notAfter"):
            value = self.doc.get(member)
            if isinstance(value, str):
                try:
                    when = parse_rfc3339(value)
                except ValueError as exc:
                    self.add(f"$.{member}", str(exc))
                    continue
                parsed[member] = when.astimezone(UTC)
        if len(parsed) == 2 and parsed["notBefore"] >= parsed["notAfter"]:
            self.add("$.notAfter", "notAfter must be later than notBefore")

    def check_anchors(self) -> None:
        anchors = self.doc.get("trustAnchors")
        if not isinstance(anchors, list):
            return
        for i, text in enumerate(anchors):
            if not isinstance(text, str):
                continue
            try:
                data = anchor_bytes(text)
                if data.startswith(b"-----BEGIN"):
                    blocks = pem_blocks(data)  # strict: trailing text is refused
                    if len(blocks) != 1:
                        self.add(
                            f"$.trustAnchors[{i}]",
                            f"holds {len(blocks)} certificates; give one each",
                        )
                    for label, der in blocks:
                        if label != "CERTIFICATE":
                            raise ValueError(f"a PEM block {label}, not a CERTIFICATE")
                        x509.load_der_x509_certificate(der)
                else:
                    x509.load_der_x509_certificate(data)
            except UNREADABLE_CERTIFICATE as exc:  # also Base64Error, UnicodeEncodeError
                self.add(f"$.trustAnchors[{i}]", f"not a PEM or base64 DER certificate ({exc})")

    def check_rule(self, at: str, rule: dict[str, Any], defined: set[str]) -> bool:
        effect = rule.get("effect")
        signers = rule.get("signers")
        has_signers = isinstance(signers, dict)
        if effect == "forbid" and "signers" in rule:
            self.add(
                f"{at}.signers",
                "forbid rules have no signers (a signer can always withhold a signature)",
            )
        if effect == "permit" and "signers" not in rule:
            self.add(
                at, "a permit rule must say who signs: signers: none, or roles/keys and threshold"
            )
        if isinstance(signers, dict):
            self.check_signers(f"{at}.signers", signers, defined)
        match = rule.get("match")
        if (
            isinstance(match, dict)
            and "types" in match
            and ("actions" in match or "kinds" in match)
        ):
            self.add(
                f"{at}.match",
                "a rule matches frames (actions, kinds) or structures (types), never both",
            )
        if isinstance(match, dict) and "types" in match and "encrypted" in match:
            self.add(
                f"{at}.match.encrypted",
                "encrypted is a fact of frames (docs/esp.md); structures (types) have none",
            )
        where = rule.get("where")
        if isinstance(where, list):
            for j, cond in enumerate(where):
                if isinstance(cond, dict):
                    self.check_condition(f"{at}.where[{j}]", cond)
        return has_signers and effect == "permit"

    def check_signers(self, at: str, req: dict[str, Any], defined: set[str]) -> None:
        roles = req.get("roles")
        keys = req.get("keys")
        if not roles and not keys:
            self.add(at, "name the roles or keys that may sign (an empty requirement is refused)")
        if isinstance(roles, list):
            for k, role in enumerate(roles):
                if isinstance(role, str) and role not in defined:
                    self.add(
                        f"{at}.roles[{k}]",
                        f"role {role!r} is not defined (no roles entry and no key holds it)",
                    )
        threshold = req.get("threshold", 1)
        if req.get("distinctRoles") is True and isinstance(threshold, int):
            n = len(roles) if isinstance(roles, list) else 0
            if n < threshold:
                self.add(
                    f"{at}.distinctRoles",
                    f"{threshold} signers with distinct roles need at least {threshold} roles, "
                    f"{n} listed",
                )

    def check_condition(self, at: str, cond: dict[str, Any]) -> None:
        path = cond.get("path")
        op = cond.get("op")
        if isinstance(path, str):
            try:
                parse_path(path)
            except ValueError as exc:
                self.add(f"{at}.path", str(exc))
        if "quantifier" in cond and isinstance(path, str) and "[*]" not in path:
            self.add(f"{at}.quantifier", "a quantifier needs a path with [*]")
        has_value = "value" in cond
        value = cond.get("value")
        if op in ("present", "absent"):
            if has_value:
                self.add(f"{at}.value", f"op {op} takes no value")
            return
        if not isinstance(op, str):
            return
        if not has_value:
            self.add(at, f"op {op} needs a value")
            return
        if op in ("in", "notIn"):
            if not isinstance(value, list) or not value:
                self.add(f"{at}.value", f"op {op} needs a non-empty list of values")
        elif op in ORDERING:
            if json_type(value) not in ("number", "string"):
                self.add(
                    f"{at}.value", f"op {op} compares numbers or strings, not a {json_type(value)}"
                )
        elif op == "matches":
            if not isinstance(value, str):
                self.add(f"{at}.value", "op matches needs an I-Regexp string")
            else:
                try:
                    compile_iregexp(value)
                except IRegexpError as exc:
                    self.add(f"{at}.value", f"not an I-Regexp (RFC 9485): {exc}")


def lint_policy_text(
    text: str,
    *,
    fmt: str | None = None,
    source: str | None = None,
    ocpp: Sequence[str] | None = None,
) -> tuple[Any, list[Problem]]:
    """Parse policy text (JSON or YAML) and check it; returns the document and every problem.

    ``fmt`` is ``"json"`` or ``"yaml"``; by default text starting with ``{`` is JSON. ``ocpp``
    names the OCPP versions in use: actions, kinds and ``where`` paths are then also checked
    against their official JSON schemas (:mod:`ocpp_e2e.policy.ocpp_schemas`).
    """
    return _lint_policy_text(text, fmt=fmt, source=source, ocpp=ocpp or ())


def _ocpp_problems(data: Any, ocpp: Sequence[str]) -> list[Problem]:
    if not ocpp:
        return []
    from .ocpp_schemas import ocpp_problems  # the schemas load on first use only

    return ocpp_problems(data, ocpp)


def _lint_policy_text(
    text: str, *, fmt: str | None, source: str | None, ocpp: Sequence[str]
) -> tuple[Any, list[Problem]]:
    if fmt is None:
        fmt = "json" if text.lstrip().startswith("{") else "yaml"
    if fmt == "json":
        from ..canonical import loads
        from ..errors import IJSONError

        try:
            data = loads(text)
        except IJSONError as exc:
            return None, [Problem(exc.where or "$", exc.reason, None, source)]
        found = check_document(data) + _ocpp_problems(data, ocpp)
        return data, [Problem(p.path, p.message, None, source) for p in found]
    doc, yaml_problems = load_yaml(text)
    problems = [Problem(p.path, p.message, p.line, source) for p in yaml_problems]
    if doc is None:
        return None, problems
    # A refused YAML node (alias, bad number) stands in as null; do not report it twice.
    refused = tuple(p.path for p in yaml_problems)
    problems.extend(
        Problem(p.path, p.message, doc.line_of(p.path), source)
        for p in check_document(doc.value) + _ocpp_problems(doc.value, ocpp)
        if not p.path.startswith(refused) or not refused
    )
    problems.sort(key=lambda p: p.line or 0)
    return doc.value, problems
