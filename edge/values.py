"""JSON values checked against the proto fields they are about to fill, before
`json_format.ParseDict` sees them.

`ParseDict` is lenient where a wrong value would silently become another one: an enum number
outside the enum is kept as an unknown value, and one past 32 bits wraps (`4294967299` became
`TASK_PRIORITY_HIGH`); `1.5` into an enum truncates; `"1e400"` into an integer field raises
OverflowError; `"NaN"` fills a double. Here every integer must be integral and in its field's
range, every enum value a name or number the enum defines, every floating-point value finite
and within its type, and no value `null` where JSON null is not a value of the field.

proto3 JSON lets a parser read `null` as "the default value"; the edge does not, so that a body
means what the OpenAPI document says it means (a string field takes a string): a field left at
its default is left out, and a PATCH clears a field by sending its empty value or by naming it
in `updateMask`. `null` stays a value where the JSON form has one: `google.protobuf.Value`
(and inside `Struct` / `ListValue`) and the `NullValue` enum. Anything else is left to
`ParseDict`, whose own refusals are 400s too.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from google.protobuf import descriptor

from edge.descriptors import enum_of, message_of
from edge.errors import bad_request

FieldDescriptor = descriptor.FieldDescriptor

_T = FieldDescriptor
_INT_RANGES: dict[int, tuple[int, int]] = {
    **dict.fromkeys((_T.TYPE_INT32, _T.TYPE_SINT32, _T.TYPE_SFIXED32), (-(2**31), 2**31 - 1)),
    **dict.fromkeys((_T.TYPE_UINT32, _T.TYPE_FIXED32), (0, 2**32 - 1)),
    **dict.fromkeys((_T.TYPE_INT64, _T.TYPE_SINT64, _T.TYPE_SFIXED64), (-(2**63), 2**63 - 1)),
    **dict.fromkeys((_T.TYPE_UINT64, _T.TYPE_FIXED64), (0, 2**64 - 1)),
}

_FLOAT_MAX = 3.4028234663852886e38
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_WRAPPERS = {
    "google.protobuf.DoubleValue": FieldDescriptor.TYPE_DOUBLE,
    "google.protobuf.FloatValue": FieldDescriptor.TYPE_FLOAT,
    "google.protobuf.Int64Value": FieldDescriptor.TYPE_INT64,
    "google.protobuf.UInt64Value": FieldDescriptor.TYPE_UINT64,
    "google.protobuf.Int32Value": FieldDescriptor.TYPE_INT32,
    "google.protobuf.UInt32Value": FieldDescriptor.TYPE_UINT32,
}
_OPAQUE = frozenset(
    {
        # Values of their own JSON form (`ParseDict` checks them) or free-form JSON.
        "google.protobuf.Any",
        "google.protobuf.Struct",
        "google.protobuf.Value",
        "google.protobuf.ListValue",
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
        "google.protobuf.FieldMask",
        "google.protobuf.BoolValue",
        "google.protobuf.StringValue",
        "google.protobuf.BytesValue",
        "google.protobuf.Empty",
    }
)


def check_message(document: Any, message: descriptor.Descriptor, where: str = "") -> None:
    """Refuse (400 `INVALID_JSON_VALUE`, naming the field) a value in `document` that its
    field of `message` cannot hold exactly. Unknown keys are left to `ParseDict`."""
    if not isinstance(document, dict):
        return
    for key, value in document.items():
        field = message.fields_by_name.get(key) or _by_json_name(message, key)
        if field is None:
            continue
        path = f"{where}.{field.json_name}" if where else field.json_name
        if value is None:
            if field.is_repeated or not _takes_null(field):
                raise _refuse(path, "null is not a value here; leave the field out instead")
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            _check_map(value, message_of(field), path)
        elif field.is_repeated:
            if isinstance(value, list):
                for index, item in enumerate(value):
                    if item is None:
                        if not _takes_null(field):
                            raise _refuse(f"{path}[{index}]", "null is not a value here")
                        continue
                    _check_value(item, field, f"{path}[{index}]")
        else:
            _check_value(value, field, path)


_NULL_TYPES = frozenset({"google.protobuf.Value", "google.protobuf.NullValue"})


def _takes_null(field: FieldDescriptor) -> bool:
    """Whether JSON `null` is a value of the field's type (`Value`, `NullValue`)."""
    kind = field.message_type or field.enum_type
    return kind is not None and kind.full_name in _NULL_TYPES


