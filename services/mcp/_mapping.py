"""Proto ↔ document: each stored resource keeps its message as proto3 JSON under one field,
beside the top-level fields the repository filters and sorts on."""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.message import Message

from coder.mcp.v1 import resources_pb2
from services.kit import timestamp_text
from services.kit.store import Document

M = TypeVar("M", bound=Message)

SERVER = "server"
SERVER_NAME = "server_name"


def plain(message: Message) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


def parsed(data: dict[str, Any], message: M) -> M:
    return ParseDict(data, message, ignore_unknown_fields=True)


def server_document(server: resources_pb2.Server) -> Document:
    stored = resources_pb2.Server()
    stored.CopyFrom(server)
    stored.ClearField("etag")
    return {
        "id": server.id,
        "kind": SERVER,
        "name": server.name,
        "createTime": timestamp_text(server.create_time),
        "server": plain(stored),
    }


def server_from_document(document: Document) -> resources_pb2.Server:
    server = parsed(document["server"], resources_pb2.Server())
    server.etag = document.get("_etag", "")
    return server


def policy_document(policy: resources_pb2.ToolPolicy) -> Document:
    return {"id": policy.role, "policy": plain(policy)}


def policy_from_document(document: Document) -> resources_pb2.ToolPolicy:
    return parsed(document["policy"], resources_pb2.ToolPolicy())


def execution_document(execution: resources_pb2.ToolExecution) -> Document:
    return {
        "id": execution.id,
        "tool": execution.tool,
        "startTime": timestamp_text(execution.start_time),
        "execution": plain(execution),
    }


def execution_from_document(document: Document) -> resources_pb2.ToolExecution:
    return parsed(document["execution"], resources_pb2.ToolExecution())
