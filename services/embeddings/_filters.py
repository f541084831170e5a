"""Search filters: the proto's Filter checked and turned into one form that the in-process
index evaluates and the Cosmos DB leg turns into query conditions.

Metadata values are strings, numbers, booleans or lists of those. `equals` matches a value
equal to it or a list containing it; `in` matches one of its values (a list containing one);
a range compares numbers with numbers and strings with strings, other values failing it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from google.protobuf import struct_pb2

from coder.embeddings.v1 import resources_pb2
from services.kit import FieldViolation, InvalidArgument
from services.kit.store import Condition, F

Scalar: TypeAlias = str | float | bool
Key: TypeAlias = tuple[str, Scalar]
"""A metadata value with its kind, so that `1`, `True` and `"1"` stay apart."""

MAX_METADATA_KEYS = 32
MAX_LIST_ITEMS = 64
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def key_of(value: Scalar) -> Key:
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    return ("s", value)


def keys_of(value: Any) -> list[Key]:
    """The keys a stored metadata value is found under (each item of a list)."""
    if isinstance(value, list):
        return [key_of(item) for item in value]
    return [key_of(value)]


def _scalar(value: struct_pb2.Value) -> Scalar | None:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    return None


def metadata_violations(metadata: struct_pb2.Struct, path: str) -> list[FieldViolation]:
    """What is wrong with a document's metadata (too many keys, bad names, nested values)."""
    violations: list[FieldViolation] = []
    if len(metadata.fields) > MAX_METADATA_KEYS:
        violations.append(FieldViolation(path, f"at most {MAX_METADATA_KEYS} keys"))
    for name, value in metadata.fields.items():
        where = f"{path}.{name}"
        if not _KEY.match(name):
            violations.append(FieldViolation(where, "a key is a letter or _ then up to 63 more"))
        elif value.WhichOneof("kind") == "list_value":
            items = value.list_value.values
            if len(items) > MAX_LIST_ITEMS or any(_scalar(item) is None for item in items):
                violations.append(
                    FieldViolation(where, f"a list holds up to {MAX_LIST_ITEMS} scalar values")
                )
        elif _scalar(value) is None:
            violations.append(FieldViolation(where, "a string, number, boolean or list of them"))
    return violations


@dataclass(frozen=True, slots=True)
class Check:
    """One metadata condition."""

    field: str
    op: Literal["equals", "in", "range"]
    keys: tuple[Key, ...] = ()
    bounds: tuple[tuple[Literal["gte", "gt", "lte", "lt"], Scalar], ...] = ()

    def passes(self, value: Any) -> bool:
        if value is None:
            return False
        if self.op != "range":
            wanted = set(self.keys)
            return any(key in wanted for key in keys_of(value))
        candidates = value if isinstance(value, list) else [value]
        return any(self._in_range(item) for item in candidates)

    def _in_range(self, item: Scalar) -> bool:
        for op, bound in self.bounds:
            numeric = isinstance(bound, float)
            if isinstance(item, bool) or isinstance(item, int | float) != numeric:
                return False
            if not numeric and not isinstance(item, str):
                return False
            if op == "gte" and not item >= bound:  # type: ignore[operator]
                return False
            if op == "gt" and not item > bound:  # type: ignore[operator]
                return False
            if op == "lte" and not item <= bound:  # type: ignore[operator]
                return False
            if op == "lt" and not item < bound:  # type: ignore[operator]
                return False
        return True


