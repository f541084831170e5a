"""JSON Schemas of proto messages in their proto3 JSON form, for the input and output schemas
of the platform's tools: the arguments a tool takes are its RPC's request as JSON, its
structured result the response as JSON (`structured`)."""

from __future__ import annotations

from typing import Any

from google.api import field_behavior_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

Schema = dict[str, Any]

MAX_DEPTH = 6
"""Nesting beyond which a message is described as any object (recursive messages)."""

_INTEGER_64 = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
}
_NUMBERS = {FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT}
_STRING_FORMS: dict[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"},
    "google.protobuf.FieldMask": {"type": "string"},
}
_WELL_KNOWN: dict[str, Schema] = {
    **_STRING_FORMS,
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Any": {"type": "object"},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.StringValue": {"type": "string"},
    "google.protobuf.BoolValue": {"type": "boolean"},
    "google.protobuf.Int32Value": {"type": "integer"},
    "google.protobuf.DoubleValue": {"type": "number"},
    "google.protobuf.Int64Value": {"type": ["string", "integer"]},
}


def _behaviors(field: FieldDescriptor) -> set[int]:
    return set(field.GetOptions().Extensions[field_behavior_pb2.field_behavior])


def message_schema(descriptor: Descriptor, *, writable: bool = False, depth: int = 0) -> Schema:
    """The object schema of a message's JSON. `writable`: the schema of what a caller sends,
    so output-only fields are left out and required ones are `required`."""
    if descriptor.full_name in _WELL_KNOWN:
        return dict(_WELL_KNOWN[descriptor.full_name])
    if depth >= MAX_DEPTH:
        return {"type": "object"}
    properties: Schema = {}
    required: list[str] = []
    for field in descriptor.fields:
        behaviors = _behaviors(field)
        if writable and field_behavior_pb2.OUTPUT_ONLY in behaviors:
            continue
        properties[field.json_name] = _field_schema(field, writable, depth)
        if writable and field_behavior_pb2.REQUIRED in behaviors:
            required.append(field.json_name)
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _field_schema(field: FieldDescriptor, writable: bool, depth: int) -> Schema:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value = field.message_type.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _single(value, writable, depth)}
    single = _single(field, writable, depth)
    if field.is_repeated:
        return {"type": "array", "items": single}
    return single


def _single(field: FieldDescriptor, writable: bool, depth: int) -> Schema:
    if field.message_type is not None:
        return message_schema(field.message_type, writable=writable, depth=depth + 1)
    if field.enum_type is not None:
        names = [value.name for value in field.enum_type.values]
        return {"type": "string", "enum": names} if not writable else {"enum": names}
    if field.type == FieldDescriptor.TYPE_BOOL:
        return {"type": "boolean"}
    if field.type in _NUMBERS:
        return {"type": "number"}
    if field.type in _INTEGER_64:
        # proto3 JSON prints 64-bit integers as strings and reads either.
        return {"type": ["string", "integer"]}
    if field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
        return {"type": "string"}
    return {"type": "integer"}


def structured(message: Message) -> dict[str, Any]:
    """A response as the structured result its output schema describes (proto3 JSON with the
    fields without presence printed)."""
    return MessageToDict(message, always_print_fields_with_no_presence=True)