def _by_json_name(message: descriptor.Descriptor, key: str) -> FieldDescriptor | None:
    for field in message.fields:
        if field.json_name == key:
            return field
    return None


def _check_map(value: Any, entry: descriptor.Descriptor, path: str) -> None:
    if not isinstance(value, dict):
        return
    key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
    for key, item in value.items():
        if key_field.type in _INT_RANGES:
            _check_integer(key, key_field.type, f"{path}[{key!r}]")
        if item is None:
            if not _takes_null(value_field):
                raise _refuse(f"{path}[{key!r}]", "null is not a value here")
            continue
        _check_value(item, value_field, f"{path}[{key!r}]")


def _check_value(value: Any, field: FieldDescriptor, path: str) -> None:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        inner = message_of(field)
        if inner.full_name in _WRAPPERS:
            _check_scalar(value, _WRAPPERS[inner.full_name], field, path)
        elif inner.full_name not in _OPAQUE:
            check_message(value, inner, path)
        return
    _check_scalar(value, kind, field, path)


def _check_scalar(value: Any, kind: int, field: FieldDescriptor, path: str) -> None:
    numeric = kind in _INT_RANGES or kind in (
        FieldDescriptor.TYPE_DOUBLE,
        FieldDescriptor.TYPE_FLOAT,
    )
    if numeric and isinstance(value, bool):
        # JSON's true and false are no numbers (ParseDict would read a float's as 1.0 and 0.0).
        raise _refuse(path, "must be a number, not a boolean")
    if kind in _INT_RANGES:
        _check_integer(value, kind, path)
    elif kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        _check_float(value, kind, path)
    elif kind == FieldDescriptor.TYPE_ENUM:
        _check_enum(value, enum_of(field), path)


def _refuse(path: str, why: str) -> Exception:
    return bad_request(f"{path}: {why}", path, "INVALID_JSON_VALUE")


def _number(value: Any, path: str) -> Decimal | None:
    """A JSON number or numeric string as a Decimal; None for other types (ParseDict refuses
    them with its own message)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _refuse(path, "must be a finite number")
        return Decimal(value)
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER.match(text):
            raise _refuse(path, f"{value[:40]!r} is not a number")
        try:
            return Decimal(text)
        except InvalidOperation:
            raise _refuse(path, f"{value[:40]!r} is not a number") from None
    return None


def _check_integer(value: Any, kind: int, path: str) -> None:
    number = _number(value, path)
    if number is None:
        return
    low, high = _INT_RANGES[kind]
    # Compare before converting: an exponent such as 1e999999 would not fit an int.
    if not Decimal(low) <= number <= Decimal(high):
        raise _refuse(path, f"must be an integer from {low} to {high}")
    if number != number.to_integral_value():
        raise _refuse(path, "must be a whole number")


def _check_float(value: Any, kind: int, path: str) -> None:
    if isinstance(value, str) and value.strip() in ("NaN", "Infinity", "-Infinity"):
        raise _refuse(path, "must be a finite number")
    number = _number(value, path)
    if number is None:
        return
    limit = _FLOAT_MAX if kind == FieldDescriptor.TYPE_FLOAT else 1.7976931348623157e308
    if abs(number) > Decimal(limit):
        raise _refuse(path, "is out of range")


def _check_enum(value: Any, enum: descriptor.EnumDescriptor, path: str) -> None:
    if isinstance(value, str):
        if value in enum.values_by_name:
            return
        if not re.fullmatch(r"-?[0-9]{1,20}", value):
            raise _refuse(path, f"{value[:40]!r} is not a value of {enum.name}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(path, f"must be a name or number of {enum.name}")
    # Range first: the descriptor's number lookup itself truncates to 32 bits.
    low, high = _INT_RANGES[FieldDescriptor.TYPE_INT32]
    if not low <= value <= high or value not in enum.values_by_number:
        raise _refuse(path, f"{value} is not a value of {enum.name}")
