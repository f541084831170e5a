# ruff: noqa: S608 - SQL text is assembled from validated identifiers and constant fragments;
# every value is a bound parameter.
"""SQL for the sqlite store: query conditions, keyset paging and continuation tokens.

A condition compiles to a fragment over `json_extract(body, '$.path')` (or a column, for the
paths stored in one). Fragments depend only on the path, the operator and the kinds of the
values, and are cached by those, so a repeated query yields the same SQL text and reuses
sqlite3's prepared statement.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import msgspec

from services.kit._errors import FieldViolation, StoreRefused

from ._api import Condition, Order, Query
from ._documents import PARTITION_FIELD
from ._paths import ID_PATH, check_condition, field_segments

encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

_decoder = msgspec.json.Decoder()


def decode_json(text: str) -> Any:
    """A stored body as `json.loads` reads it, several times faster: msgspec's decoder gives
    the same values (integers of any size included); what it refuses, numbers beyond the range
    of a float, goes to `json.loads`."""
    try:
        return _decoder.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)


# Paths that live in a column of their own rather than in `body`, with the JSON kind of the
# column's values (used to refuse comparisons Cosmos DB would never match).
COLUMNS = {ID_PATH: ("id", "str"), "_ts": ("ts", "num"), "_etag": ("etag", "str")}
COLUMNS[PARTITION_FIELD] = ("partition", "str")

NOT_EXPIRED = "(expires_at IS NULL OR expires_at > ?)"


# --- conditions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """The SQL that reads one path: a column, or `json_extract` with its `json_type`."""

    expr: str
    json_path: str | None
    column_kind: str | None

    @property
    def jtype(self) -> str:
        return f"json_type(body, {self.json_path})"


@lru_cache(maxsize=1024)
def target_of(path: str) -> Target:
    column = COLUMNS.get(path)
    if column is not None:
        return Target(column[0], None, column[1])
    json_path = "'$." + ".".join(field_segments(path)) + "'"
    return Target(f"json_extract(body, {json_path})", json_path, None)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "num"
    if isinstance(value, str):
        return "str"
    if isinstance(value, dict | list | tuple):
        return "json"
    raise StoreRefused(f"cannot compare with a {type(value).__name__}")


def _param(value: Any, kind: str) -> Any:
    return encode_json(value) if kind == "json" else value


# The JSON types a value kind matches: SQLite compares any two values, Cosmos DB only values of
# one type, so every comparison on a JSON path also checks the stored type.
_JSON_TYPES = {"num": "IN ('integer', 'real')", "str": "= 'text'"}
_RANGE = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_ELEMENT = {
    "num": ("value = ? AND type IN ('integer', 'real')", True),
    "str": ("value = ? AND type = 'text'", True),
    "null": ("type = 'null'", False),
    "true": ("type = 'true'", False),
    "false": ("type = 'false'", False),
    "json": ("type IN ('object', 'array') AND value = json(?)", True),
}

_Compiled = tuple[str, tuple[bool, ...]]
"""A condition's SQL and, per value it was given, whether that value is bound."""


def _eq_sql(target: Target, kind: str, plain: bool) -> tuple[str, bool]:
    if target.json_path is None:
        return ("0", False) if kind != target.column_kind else (f"{target.expr} = ?", True)
    if kind in ("null", "true", "false"):
        return f"{target.jtype} = '{kind}'", False
    if kind == "json":
        return f"({target.jtype} IN ('object', 'array') AND {target.expr} = json(?))", True
    if kind in _PLAIN_KINDS and plain:
        return f"{target.expr} = ?", True
    return f"({target.expr} = ? AND {target.jtype} {_JSON_TYPES[kind]})", True


