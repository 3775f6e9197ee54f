"""`policy lint` knows OCPP: actions, kinds and `where` paths against the official JSON schemas.

The `ocpp` package ships the official OCPP JSON schemas of 1.6, 2.0.1 and 2.1 (the OCA's files).
A rule's `match.actions` must name actions of the OCPP versions in use, and every `where` path must
be one that at least one schema of the actions and kinds the rule matches allows (the signing
payload, SPEC §3: the payload without its signatures). A typo is an error naming the closest valid
spelling: a forbid rule on ``chargingSchedulePeriods`` would otherwise match nothing, silently.

>>> problems = ocpp_problems({"rules": [{"id": "r", "effect": "forbid",
...     "match": {"actions": ["SetChargingProfile"], "kinds": ["request"]},
...     "where": [{"path": "chargingProfile.chargingSchedule[*].chargingSchedulePeriods[*].limit",
...                "op": "gt", "value": 11000}]}]}, ("2.0.1",))
>>> print(problems[0].message)  # doctest: +NORMALIZE_WHITESPACE
path chargingProfile.chargingSchedule[*].chargingSchedulePeriods[*].limit: no member
chargingSchedulePeriods in chargingProfile.chargingSchedule[*] of SetChargingProfile request
(OCPP 2.0.1); did you mean chargingSchedulePeriod?
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

from ..errors import InputError
from ..versions import VERSIONS, profile
from ._conditions import STAR, parse_path, render_path
from .lint import Problem

__all__ = [
    "PACKAGES",
    "actions",
    "ocpp_problems",
    "path_problem",
    "schemas",
]

#: The OCPP versions whose schemas the `ocpp` package ships, and its subpackage for each.
PACKAGES: Mapping[str, str] = {v: p.schema_package for v, p in VERSIONS.items()}
_KINDS = ("request", "send", "response", "error", "resultError")
# The signed object of an error (SPEC §3): errorDetails is free-form.
_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "errorCode": {"type": "string"},
        "errorDescription": {"type": "string"},
        "errorDetails": {"type": "object"},
    },
    "additionalProperties": False,
}


@cache
def schemas(version: str) -> Mapping[tuple[str, str], Mapping[str, Any]]:
    """``{(action, kind): schema}`` of one OCPP version, from the `ocpp` package's files.

    Kinds: ``request`` and ``response`` (and, for OCPP 2.1, ``send`` for the SEND messages).

    >>> schemas("1.6")[("Reset", "request")]["properties"]["type"]["enum"]
    ['Hard', 'Soft']
    """
    row = VERSIONS[version]
    folder = resources.files(row.schema_package) / "schemas"
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    for entry in folder.iterdir():
        name = entry.name
        if not name.endswith(".json"):
            continue
        stem = name[: -len(".json")]
        schema = json.loads(entry.read_text(encoding="utf-8"))
        if stem.endswith("Response"):
            out[(stem[: -len("Response")], "response")] = schema
        elif not row.request_suffix:
            out[(stem, "request")] = schema
        elif stem.endswith(row.request_suffix):
            out[(stem[: -len(row.request_suffix)], "request")] = schema
        else:  # OCPP 2.1 SEND messages (NotifyPeriodicEventStream) have no suffix
            out[(stem, "send")] = schema
    return out


def actions(versions: Iterable[str]) -> set[str]:
    """Every action of these OCPP versions."""
    return {action for v in versions for action, _kind in schemas(v)}


def _resolve(node: Any, root: Mapping[str, Any]) -> Any:
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 32:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return {}
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = target
        seen += 1
    return node


def path_problem(schema: Mapping[str, Any], path: str) -> str | None:
    """Why ``path`` (a `where` path) cannot exist in objects valid under ``schema``, or None.

    >>> path_problem(schemas("2.0.1")[("Reset", "request")], "typ")
    'no member typ; did you mean type?'
    """
    found = _path_problem(schema, path)
    return None if found is None else found[0] + found[1]


def _path_problem(schema: Mapping[str, Any], path: str) -> tuple[str, str] | None:
    """(problem, hint) — the hint names the closest valid spelling, or is empty."""
    steps = parse_path(path)
    node = _resolve(schema, schema)
    for i, step in enumerate(steps):
        node = _resolve(node, schema)
        if not isinstance(node, dict):
            return None
        where = f" in {render_path(steps[:i])}" if i else ""
        if isinstance(step, str):
            props = node.get("properties")
            if not isinstance(props, dict):
                if node.get("type") in (None, "object") and node.get("additionalProperties", True):
                    return None  # free-form (errorDetails, customData's vendor members)
                shown = node.get("type")
                return f"{render_path(steps[:i])} is not an object (it is {shown})", ""
            if step not in props:
                if node.get("additionalProperties") is not False and "customData" not in props:
                    return None
                close = difflib.get_close_matches(step, list(props), n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]}?" if close else ""
                return f"no member {step}{where}", hint
            node = props[step]
        else:
            if node.get("type") != "array":
                shown = node.get("type") or "not an array"
                return f"{render_path(steps[:i])} is not an array (it is {shown})", ""
            most = node.get("maxItems")
            if (
                step is not STAR
                and isinstance(most, int)
                and isinstance(step, int)
                and step >= most
            ):
                return f"{render_path(steps[:i])} has at most {most} items", ""
            node = node.get("items", {})
    return None


def _targets(
    versions: Sequence[str], match: Mapping[str, Any]
) -> list[tuple[str, str, str, Mapping[str, Any]]]:
    """(version, action, kind, schema) of every message a rule's `match` can apply to."""
    wanted_actions = match.get("actions")
    kinds = match.get("kinds") or _KINDS
    out: list[tuple[str, str, str, Mapping[str, Any]]] = []
    for version in versions:
        table = schemas(version)
        names = wanted_actions if isinstance(wanted_actions, list) else sorted(actions([version]))
        for action in names:
            for kind in kinds:
                if kind in ("error", "resultError"):
                    if (action, "request") in table:
                        out.append((version, action, kind, _ERROR_SCHEMA))
                    continue
                schema = table.get((action, kind))
                if schema is not None:
                    out.append((version, action, kind, schema))
    return out


