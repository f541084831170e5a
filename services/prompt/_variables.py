"""Prompt variables: checking their declarations, and the values a render gives them.

A declaration has a JSON type, `required`, an optional default and validation rules; values
arrive as `google.protobuf.Value`s and leave as plain Python values for the template. Every
problem is a FieldViolation naming the variable (`variables.code`), so a missing or ill-typed
variable is INVALID_ARGUMENT that says which one. Patterns are RE2 (linear time), because the
values matched against them come from whoever calls RenderPrompt.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import re2
from google.protobuf import struct_pb2

from coder.prompt.v1 import prompt_pb2
from services.kit import FieldViolation

_TYPE_NAMES: dict[int, str] = {
    prompt_pb2.VARIABLE_TYPE_STRING: "a string",
    prompt_pb2.VARIABLE_TYPE_INTEGER: "a whole number",
    prompt_pb2.VARIABLE_TYPE_NUMBER: "a number",
    prompt_pb2.VARIABLE_TYPE_BOOLEAN: "true or false",
    prompt_pb2.VARIABLE_TYPE_LIST: "a list",
    prompt_pb2.VARIABLE_TYPE_OBJECT: "an object",
}
_SIZED = (prompt_pb2.VARIABLE_TYPE_STRING, prompt_pb2.VARIABLE_TYPE_LIST)
_NUMERIC = (prompt_pb2.VARIABLE_TYPE_INTEGER, prompt_pb2.VARIABLE_TYPE_NUMBER)


def python_value(value: struct_pb2.Value) -> Any:
    """A protobuf Value as plain Python (None, bool, float, str, list, dict)."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "number_value":
        return value.number_value
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "list_value":
        return [python_value(item) for item in value.list_value.values]
    return {key: python_value(item) for key, item in value.struct_value.fields.items()}