def _plain(values: Sequence[Any]) -> bool:
    """Whether `json_extract` could only give one of `values` for a stored value of that
    value's own JSON type.

    `json_extract` gives a stored string as its text, a number as a number, `true` and
    `false` as the integers 1 and 0, and an array or object as its JSON text, which starts
    with `[` or `{`; SQLite never finds a number equal to a text. So equality with a string
    not starting with `[` or `{`, or with a number other than 0 and 1, only matches stored
    values of its type, and the `json_type` check, one more JSON function call per row read,
    can go.
    """
    for value in values:
        if isinstance(value, str) and value[:1] in ("[", "{"):
            return False
        if isinstance(value, int | float) and not isinstance(value, bool) and value in (0, 1):
            return False
    return True


_PLAIN_KINDS = frozenset({"str", "num"})
"""The kinds whose values `_plain` can clear of the `json_type` check."""


@lru_cache(maxsize=4096)
def _condition_sql(path: str, op: str, kinds: tuple[str, ...], plain: bool) -> _Compiled:
    """The SQL of one condition from the kinds of its values and whether its strings are
    plain (what changes the SQL text)."""
    target = target_of(path)
    if op == "eq":
        sql, bound = _eq_sql(target, kinds[0], plain)
        return sql, (bound,)
    if op == "ne":
        equal, bound = _eq_sql(target, kinds[0], plain)
        if target.json_path is None:
            return ("1" if equal == "0" else f"NOT ({equal})"), (bound,)
        # Cosmos DB: a value of another type is unequal; an absent field matches neither.
        return f"({target.jtype} IS NOT NULL AND NOT ({equal}))", (bound,)
    if op in _RANGE:
        if kinds[0] not in _JSON_TYPES:
            raise StoreRefused(f"{op} compares numbers or strings, not {kinds[0]}")
        comparison = f"{target.expr} {_RANGE[op]} ?"
        if target.json_path is None:
            return (comparison, (True,)) if kinds[0] == target.column_kind else ("0", (False,))
        return f"({comparison} AND {target.jtype} {_JSON_TYPES[kinds[0]]})", (True,)
    if op == "in":
        if not kinds:
            return "0", ()
        first = kinds[0]
        if first in _JSON_TYPES and all(kind == first for kind in kinds):
            if target.json_path is None and first != target.column_kind:
                return "0", (False,) * len(kinds)
            listed = f"{target.expr} IN ({', '.join('?' * len(kinds))})"
            if target.json_path is not None and not (first in _PLAIN_KINDS and plain):
                listed = f"({listed} AND {target.jtype} {_JSON_TYPES[first]})"
            return listed, (True,) * len(kinds)
        pieces = [_eq_sql(target, kind, plain) for kind in kinds]
        return "(" + " OR ".join(sql for sql, _ in pieces) + ")", tuple(b for _, b in pieces)
    if op == "array_contains":
        if target.json_path is None:
            return "0", (False,)
        element, bound = _ELEMENT[kinds[0]]
        return (
            f"({target.jtype} = 'array' AND EXISTS "
            f"(SELECT 1 FROM json_each(body, {target.json_path}) WHERE {element}))"
        ), (bound,)
    raise StoreRefused(f"unknown query operator {op!r}")


@lru_cache(maxsize=1024)
def _prefix_sql(path: str, shape: str) -> str:
    target = target_of(path)
    is_text = "1" if target.json_path is None else f"{target.jtype} = 'text'"
    if shape == "empty":
        return is_text
    if shape == "range":
        return f"({target.expr} >= ? AND {target.expr} < ? AND {is_text})"
    return f"(substr({target.expr}, 1, ?) = ? AND {is_text})"


@lru_cache(maxsize=1024)
def defined_sql(path: str, present: bool) -> str:
    """The SQL of `F(path).defined(present)`."""
    target = target_of(path)
    if target.json_path is None:
        return "1" if present else "0"
    return f"{target.jtype} IS {'NOT ' if present else ''}NULL"


