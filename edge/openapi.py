"""OpenAPI 3.1 document of the REST API, generated from the descriptor set.

One path item per `google.api.http` binding; operationId `<Service>_<Method>`; schemas in
`components/schemas` named by full proto name. Comments (source_code_info) become
descriptions, `field_behavior` OUTPUT_ONLY becomes `readOnly`, and buf.validate rules become
JSON Schema constraints. Well-known types take their proto3 JSON forms. Every operation that is
not public requires a bearer JWT.

The document says what the edge does, so a client (or a fuzzer) that follows it is not
surprised:
- **Unknown fields are refused** (`json_format.ParseDict`), so every message schema has
  `additionalProperties: false`; `null` is refused where the field's JSON form has no null
  (`edge.values`), so no schema admits it.
- **Required** is a field marked REQUIRED, or one whose default value breaks its own rules (an
  empty string under `min_len: 1`, no items under `min_items: 1`): leaving it out of a body is
  the same as sending the default. Two request bodies drop some of that: the resource of an
  update (`<message>-Patch`: a PATCH changes the fields it sends, AIP-134, and never the
  immutable ones) and a `body: "*"` message whose path sets some fields (`<message>-Body`).
- **Refusals** are documented per operation from what the front door, the kit and the route can
  answer (`responses`), each with the error body `{code, message, details, requestId}`.
- **Links** lead from a create's answer to the operations on the created resource, with its id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from buf.validate import validate_pb2
from google.api import field_behavior_pb2
from google.protobuf import descriptor, descriptor_pb2

from edge.descriptors import enum_of, message_of
from edge.routes import Route
from edge.transcoding import RouteTable

FieldDescriptor = descriptor.FieldDescriptor

OPENAPI_VERSION = "3.1.0"
ERROR_SCHEMA = "coder.edge.Error"
MAX_DURATION_SECONDS = 315_576_000_000
"""The longest `google.protobuf.Duration`, ±10,000 years."""
TIMESTAMP_PATTERN = (
    r"^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
"""RFC 3339 as `google.protobuf.Timestamp` parses it: years 0001 to 9999, no leap second,
at most nanoseconds, `Z` or a `±hh:mm` offset."""


def _digits_range(low: int, high: int) -> str:
    """A regex (unanchored) of the decimal integers `low`..`high` (0 ≤ low ≤ high), without
    leading zeros. The range is cut where its numbers change length or a prefix (at 9…9 after
    `low`, at 0…0 before `high`), so each piece is a prefix, one digit range, then any digits
    (the to-regex-range construction)."""
    stops = {high}
    nines = 1
    while low <= (stop := int(str(low)[:-nines] + "9" * nines)) < high:
        stops.add(stop)
        nines += 1
    zeros = 1
    while low < (stop := (high + 1) - (high + 1) % 10**zeros - 1) <= high:
        stops.add(stop)
        zeros += 1
    pieces, start = [], low
    for stop in sorted(stops):
        piece = ""
        for first, last in zip(str(start), str(stop), strict=True):
            piece += first if first == last else f"[{first}-{last}]"
        pieces.append(re.sub(r"(?:\[0-9\]){2,}", lambda m: f"[0-9]{{{len(m[0]) // 5}}}", piece))
        start = stop + 1
    return "(?:" + "|".join(pieces) + ")"


def duration_pattern(low: int = -MAX_DURATION_SECONDS, high: int = MAX_DURATION_SECONDS) -> str:
    """The proto3 JSON form of a Duration (`"1.5s"`) from `low` to `high` whole seconds
    (`low` ≤ 0 ≤ `high`, or 0 ≤ `low` < `high`)."""
    fraction, zero_fraction = r"(\.[0-9]{1,9})?", r"(\.0{1,9})?"

    def upto(bottom: int, top: int) -> str:
        # From `bottom` with any fraction, up to `top` with a zero one.
        below = f"{_digits_range(bottom, top - 1)}{fraction}|" if top > bottom else ""
        return f"(?:{below}{top}{zero_fraction})"

    if low >= 0:
        return f"^{upto(low, high)}s$"
    return f"^(?:{upto(0, high)}|-{upto(0, -low)})s$"


DURATION_PATTERN = duration_pattern()


def _fraction_from(places: int) -> str:
    """A Duration's fraction (`.` and 1 to 9 digits) with a non-zero digit among its first
    `places`: at least 10^-places of a second."""
    firsts = (f"0{{{zeros}}}[1-9][0-9]{{0,{8 - zeros}}}" for zeros in range(places))
    return r"\.(?:" + "|".join(firsts).replace("0{0}", "") + ")"


def _sub_second_floor(rules: Any) -> int | None:
    """How many fraction places a positive sub-second lower bound (`gt: 0s`, `gte: 0.001s`)
    needs, or None when the rules set no such bound."""
    if rules.HasField("gt") and not rules.HasField("gte"):
        bound = rules.gt
        if bound.seconds == 0 and bound.nanos == 0:
            return 9
    elif rules.HasField("gte") and not rules.HasField("gt"):
        bound = rules.gte
        nanos = bound.nanos
        if bound.seconds == 0 and nanos > 0 and 10 ** (len(str(nanos)) - 1) == nanos:
            return 10 - len(str(nanos))
    return None


def _duration_constraints(schema: dict[str, Any], rules: Any) -> None:
    """A Duration's bounds written into its pattern (what a string schema can say about the
    number in it): whole-second `gte` / `lte`, and a positive floor under a second (`gt: 0s`,
    `gte: 0.001s`) with a whole-second `lte`. Other bounds stay the service's to check."""
    if rules.HasField("lt") or (rules.HasField("lte") and rules.lte.nanos):
        return
    high = rules.lte.seconds if rules.HasField("lte") else MAX_DURATION_SECONDS
    places = _sub_second_floor(rules)
    if places is not None:
        if high >= 1:
            schema["pattern"] = (
                f"^(?:0{_fraction_from(places)}|{duration_pattern(1, high)[1:-2]})s$"
            )
        return
    if rules.HasField("gt") or (rules.HasField("gte") and rules.gte.nanos):
        return
    low = rules.gte.seconds if rules.HasField("gte") else -MAX_DURATION_SECONDS
    if 0 <= low < high or low <= 0 <= high:
        schema["pattern"] = duration_pattern(low, high)