def ocpp_problems(doc: Any, versions: Sequence[str]) -> list[Problem]:
    """Problems of a policy document against the OCPP versions in use: unknown actions, kinds
    that do not exist in them, and `where` paths that no matching schema allows."""
    try:
        for version in versions:
            profile(version)
    except InputError as exc:
        return [Problem("$", str(exc))]
    rules = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(rules, list):
        return []
    known = actions(versions)
    shown = ", ".join(versions)
    problems: list[Problem] = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or not isinstance(rule.get("match", {}), dict):
            continue
        match = rule.get("match", {})
        if "types" in match:
            continue  # SPEC §6 structures: their readers check them
        listed = match.get("actions")
        bad_action = False
        if isinstance(listed, list):
            for k, action in enumerate(listed):
                if isinstance(action, str) and action not in known:
                    bad_action = True
                    close = difflib.get_close_matches(action, sorted(known), n=1, cutoff=0.6)
                    hint = f"; did you mean {close[0]}?" if close else ""
                    problems.append(
                        Problem(
                            f"$.rules[{i}].match.actions[{k}]",
                            f"{action} is not an action of OCPP {shown}{hint}",
                        )
                    )
        kinds = match.get("kinds")
        if isinstance(kinds, list) and "2.1" not in versions:
            for k, kind in enumerate(kinds):
                if kind in ("send", "resultError"):
                    problems.append(
                        Problem(
                            f"$.rules[{i}].match.kinds[{k}]",
                            f"kind {kind} exists only in OCPP 2.1 (in use: {shown})",
                        )
                    )
        where = rule.get("where")
        if bad_action or not isinstance(where, list):
            continue
        targets = _targets(versions, match)
        for j, cond in enumerate(where):
            path = cond.get("path") if isinstance(cond, dict) else None
            if not isinstance(path, str) or not targets:
                continue
            try:
                parse_path(path)
            except ValueError:
                continue  # the document check reports the form
            first: str | None = None
            for version, action, kind, schema in targets:
                found = _path_problem(schema, path)
                if found is None:
                    break
                if first is None:
                    first = f"{found[0]} of {action} {kind} (OCPP {version}){found[1]}"
            else:
                many = len({(a, k) for _v, a, k, _s in targets}) > 1
                suffix = " (nor in any other message the rule matches)" if many else ""
                problems.append(
                    Problem(f"$.rules[{i}].where[{j}].path", f"path {path}: {first}{suffix}")
                )
    return problems
