"""REST → gRPC transcoding: HTTP request → request message → gRPC call → JSON response.

Everything that can be worked out from the descriptors is worked out once, when the table is
built: the compiled route templates, the query parameters each route accepts (nested `a.b`,
repeated, enums, well-known types in their JSON form), the setters of path variables, the
message classes and their serializers. A request then pays a route match, one JSON parse, the
call and one JSON print.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import grpc
from google.api import field_behavior_pb2
from google.protobuf import descriptor, descriptor_pb2, json_format
from opentelemetry import propagate

from edge.descriptors import Method, api_methods, message_class, message_of, register_files
from edge.errors import bad_request
from edge.routes import Route, Router, compile_template, http_bindings
from edge.values import check_message

FieldDescriptor = descriptor.FieldDescriptor

WELL_KNOWN_SCALARS = frozenset(
    {
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
        "google.protobuf.FieldMask",
        "google.protobuf.DoubleValue",
        "google.protobuf.FloatValue",
        "google.protobuf.Int64Value",
        "google.protobuf.UInt64Value",
        "google.protobuf.Int32Value",
        "google.protobuf.UInt32Value",
        "google.protobuf.BoolValue",
        "google.protobuf.StringValue",
        "google.protobuf.BytesValue",
    }
)
"""Message types written as one JSON string or number, so they fit a query parameter."""

_MASK_NAMES = ("update_mask", "updateMask")
_BOOLS = {"true": True, "1": True, "false": False, "0": False}
_QUERY_DEPTH = 4
_ENUM_NUMBER = re.compile(r"-?[0-9]{1,20}")


def _is_bool(field: FieldDescriptor) -> bool:
    if field.type == FieldDescriptor.TYPE_BOOL:
        return True
    return (
        field.type == FieldDescriptor.TYPE_MESSAGE
        and message_of(field).full_name == "google.protobuf.BoolValue"
    )


def query_value(field: FieldDescriptor, raw: str, name: str) -> Any:
    """A query or path string as the proto3 JSON value of `field`."""
    if _is_bool(field):
        try:
            return _BOOLS[raw.lower()]
        except KeyError:
            raise bad_request(f"{name} must be true or false", name) from None
    if field.type == FieldDescriptor.TYPE_ENUM and _ENUM_NUMBER.fullmatch(raw):
        return int(raw)
    return raw


@dataclass(frozen=True, slots=True)
class QueryField:
    """A query parameter a route accepts: the proto path it sets and its leaf field."""

    path: tuple[str, ...]
    leaf: FieldDescriptor


def _query_leaves(
    message: descriptor.Descriptor, prefix: tuple[str, ...], json_prefix: tuple[str, ...]
) -> Iterable[tuple[tuple[str, ...], tuple[str, ...], FieldDescriptor]]:
    for field in message.fields:
        path = (*prefix, field.name)
        json_path = (*json_prefix, field.json_name)
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            yield path, json_path, field
            continue
        inner = message_of(field)
        if inner.full_name in WELL_KNOWN_SCALARS:
            yield path, json_path, field
        elif (
            not field.is_repeated and not inner.GetOptions().map_entry and len(path) < _QUERY_DEPTH
        ):
            yield from _query_leaves(inner, path, json_path)


def _bound(path: tuple[str, ...], bound: Iterable[tuple[str, ...]]) -> bool:
    """Whether `path` is, or lies under or over, a field already bound by the path or body."""
    return any(path[: len(b)] == b or b[: len(path)] == path for b in bound)


class Binding:
    """Builds the request message of one route from path variables, query and body."""

    def __init__(
        self, method: Method, variables: tuple[str, ...], body: str, response_body: str = ""
    ) -> None:
        self.request_class = message_class(method.descriptor.input_type)
        self.response_class = message_class(method.descriptor.output_type)
        output = method.descriptor.output_type
        self.response_key = output.fields_by_name[response_body].json_name if response_body else ""
        """JSON name of the response field sent alone (`response_body`), or empty."""
        self.resource_field = _resource_field(output) if method.name.startswith("Create") else ""
        """For a create RPC, the response field holding the created resource."""
        request_type = method.descriptor.input_type
        self.body = body
        self.body_field: FieldDescriptor | None = None
        if body and body != "*":
            self.body_field = request_type.fields_by_name[body]
        self.variables = tuple(self._resolve(request_type, name) for name in variables)
        bound: list[tuple[str, ...]] = [tuple(name.split(".")) for name in variables]
        if self.body_field is not None:
            bound.append((self.body_field.name,))
        self.query: dict[str, QueryField] = {}
        self.query_parameters: list[tuple[str, QueryField]] = []
        """The accepted query parameters by their JSON name (proto names are accepted too)."""
        if body != "*":
            for path, json_path, leaf in _query_leaves(request_type, (), ()):
                if _bound(path, bound):
                    continue
                target = QueryField(path, leaf)
                self.query[".".join(path)] = target
                self.query[".".join(json_path)] = target
                self.query_parameters.append((".".join(json_path), target))
        self.cursor_field: FieldDescriptor | None = request_type.fields_by_name.get("cursor")
        self.mask_names = _implied_mask_names(request_type, self.body_field)
        """For an update whose body is the resource: JSON and proto names of the body's
        updatable fields → proto name, to name in `update_mask` when the client sent none."""

    @staticmethod
    def _resolve(message: descriptor.Descriptor, dotted: str) -> tuple[FieldDescriptor, ...]:
        chain = []
        for part in dotted.split("."):
            field = message.fields_by_name[part]
            chain.append(field)
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                message = message_of(field)
        return tuple(chain)

    def build(
        self, variables: tuple[str, ...], query: str, document: Any, last_event_id: str = ""
    ) -> Any:
        """The request message from the path variables, the query string and the body's JSON
        document (`None` without a body; parsed by `edge.bodies.strict_json`)."""
        request = self.request_class()
        if self.body and document is not None:
            self._apply_body(request, document)
        if query:
            self._apply_query(request, query)
        for chain, value in zip(self.variables, variables, strict=True):
            self._set(request, chain, value)
        if last_event_id and self.cursor_field is not None:
            self._set(request, (self.cursor_field,), last_event_id)
        return request

    def _apply_body(self, request: Any, document: Any) -> None:
        if self.body_field is not None:
            if self.mask_names and isinstance(document, dict):
                self._imply_mask(request, document)
            document = {self.body_field.name: document}
        elif not isinstance(document, dict):
            raise bad_request("the body must be a JSON object", reason="MALFORMED_JSON")
        self._parse(document, request, self.body_field.json_name if self.body_field else "")

    def _imply_mask(self, request: Any, resource: dict[str, Any]) -> None:
        # AIP-134: without a mask the update touches the fields the client sent, including
        # those it sent empty to clear them. A mask in the query string replaces this one.
        paths = [self.mask_names[key] for key in resource if key in self.mask_names]
        request.update_mask.paths.extend(dict.fromkeys(paths))

    def _apply_query(self, request: Any, query: str) -> None:
        document: dict[str, Any] = {}
        pairs = parse_qsl(query, keep_blank_values=True)
        if self.mask_names:
            # An empty `updateMask=` names no field: the body's fields stay the mask (AIP-134).
            pairs = [(k, v) for k, v in pairs if k not in _MASK_NAMES or v]
            if any(key in _MASK_NAMES for key, _ in pairs):
                request.ClearField("update_mask")
        for key, raw in pairs:
            target = self.query.get(key)
            if target is None:
                raise bad_request(f"unknown query parameter {key!r}", key, "UNKNOWN_PARAMETER")
            node = document
            for part in target.path[:-1]:
                node = node.setdefault(part, {})
            value = query_value(target.leaf, raw, key)
            name = target.path[-1]
            if target.leaf.is_repeated:
                node.setdefault(name, []).append(value)
            elif name in node:
                raise bad_request(f"query parameter {key!r} is not repeated", key)
            else:
                node[name] = value
        self._parse(document, request, "")

    @staticmethod
    def _parse(document: dict[str, Any], message: Any, where: str) -> None:
        parse_into(document, message, where)

    def _set(self, request: Any, chain: tuple[FieldDescriptor, ...], raw: str) -> None:
        parent = request
        for field in chain[:-1]:
            parent = getattr(parent, field.name)
        leaf = chain[-1]
        if leaf.type == FieldDescriptor.TYPE_STRING and not leaf.is_repeated:
            setattr(parent, leaf.name, raw)
            return
        name = ".".join(f.name for f in chain)
        self._parse({leaf.name: query_value(leaf, raw, name)}, parent, name)


def parse_into(document: dict[str, Any], message: Any, where: str = "") -> None:
    """Fill `message` from a JSON document, its values first checked against their fields
    (`edge.values`); every refusal is a 400 `INVALID_JSON_VALUE` naming `where`."""
    check_message(document, message.DESCRIPTOR)
    try:
        json_format.ParseDict(document, message)
    except json_format.ParseError as error:
        raise bad_request(str(error), where, "INVALID_JSON_VALUE") from None
    except (TypeError, ValueError, OverflowError) as error:
        # What ParseDict raises unwrapped for a value it cannot convert (a huge exponent into
        # an integer, an unencodable string); never a reason to fail the request with a 500.
        raise bad_request(
            f"a value cannot be converted: {error}", where, "INVALID_JSON_VALUE"
        ) from None


def _implied_mask_names(
    request_type: descriptor.Descriptor, body_field: FieldDescriptor | None
) -> dict[str, str]:
    mask = request_type.fields_by_name.get("update_mask")
    if (
        body_field is None
        or body_field.type != FieldDescriptor.TYPE_MESSAGE
        or mask is None
        or mask.type != FieldDescriptor.TYPE_MESSAGE
        or message_of(mask).full_name != "google.protobuf.FieldMask"
    ):
        return {}
    names: dict[str, str] = {}
    for field in message_of(body_field).fields:
        behaviors = field.GetOptions().Extensions[field_behavior_pb2.field_behavior]
        if field.name == "etag" or field_behavior_pb2.OUTPUT_ONLY in behaviors:
            continue  # a precondition or a read-back value, never something to change
        names[field.json_name] = field.name
        names[field.name] = field.name
    return names


@dataclass(frozen=True, slots=True)
class CallOptions:
    """What an incoming HTTP request passes to the gRPC call."""

    metadata: tuple[tuple[str, str], ...]
    timeout: float
    request_id: str


_PASSED_HEADERS = ("authorization",)
_TRACE_HEADERS = ("traceparent", "tracestate")


def call_options(
    headers: Mapping[str, str], request_id: str, default_timeout: float
) -> CallOptions:
    """Metadata (token, request id, W3C trace context) and the budget of a call.

    The trace context is the edge's own span when one is active (so the service's span is its
    child), else the caller's headers passed through unchanged."""
    metadata = [("x-request-id", request_id)]
    metadata.extend((name, headers[name]) for name in _PASSED_HEADERS if name in headers)
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if "traceparent" in carrier:
        metadata.extend(carrier.items())
    else:
        metadata.extend((name, headers[name]) for name in _TRACE_HEADERS if name in headers)
    timeout = default_timeout
    asked = headers.get("x-request-timeout")
    if asked:
        try:
            seconds = float(asked)
        except ValueError:
            raise bad_request(
                "X-Request-Timeout must be a number of seconds", "X-Request-Timeout"
            ) from None
        if seconds > 0:
            timeout = min(timeout, seconds)
    return CallOptions(tuple(metadata), timeout, request_id)