BASE64_PATTERN = r"^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$"
"""Bytes as proto3 JSON reads them: base64, standard or URL-safe, padding optional — never
a length one more than a multiple of four."""

# Decimal without leading zeros, as the edge reads them (edge.values); at most 18 (19) digits, so
# every number the pattern admits fits the type (larger ones in range are accepted too).
_INT64_PATTERN = r"^-?(0|[1-9][0-9]{0,17})$"
_UINT64_PATTERN = r"^(0|[1-9][0-9]{0,18})$"
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {
        "type": "string",
        "format": "date-time",
        "pattern": TIMESTAMP_PATTERN,
    },
    "google.protobuf.Duration": {"type": "string", "pattern": DURATION_PATTERN},
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": "Comma-separated lowerCamelCase field paths.",
    },
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
    "google.protobuf.DoubleValue": {"type": "number"},
    "google.protobuf.FloatValue": {"type": "number"},
    "google.protobuf.Int64Value": {"type": "string", "pattern": _INT64_PATTERN},
    "google.protobuf.UInt64Value": {"type": "string", "pattern": _UINT64_PATTERN},
    "google.protobuf.Int32Value": {"type": "integer", "format": "int32"},
    "google.protobuf.UInt32Value": {"type": "integer", "minimum": 0},
    "google.protobuf.BoolValue": {"type": "boolean"},
    "google.protobuf.StringValue": {"type": "string"},
    "google.protobuf.BytesValue": {
        "type": "string",
        "contentEncoding": "base64",
        "pattern": BASE64_PATTERN,
    },
}

_INT32 = {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32}
_UINT32 = {FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32}
_INT64 = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64}
_UINT64 = {FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64}
_NUMERIC_RULES = {
    "gte": "minimum",
    "lte": "maximum",
    "gt": "exclusiveMinimum",
    "lt": "exclusiveMaximum",
}

# source_code_info path numbers (descriptor.proto field numbers).
_FILE_MESSAGE, _FILE_ENUM, _FILE_SERVICE = 4, 5, 6
_MESSAGE_FIELD, _MESSAGE_NESTED, _MESSAGE_ENUM = 2, 3, 4
_ENUM_VALUE, _SERVICE_METHOD = 2, 2


def _clean(comment: str) -> str:
    lines = [line.rstrip() for line in comment.strip("\n").splitlines()]
    return "\n".join(line[1:] if line.startswith(" ") else line for line in lines).strip()


Names = dict[tuple[int, ...], str]
"""Full names by source_code_info path."""


def _name_message(
    names: Names, message: descriptor_pb2.DescriptorProto, path: tuple[int, ...], scope: str
) -> None:
    full = f"{scope}{message.name}"
    names[path] = full
    for i, field in enumerate(message.field):
        names[(*path, _MESSAGE_FIELD, i)] = f"{full}.{field.name}"
    for i, nested in enumerate(message.nested_type):
        _name_message(names, nested, (*path, _MESSAGE_NESTED, i), f"{full}.")
    for i, enum in enumerate(message.enum_type):
        _name_enum(names, enum, (*path, _MESSAGE_ENUM, i), f"{full}.")


def _name_enum(
    names: Names, enum: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...], scope: str
) -> None:
    full = f"{scope}{enum.name}"
    names[path] = full
    for i, value in enumerate(enum.value):
        names[(*path, _ENUM_VALUE, i)] = f"{full}.{value.name}"


def comments(files: descriptor_pb2.FileDescriptorSet) -> dict[str, str]:
    """Leading comments by full name: services, methods, messages, fields, enums, values."""
    found: dict[str, str] = {}
    for file in files.file:
        names: Names = {}
        prefix = f"{file.package}." if file.package else ""

        for i, message in enumerate(file.message_type):
            _name_message(names, message, (_FILE_MESSAGE, i), prefix)
        for i, enum in enumerate(file.enum_type):
            _name_enum(names, enum, (_FILE_ENUM, i), prefix)
        for i, service in enumerate(file.service):
            full = f"{prefix}{service.name}"
            names[(_FILE_SERVICE, i)] = full
            for j, method in enumerate(service.method):
                names[(_FILE_SERVICE, i, _SERVICE_METHOD, j)] = f"{full}.{method.name}"
        for location in file.source_code_info.location:
            name = names.get(tuple(location.path))
            if name is not None and location.leading_comments:
                found[name] = _clean(location.leading_comments)
    return found


