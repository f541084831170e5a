"""A run's variables and the small language of definitions over them: dotted paths
(`input.ticket.id`, `steps.fetch.items`, `item`, `event.task.status`), `${path}` strings
replaced by the value at the path, and a step's condition.

Pure functions over JSON values, so the interpreter workflow uses them in Temporal's sandbox
and replays them to the same result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\}$")
"""A string that is a whole reference: `${steps.fetch.id}`."""

MISSING = object()
"""What `lookup` gives for a path that names nothing."""


def lookup(variables: Mapping[str, Any], path: str) -> Any:
    """The value at the dotted `path`; a list is indexed by a number part. MISSING when any
    part is absent."""
    value: Any = variables
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def substitute(template: Any, variables: Mapping[str, Any]) -> Any:
    """`template` with every `${path}` string replaced by its value (null when missing)."""
    if isinstance(template, str):
        match = REFERENCE.match(template)
        if match is None:
            return template
        value = lookup(variables, match.group(1))
        return None if value is MISSING else value
    if isinstance(template, list):
        return [substitute(item, variables) for item in template]
    if isinstance(template, Mapping):
        return {key: substitute(item, variables) for key, item in template.items()}
    return template


def holds(condition: Mapping[str, Any] | None, variables: Mapping[str, Any]) -> bool:
    """Whether a step's `when` (proto3 JSON of `Condition`) holds; no condition always does."""
    if not condition:
        return True
    value = lookup(variables, condition["variable"])
    expected = condition.get("value")
    operator = condition["operator"]
    present = value is not MISSING and value is not None
    if operator == "OPERATOR_EXISTS":
        return present
    if operator == "OPERATOR_NOT_EXISTS":
        return not present
    if operator == "OPERATOR_EQUALS":
        return present and _same(value, expected)
    if operator == "OPERATOR_NOT_EQUALS":
        return not (present and _same(value, expected))
    if operator == "OPERATOR_CONTAINS":
        if isinstance(value, list):
            return any(_same(item, expected) for item in value)
        return isinstance(value, str) and isinstance(expected, str) and expected in value
    raise ValueError(f"unknown operator {operator}")


def _same(value: Any, expected: Any) -> bool:
    # JSON numbers arrive as floats through Struct; 3 and 3.0 are the same number.
    numbers = (value, expected)
    if all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
        return float(value) == float(expected)
    return bool(value == expected)