def render(message: Any) -> dict[str, Any]:
    """A message in the JSON profile: lowerCamelCase, enum names, int64 as strings, every field
    without presence printed."""
    result: dict[str, Any] = json_format.MessageToDict(
        message, always_print_fields_with_no_presence=True
    )
    return result


def dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _resource_field(response: descriptor.Descriptor) -> str:
    """The field of a create RPC's response holding the created resource: its first singular
    message field whose type has an `id`."""
    for field in response.fields:
        if (
            field.type == FieldDescriptor.TYPE_MESSAGE
            and not field.is_repeated
            and "id" in message_of(field).fields_by_name
        ):
            return str(field.name)
    return ""


class RouteTable:
    """Every HTTP binding of every RPC, plus the RPCs by full name (for WebSocket
    subscriptions), built from the descriptor set."""

    def __init__(self, files: descriptor_pb2.FileDescriptorSet) -> None:
        pool = register_files(files)
        self.methods: dict[str, Method] = {}
        self.bindings: dict[str, Binding] = {}
        routes: list[Route] = []
        for method in api_methods(files, pool):
            if method.client_streaming:
                continue
            self.methods[method.full_name] = method
            self.bindings[method.full_name] = Binding(method, (), "")
            for rule in method.http_rules:
                found = http_bindings(rule)
                if found is None:
                    continue
                verb, source = found
                template = compile_template(source)
                binding = Binding(method, template.variables, rule.body, rule.response_body)
                routes.append(Route(verb, template, rule.body, rule.response_body, method, binding))
        self.router = Router(routes)

    @property
    def routes(self) -> list[Route]:
        return self.router.routes


class Calls:
    """gRPC multicallables per RPC, on the channel of the RPC's domain, made once."""

    def __init__(self, table: RouteTable, channel_of: Any, probe_domain: str) -> None:
        self._unary: dict[str, Any] = {}
        self._stream: dict[str, Any] = {}
        for name, method in table.methods.items():
            domain = method.domain if method.domain != "ops" else probe_domain
            channel: grpc.aio.Channel = channel_of(domain)
            binding = table.bindings[name]
            factory = channel.unary_stream if method.server_streaming else channel.unary_unary
            callable_ = factory(
                method.path,
                request_serializer=binding.request_class.SerializeToString,
                response_deserializer=binding.response_class.FromString,
            )
            (self._stream if method.server_streaming else self._unary)[name] = callable_

    def unary(self, name: str) -> Any:
        return self._unary[name]

    def stream(self, name: str) -> Any:
        return self._stream[name]