def _behaviors(field: FieldDescriptor) -> set[int]:
    return set(field.GetOptions().Extensions[field_behavior_pb2.field_behavior])


def is_output_only(field: FieldDescriptor) -> bool:
    return field_behavior_pb2.OUTPUT_ONLY in _behaviors(field)


def is_immutable(field: FieldDescriptor) -> bool:
    return field_behavior_pb2.IMMUTABLE in _behaviors(field)


def _rules(field: FieldDescriptor) -> Any | None:
    options = field.GetOptions()
    if not options.HasExtension(validate_pb2.field):
        return None
    return options.Extensions[validate_pb2.field]


def is_required(field: FieldDescriptor) -> bool:
    """Whether a request must send the field: REQUIRED, or its default value breaks its rules
    (and it is not output only, which a request never sets)."""
    if is_output_only(field):
        return False
    if field_behavior_pb2.REQUIRED in _behaviors(field):
        return True
    rules = _rules(field)
    return rules is not None and default_refused(field, rules)


def default_refused(field: FieldDescriptor, rules: Any) -> bool:
    """Whether protovalidate refuses the field at its default value. A proto3 field without
    presence is checked at its default too, so rules such as `min_len: 1` make it required."""
    if rules.ignore != validate_pb2.IGNORE_UNSPECIFIED:
        return False
    if rules.required:
        return True
    if field.has_presence:
        return False  # an unset oneof member, optional or message field is not checked
    kind = rules.WhichOneof("type")
    if field.is_repeated or kind in ("repeated", "map"):
        if kind == "repeated":
            return bool(rules.repeated.min_items > 0)
        if kind == "map":
            return bool(rules.map.min_pairs > 0)
        return False
    if kind is None:
        return False
    typed = getattr(rules, kind)
    if kind == "string":
        return _empty_string_refused(typed)
    if kind == "bytes":
        return bool(typed.min_len > 0 or (typed.HasField("len") and typed.len > 0))
    if kind == "enum":
        allowed = set(getattr(typed, "in"))
        return (typed.HasField("const") and typed.const != 0) or bool(
            (allowed and 0 not in allowed) or 0 in set(typed.not_in)
        )
    if kind in _NUMERIC_KINDS:
        return _zero_refused(typed)
    return False


def _empty_string_refused(rules: Any) -> bool:
    if rules.min_len > 0 or (rules.HasField("len") and rules.len > 0) or rules.min_bytes > 0:
        return True
    if rules.HasField("const") and rules.const != "":
        return True
    if getattr(rules, "in") and "" not in getattr(rules, "in"):
        return True
    if rules.HasField("pattern") and re.search(rules.pattern, "") is None:
        return True
    if rules.prefix or rules.suffix or rules.contains:
        return True
    # Every well-known format (email, uri, uuid…) refuses the empty string.
    return rules.WhichOneof("well_known") is not None


def _zero_refused(rules: Any) -> bool:
    if rules.HasField("const") and rules.const != 0:
        return True
    if (getattr(rules, "in") and 0 not in getattr(rules, "in")) or 0 in rules.not_in:
        return True
    low = next((rule for rule in ("gt", "gte") if rules.HasField(rule)), "")
    high = next((rule for rule in ("lt", "lte") if rules.HasField(rule)), "")
    above = not low or (rules.gt < 0 if low == "gt" else rules.gte <= 0)
    below = not high or (rules.lt > 0 if high == "lt" else rules.lte >= 0)
    if low and high and getattr(rules, low) > getattr(rules, high):
        return not (above or below)  # protovalidate's "outside the range" form
    return not (above and below)


