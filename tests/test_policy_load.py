"""Loading policies (SPEC §7): strict YAML 1.2, the shipped schema, semantic checks, every problem."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_policy_support import DATA, KEYS_EXAMPLE, forbid, permit, policy_doc

from ocpp_e2e.errors import PolicyError
from ocpp_e2e.policy import Policy, lint_policy_text, load_policy, loads_policy
from ocpp_e2e.policy._regexp import IRegexpError, compile_iregexp
from ocpp_e2e.policy._yaml import load_yaml

HEAD = """\
type: SignaturePolicy
id: yaml-test
version: 1
maxSignatureAge: PT5M
roles:
  csms-admin: {usage: csmsOperator}
rules:
  - id: reset
    effect: permit
    match: {actions: [Reset]}
    signers: {roles: [csms-admin]}
"""


def problems(text: str) -> list[str]:
    _doc, found = lint_policy_text(text, fmt="yaml")
    return [f"{p.line}:{p.path}: {p.message}" for p in found]


def doc_problems(doc: dict[str, Any]) -> list[str]:
    _doc, found = lint_policy_text(json.dumps(doc), fmt="json")
    return [f"{p.path}: {p.message}" for p in found]


# -- YAML traps


def test_yaml_policy_loads() -> None:
    assert loads_policy(HEAD, fmt="yaml").rules[0].id == "reset"


def test_yaml_duplicate_key_is_an_error_with_both_lines() -> None:
    assert problems(HEAD + "version: 2\n") == [
        "12:$.version: duplicate key 'version' (first on line 3)"
    ]


def test_yaml_anchor_and_alias_are_errors() -> None:
    text = (
        HEAD + "  - id: again\n    effect: permit\n    match: &m {actions: [Reset]}\n"
        "    signers: none\n  - id: third\n    effect: permit\n    match: *m\n    signers: none\n"
    )
    assert problems(text) == [
        "14:$.rules[1].match: anchor &m is not allowed in a policy",
        "18:$.rules[2].match: alias *m is not allowed in a policy",
    ]


def test_yaml_tags_are_errors() -> None:
    assert problems(HEAD.replace("version: 1", "version: !!int 1")) == [
        "3:$.version: tag tag:yaml.org,2002:int is not allowed in a policy"
    ]


def test_yaml_merge_key_is_an_error() -> None:
    text = HEAD.replace("  csms-admin: {usage: csmsOperator}", "  csms-admin: {<<: {usage: x}}")
    assert "6:$.roles.csms-admin['<<']: merge keys (<<) are not allowed in a policy" in problems(
        text
    )


def test_yaml_no_is_the_string_no() -> None:
    doc, found = load_yaml("country: NO\nflag: yes\nother: off\n")
    assert found == [] and doc is not None
    assert doc.value == {"country": "NO", "flag": "yes", "other": "off"}


def test_yaml_unquoted_timestamp_stays_a_string() -> None:
    text = HEAD.replace("version: 1", "version: 1\nnotBefore: 2026-01-01T00:00:00Z")
    policy = loads_policy(text, fmt="yaml")
    assert policy.document["notBefore"] == "2026-01-01T00:00:00Z"


def test_yaml_core_schema_true_and_null() -> None:
    doc, _ = load_yaml("a: true\nb: True\nc: ~\nd: null\ne: 'true'\n")
    assert doc is not None and doc.value == {
        "a": True,
        "b": True,
        "c": None,
        "d": None,
        "e": "true",
    }


def test_yaml_numbers_follow_the_core_schema() -> None:
    doc, _ = load_yaml("a: 4200\nb: 4.2e3\nc: 0x10\nd: 0o17\ne: 010\nf: 1_000\n")
    assert doc is not None and doc.value == {
        "a": 4200,
        "b": 4200.0,
        "c": 16,
        "d": 15,
        "e": 10,
        "f": "1_000",
    }


def test_yaml_inexact_number_is_an_error() -> None:
    _doc, found = load_yaml("a: 4199.99999999999999999\n")
    assert [p.message for p in found] == [
        "4199.99999999999999999 cannot be represented exactly; write 4200.0"
    ]


def test_yaml_infinity_is_an_error() -> None:
    _doc, found = load_yaml("a: .inf\n")
    assert [p.message for p in found] == [".inf is not a JSON number"]


def test_yaml_huge_integer_is_an_error() -> None:
    _doc, found = load_yaml("a: 9007199254740992\n")
    assert [p.message for p in found] == ["integer 9007199254740992 is beyond ±(2^53−1)"]


def test_yaml_1_1_directive_is_refused() -> None:
    _doc, found = load_yaml("%YAML 1.1\n---\na: 1\n")
    assert [p.message for p in found] == ["%YAML 1.1: policies are YAML 1.2"]


def test_yaml_two_documents_are_refused() -> None:
    _doc, found = load_yaml("a: 1\n---\nb: 2\n")
    assert [p.message for p in found] == ["expected one YAML document, found 2"]


def test_yaml_syntax_error_names_the_line() -> None:
    _doc, found = load_yaml("a: [1\n")
    assert found[0].line == 2 and found[0].message.startswith("not valid YAML")


# -- schema and semantics: every problem with its path


def test_unknown_members_are_errors_at_every_level() -> None:
    doc = policy_doc([{**permit("a", ["Reset"]), "sigers": "none"}], extra=1)
    doc["roles"]["csms-admin"]["usages"] = ["x"]
    assert doc_problems(doc) == [
        "$.extra: unknown member 'extra'",
        "$.roles.csms-admin.usages: unknown member 'usages'",
        "$.rules[0].sigers: unknown member 'sigers'",
    ]


def test_every_problem_is_listed_not_only_the_first() -> None:
    doc = policy_doc(
        [
            permit("Bad_Id", ["Reset"], {"roles": ["csms-admin"], "threshold": 0}),
            permit("b", ["Reset"], {"roles": []}),
        ]
    )
    assert doc_problems(doc) == [
        "$.rules[0].id: 'Bad_Id' is not an id of lowercase letters, digits and '-'",
        "$.rules[0].signers.threshold: threshold must be at least 1, not 0",
        "$.rules[1].signers.roles: must not be an empty list",
        "$.rules[1].signers: name the roles or keys that may sign (an empty requirement is refused)",
    ]


def test_yaml_problems_carry_line_numbers() -> None:
    text = HEAD.replace(
        "signers: {roles: [csms-admin]}", "signers: {roles: [csms-admin], threshold: 0}"
    )
    assert problems(text) == [
        "11:$.rules[0].signers.threshold: threshold must be at least 1, not 0"
    ]


def test_permit_default_needs_audit_mode() -> None:
    assert doc_problems(policy_doc([], default="permit")) == [
        "$.default: default: permit is allowed only with mode: audit"
    ]
    assert doc_problems(policy_doc([], default="permit", mode="audit")) == []


def test_max_signature_age_is_required_with_signers() -> None:
    doc = policy_doc([permit("a", ["Reset"], {"roles": ["csms-admin"]})], maxSignatureAge=None)
    assert doc_problems(doc) == [
        "$: maxSignatureAge is required when a rule has signers (e.g. PT5M)"
    ]


def test_max_signature_age_at_most_one_hour() -> None:
    assert doc_problems(policy_doc([], maxSignatureAge="PT61M")) == [
        "$.maxSignatureAge: PT61M is longer than PT1H"
    ]


def test_max_signature_age_must_be_a_duration() -> None:
    assert doc_problems(policy_doc([], maxSignatureAge="5 minutes")) == [
        "$.maxSignatureAge: '5 minutes' is not a duration of the form PTnHnMnS, e.g. PT5M"
    ]


def test_undefined_role_is_an_error() -> None:
    assert doc_problems(policy_doc([permit("a", ["Reset"], {"roles": ["csms-amdin"]})])) == [
        "$.rules[0].signers.roles[0]: role 'csms-amdin' is not defined (no roles entry and no key holds it)"
    ]


def test_forbid_rule_with_signers_is_an_error() -> None:
    assert doc_problems(policy_doc([forbid("f", ["Reset"], signers="none")])) == [
        "$.rules[0].signers: forbid rules have no signers (a signer can always withhold a signature)"
    ]


def test_permit_rule_without_signers_is_an_error() -> None:
    rule = {"id": "a", "effect": "permit", "match": {"actions": ["Reset"]}}
    assert doc_problems(policy_doc([rule])) == [
        "$.rules[0]: a permit rule must say who signs: signers: none, or roles/keys and threshold"
    ]


def test_duplicate_rule_ids_are_an_error() -> None:
    assert doc_problems(policy_doc([permit("a", ["Reset"]), permit("a", ["Heartbeat"])])) == [
        "$.rules[1].id: rule id 'a' is used by rules[0] too"
    ]


def test_distinct_roles_needs_enough_roles() -> None:
    signers = {"roles": ["csms-admin"], "threshold": 2, "distinctRoles": True}
    assert doc_problems(policy_doc([permit("a", ["Reset"], signers)])) == [
        "$.rules[0].signers.distinctRoles: 2 signers with distinct roles need at least 2 roles, 1 listed"
    ]


def test_condition_value_must_fit_the_op() -> None:
    where = [
        {"path": "a", "op": "gte", "value": True},
        {"path": "a", "op": "in", "value": "x"},
        {"path": "a", "op": "absent", "value": 1},
        {"path": "a", "op": "eq"},
        {"path": "a..b", "op": "present"},
        {"path": "a", "op": "present", "quantifier": "any"},
    ]
    assert doc_problems(policy_doc([permit("a", ["Reset"], where=where)])) == [
        "$.rules[0].where[0].value: op gte compares numbers or strings, not a boolean",
        "$.rules[0].where[1].value: op in needs a non-empty list of values",
        "$.rules[0].where[2].value: op absent takes no value",
        "$.rules[0].where[3]: op eq needs a value",
        "$.rules[0].where[4].path: a path is member names joined by '.', each optionally followed by [n] or [*]",
        "$.rules[0].where[5].quantifier: a quantifier needs a path with [*]",
    ]


def test_matches_needs_an_i_regexp() -> None:
    where = [{"path": "a", "op": "matches", "value": "\\d+"}]
    assert doc_problems(policy_doc([permit("a", ["Reset"], where=where)])) == [
        "$.rules[0].where[0].value: not an I-Regexp (RFC 9485): \\d is not an I-Regexp escape at position 1"
    ]


def test_rule_matching_frames_and_structures_is_an_error() -> None:
    rule = {
        "id": "a",
        "effect": "permit",
        "signers": "none",
        "match": {"actions": ["Reset"], "types": ["Tariff"]},
    }
    assert doc_problems(policy_doc([rule])) == [
        "$.rules[0].match: a rule matches frames (actions, kinds) or structures (types), never both"
    ]


def test_not_after_before_not_before_is_an_error() -> None:
    doc = policy_doc([], notBefore="2027-01-01T00:00:00Z", notAfter="2026-01-01T00:00:00Z")
    assert doc_problems(doc) == ["$.notAfter: notAfter must be later than notBefore"]


def test_bad_public_key_is_an_error() -> None:
    assert doc_problems(policy_doc([], keys=[{"publicKey": "AAAA", "name": "x"}]))[0].startswith(
        "$.keys[0].publicKey: not a usable SubjectPublicKeyInfo"
    )


def test_one_key_under_two_names_is_an_error() -> None:
    pem = (KEYS_EXAMPLE / "csms-operator.pub.pem").read_text()
    doc = policy_doc([], keys=[{"publicKey": pem, "name": "a"}, {"publicKey": pem, "name": "b"}])
    assert len(doc_problems(doc)) == 1 and "under another name" in doc_problems(doc)[0]


def test_identity_pattern_wildcard_only_at_the_end() -> None:
    doc = policy_doc([])
    doc["roles"]["grid-operator"]["identities"] = ["dso-*-x"]
    assert doc_problems(doc) == [
        "$.roles.grid-operator.identities[0]: only a trailing '*' is a wildcard in identity patterns"
    ]


def test_bad_trust_anchor_is_an_error() -> None:
    assert doc_problems(policy_doc([], trustAnchors=["AAAA"]))[0].startswith(
        "$.trustAnchors[0]: not a PEM or base64 DER certificate"
    )


def test_from_dict_raises_with_every_problem() -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_dict(policy_doc([permit("a", ["Reset"], {"roles": ["nope"]})], extra=1))
    assert info.value.problems == (
        "$.extra: unknown member 'extra'",
        "$.rules[0].signers.roles[0]: role 'nope' is not defined (no roles entry and no key holds it)",
    )


def test_load_policy_names_the_file_and_line(tmp_path: Any) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + "version: 2\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.problems == (
        f"{path}:12: $.version: duplicate key 'version' (first on line 3)",
    )


def test_json_policy_with_duplicate_members_is_refused() -> None:
    _doc, found = lint_policy_text('{"type": "SignaturePolicy", "type": "x"}', fmt="json")
    assert len(found) == 1 and "duplicate" in found[0].message


def test_to_dict_returns_the_document_as_loaded() -> None:
    doc = policy_doc([permit("a", ["Reset"])])
    assert Policy.from_dict(doc).to_dict() == doc


def test_rule_to_dict_round_trips() -> None:
    rule = permit(
        "a",
        ["Reset"],
        {"roles": ["csms-admin"], "threshold": 1},
        where=[{"path": "a[*]", "op": "gte", "value": 1, "quantifier": "any"}],
    )
    assert Policy.from_dict(policy_doc([rule])).rules[0].to_dict() == rule


def test_shipped_invalid_policy_lists_every_problem() -> None:
    _doc, found = lint_policy_text((DATA / "broken.yaml").read_text(), fmt="yaml")
    assert [(p.line, p.path) for p in found] == [
        (7, "$.default"),
        (9, "$.roles.admin.usage"),
        (12, "$.rules[0].signers.threshold"),
        (14, "$.rules[1].effect"),
    ]


# -- I-Regexp


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("a^b$", "a^b$", True),
        ("[a-c]+", "abc", True),
        (".", "\n", False),
        ("\\p{Lu}\\p{Ll}*", "Ölig", True),
        ("[\\p{Nd}-]+", "12-3", True),
        ("\\P{L}", "a", False),
        ("(ab|cd){2}", "abcd", True),
        ("x{2,}", "xxx", True),
        ("[^a]", "b", True),
    ],
)
def test_i_regexp_translation(pattern: str, text: str, expected: bool) -> None:
    assert (compile_iregexp(pattern).fullmatch(text) is not None) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("\\d", "\\d is not an I-Regexp escape at position 1"),
        ("(?:a)", "quantifier '?' without anything to repeat at position 1"),
        ("a{2,1}", "range quantifier {2,1} has its bounds reversed at position 1"),
        (
            "(a+)+",
            "a repeated group may not contain * + or {n,} (catastrophic backtracking) at position 5",
        ),
        ("[a", "unclosed character class at position 2"),
        ("a)", "unbalanced ')' at position 1"),
        ("\\p{Xx}", "\\p{..} takes a Unicode general category such as L, Lu or Nd at position 1"),
        ("a{1001}", "range quantifiers are limited to 1000 at position 1"),
    ],
)
def test_non_i_regexp_is_refused(pattern: str, message: str) -> None:
    with pytest.raises(IRegexpError) as info:
        compile_iregexp(pattern)
    assert str(info.value) == message
