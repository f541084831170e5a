"""Field paths, sort rules and condition checks shared by both backends.

Queries address fields with dotted paths (`status`, `a.b`); container specs and patches use
JSON pointers (`/status`, `/a/b`). Both backends embed field names in query text (SQLite
expression indexes only match literal paths), so a field name is limited to identifier
characters and anything else is refused rather than escaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from services.kit._errors import FieldViolation, StoreRefused

from ._api import Condition, ContainerSpec, Order

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTAINER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")

ID_PATH = "id"


@lru_cache(maxsize=1024)
def field_segments(path: str) -> tuple[str, ...]:
    """The segments of a dotted path; `InvalidArgument` for anything but identifiers."""
    segments = tuple(path.split("."))
    if not all(_IDENTIFIER.fullmatch(segment) for segment in segments):
        raise StoreRefused(
            f"unsupported field path {path!r}",
            violations=[FieldViolation("path", "use dotted identifiers such as 'a.b'")],
        )
    return segments


def pointer_to_dotted(pointer: str) -> str:
    """`/a/b` → `a.b`, validated."""
    if not pointer.startswith("/"):
        raise ValueError(f"a container path must start with '/': {pointer!r}")
    dotted = pointer[1:].replace("/", ".")
    field_segments(dotted)
    return dotted


def dotted_to_pointer(path: str) -> str:
    return "/" + "/".join(field_segments(path))


def check_container_name(name: str) -> str:
    if not _CONTAINER_NAME.fullmatch(name):
        raise ValueError(f"container name {name!r} must match {_CONTAINER_NAME.pattern}")
    return name


def _inverse(orders: tuple[Order, ...]) -> tuple[Order, ...]:
    return tuple(Order(order.path, not order.descending) for order in orders)


@lru_cache(maxsize=256)
def declared_sorts(spec: ContainerSpec) -> tuple[tuple[Order, ...], ...]:
    """Every sort-key sequence the container serves, without the `id` tiebreak.

    A declared index path sorts in either direction; a declared multi-field sort also serves
    its exact inverse (Cosmos DB reads a composite index both ways).
    """
    sorts: list[tuple[Order, ...]] = []
    for pointer in spec.indexes:
        path = pointer_to_dotted(pointer)
        sorts += [(Order(path),), (Order(path, True),)]
    for keys in spec.sorts:
        for orders in (keys, _inverse(keys)):
            if orders not in sorts:
                sorts.append(orders)
    return tuple(sorts)


def composite_orders(spec: ContainerSpec) -> list[tuple[Order, ...]]:
    """The full ORDER BY sequences (keys + id tiebreak) a Cosmos container must index."""
    return [(*keys, Order(ID_PATH, keys[-1].descending)) for keys in declared_sorts(spec)]


@lru_cache(maxsize=1024)
def resolve_ordering(spec: ContainerSpec, ordering: tuple[Order, ...]) -> tuple[Order, ...]:
    """The ORDER BY a query runs with: its sort keys, then `id` in the last key's direction.

    `InvalidArgument` when the keys are not declared on the container (see `ContainerSpec`).
    Cached: every list query of a service resolves one of a few orderings.
    """
    keys = ordering
    explicit_id = None
    if keys and keys[-1].path == ID_PATH:
        explicit_id, keys = keys[-1], keys[:-1]
    if not keys:
        return (explicit_id or Order(ID_PATH),)
    for order in keys:
        field_segments(order.path)
    if keys not in declared_sorts(spec):
        described = ", ".join(f"{o.path} {'desc' if o.descending else 'asc'}" for o in keys)
        raise StoreRefused(
            f"container {spec.name!r} cannot order by ({described}): declare the path in "
            "ContainerSpec.indexes, or the combination in ContainerSpec.sorts",
            violations=[FieldViolation("order_by", "ordering is not declared")],
        )
    tiebreak = Order(ID_PATH, keys[-1].descending)
    if explicit_id is not None and explicit_id != tiebreak:
        raise StoreRefused(
            "the id tiebreak must follow the direction of the last sort key",
            violations=[FieldViolation("order_by", "id direction differs from last key")],
        )
    return (*keys, tiebreak)


_OPS = frozenset(
    {"eq", "ne", "lt", "le", "gt", "ge", "in", "array_contains", "starts_with", "defined"}
)


def _comparable(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | dict | list | tuple)


def check_condition(condition: Condition) -> None:
    """Refuse a condition either backend would not evaluate the Cosmos DB way."""
    field_segments(condition.path)
    op, value = condition.op, condition.value
    if op not in _OPS:
        raise StoreRefused(f"unknown query operator {op!r}")
    if op in ("lt", "le", "gt", "ge"):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise StoreRefused(f"{op} on {condition.path!r} compares numbers or strings")
    elif op == "starts_with":
        if not isinstance(value, str):
            raise StoreRefused(f"startswith on {condition.path!r} needs a string prefix")
    elif op == "in":
        if isinstance(value, str | bytes | dict) or not isinstance(value, Sequence):
            raise StoreRefused(f"in_ on {condition.path!r} needs a list of values")
        if not all(_comparable(item) for item in value):
            raise StoreRefused(f"in_ on {condition.path!r} takes JSON values")
    elif op != "defined" and not _comparable(value):
        raise StoreRefused(f"{op} on {condition.path!r} takes a JSON value")
