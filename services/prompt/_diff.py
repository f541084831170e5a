"""Differences between two prompt versions: a unified diff of the content and a field-by-field
list of what changed in variables and model config."""

from __future__ import annotations

import difflib
import json
from typing import Any

from google.protobuf import json_format, struct_pb2

from coder.prompt.v1 import prompt_pb2, prompt_service_pb2

CONTEXT_LINES = 3


def content_text(version: prompt_pb2.PromptVersion) -> str:
    """The content as one text: the template, or each message as `### <role>` and its content."""
    if not version.messages:
        return version.template
    blocks = []
    for message in version.messages:
        role = prompt_pb2.MessageRole.Name(message.role).removeprefix("MESSAGE_ROLE_").lower()
        blocks.append(f"### {role}\n{message.content}")
    return "\n".join(blocks)


def unified_diff(before: prompt_pb2.PromptVersion, after: prompt_pb2.PromptVersion) -> str:
    """`---`/`+++` headers naming the versions, `@@` hunks with three lines of context; empty
    when the contents are equal."""
    lines = difflib.unified_diff(
        content_text(before).splitlines(),
        content_text(after).splitlines(),
        fromfile=f"v{before.version}",
        tofile=f"v{after.version}",
        n=CONTEXT_LINES,
        lineterm="",
    )
    text = "\n".join(lines)
    return f"{text}\n" if text else ""


def _fields(message: Any) -> dict[str, Any]:
    as_dict: dict[str, Any] = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return as_dict


def _flatten(version: prompt_pb2.PromptVersion) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for variable in version.variables:
        for name, value in _fields(variable).items():
            if name != "name":
                flat[f"variables.{variable.name}.{name}"] = value
    for name, value in _fields(version.model_config).items():
        flat[f"model_config.{name}"] = value
    return flat


def _value(value: Any) -> struct_pb2.Value:
    message = struct_pb2.Value()
    json_format.ParseDict(value, message)
    return message


def field_changes(
    before: prompt_pb2.PromptVersion, after: prompt_pb2.PromptVersion
) -> list[prompt_service_pb2.FieldChange]:
    """What differs in variables and model config, in path order. A variable present in only
    one version is one change on `variables.<name>` carrying the whole declaration."""
    changes: list[tuple[str, prompt_service_pb2.FieldChange]] = []
    old_names = {v.name: v for v in before.variables}
    new_names = {v.name: v for v in after.variables}
    for name in old_names.keys() - new_names.keys():
        path = f"variables.{name}"
        change = prompt_service_pb2.FieldChange(
            path=path,
            kind=prompt_service_pb2.CHANGE_KIND_REMOVED,
            before=_value(_fields(old_names[name])),
        )
        changes.append((path, change))
    for name in new_names.keys() - old_names.keys():
        path = f"variables.{name}"
        change = prompt_service_pb2.FieldChange(
            path=path,
            kind=prompt_service_pb2.CHANGE_KIND_ADDED,
            after=_value(_fields(new_names[name])),
        )
        changes.append((path, change))
    shared = old_names.keys() & new_names.keys()
    old_flat = {
        k: v
        for k, v in _flatten(before).items()
        if not k.startswith("variables.") or k.split(".")[1] in shared
    }
    new_flat = {
        k: v
        for k, v in _flatten(after).items()
        if not k.startswith("variables.") or k.split(".")[1] in shared
    }
    for path in old_flat.keys() | new_flat.keys():
        if path not in new_flat:
            kind = prompt_service_pb2.CHANGE_KIND_REMOVED
        elif path not in old_flat:
            kind = prompt_service_pb2.CHANGE_KIND_ADDED
        elif _same(old_flat[path], new_flat[path]):
            continue
        else:
            kind = prompt_service_pb2.CHANGE_KIND_CHANGED
        change = prompt_service_pb2.FieldChange(path=path, kind=kind)
        if path in old_flat:
            change.before.CopyFrom(_value(old_flat[path]))
        if path in new_flat:
            change.after.CopyFrom(_value(new_flat[path]))
        changes.append((path, change))
    return [change for _, change in sorted(changes, key=lambda pair: pair[0])]


def _same(left: Any, right: Any) -> bool:
    return json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)