def _prefix_upper_bound(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix` (codepoint order equals
    SQLite's byte order on UTF-8), or None when the last character cannot be incremented."""
    last = ord(prefix[-1])
    if last == 0x10FFFF:
        return None
    following = 0xE000 if last == 0xD7FF else last + 1
    return prefix[:-1] + chr(following)


def _compile_condition(condition: Condition) -> tuple[str, list[Any]]:
    check_condition(condition)
    op, value = condition.op, condition.value
    if op == "starts_with":
        if not isinstance(value, str):
            raise StoreRefused("startswith needs a string prefix")
        if not value:
            return _prefix_sql(condition.path, "empty"), []
        upper = _prefix_upper_bound(value)
        if upper is not None:
            return _prefix_sql(condition.path, "range"), [value, upper]
        return _prefix_sql(condition.path, "substr"), [len(value), value]
    if op == "defined":
        return defined_sql(condition.path, bool(value)), []
    if op == "in":
        if isinstance(value, str | bytes | dict) or not isinstance(value, Sequence):
            raise StoreRefused("in_ needs a list of values")
        values = list(value)
    else:
        values = [value]
    kinds = tuple(_kind(item) for item in values)
    sql, bound = _condition_sql(condition.path, op, kinds, _plain(values))
    params = [
        _param(item, kind) for item, kind, used in zip(values, kinds, bound, strict=True) if used
    ]
    return sql, params


def compile_where(
    conditions: Sequence[Condition], partition: str | None, now: float
) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if partition is not None:
        clauses.append("partition = ?")
        params.append(partition)
    clauses.append(NOT_EXPIRED)
    params.append(now)
    for condition in conditions:
        sql, values = _compile_condition(condition)
        clauses.append(sql)
        params.extend(values)
    return clauses, params


def after_sql(ordering: Sequence[Order], values: Sequence[Any]) -> tuple[str, list[Any]]:
    """Rows strictly after the row whose sort values are `values`, in `ordering`.

    Built from the last key back: `after_i = past_i OR (same_i AND after_{i+1})`. SQLite sorts
    NULL first ascending and last descending, which `past` mirrors.
    """
    sql, params = "", []
    for order, value in reversed(list(zip(ordering, values, strict=True))):
        expr = target_of(order.path).expr
        if value is None:
            past, past_params = ("0", []) if order.descending else (f"{expr} IS NOT NULL", [])
        elif order.descending:
            past, past_params = f"({expr} < ? OR {expr} IS NULL)", [value]
        else:
            past, past_params = f"{expr} > ?", [value]
        if not sql:
            sql, params = past, past_params
        else:
            sql = f"({past} OR ({expr} IS ? AND {sql}))"
            params = [*past_params, value, *params]
    return sql, params


# --- continuation tokens ---------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _bad_token() -> StoreRefused:
    return StoreRefused(
        "the continuation token is invalid or belongs to another query",
        violations=[FieldViolation("page_token", "not a token issued for this query")],
    )


class Tokens:
    """Continuation tokens: the last row's sort values, MAC'd together with the query.

    The MAC covers a fingerprint of the container, partition, conditions and ordering, so a
    token edited by hand or replayed against another query is refused.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    @staticmethod
    def fingerprint(
        table: str, partition: str | None, query: Query, ordering: Sequence[Order]
    ) -> bytes:
        shape = [
            table,
            partition,
            [[c.path, c.op, c.value] for c in query.conditions],
            [[o.path, o.descending] for o in ordering],
        ]
        return json.dumps(shape, default=repr, separators=(",", ":")).encode()

    def _mac(self, fingerprint: bytes, payload: bytes) -> bytes:
        return hmac.new(self._key, fingerprint + b"\0" + payload, hashlib.sha256).digest()[:16]

    def encode(self, fingerprint: bytes, values: Sequence[Any]) -> str:
        payload = encode_json(list(values)).encode()
        return f"{_b64(payload)}.{_b64(self._mac(fingerprint, payload))}"

    def decode(self, fingerprint: bytes, token: str, size: int) -> list[Any]:
        try:
            payload_part, mac_part = token.split(".")
            payload = _unb64(payload_part)
            if not hmac.compare_digest(_unb64(mac_part), self._mac(fingerprint, payload)):
                raise _bad_token()
            values = json.loads(payload)
        except (ValueError, TypeError) as error:
            raise _bad_token() from error
        if not isinstance(values, list) or len(values) != size:
            raise _bad_token()
        return values
