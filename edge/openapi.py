"""OpenAPI 3.1 document of the REST API, generated from the descriptor set.

One path item per `google.api.http` binding; operationId `<Service>_<Method>`; schemas in
`components/schemas` named by full proto name. Comments (source_code_info) become
descriptions, `field_behavior` REQUIRED becomes `required` and OUTPUT_ONLY `readOnly`, and
buf.validate rules become JSON Schema constraints. Well-known types take their proto3 JSON
forms. Every operation that is not public requires a bearer JWT.
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
DURATION_PATTERN = r"^-?\d+(\.\d+)?s$"

_INT64_PATTERN = r"^-?[0-9]+$"
_UINT64_PATTERN = r"^[0-9]+$"
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
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
    "google.protobuf.BytesValue": {"type": "string", "contentEncoding": "base64"},
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


def _rules(field: FieldDescriptor) -> Any | None:
    options = field.GetOptions()
    if not options.HasExtension(validate_pb2.field):
        return None
    return options.Extensions[validate_pb2.field]


def is_required(field: FieldDescriptor) -> bool:
    rules = _rules(field)
    return field_behavior_pb2.REQUIRED in _behaviors(field) or bool(rules and rules.required)


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
    elif kind == "enum":
        values = list(enum_of(field).values)
        if getattr(typed, "in"):
            values = [v for v in values if v.number in set(getattr(typed, "in"))]
        if typed.not_in:
            values = [v for v in values if v.number not in set(typed.not_in)]
        schema["enum"] = [v.name for v in values]
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

    def _message_schema(self, message: descriptor.Descriptor) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in message.fields:
            properties[field.json_name] = self.field(field)
            if is_required(field):
                required.append(field.json_name)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
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
            self.schemas[enum.full_name] = {
                "type": "string",
                "enum": [value.name for value in enum.values],
                "description": "\n".join(line for line in lines if line).strip(),
            }
        return self.ref(enum.full_name)

    def single(self, field: FieldDescriptor, rules: Any | None) -> dict[str, Any]:
        """The schema of one value of the field (an item, when it is repeated)."""
        kind = field.type
        schema: dict[str, Any]
        if kind == FieldDescriptor.TYPE_MESSAGE:
            return self.message(message_of(field))
        if kind == FieldDescriptor.TYPE_ENUM:
            schema = self.enum(enum_of(field))
            if rules is not None and rules.WhichOneof("type") == "enum":
                inline: dict[str, Any] = {"type": "string"}
                _scalar_constraints(inline, rules, field)
                return inline
            return schema
        if kind == FieldDescriptor.TYPE_STRING:
            schema = {"type": "string"}
        elif kind == FieldDescriptor.TYPE_BYTES:
            schema = {"type": "string", "contentEncoding": "base64"}
        elif kind == FieldDescriptor.TYPE_BOOL:
            schema = {"type": "boolean"}
        elif kind in _INT32:
            schema = {"type": "integer", "format": "int32"}
        elif kind in _UINT32:
            schema = {"type": "integer", "format": "int64", "minimum": 0}
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

    def field(self, field: FieldDescriptor, *, with_description: bool = True) -> dict[str, Any]:
        rules = _rules(field)
        schema: dict[str, Any]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            schema = {"type": "object", "additionalProperties": self.single(value, None)}
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
        else:
            schema = self.single(field, rules)
        if field_behavior_pb2.OUTPUT_ONLY in _behaviors(field):
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
        for name, target in route.binding.query_parameters:
            schema = self._builder.field(target.leaf, with_description=False)
            if schema.pop("readOnly", False):
                continue
            parameter = {"name": name, "in": "query", "schema": schema}
            if target.leaf.is_repeated:
                parameter.update(style="form", explode=True)
            description = self._descriptions.get(target.leaf.full_name)
            if description:
                parameter["description"] = description
            yield parameter

    def request_body(self, route: Route) -> dict[str, Any] | None:
        request_type = route.method.descriptor.input_type
        if not route.body:
            return None
        if route.body == "*":
            schema = self._builder.message(request_type)
            required = True
        else:
            field = request_type.fields_by_name[route.body]
            schema = self._builder.field(field, with_description=False)
            required = is_required(field)
        return {"required": required, "content": {"application/json": {"schema": schema}}}

    def responses(self, route: Route) -> dict[str, Any]:
        method = route.method
        output = method.descriptor.output_type
        if route.response_body:
            schema = self._builder.field(output.fields_by_name[route.response_body])
        else:
            schema = self._builder.message(output)
        created = route.http_method == "post" and method.name.startswith("Create")
        status = "201" if created else "200"
        ok: dict[str, Any] = {"description": "Created" if created else "OK"}
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
        if created:
            ok["headers"] = {
                "Location": {
                    "description": "URL of the created resource.",
                    "schema": {"type": "string"},
                }
            }
        error = {"$ref": "#/components/responses/Error"}
        return {status: ok, "4XX": error, "5XX": error}


def build_document(
    files: descriptor_pb2.FileDescriptorSet, table: RouteTable, *, server_url: str = ""
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route in the table."""
    descriptions = comments(files)
    builder = SchemaBuilder(descriptions)
    operations = _Operations(builder, descriptions)
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, str] = {}
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
        if not method.public:
            operation["security"] = [{"bearerAuth": []}]
        paths.setdefault(operations.path(route), {})[route.http_method] = operation
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
            "responses": {
                "Error": {
                    "description": "The call failed; see the error body.",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
                        }
                    },
                }
            },
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
