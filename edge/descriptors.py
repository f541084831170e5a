"""The API's descriptors, loaded once at start-up from the descriptor set `make gen` writes.

Files missing from the default pool (a domain whose generated module is not imported here) are
added to it, so message classes, `json_format` and `Any` resolution all see one pool.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buf.validate import validate_pb2  # noqa: F401

# Imported for their side effect: the option extensions read below are registered in the pool.
from google.api import annotations_pb2, field_behavior_pb2, http_pb2  # noqa: F401
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, message_factory
from google.rpc import error_details_pb2  # noqa: F401

from coder.common.v1 import access_pb2


def load_descriptor_set(path: Path) -> descriptor_pb2.FileDescriptorSet:
    return descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())


def _generated_module(file_name: str) -> str:
    """`coder/planning/v1/task.proto` → `coder.planning.v1.task_pb2`."""
    return file_name.removesuffix(".proto").replace("/", ".").replace("-", "_") + "_pb2"


def register_files(files: descriptor_pb2.FileDescriptorSet) -> descriptor_pool.DescriptorPool:
    """Make every file of the set known to the default pool (imports come first in the set).

    A file's generated module is imported when there is one, so the pool holds exactly what a
    later import of that module would add; only a file without a module is added directly.
    """
    pool = descriptor_pool.Default()
    for file in files.file:
        try:
            pool.FindFileByName(file.name)
            continue
        except KeyError:
            pass
        try:
            importlib.import_module(_generated_module(file.name))
        except ImportError:
            pool.Add(file)
    return pool


def message_class(message: descriptor.Descriptor) -> Any:
    return message_factory.GetMessageClass(message)


def message_of(field: descriptor.FieldDescriptor) -> descriptor.Descriptor:
    """The message type of a message field."""
    assert field.message_type is not None, f"{field.full_name} is not a message field"
    return field.message_type


def enum_of(field: descriptor.FieldDescriptor) -> descriptor.EnumDescriptor:
    """The enum type of an enum field."""
    assert field.enum_type is not None, f"{field.full_name} is not an enum field"
    return field.enum_type


@dataclass(frozen=True, slots=True)
class Method:
    """One RPC of the API with what the edge needs to call it."""

    descriptor: descriptor.MethodDescriptor
    path: str
    """gRPC path, `/coder.planning.v1.PlanningService/GetTask`."""
    package: str
    public: bool
    http_rules: tuple[Any, ...]
    """`google.api.HttpRule`s: the main rule, then its additional bindings."""

    @property
    def name(self) -> str:
        return str(self.descriptor.name)

    @property
    def service_name(self) -> str:
        return str(self.descriptor.containing_service.name)

    @property
    def full_name(self) -> str:
        return self.path.lstrip("/")

    @property
    def server_streaming(self) -> bool:
        return bool(self.descriptor.server_streaming)

    @property
    def client_streaming(self) -> bool:
        return bool(self.descriptor.client_streaming)

    @property
    def domain(self) -> str:
        """`planning` from `coder.planning.v1`."""
        parts = self.package.split(".")
        return parts[1] if len(parts) > 2 else self.package


def _http_rules(method: descriptor.MethodDescriptor) -> tuple[Any, ...]:
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return ()
    rule = options.Extensions[annotations_pb2.http]
    return (rule, *rule.additional_bindings)


def _public(method: descriptor.MethodDescriptor) -> bool:
    options = method.GetOptions()
    return options.HasExtension(access_pb2.access) and bool(
        options.Extensions[access_pb2.access].public
    )


def api_methods(
    files: descriptor_pb2.FileDescriptorSet, pool: descriptor_pool.DescriptorPool
) -> Iterator[Method]:
    """Every method of every `coder.*` service, in descriptor-set order."""
    for file in files.file:
        if not file.package.startswith("coder."):
            continue
        for service in file.service:
            found = pool.FindServiceByName(f"{file.package}.{service.name}")
            for method in found.methods:
                yield Method(
                    descriptor=method,
                    path=f"/{found.full_name}/{method.name}",
                    package=file.package,
                    public=_public(method),
                    http_rules=_http_rules(method),
                )