@functools.lru_cache(maxsize=1024)
def _pattern(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _pattern_error(pattern: str) -> str | None:
    try:
        _pattern(pattern)
    except re2.error as error:
        detail = error.args[0] if error.args else error
        text = detail.decode() if isinstance(detail, bytes) else str(detail)
        return f"not an RE2 regular expression: {text}"
    return None


def _typed(kind: int, value: Any) -> tuple[Any, str | None]:
    """The value as the template sees it (integers as int), or why it is not of the type."""
    wanted = _TYPE_NAMES.get(kind, "a value")
    if kind == prompt_pb2.VARIABLE_TYPE_STRING and isinstance(value, str):
        return value, None
    if kind == prompt_pb2.VARIABLE_TYPE_BOOLEAN and isinstance(value, bool):
        return value, None
    if kind in _NUMERIC and isinstance(value, float) and math.isfinite(value):
        if kind == prompt_pb2.VARIABLE_TYPE_NUMBER:
            return value, None
        if value.is_integer():
            return int(value), None
    if kind == prompt_pb2.VARIABLE_TYPE_LIST and isinstance(value, list):
        return value, None
    if kind == prompt_pb2.VARIABLE_TYPE_OBJECT and isinstance(value, dict):
        return value, None
    return None, f"must be {wanted}"


def _rule_violations(variable: prompt_pb2.Variable, value: Any) -> list[str]:
    rules = variable.validation
    problems: list[str] = []
    if rules.allowed_values and value not in [python_value(v) for v in rules.allowed_values]:
        problems.append("must be one of the allowed values")
    if variable.type in _SIZED:
        size = len(value)
        unit = "characters" if variable.type == prompt_pb2.VARIABLE_TYPE_STRING else "items"
        if rules.HasField("min_length") and size < rules.min_length:
            problems.append(f"must have at least {rules.min_length} {unit}")
        if rules.HasField("max_length") and size > rules.max_length:
            problems.append(f"must have at most {rules.max_length} {unit}")
    if variable.type in _NUMERIC:
        if rules.HasField("minimum") and value < rules.minimum:
            problems.append(f"must be at least {rules.minimum:g}")
        if rules.HasField("maximum") and value > rules.maximum:
            problems.append(f"must be at most {rules.maximum:g}")
    string = variable.type == prompt_pb2.VARIABLE_TYPE_STRING
    if rules.pattern and string and _pattern(rules.pattern).fullmatch(value) is None:
        problems.append(f"must match {rules.pattern}")
    return problems


def value_problems(variable: prompt_pb2.Variable, raw: Any) -> tuple[Any, list[str]]:
    """The typed value and every rule it breaks (empty when it is acceptable)."""
    value, type_problem = _typed(variable.type, raw)
    if type_problem is not None:
        return None, [type_problem]
    return value, _rule_violations(variable, value)


def declaration_violations(
    variables: Sequence[prompt_pb2.Variable], field: str
) -> list[FieldViolation]:
    """What is wrong with a version's variable declarations (`field` is their path, such as
    `version.variables`): repeated names, rules that do not fit the type, minimums above
    maximums, bad patterns, defaults or allowed values that break the declaration."""
    violations: list[FieldViolation] = []
    seen: set[str] = set()
    for index, variable in enumerate(variables):
        path = f"{field}[{index}]"
        if variable.name in seen:
            violations.append(FieldViolation(f"{path}.name", f"{variable.name} is declared twice"))
        seen.add(variable.name)
        violations.extend(_rule_fit(variable, f"{path}.validation"))
        rules = variable.validation
        for position, allowed in enumerate(rules.allowed_values):
            _, problem = _typed(variable.type, python_value(allowed))
            if problem is not None:
                violations.append(
                    FieldViolation(f"{path}.validation.allowed_values[{position}]", problem)
                )
        if variable.HasField("default_value") and not violations:
            _, problems = value_problems(variable, python_value(variable.default_value))
            violations.extend(FieldViolation(f"{path}.default_value", p) for p in problems)
    return violations


def _rule_fit(variable: prompt_pb2.Variable, path: str) -> list[FieldViolation]:
    rules = variable.validation
    violations = []
    if rules.pattern:
        if variable.type != prompt_pb2.VARIABLE_TYPE_STRING:
            violations.append(FieldViolation(f"{path}.pattern", "applies to strings only"))
        elif (problem := _pattern_error(rules.pattern)) is not None:
            violations.append(FieldViolation(f"{path}.pattern", problem))
    if (rules.HasField("min_length") or rules.HasField("max_length")) and (
        variable.type not in _SIZED
    ):
        violations.append(FieldViolation(f"{path}.min_length", "applies to strings and lists"))
    if (rules.HasField("minimum") or rules.HasField("maximum")) and variable.type not in _NUMERIC:
        violations.append(FieldViolation(f"{path}.minimum", "applies to numbers only"))
    both_lengths = rules.HasField("min_length") and rules.HasField("max_length")
    if both_lengths and rules.min_length > rules.max_length:
        violations.append(FieldViolation(f"{path}.min_length", "exceeds max_length"))
    if rules.HasField("minimum") and rules.HasField("maximum") and rules.minimum > rules.maximum:
        violations.append(FieldViolation(f"{path}.minimum", "exceeds maximum"))
    for name in ("minimum", "maximum"):
        if rules.HasField(name) and not math.isfinite(getattr(rules, name)):
            violations.append(FieldViolation(f"{path}.{name}", "must be a finite number"))
    return violations


def resolve_values(
    declared: Iterable[prompt_pb2.Variable],
    given: Mapping[str, struct_pb2.Value],
    field: str = "variables",
) -> tuple[dict[str, Any], list[FieldViolation]]:
    """The values a render's templates see: given ones checked against their declarations,
    defaults for the rest; a variable neither given nor defaulted is left out (a template can
    test it with `is defined`). Violations name each missing required variable, each value
    that breaks its declaration, and each given name no declaration knows."""
    values: dict[str, Any] = {}
    violations: list[FieldViolation] = []
    known: set[str] = set()
    for variable in declared:
        if variable.name in known:
            continue  # the including prompt's declaration wins over an included one's
        known.add(variable.name)
        path = f"{field}.{variable.name}"
        raw = python_value(given[variable.name]) if variable.name in given else None
        if raw is None:
            if variable.HasField("default_value"):
                raw = python_value(variable.default_value)
            elif variable.required:
                violations.append(FieldViolation(path, f"{variable.name} is required"))
                continue
            else:
                continue
        value, problems = value_problems(variable, raw)
        if problems:
            violations.extend(FieldViolation(path, f"{variable.name} {p}") for p in problems)
        else:
            values[variable.name] = value
    for name in sorted(set(given) - known):
        violations.append(FieldViolation(f"{field}.{name}", "the prompt declares no such variable"))
    return values, violations
