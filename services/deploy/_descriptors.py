"""What the Envoy config needs from the descriptor set: the RPCs of the transcoded services with
their `google.api.http` bindings and access rules, and the descriptor bytes the transcoder loads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2
from google.rpc import error_details_pb2, status_pb2

from coder.common.v1 import access_pb2

# The transcoder prints `google.rpc.Status` details (ErrorInfo, BadRequest, RetryInfo,
# RequestInfo) packed in Any, so their types must be in the set it loads.
_STATUS_FILES = (status_pb2.DESCRIPTOR, error_details_pb2.DESCRIPTOR)


@dataclass(frozen=True, slots=True)
class HttpBinding:
    """One `google.api.http` binding: an HTTP method and a path template."""

    method: str
    template: str

    @property
    def regex(self) -> str | None:
        """RE2 regex matching the template's paths; None when the template is a plain path."""
        return template_regex(self.template)


@dataclass(frozen=True, slots=True)
class Rpc:
    """One RPC of a transcoded service."""

    service: str
    name: str
    public: bool
    bindings: tuple[HttpBinding, ...]
    resource_field: str = ""
    """For a create RPC, the JSON name of its response field holding the created resource."""

    @property
    def grpc_path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def creates(self) -> bool:
        """Whether a POST of this RPC creates a resource (201 + `Location` at HTTP)."""
        return self.name.startswith("Create")


def load_descriptor_set(path: Path) -> descriptor_pb2.FileDescriptorSet:
    """The FileDescriptorSet at `path` (as written by `make gen`)."""
    return descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())


def _services(
    descriptor_set: descriptor_pb2.FileDescriptorSet,
) -> dict[str, descriptor_pb2.ServiceDescriptorProto]:
    found: dict[str, descriptor_pb2.ServiceDescriptorProto] = {}
    for file in descriptor_set.file:
        for service in file.service:
            full_name = f"{file.package}.{service.name}" if file.package else service.name
            found[full_name] = service
    return found


def _messages(
    descriptor_set: descriptor_pb2.FileDescriptorSet,
) -> dict[str, descriptor_pb2.DescriptorProto]:
    """Every message type of the set by its full name with a leading dot (as `type_name`)."""
    found: dict[str, descriptor_pb2.DescriptorProto] = {}

    def add(prefix: str, messages: Iterable[descriptor_pb2.DescriptorProto]) -> None:
        for message in messages:
            name = f"{prefix}.{message.name}"
            found[name] = message
            add(name, message.nested_type)

    for file in descriptor_set.file:
        add(f".{file.package}" if file.package else "", file.message_type)
    return found


def _json_name(field: descriptor_pb2.FieldDescriptorProto) -> str:
    if field.json_name:
        return field.json_name
    head, *rest = field.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def resource_field(
    response: descriptor_pb2.DescriptorProto, messages: dict[str, descriptor_pb2.DescriptorProto]
) -> str:
    """The JSON name of the response field holding a created resource: the first singular
    message field whose type has an `id` (the rule the edge applies), or empty."""
    for field in response.field:
        if (
            field.type != descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
            or field.label == descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
        ):
            continue
        inner = messages.get(field.type_name)
        if inner is not None and any(f.name == "id" for f in inner.field):
            return _json_name(field)
    return ""


def _bindings(rule: http_pb2.HttpRule) -> list[HttpBinding]:
    found: list[HttpBinding] = []
    pattern = rule.WhichOneof("pattern")
    if pattern == "custom":
        found.append(HttpBinding(rule.custom.kind.upper(), rule.custom.path))
    elif pattern is not None:
        found.append(HttpBinding(pattern.upper(), getattr(rule, pattern)))
    for extra in rule.additional_bindings:
        found += _bindings(extra)
    return found


def rpcs(
    descriptor_set: descriptor_pb2.FileDescriptorSet, service_names: Iterable[str]
) -> list[Rpc]:
    """Every RPC of the named services, in descriptor order; KeyError for a missing service."""
    services = _services(descriptor_set)
    messages = _messages(descriptor_set)
    found: list[Rpc] = []
    for full_name in service_names:
        try:
            service = services[full_name]
        except KeyError:
            raise KeyError(
                f"service {full_name} is not in the descriptor set; run `make gen`"
            ) from None
        for method in service.method:
            options = method.options
            rule = options.Extensions[access_pb2.access]
            bindings = _bindings(options.Extensions[annotations_pb2.http])
            created = ""
            if method.name.startswith("Create") and method.output_type in messages:
                created = resource_field(messages[method.output_type], messages)
            found.append(Rpc(full_name, method.name, bool(rule.public), tuple(bindings), created))
    return found


def transcoder_descriptor_set(
    descriptor_set: descriptor_pb2.FileDescriptorSet, service_names: Iterable[str]
) -> bytes:
    """The set the transcoder loads: the files of the named services and everything they
    import, plus google.rpc.Status and its detail types, in dependency order and without source
    info (comments are not needed at run time), serialized deterministically so the generated
    config is reproducible and changes only when these files do."""
    by_name = {file.name: file for file in descriptor_set.file}
    for extra in _STATUS_FILES:
        by_name.setdefault(
            extra.name, descriptor_pb2.FileDescriptorProto.FromString(extra.serialized_pb)
        )
    wanted = set(service_names)
    roots = [
        file.name
        for file in descriptor_set.file
        if any(f"{file.package}.{service.name}" in wanted for service in file.service)
    ]
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        try:
            file = by_name[name]
        except KeyError:
            raise ValueError(f"{name} is imported but not in the descriptor set") from None
        for dependency in file.dependency:
            visit(dependency)
        ordered.append(name)

    for name in [*roots, *(extra.name for extra in _STATUS_FILES)]:
        visit(name)
    trimmed = descriptor_pb2.FileDescriptorSet()
    for name in ordered:
        file = trimmed.file.add()
        file.CopyFrom(by_name[name])
        file.ClearField("source_code_info")
    return trimmed.SerializeToString(deterministic=True)


_VARIABLE = re.compile(r"\{([^}=]+)(?:=([^}]*))?\}")


def _segments_regex(segments: Sequence[str]) -> str:
    parts: list[str] = []
    for segment in segments:
        if segment == "**":
            parts.append(".+")
        elif segment == "*":
            parts.append("[^/]+")
        else:
            parts.append(re.escape(segment))
    return "/".join(parts)


def template_regex(template: str) -> str | None:
    """An RE2 regex for a `google.api.http` path template (`{var}`, `{var=a/*}`, `*`, `**`,
    `:verb`), or None when the template has no variables or wildcards (an exact path)."""
    path, colon, verb = template.partition(":")
    if not _VARIABLE.search(path) and "*" not in path:
        return None
    pieces: list[str] = []
    position = 0
    for match in _VARIABLE.finditer(path):
        pieces.append(_segments_regex(path[position : match.start()].split("/")))
        pieces.append(_segments_regex((match.group(2) or "*").split("/")))
        position = match.end()
    pieces.append(_segments_regex(path[position:].split("/")))
    regex = "".join(pieces)
    if colon:
        regex += re.escape(":" + verb)
    return regex
