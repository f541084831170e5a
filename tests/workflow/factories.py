"""Definitions for the workflow tests, built from proto3 JSON as a client would send them."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from coder.workflow.v1 import definition_pb2


def definition(steps: list[dict[str, Any]], **fields: Any) -> definition_pb2.Definition:
    """A definition named "flow" with `steps` (proto3 JSON) and other fields (JSON names)."""
    document = {"name": fields.pop("name", "flow"), "steps": steps, **fields}
    return json_format.ParseDict(document, definition_pb2.Definition())


def call_http(name: str, url: str, body: Any = None, **fields: Any) -> dict[str, Any]:
    http: dict[str, Any] = {"method": "POST" if body is not None else "GET", "url": url}
    if body is not None:
        http["body"] = body
    return {"name": name, "call": {"http": http}, **fields}


def gate(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "gate": {"prompt": "go on?", **fields}}


def wait(name: str, signal: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "wait": {"signal": signal, **fields}}


def timer(name: str, seconds: float) -> dict[str, Any]:
    return {"name": name, "timer": {"duration": f"{seconds}s"}}
