"""The content of a version — template or messages, variables, model config — checked before
anything stores or renders it."""

from __future__ import annotations

from dataclasses import dataclass

from coder.prompt.v1 import prompt_pb2
from services.kit import FieldViolation, InvalidArgument
from services.prompt._templates import CompiledTemplate, RenderRefused, compile_template
from services.prompt._variables import declaration_violations

MAX_MESSAGES = 100


@dataclass(frozen=True, slots=True)
class Content:
    """Checked content: the templates compiled (the text template alone, or one per message
    in order) and the `name@label` references they include."""

    templates: tuple[CompiledTemplate, ...]
    includes: tuple[str, ...]


def template_fields(prompt_type: int, version: prompt_pb2.PromptVersion) -> list[tuple[str, str]]:
    """(field path below the version, template source) of each template of the content."""
    if prompt_type == prompt_pb2.PROMPT_TYPE_TEXT:
        return [("template", version.template)]
    return [(f"messages[{i}].content", m.content) for i, m in enumerate(version.messages)]


def compile_content(prompt_type: int, version: prompt_pb2.PromptVersion) -> Content:
    """Compile stored content (already checked when it was stored)."""
    templates = tuple(
        compile_template(source) for _, source in template_fields(prompt_type, version)
    )
    return Content(templates, _includes(templates))


def check_content(
    prompt_type: int, version: prompt_pb2.PromptVersion, field: str = "version"
) -> Content:
    """Check content for a prompt of `prompt_type`: a text prompt has a template and no
    messages, a chat prompt messages and no template; variable declarations are consistent;
    every template compiles in the sandbox and reads only declared variables; a JSON-schema
    response format has a schema. INVALID_ARGUMENT naming every problem otherwise."""
    violations = _shape_violations(prompt_type, version, field)
    violations += declaration_violations(version.variables, f"{field}.variables")
    violations += _model_config_violations(version.model_config, f"{field}.model_config")
    templates: list[CompiledTemplate] = []
    reason = "PROMPT_CONTENT_INVALID"
    declared = {variable.name for variable in version.variables}
    for path, source in template_fields(prompt_type, version):
        try:
            compiled = compile_template(source)
        except RenderRefused as refused:
            violations.append(FieldViolation(f"{field}.{path}", refused.detail))
            reason = refused.reason
            continue
        undeclared = sorted(compiled.names - declared)
        if undeclared:
            violations.append(
                FieldViolation(
                    f"{field}.{path}",
                    f"uses undeclared variable{'s' if len(undeclared) > 1 else ''} "
                    f"{', '.join(undeclared)}: declare {'them' if len(undeclared) > 1 else 'it'} "
                    "in variables",
                )
            )
        templates.append(compiled)
    if violations:
        raise InvalidArgument(
            f"the prompt's content is invalid: {violations[0].field}: {violations[0].description}",
            reason=reason,
            violations=violations,
        )
    return Content(tuple(templates), _includes(templates))


def _includes(templates: tuple[CompiledTemplate, ...] | list[CompiledTemplate]) -> tuple[str, ...]:
    found: list[str] = []
    for compiled in templates:
        found.extend(ref for ref in compiled.includes if ref not in found)
    return tuple(found)


def _shape_violations(
    prompt_type: int, version: prompt_pb2.PromptVersion, field: str
) -> list[FieldViolation]:
    if prompt_type == prompt_pb2.PROMPT_TYPE_TEXT:
        violations = []
        if not version.template:
            violations.append(FieldViolation(f"{field}.template", "a text prompt needs a template"))
        if version.messages:
            violations.append(
                FieldViolation(f"{field}.messages", "a text prompt has a template, not messages")
            )
        return violations
    violations = []
    if not version.messages:
        violations.append(FieldViolation(f"{field}.messages", "a chat prompt needs messages"))
    if version.template:
        violations.append(
            FieldViolation(f"{field}.template", "a chat prompt has messages, not a template")
        )
    for index, message in enumerate(version.messages):
        if message.role == prompt_pb2.MESSAGE_ROLE_UNSPECIFIED:
            violations.append(
                FieldViolation(f"{field}.messages[{index}].role", "every message needs a role")
            )
    return violations


def _model_config_violations(config: prompt_pb2.ModelConfig, field: str) -> list[FieldViolation]:
    wants_schema = config.response_format == prompt_pb2.RESPONSE_FORMAT_JSON_SCHEMA
    has_schema = config.HasField("json_schema") and bool(config.json_schema.fields)
    if wants_schema and not has_schema:
        return [
            FieldViolation(f"{field}.json_schema", "RESPONSE_FORMAT_JSON_SCHEMA needs a schema")
        ]
    if has_schema and not wants_schema:
        return [
            FieldViolation(f"{field}.json_schema", "a schema needs RESPONSE_FORMAT_JSON_SCHEMA")
        ]
    return []