EMAIL_PATTERN = (
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
"""protovalidate's `email` rule: the WHATWG HTML definition of a valid email address, which is
narrower than JSON Schema's `format: email` (no quoted local parts, no address literals)."""


def _scalar_constraints(schema: dict[str, Any], rules: Any, field: FieldDescriptor) -> None:
    """Copy the buf.validate rules of a scalar, string or enum onto its schema."""
    kind = rules.WhichOneof("type")
    if kind is None:
        return
    typed = getattr(rules, kind)
    if kind == "string":
        for rule, keyword in (("min_len", "minLength"), ("max_len", "maxLength")):
            if typed.HasField(rule):
                schema[keyword] = getattr(typed, rule)
        if typed.HasField("len"):
            schema["minLength"] = schema["maxLength"] = typed.len
        if typed.HasField("pattern"):
            schema["pattern"] = typed.pattern
        if getattr(typed, "in"):
            schema["enum"] = list(getattr(typed, "in"))
        if typed.HasField("email") and typed.email:
            schema["format"] = "email"
            if "pattern" not in schema:
                schema["pattern"] = EMAIL_PATTERN
    elif kind in _NUMERIC_KINDS:
        for rule, keyword in _NUMERIC_RULES.items():
            if typed.HasField(rule):
                value = getattr(typed, rule)
                schema[keyword] = float(value) if kind in ("float", "double") else int(value)
        if getattr(typed, "in"):
            schema["enum"] = list(getattr(typed, "in"))


_NUMERIC_KINDS = {
    "int32", "int64", "uint32", "uint64", "sint32", "sint64",
    "fixed32", "fixed64", "sfixed32", "sfixed64", "float", "double",
}  # fmt: skip


def _allowed_values(field: FieldDescriptor, rules: Any) -> list[Any]:
    """The values of an enum field its `in` / `not_in` rules allow."""
    values = list(enum_of(field).values)
    if getattr(rules, "in"):
        values = [v for v in values if v.number in set(getattr(rules, "in"))]
    if rules.not_in:
        values = [v for v in values if v.number not in set(rules.not_in)]
    return values


ENUM_NUMBERS = "A request may give a value's number instead of its name; answers carry names."


def _enum_values(values: list[Any]) -> dict[str, Any]:
    """An enum value as the edge takes it: a name, or (in a request, `writeOnly`) the number
    of a value the enum defines (proto3 JSON; `edge.values` refuses any other number)."""
    return {
        "anyOf": [
            {"type": "string", "enum": [v.name for v in values]},
            {"type": "integer", "enum": [v.number for v in values], "writeOnly": True},
        ]
    }


PATCH_SUFFIX = "-Patch"
"""Component of an update's resource body: every field optional, immutable ones left out."""
BODY_SUFFIX = "-Body"
"""Component of a `body: "*"` request whose path sets some fields: those are optional."""


def _one_of_each_oneof(message: descriptor.Descriptor) -> list[dict[str, Any]]:
    """JSON Schema for proto3's rule that a message sets at most one field of each oneof
    (`optional` fields are synthetic oneofs of one field and need nothing): per oneof, either
    none of its members or exactly one of them is present — written as branches that forbid
    the other members (`false`), which generators and validators handle well. A oneof its
    rules require has no branch without a member."""
    rules: list[dict[str, Any]] = []
    for oneof in message.oneofs:
        members = [field.json_name for field in oneof.fields]
        required = oneof.GetOptions().Extensions[validate_pb2.oneof].required
        if len(members) < 2 and not required:
            continue
        branches = []
        for kept in members if required else (*members, ""):
            branch: dict[str, Any] = {
                "properties": {other: False for other in members if other != kept}
            }
            if required:  # `(buf.validate.oneof).required`: exactly one, never none
                branch["required"] = [kept]
            branches.append(branch)
        rules.append({"anyOf": branches})
    return rules


class SchemaBuilder:
    """Builds field and message schemas, collecting referenced messages and enums."""

    def __init__(self, descriptions: dict[str, str]) -> None:
        self._descriptions = descriptions
        self.schemas: dict[str, dict[str, Any]] = {}

    def ref(self, full_name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{full_name}"}

    def message(self, message: descriptor.Descriptor) -> dict[str, Any]:
        """A reference to the message's schema (or the inline form of a well-known type)."""
        if message.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[message.full_name])
        if message.full_name not in self.schemas:
            # Reserve the name first so a message that contains itself refers to it, not recurse.
            self.schemas[message.full_name] = {}
            self.schemas[message.full_name] = self._message_schema(message)
        return self.ref(message.full_name)

    def patch(self, message: descriptor.Descriptor) -> dict[str, Any]:
        """A reference to the schema of `message` as an update's body: nothing required (the
        fields sent are the fields changed) and no immutable field."""
        name = message.full_name + PATCH_SUFFIX
        if name not in self.schemas:
            schema = self._message_schema(message, optional=None)
            for field in message.fields:
                if is_immutable(field):
                    del schema["properties"][field.json_name]
                elif field.enum_type is not None and not field.is_repeated:
                    # An update cannot clear an enum (kit `update_paths`): no `*_UNSPECIFIED`.
                    described = schema["properties"][field.json_name]
                    rules = _rules(field)
                    allowed = (
                        _allowed_values(field, rules.enum)
                        if rules is not None and rules.WhichOneof("type") == "enum"
                        else list(field.enum_type.values)
                    )
                    values = [v for v in allowed if v.number != 0]
                    described.pop("$ref", None)
                    described.update(_enum_values(values))
            schema["description"] = (
                f"The fields of a {message.name} to change (AIP-134): the fields sent are the "
                "fields changed, so each is optional; an empty value clears a field (an enum "
                "cannot be cleared). " + schema.get("description", "")
            ).strip()
            self.schemas[name] = schema
        return self.ref(name)

    def without_path_fields(
        self, message: descriptor.Descriptor, path_fields: frozenset[str]
    ) -> dict[str, Any]:
        """A reference to `message` as a `body: "*"` body whose path sets `path_fields`: those
        need not be in the body (the path's value wins when they are)."""
        if not any(f.name in path_fields for f in message.fields):
            return self.message(message)
        name = message.full_name + BODY_SUFFIX
        if name not in self.schemas:
            schema = self._message_schema(message, optional=path_fields)
            for field in message.fields:
                if field.name in path_fields:
                    # Parsed (so of its type), then replaced by the path's value.
                    properties = schema["properties"]
                    properties[field.json_name] = {
                        "type": properties[field.json_name].get("type", "string"),
                        "description": "Set by the path; a value sent here is replaced by it.",
                    }
            self.schemas[name] = schema
        return self.ref(name)

    def _message_schema(
        self, message: descriptor.Descriptor, optional: frozenset[str] | None = frozenset()
    ) -> dict[str, Any]:
        """The object schema of a message; `optional` names fields not to require (None: all)."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in message.fields:
            properties[field.json_name] = self.field(field)
            if is_required(field) and optional is not None and field.name not in optional:
                required.append(field.json_name)
        schema: dict[str, Any] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        if required:
            schema["required"] = required
        exclusive = _one_of_each_oneof(message)
        if exclusive:
            schema["allOf"] = exclusive
        description = self._descriptions.get(message.full_name)
        if description:
            schema["description"] = description
        return schema

    def enum(self, enum: descriptor.EnumDescriptor) -> dict[str, Any]:
        if enum.full_name not in self.schemas:
            lines = [self._descriptions.get(enum.full_name, "")]
            for value in enum.values:
                text = self._descriptions.get(f"{enum.full_name}.{value.name}", "")
                lines.append(f"- `{value.name}`: {text}" if text else f"- `{value.name}`")
            lines.append(ENUM_NUMBERS)
            self.schemas[enum.full_name] = {
                **_enum_values(list(enum.values)),
                "description": "\n".join(line for line in lines if line).strip(),
            }
        return self.ref(enum.full_name)

    def single(self, field: FieldDescriptor, rules: Any | None) -> dict[str, Any]:
        """The schema of one value of the field (an item, when it is repeated)."""
        kind = field.type
        schema: dict[str, Any]
        if kind == FieldDescriptor.TYPE_MESSAGE:
            schema = self.message(message_of(field))
            if rules is not None and rules.WhichOneof("type") == "duration":
                _duration_constraints(schema, rules.duration)
            return schema
        if kind == FieldDescriptor.TYPE_ENUM:
            schema = self.enum(enum_of(field))
            if rules is not None and rules.WhichOneof("type") == "enum":
                return _enum_values(_allowed_values(field, rules.enum))
            return schema
        if kind == FieldDescriptor.TYPE_STRING:
            schema = {"type": "string"}
        elif kind == FieldDescriptor.TYPE_BYTES:
            schema = {"type": "string", "contentEncoding": "base64", "pattern": BASE64_PATTERN}
        elif kind == FieldDescriptor.TYPE_BOOL:
            schema = {"type": "boolean"}
        elif kind in _INT32:
            schema = {
                "type": "integer",
                "format": "int32",
                "minimum": -(2**31),
                "maximum": 2**31 - 1,
            }
        elif kind in _UINT32:
            schema = {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1}
        elif kind in _INT64:
            schema = {"type": "string", "format": "int64", "pattern": _INT64_PATTERN}
        elif kind in _UINT64:
            schema = {"type": "string", "format": "int64", "pattern": _UINT64_PATTERN}
        else:
            schema = {"type": "number"}
        if rules is not None:
            if kind in _INT64 | _UINT64:
                # Constraints of a number written as a string cannot be expressed.
                return schema
            _scalar_constraints(schema, rules, field)
        return schema

    def _map(self, field: FieldDescriptor, rules: Any | None) -> dict[str, Any]:
        entry = message_of(field)
        key_rules = value_rules = None
        schema: dict[str, Any] = {"type": "object"}
        if rules is not None and rules.WhichOneof("type") == "map":
            pairs = rules.map
            if pairs.HasField("min_pairs"):
                schema["minProperties"] = pairs.min_pairs
            if pairs.HasField("max_pairs"):
                schema["maxProperties"] = pairs.max_pairs
            key_rules = pairs.keys if pairs.HasField("keys") else None
            value_rules = pairs.values if pairs.HasField("values") else None
        key_field = entry.fields_by_name["key"]
        keys = self.single(key_field, key_rules)
        if key_field.type == FieldDescriptor.TYPE_STRING and len(keys) > 1:
            schema["propertyNames"] = keys
        schema["additionalProperties"] = self.single(entry.fields_by_name["value"], value_rules)
        return schema

    def field(self, field: FieldDescriptor, *, with_description: bool = True) -> dict[str, Any]:
        rules = _rules(field)
        schema: dict[str, Any]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            schema = self._map(field, rules)
        elif field.is_repeated:
            item_rules = None
            schema = {"type": "array"}
            if rules is not None and rules.WhichOneof("type") == "repeated":
                repeated = rules.repeated
                if repeated.HasField("min_items"):
                    schema["minItems"] = repeated.min_items
                if repeated.HasField("max_items"):
                    schema["maxItems"] = repeated.max_items
                if repeated.unique:
                    schema["uniqueItems"] = True
                if repeated.HasField("items"):
                    item_rules = repeated.items
            schema["items"] = self.single(field, item_rules)
            if schema.get("uniqueItems") and field.type == FieldDescriptor.TYPE_ENUM:
                # A name and its number are one value to the service, two to JSON Schema:
                # unique items are documented by name only.
                allowed = list(enum_of(field).values)
                if item_rules is not None and item_rules.WhichOneof("type") == "enum":
                    allowed = _allowed_values(field, item_rules.enum)
                schema["items"] = {"type": "string", "enum": [v.name for v in allowed]}
        else:
            schema = self.single(field, rules)
        if is_output_only(field):
            schema["readOnly"] = True
        if with_description:
            description = self._descriptions.get(field.full_name)
            if description:
                schema["description"] = description
        return schema


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The error body of every failed call (DESIGN.md, Errors).",
        "properties": {
            "code": {"type": "integer", "description": "The HTTP status code."},
            "message": {"type": "string", "description": "What went wrong, for developers."},
            "details": {
                "type": "array",
                "description": "google.rpc error details (ErrorInfo, BadRequest, RetryInfo, "
                "RequestInfo) in proto3 JSON, each with its `@type`.",
                "items": {
                    "type": "object",
                    "properties": {"@type": {"type": "string"}},
                    "required": ["@type"],
                    "additionalProperties": True,
                },
            },
            "requestId": {"type": "string", "description": "Quote it when reporting a problem."},
        },
        "required": ["code", "message", "details", "requestId"],
        "additionalProperties": False,
    }


def _field_at(message: descriptor.Descriptor, dotted: str) -> FieldDescriptor:
    field = None
    for part in dotted.split("."):
        field = message.fields_by_name[part]
        if field.message_type is not None:
            message = field.message_type
    assert field is not None
    return field


class _Operations:
    def __init__(self, builder: SchemaBuilder, descriptions: dict[str, str]) -> None:
        self._builder = builder
        self._descriptions = descriptions
        self._ids: dict[str, int] = {}
        self._shapes: dict[str, tuple[str, ...]] = {}

    def operation_id(self, route: Route) -> str:
        base = f"{route.method.service_name}_{route.method.name}"
        seen = self._ids.get(base, 0)
        self._ids[base] = seen + 1
        return base if seen == 0 else f"{base}_{seen}"

    def path_names(self, route: Route) -> tuple[str, ...]:
        """Names of the route's path parameters in the document.

        Templates that differ only in variable names (`/projects/{project_id}` and
        `/projects/{project.id}`) are one path in OpenAPI, so the first route of a shape names
        its parameters and later ones reuse those names by position. Dots become underscores.
        """
        shape = re.sub(r"\{[^}]*\}", "{}", route.template.source)
        names = tuple(v.replace(".", "_") for v in route.template.variables)
        return self._shapes.setdefault(shape, names)

    def path(self, route: Route) -> str:
        names = iter(self.path_names(route))
        return re.sub(r"\{[^}]*\}", lambda _: "{" + next(names) + "}", route.template.source)

    def parameters(self, route: Route) -> Iterator[dict[str, Any]]:
        request_type = route.method.descriptor.input_type
        names = self.path_names(route)
        for name, variable in zip(names, route.template.variables, strict=True):
            field = _field_at(request_type, variable)
            schema = self._builder.field(field, with_description=False)
            schema.pop("readOnly", None)
            if schema.get("type") == "string":
                schema.setdefault("minLength", 1)
            parameter = {"name": name, "in": "path", "required": True, "schema": schema}
            description = self._descriptions.get(field.full_name)
            if description:
                parameter["description"] = description
            yield parameter
        writable = _writable_paths(route)
        for name, target in route.binding.query_parameters:
            schema = self._builder.field(target.leaf, with_description=False)
            if schema.pop("readOnly", False):
                continue
            parameter = {"name": name, "in": "query", "schema": schema}
            if target.path == ("update_mask",) and writable:
                schema["pattern"] = _mask_pattern(writable)
                parameter["description"] = (
                    "The fields to change, comma-separated: "
                    + ", ".join(f"`{path}`" for path in writable)
                    + ". A field named here and left out of the body is cleared. Without it (or "
                    "empty) the fields the body sends are the fields changed (AIP-134)."
                )
            elif description := self._descriptions.get(target.leaf.full_name, ""):
                parameter["description"] = description
            if is_required(target.leaf) and len(target.path) == 1:
                parameter["required"] = True
            if target.leaf.is_repeated:
                parameter.update(style="form", explode=True)
            yield parameter

    def request_body(self, route: Route) -> dict[str, Any] | None:
        request_type = route.method.descriptor.input_type
        if not route.body:
            return None
        if route.body == "*":
            bound = frozenset(v for v in route.template.variables if "." not in v)
            schema = self._builder.without_path_fields(request_type, bound)
            required = any(
                is_required(field) and field.name not in bound for field in request_type.fields
            )
        else:
            field = request_type.fields_by_name[route.body]
            if route.binding.mask_names:
                schema = self._builder.patch(message_of(field))
            else:
                schema = self._builder.field(field, with_description=False)
            # A path that sets fields of the body (`{task.id}`) populates it without a body.
            required = is_required(field) and not any(
                v.startswith(f"{field.name}.") for v in route.template.variables
            )
        return {"required": required, "content": {"application/json": {"schema": schema}}}

    def responses(self, route: Route) -> dict[str, Any]:
        method = route.method
        output = method.descriptor.output_type
        if route.response_body:
            schema = self._builder.field(output.fields_by_name[route.response_body])
        else:
            schema = self._builder.message(output)
        status = "201" if is_create(route) else "200"
        ok: dict[str, Any] = {"description": "Created" if status == "201" else "OK"}
        if method.server_streaming:
            ok["description"] = (
                "A stream of messages: Server-Sent Events (`event: message`, `id:` the "
                "message's cursor, `event: error` when the stream fails), NDJSON, or a JSON "
                "array, by the Accept header. Each message has the schema given here."
            )
            ok["content"] = {
                "text/event-stream": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": schema},
                "application/json": {"schema": {"type": "array", "items": schema}},
            }
        else:
            ok["content"] = {"application/json": {"schema": schema}}
        ok["headers"] = {
            **API_HEADERS,
            **(
                {
                    "Location": {
                        "description": "URL of the created resource.",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                    }
                }
                if status == "201" and route.binding.resource_field
                else {}
            ),
        }
        responses: dict[str, Any] = {status: ok}
        for code in refusals(route):
            responses[code] = {"$ref": f"#/components/responses/{REFUSALS[code][0]}"}
        responses["5XX"] = {"$ref": f"#/components/responses/{SERVER_ERROR}"}
        return responses


def is_create(route: Route) -> bool:
    """A `POST` of a `Create*` RPC: 201 with `Location` (edge.gateway)."""
    return route.http_method == "post" and route.method.name.startswith("Create")


def _writable_paths(route: Route) -> list[str]:
    """JSON names of the fields an update's `updateMask` may name: the resource's fields that
    are neither output only, immutable nor the etag (edge.transcoding)."""
    field = route.binding.body_field
    if not route.binding.mask_names or field is None:
        return []
    names = set(route.binding.mask_names.values())
    return [
        f.json_name for f in message_of(field).fields if f.name in names and not is_immutable(f)
    ]


def _mask_pattern(paths: list[str]) -> str:
    one = "(?:" + "|".join(re.escape(path) for path in paths) + ")"
    return f"^(?:{one}(?:,{one})*)?$"


FRONT_DOOR_REFUSALS = ("400", "408", "413", "414", "431")
"""What the front door (edge.frontdoor) can answer on any route, before the route runs."""
SERVER_ERROR = "Error"

REFUSALS: dict[str, tuple[str, str]] = {
    "400": (
        "BadRequest",
        "The request is malformed or breaks a rule; the ErrorInfo `reason` and the BadRequest "
        "`fieldViolations` say which: malformed JSON (`MALFORMED_JSON`, `JSON_TOO_DEEP`), an "
        "unknown field or parameter (`UNKNOWN_PARAMETER`), a value its field cannot hold "
        "(`INVALID_JSON_VALUE`), a validation rule (`INVALID_REQUEST`), or a rule that depends "
        "on stored state, such as a page token of another listing (`PAGE_TOKEN_INVALID`) or a "
        "precondition of the resource (FAILED_PRECONDITION is 400 too).",
    ),
    "401": (
        "Unauthenticated",
        "No valid access token: missing, malformed, expired, for another audience, or revoked "
        "(`TOKEN_REVOKED`).",
    ),
    "403": (
        "PermissionDenied",
        "The token's role or permissions do not allow the call (`PERMISSION_MISSING`).",
    ),
    "404": (
        "NotFound",
        "What the path or the request names does not exist in the caller's organization.",
    ),
    "408": (
        "RequestTimeout",
        "The request head or body did not arrive in time (`HEADER_TIMEOUT`, `BODY_TIMEOUT`); "
        "the connection is closed.",
    ),
    "409": (
        "Conflict",
        "It already exists (ALREADY_EXISTS), or a concurrent change got in the way (ABORTED): "
        "read again and retry.",
    ),
    "412": (
        "PreconditionFailed",
        "The etag sent is not the stored one (`ETAG_MISMATCH`): someone changed it since it was "
        "read; read it again.",
    ),
    "413": (
        "PayloadTooLarge",
        "The body is larger than the edge's limit (`BODY_TOO_LARGE`); the connection is closed.",
    ),
    "414": ("UriTooLong", "The request target is longer than the limit (`URI_TOO_LONG`)."),
    "429": (
        "TooManyRequests",
        "A rate limit or quota (`RATE_LIMITED`): retry after `Retry-After` seconds.",
    ),
    "431": (
        "HeadersTooLarge",
        "Too many or too large header fields, or an oversized `Authorization` "
        "(`HEADERS_TOO_LARGE`); the connection is closed.",
    ),
}
"""Refusals by HTTP status: the response component's name and what it means."""


def refusals(route: Route) -> list[str]:
    """The 4xx statuses `route` can answer, from what the front door, the edge's limits and the
    kit do with any call, and what the route's shape allows."""
    method = route.method
    request_type = method.descriptor.input_type
    codes = {*FRONT_DOOR_REFUSALS, "429", "401"}  # every /api call is rate-limited; a bad token
    if not method.public:
        codes.add("403")
    if route.template.variables or _names_a_resource(request_type):
        codes.add("404")
    if route.http_method != "get":
        codes.add("409")
    # An update's body resource carries its etag (a create's is ignored: nothing to compare).
    body_field = route.binding.body_field
    updates_etag = (
        body_field is not None
        and (route.binding.mask_names or route.http_method in ("patch", "put"))
        and body_field.type == FieldDescriptor.TYPE_MESSAGE
        and "etag" in message_of(body_field).fields_by_name
    )
    if "etag" in request_type.fields_by_name or updates_etag:
        codes.add("412")
    return sorted(codes)


def _names_a_resource(message: descriptor.Descriptor) -> bool:
    """Whether a request names something stored outside its path: a `name` or an `…_id` field
    of its own (RenderPrompt's `name`, CheckQuota's `project_id`) that may name nothing."""
    return any(
        field.type == FieldDescriptor.TYPE_STRING
        and not field.is_repeated
        and (field.name == "name" or field.name.endswith("_id"))
        and not is_output_only(field)
        for field in message.fields
    )


def _response_components() -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}}
    headers = {"X-Request-Id": REQUEST_ID_HEADER}
    components: dict[str, Any] = {
        name: {"description": text, "headers": headers, "content": error}
        for name, text in REFUSALS.values()
    }
    components["TooManyRequests"]["headers"] = {
        **headers,
        "Retry-After": {
            "description": "Seconds to wait before retrying.",
            "schema": {"type": "integer", "minimum": 0},
        },
    }
    components[SERVER_ERROR] = {
        "description": "The call failed on the server side: 500 (quote the request id), 501 "
        "(not served here), 503 (unavailable; `Retry-After` when known), 504 (out of time).",
        "headers": headers,
        "content": error,
    }
    return components