@dataclass(frozen=True, slots=True)
class DocFilter:
    """A search filter: every test, every tag of `tags_all`, one of `tags_any`, and one of
    `document_ids` when given."""

    tests: tuple[Check, ...] = ()
    tags_all: frozenset[str] = frozenset()
    tags_any: frozenset[str] = frozenset()
    document_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def empty(self) -> bool:
        return not (self.tests or self.tags_all or self.tags_any or self.document_ids)

    def matches(self, document_id: str, metadata: Mapping[str, Any], tags: Iterable[str]) -> bool:
        if self.document_ids and document_id not in self.document_ids:
            return False
        held = set(tags)
        if not self.tags_all <= held:
            return False
        if self.tags_any and not self.tags_any & held:
            return False
        return all(test.passes(metadata.get(test.field)) for test in self.tests)

    def conditions(self) -> list[Condition]:
        """The filter as store conditions on chunk documents (their `meta`, `tags` and
        `documentId` copies), for the Cosmos DB leg. InvalidArgument for what the store's
        conjunctive queries cannot say: a list-valued `equals`/`in`, several `tags_any`."""
        found: list[Condition] = []
        if self.document_ids:
            found.append(F("documentId").in_(sorted(self.document_ids)))
        found.extend(F("tags").contains(tag) for tag in sorted(self.tags_all))
        if len(self.tags_any) > 1:
            raise InvalidArgument(
                "distributed search takes at most one tags_any tag",
                reason="FILTER_UNSUPPORTED",
                violations=[FieldViolation("filter.tags_any", "at most one in distributed mode")],
            )
        found.extend(F("tags").contains(tag) for tag in self.tags_any)
        for test in self.tests:
            path = F(f"meta.{test.field}")
            if test.op == "equals":
                found.append(path == test.keys[0][1])
            elif test.op == "in":
                found.append(path.in_([value for _, value in test.keys]))
            else:
                for op, bound in test.bounds:
                    found.append(
                        {"gte": path >= bound, "gt": path > bound, "lte": path <= bound}.get(
                            op, path < bound
                        )
                    )
        return found


def from_proto(filter: resources_pb2.Filter) -> DocFilter:
    """The filter a request carries, checked (InvalidArgument with the bad fields)."""
    violations: list[FieldViolation] = []
    tests: list[Check] = []
    for position, condition in enumerate(filter.conditions):
        where = f"filter.conditions[{position}]"
        test = condition.WhichOneof("test")
        if test == "equals":
            value = _scalar(condition.equals)
            if value is None:
                violations.append(FieldViolation(f"{where}.equals", "a string, number or boolean"))
                continue
            tests.append(Check(condition.field, "equals", (key_of(value),)))
        elif test == "in":
            # `in` is a Python keyword: the generated field is reached by name.
            values = [_scalar(item) for item in getattr(condition, "in").values]
            if not values or any(v is None for v in values) or len(values) > 1000:
                violations.append(
                    FieldViolation(f"{where}.in", "1 to 1000 strings, numbers or booleans")
                )
                continue
            keys = tuple(key_of(v) for v in values if v is not None)
            tests.append(Check(condition.field, "in", keys))
        else:
            bounds = _bounds(condition.range, f"{where}.range", violations)
            if bounds:
                tests.append(Check(condition.field, "range", bounds=tuple(bounds)))
    if violations:
        raise InvalidArgument("the filter is not valid", violations=violations)
    return DocFilter(
        tuple(tests),
        frozenset(filter.tags_all),
        frozenset(filter.tags_any),
        frozenset(filter.document_ids),
    )


def _bounds(
    range_: resources_pb2.Range, where: str, violations: list[FieldViolation]
) -> Sequence[tuple[Literal["gte", "gt", "lte", "lt"], Scalar]]:
    bounds: list[tuple[Literal["gte", "gt", "lte", "lt"], Scalar]] = []
    kinds: set[type] = set()
    for name in ("gte", "gt", "lte", "lt"):
        if not range_.HasField(name):
            continue
        value = _scalar(getattr(range_, name))
        if value is None or isinstance(value, bool):
            violations.append(FieldViolation(f"{where}.{name}", "a number or a string"))
            continue
        kinds.add(type(value))
        bounds.append((name, value))
    if not bounds and not any(v.field.startswith(where) for v in violations):
        violations.append(FieldViolation(where, "at least one bound"))
    if len(kinds) > 1:
        violations.append(FieldViolation(where, "bounds of one kind: numbers or strings"))
    return bounds
