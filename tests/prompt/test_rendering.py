"""RenderPrompt: name + label (default `production`) or version + variables → text or chat
messages and the model config; every missing or ill-typed variable is INVALID_ARGUMENT naming
it; a template that reaches outside the sandbox or runs away is refused."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from coder.prompt.v1 import prompt_pb2
from coder.prompt.v1 import prompt_service_pb2 as api
from coder.prompt.v1.prompt_service_pb2_grpc import PromptServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.prompt.factories import (
    BOOLEAN,
    CHAT,
    INTEGER,
    LIST,
    NUMBER,
    add_version,
    chat_version,
    create_prompt,
    move_label,
    render,
    text_version,
    value,
    variable,
)

SYSTEM, USER = prompt_pb2.MESSAGE_ROLE_SYSTEM, prompt_pb2.MESSAGE_ROLE_USER


class TestSelection:
    async def test_a_label_a_version_or_production_by_default(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        admin = token(org, ("admin",))
        prompt = (await create_prompt(stub, admin, "chosen", text_version("one"))).prompt
        await add_version(stub, admin, prompt.id, text_version("two"))
        await move_label(stub, admin, prompt.id, "production", 1)
        by_default = await render(stub, admin, "chosen")
        assert (by_default.text, by_default.version, by_default.label) == ("one", 1, "production")
        assert (await render(stub, admin, "chosen", label="latest")).text == "two"
        pinned = await render(stub, admin, "chosen", version=2)
        assert (pinned.text, pinned.label, pinned.version_id) == ("two", "", f"{prompt.id}-2")
        error = await rpc_error(render(stub, admin, "no/such/prompt"), grpc.StatusCode.NOT_FOUND)
        assert error_reason(error) == "PROMPT_NOT_FOUND"
        error = await rpc_error(render(stub, admin, "chosen", version=9), grpc.StatusCode.NOT_FOUND)
        assert error_reason(error) == "VERSION_NOT_FOUND"

    async def test_renders_follow_deletes_and_a_reused_name(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        first = await create_prompt(stub, token(org), "reborn", text_version("one"))
        second = await add_version(stub, token(org), first.prompt.id, text_version("two"))
        assert (await render(stub, token(org), "reborn", version=2)).text == "two"
        await stub.DeletePromptVersion(
            api.DeletePromptVersionRequest(prompt_id=first.prompt.id, version_id=second.id),
            metadata=auth(token(org)),
        )
        await rpc_error(render(stub, token(org), "reborn", version=2), grpc.StatusCode.NOT_FOUND)
        assert (await render(stub, token(org), "reborn", label="latest")).text == "one"
        await stub.DeletePrompt(
            api.DeletePromptRequest(prompt_id=first.prompt.id), metadata=auth(token(org))
        )
        await rpc_error(
            render(stub, token(org), "reborn", label="latest"), grpc.StatusCode.NOT_FOUND
        )
        await create_prompt(stub, token(org), "reborn", text_version("again"))
        assert (await render(stub, token(org), "reborn", label="latest")).text == "again"

    async def test_a_chat_prompt_renders_each_message_and_returns_the_model_config(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        config = prompt_pb2.ModelConfig(model="gpt-4o-mini", temperature=0.2, max_output_tokens=300)
        config.extra.update({"reasoning_effort": "low"})
        version = chat_version(
            [(SYSTEM, "You review {{ language }}."), (USER, "{{ code }}")],
            variable("language", default="Python"),
            variable("code", required=True),
            model_config=config,
        )
        await create_prompt(stub, token(org), "review", version, kind=CHAT)
        reply = await render(stub, token(org), "review", {"code": "x = 1"}, label="latest")
        assert reply.type == prompt_pb2.PROMPT_TYPE_CHAT
        assert [(m.role, m.content) for m in reply.messages] == [
            (SYSTEM, "You review Python."),
            (USER, "x = 1"),
        ]
        assert reply.model_config == config
        assert reply.text == ""


async def text_prompt(
    stub: PromptServiceStub, token: str, name: str, template: str, *variables: prompt_pb2.Variable
) -> None:
    await create_prompt(stub, token, name, text_version(template, *variables))


async def refused(
    stub: PromptServiceStub, token: str, name: str, values: dict[str, Any]
) -> grpc.aio.AioRpcError:
    return await rpc_error(
        render(stub, token, name, values, label="latest"), grpc.StatusCode.INVALID_ARGUMENT
    )


class TestVariables:
    async def test_defaults_fill_what_is_not_given(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        await text_prompt(
            stub,
            token(org),
            "defaults",
            "{{ n }} {{ flag }} {{ items | join(',') }}"
            "{% if extra is defined %} {{ extra }}{% endif %}",
            variable("n", INTEGER, default=3),
            variable("flag", BOOLEAN, default=False),
            variable("items", LIST, default=["a", "b"]),
            variable("extra"),
        )
        assert (await render(stub, token(org), "defaults", label="latest")).text == "3 False a,b"
        given = await render(
            stub, token(org), "defaults", {"n": 7, "extra": "more"}, label="latest"
        )
        assert given.text == "7 False a,b more"

    async def test_a_missing_required_variable_is_named(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        await text_prompt(
            stub,
            token(org),
            "needs",
            "{{ a }}{{ b }}",
            variable("a", required=True),
            variable("b", required=True),
        )
        error = await refused(stub, token(org), "needs", {"a": "x"})
        assert error_reason(error) == "VARIABLES_INVALID"
        assert violated_fields(error) == {"variables.b"}

    @pytest.mark.parametrize(
        ("kind", "rules", "bad", "good"),
        [
            (INTEGER, {}, 1.5, 2),
            (INTEGER, {"minimum": 1, "maximum": 10}, 11, 10),
            (NUMBER, {}, "3", 3.5),
            (BOOLEAN, {}, "true", True),
            (prompt_pb2.VARIABLE_TYPE_STRING, {"pattern": "[a-z]+"}, "abc1", "abc"),
            (prompt_pb2.VARIABLE_TYPE_STRING, {"minLength": 2, "maxLength": 3}, "abcd", "ab"),
            (prompt_pb2.VARIABLE_TYPE_STRING, {"allowedValues": ["en", "fr"]}, "de", "fr"),
            (LIST, {"maxLength": 2}, [1, 2, 3], [1]),
            (prompt_pb2.VARIABLE_TYPE_OBJECT, {}, [1], {"k": "v"}),
        ],
    )
    async def test_an_ill_typed_or_invalid_value_is_named(
        self,
        stub: PromptServiceStub,
        token: TokenFactory,
        org: str,
        kind: int,
        rules: dict[str, Any],
        bad: Any,
        good: Any,
    ) -> None:
        await text_prompt(
            stub,
            token(org),
            "typed",
            "{{ v }}",
            variable("v", kind, validation=rules, required=True),
        )
        error = await refused(stub, token(org), "typed", {"v": bad})
        assert violated_fields(error) == {"variables.v"}
        assert (await render(stub, token(org), "typed", {"v": good}, label="latest")).text

    async def test_an_unknown_variable_is_named(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        await text_prompt(stub, token(org), "strict", "{{ a }}", variable("a"))
        error = await refused(stub, token(org), "strict", {"a": "x", "typo": "y"})
        assert violated_fields(error) == {"variables.typo"}

    async def test_an_optional_variable_used_without_a_value_is_named(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        await text_prompt(stub, token(org), "optional", "{{ maybe }}", variable("maybe"))
        error = await refused(stub, token(org), "optional", {})
        assert violated_fields(error) == {"variables.maybe"}
        assert "'maybe' is undefined" in error.details()


class TestSandbox:
    @pytest.mark.parametrize(
        "template",
        [
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "{{ cycler.__init__.__globals__.os }}",
            "{{ lipsum.__globals__['os'].popen('id').read() }}",
            "{{ x['__class__'] }}",
        ],
    )
    async def test_a_template_reaching_outside_the_sandbox_is_refused_when_stored(
        self, stub: PromptServiceStub, token: TokenFactory, org: str, template: str
    ) -> None:
        declared = [variable("x")] if "x[" in template else []
        error = await rpc_error(
            create_prompt(stub, token(org), "escape", text_version(template, *declared)),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert error_reason(error) == "TEMPLATE_UNSAFE"
        assert violated_fields(error) == {"version.template"}

    async def test_an_escape_built_at_run_time_is_refused_when_rendered(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        await text_prompt(
            stub, token(org), "dynamic-escape", "{{ x[k] }}", variable("x"), variable("k")
        )
        error = await refused(stub, token(org), "dynamic-escape", {"x": "s", "k": "__class__"})
        assert error_reason(error) == "TEMPLATE_UNSAFE"

    @pytest.mark.parametrize(
        "template",
        [
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            "{{ 'x' * 100000000 }}",
            "{% set s = 'x' * 1000000 %}{{ s ~ s }}",
            "{{ 'x' | center(1000000000) }}",
            "{{ '%999999999d' % 1 }}",
            "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
        ],
    )
    async def test_a_runaway_template_is_refused(
        self, stub: PromptServiceStub, token: TokenFactory, org: str, template: str
    ) -> None:
        await text_prompt(stub, token(org), "runaway", template)
        error = await refused(stub, token(org), "runaway", {})
        assert error_reason(error) == "TEMPLATE_TOO_EXPENSIVE"

    async def test_str_format_is_not_available(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        await text_prompt(stub, token(org), "formatted", "{{ '{:>999999999}'.format(1) }}")
        error = await refused(stub, token(org), "formatted", {})
        assert error_reason(error) == "TEMPLATE_UNSAFE"


class TestPreview:
    async def test_unsaved_content_renders_without_being_stored(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        request = api.PreviewPromptRequest(
            type=prompt_pb2.PROMPT_TYPE_TEXT,
            version=text_version("Hi {{ who }}", variable("who", required=True)),
        )
        request.variables["who"].CopyFrom(value("there"))
        reply = await stub.PreviewPrompt(request, metadata=auth(token(org)))
        assert reply.text == "Hi there"
        listed = await stub.ListPrompts(api.ListPromptsRequest(), metadata=auth(token(org)))
        assert list(listed.prompts) == []

    async def test_preview_reports_bad_content_like_a_new_version(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        request = api.PreviewPromptRequest(
            type=prompt_pb2.PROMPT_TYPE_TEXT, version=text_version("{{ undeclared }}")
        )
        error = await rpc_error(
            stub.PreviewPrompt(request, metadata=auth(token(org))),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"version.template"}
        assert json_format.MessageToDict(request)  # the request itself was well-formed