REQUEST_ID_HEADER: dict[str, Any] = {
    "description": "The request's id: the caller's `X-Request-Id` when sane, else a new one.",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
}
API_HEADERS: dict[str, Any] = {
    "X-Request-Id": REQUEST_ID_HEADER,
    "RateLimit-Policy": {
        "description": "The nearest rate limit (draft-ietf-httpapi-ratelimit-headers): "
        '`"<policy>";q=<quota>;w=<window seconds>`.',
        "required": True,
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of it: `"<policy>";r=<remaining>;t=<seconds to full>`.',
        "required": True,
        "schema": {"type": "string"},
    },
}


TENANT_PARAMETER = "organization_id"
"""How a path variable naming the organization ends (`organization_id`,
`role_organization_id`): it must be the caller's token's (DESIGN.md,
Identity and tenancy), so no link fills it with the id of an organization just created (its
follow-up is switching the session there, edge.auth.FOLLOW_UPS)."""


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def _links(operations: list[tuple[str, Route, dict[str, Any]]], names: Any) -> None:
    """Add to each create's 201 answer a link to every operation on what it created: the paths
    that continue its own with one more variable (`…/tasks` → `…/tasks/{task_id}`, its
    `:verbs` and sub-collections), filled from the create's path and the new resource's id."""
    for path, route, operation in operations:
        if not is_create(route) or not route.binding.resource_field:
            continue
        output = route.method.descriptor.output_type
        field = output.fields_by_name[route.binding.resource_field]
        own = names(route)
        links: dict[str, Any] = {}
        for other_path, other, other_operation in operations:
            rest = _shape(other_path)[len(_shape(path)) :]
            if not _shape(other_path).startswith(_shape(path)) or not re.fullmatch(
                r"/\{\}(:[A-Za-z]+|/[^{}]*)?", rest
            ):
                continue
            target = names(other)
            if target[len(own)].endswith(TENANT_PARAMETER):
                continue
            parameters = {
                f"path.{name}": f"$request.path.{own[i]}"
                if i < len(own)
                else f"$response.body#/{field.json_name}/id"
                for i, name in enumerate(target)
            }
            links[other_operation["operationId"].split("_", 1)[1]] = {
                "operationId": other_operation["operationId"],
                "parameters": parameters,
                "description": f"The created {message_of(field).name}, by its id.",
            }
        if links:
            operation["responses"]["201"]["links"] = dict(sorted(links.items()))


