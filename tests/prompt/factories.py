"""Factories of the prompt tests: prompts, versions, variables, renders and event payloads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import json_format, struct_pb2

from coder.events.v1 import event_pb2
from coder.prompt.v1 import events_pb2, prompt_pb2, prompt_service_pb2
from coder.prompt.v1.prompt_service_pb2_grpc import PromptServiceStub
from tests.fixtures.tokens import auth

TEXT = prompt_pb2.PROMPT_TYPE_TEXT
CHAT = prompt_pb2.PROMPT_TYPE_CHAT
STRING = prompt_pb2.VARIABLE_TYPE_STRING
INTEGER = prompt_pb2.VARIABLE_TYPE_INTEGER
NUMBER = prompt_pb2.VARIABLE_TYPE_NUMBER
BOOLEAN = prompt_pb2.VARIABLE_TYPE_BOOLEAN
LIST = prompt_pb2.VARIABLE_TYPE_LIST


def value(raw: Any) -> struct_pb2.Value:
    message = struct_pb2.Value()
    json_format.ParseDict(raw, message)
    return message


def variable(name: str, kind: int = STRING, **fields: Any) -> prompt_pb2.Variable:
    """A declaration; `default=` is a plain value, `validation=` a dict of rules."""
    declared = prompt_pb2.Variable(name=name, type=kind)  # type: ignore[arg-type]
    if "default" in fields:
        declared.default_value.CopyFrom(value(fields.pop("default")))
    if "validation" in fields:
        json_format.ParseDict(fields.pop("validation"), declared.validation)
    for field, given in fields.items():
        setattr(declared, field, given)
    return declared


def text_version(
    template: str, *variables: prompt_pb2.Variable, **fields: Any
) -> prompt_pb2.PromptVersion:
    return prompt_pb2.PromptVersion(template=template, variables=variables, **fields)


def chat_version(
    messages: Sequence[tuple[int, str]], *variables: prompt_pb2.Variable, **fields: Any
) -> prompt_pb2.PromptVersion:
    chat = [prompt_pb2.ChatMessage(role=r, content=c) for r, c in messages]  # type: ignore[arg-type]
    return prompt_pb2.PromptVersion(
        messages=chat,
        variables=variables,
        **fields,
    )


async def create_prompt(
    stub: PromptServiceStub,
    token: str,
    name: str,
    version: prompt_pb2.PromptVersion | None = None,
    *,
    kind: int = TEXT,
    description: str = "",
) -> prompt_service_pb2.CreatePromptResponse:
    request = prompt_service_pb2.CreatePromptRequest(
        prompt=prompt_pb2.Prompt(name=name, type=kind, description=description),  # type: ignore[arg-type]
        version=version or text_version("Hello"),
    )
    reply: prompt_service_pb2.CreatePromptResponse = await stub.CreatePrompt(
        request, metadata=auth(token)
    )
    return reply


async def add_version(
    stub: PromptServiceStub, token: str, prompt_id: str, version: prompt_pb2.PromptVersion
) -> prompt_pb2.PromptVersion:
    reply: prompt_service_pb2.CreatePromptVersionResponse = await stub.CreatePromptVersion(
        prompt_service_pb2.CreatePromptVersionRequest(prompt_id=prompt_id, version=version),
        metadata=auth(token),
    )
    return reply.version


async def move_label(
    stub: PromptServiceStub, token: str, prompt_id: str, label: str, version: int
) -> prompt_pb2.Prompt:
    reply: prompt_service_pb2.MoveLabelResponse = await stub.MoveLabel(
        prompt_service_pb2.MoveLabelRequest(prompt_id=prompt_id, label=label, version=version),
        metadata=auth(token),
    )
    return reply.prompt


async def get_prompt(stub: PromptServiceStub, token: str, prompt_id: str) -> prompt_pb2.Prompt:
    reply: prompt_service_pb2.GetPromptResponse = await stub.GetPrompt(
        prompt_service_pb2.GetPromptRequest(prompt_id=prompt_id), metadata=auth(token)
    )
    return reply.prompt


async def render(
    stub: PromptServiceStub,
    token: str,
    name: str,
    variables: Mapping[str, Any] | None = None,
    **selector: Any,
) -> prompt_service_pb2.RenderPromptResponse:
    request = prompt_service_pb2.RenderPromptRequest(name=name, **selector)
    for key, raw in (variables or {}).items():
        request.variables[key].CopyFrom(value(raw))
    reply: prompt_service_pb2.RenderPromptResponse = await stub.RenderPrompt(
        request, metadata=auth(token)
    )
    return reply


def labels_of(prompt: prompt_pb2.Prompt) -> dict[str, int]:
    return {label.name: label.version for label in prompt.labels}


def label_payload(event: event_pb2.Event) -> events_pb2.LabelMoved:
    payload = events_pb2.LabelMoved()
    assert event.data.Unpack(payload)
    return payload


def version_payload(event: event_pb2.Event) -> events_pb2.PromptVersionCreated:
    payload = events_pb2.PromptVersionCreated()
    assert event.data.Unpack(payload)
    return payload