def build_document(
    files: descriptor_pb2.FileDescriptorSet, table: RouteTable, *, server_url: str = ""
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route in the table."""
    descriptions = comments(files)
    builder = SchemaBuilder(descriptions)
    operations = _Operations(builder, descriptions)
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, str] = {}
    built: list[tuple[str, Route, dict[str, Any]]] = []
    for route in table.routes:
        method = route.method
        service = method.descriptor.containing_service
        tags[service.name] = descriptions.get(service.full_name, "")
        description = descriptions.get(method.descriptor.full_name, "")
        operation: dict[str, Any] = {
            "operationId": operations.operation_id(route),
            "tags": [service.name],
            "summary": description.split("\n", 1)[0],
            "description": description,
            "responses": operations.responses(route),
        }
        parameters = list(operations.parameters(route))
        if parameters:
            operation["parameters"] = parameters
        body = operations.request_body(route)
        if body is not None:
            operation["requestBody"] = body
        operation["security"] = (
            [{"bearerAuth": []}] if not method.public else [{}, {"bearerAuth": []}]
        )
        path = operations.path(route)
        paths.setdefault(path, {})[route.http_method] = operation
        built.append((path, route, operation))
    _links(built, operations.path_names)
    # Every request message is a component too: WebSocket subscriptions send them whole.
    for method in table.methods.values():
        builder.message(method.descriptor.input_type)
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Coder API",
            "version": "v1",
            "description": "REST API of the Coder suite, transcoded to its gRPC services. "
            "Generated from the proto tree.",
        },
        "tags": [
            {"name": name, "description": text} if text else {"name": name}
            for name, text in sorted(tags.items())
        ],
        "paths": paths,
        "components": {
            "schemas": {**builder.schemas, ERROR_SCHEMA: _error_schema()},
            "responses": _response_components(),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def dumps(document: dict[str, Any]) -> str:
    """The document as written to gen/openapi/openapi.json: sorted keys, stable."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
