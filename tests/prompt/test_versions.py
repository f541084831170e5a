"""Versions: immutable, numbered 1, 2, 3, … per prompt even under concurrent writers, never
reused; `latest` follows the newest; deletes refused while a label or an experiment uses one."""

from __future__ import annotations

import asyncio

import grpc

from coder.prompt.v1 import experiment_pb2
from coder.prompt.v1 import prompt_service_pb2 as api
from coder.prompt.v1.prompt_service_pb2_grpc import PromptServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.prompt.factories import (
    NUMBER,
    add_version,
    create_prompt,
    get_prompt,
    labels_of,
    move_label,
    render,
    text_version,
    variable,
)


async def delete_version(
    stub: PromptServiceStub, token: str, prompt_id: str, version_id: str
) -> None:
    await stub.DeletePromptVersion(
        api.DeletePromptVersionRequest(prompt_id=prompt_id, version_id=version_id),
        metadata=auth(token),
    )


class TestNumbering:
    async def test_each_version_gets_the_next_number_and_latest_moves_to_it(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt = (await create_prompt(stub, token(org), "numbered")).prompt
        second = await add_version(stub, token(org), prompt.id, text_version("two"))
        third = await add_version(stub, token(org), prompt.id, text_version("three"))
        assert (second.version, third.version) == (2, 3)
        assert list(third.labels) == ["latest"]
        current = await get_prompt(stub, token(org), prompt.id)
        assert current.latest_version == 3
        assert labels_of(current) == {"latest": 3}
        listed = await stub.ListPromptVersions(
            api.ListPromptVersionsRequest(prompt_id=prompt.id), metadata=auth(token(org))
        )
        assert [(v.version, v.template) for v in listed.versions] == [
            (3, "three"),
            (2, "two"),
            (1, "Hello"),
        ]

    async def test_concurrent_writers_get_distinct_consecutive_numbers(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt = (await create_prompt(stub, token(org), "contended")).prompt
        made = await asyncio.gather(
            *(add_version(stub, token(org), prompt.id, text_version(f"v{i}")) for i in range(8))
        )
        assert sorted(v.version for v in made) == list(range(2, 10))
        assert (await get_prompt(stub, token(org), prompt.id)).latest_version == 9

    async def test_a_deleted_number_is_never_reused(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt = (await create_prompt(stub, token(org), "no-reuse")).prompt
        second = await add_version(stub, token(org), prompt.id, text_version("two"))
        await delete_version(stub, token(org), prompt.id, second.id)
        again = await add_version(stub, token(org), prompt.id, text_version("three"))
        assert again.version == 3


class TestDelete:
    async def test_deleting_the_newest_moves_latest_back(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt = (await create_prompt(stub, token(org), "latest-back")).prompt
        second = await add_version(stub, token(org), prompt.id, text_version("two"))
        await delete_version(stub, token(org), prompt.id, second.id)
        current = await get_prompt(stub, token(org), prompt.id)
        assert current.latest_version == 1
        assert labels_of(current) == {"latest": 1}
        assert (await render(stub, token(org), "latest-back", label="latest")).text == "Hello"

    async def test_the_only_version_cannot_go(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_prompt(stub, token(org), "only")
        error = await rpc_error(
            delete_version(stub, token(org), created.prompt.id, created.version.id),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "LAST_VERSION"

    async def test_a_labelled_version_is_refused_until_the_label_moves(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_prompt(stub, token(org), "held")
        await add_version(stub, token(org), created.prompt.id, text_version("two"))
        await move_label(stub, token(org), created.prompt.id, "staging", 1)
        error = await rpc_error(
            delete_version(stub, token(org), created.prompt.id, created.version.id),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "VERSION_LABELLED"
        await move_label(stub, token(org), created.prompt.id, "staging", 2)
        await delete_version(stub, token(org), created.prompt.id, created.version.id)

    async def test_a_version_in_an_unfinished_experiment_is_refused(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_prompt(stub, token(org), "tested")
        second = await add_version(stub, token(org), created.prompt.id, text_version("two"))
        await add_version(stub, token(org), created.prompt.id, text_version("three"))
        await stub.CreateExperiment(
            api.CreateExperimentRequest(
                prompt_id=created.prompt.id,
                experiment=experiment_pb2.Experiment(
                    name="draft",
                    label="staging",
                    variants=[
                        experiment_pb2.Variant(name="a", version=1, weight=1),
                        experiment_pb2.Variant(name="b", version=2, weight=1),
                    ],
                ),
            ),
            metadata=auth(token(org)),
        )
        error = await rpc_error(
            delete_version(stub, token(org), created.prompt.id, second.id),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "VERSION_IN_EXPERIMENT"


class TestContent:
    async def test_a_template_may_read_only_declared_variables(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt = (await create_prompt(stub, token(org), "declared")).prompt
        error = await rpc_error(
            add_version(
                stub, token(org), prompt.id, text_version("{{ a }} {{ b }}", variable("a"))
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"version.template"}
        assert "undeclared variable b" in error.details()
        made = await add_version(
            stub,
            token(org),
            prompt.id,
            text_version(
                "{% set c = 1 %}{{ a }}{{ c }}{% for i in range(2) %}{{ i }}{% endfor %}",
                variable("a"),
            ),
        )
        assert made.version == 2

    async def test_declarations_must_be_consistent(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt = (await create_prompt(stub, token(org), "consistent")).prompt
        bad = text_version(
            "{{ a }}{{ n }}{{ s }}",
            variable("a", default=3),
            variable("n", NUMBER, validation={"pattern": "x+"}),
            variable("s", validation={"pattern": "(unclosed"}),
        )
        error = await rpc_error(
            add_version(stub, token(org), prompt.id, bad), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {
            "version.variables[0].default_value",
            "version.variables[1].validation.pattern",
            "version.variables[2].validation.pattern",
        }
        twice = text_version("{{ a }}", variable("a"), variable("a"))
        error = await rpc_error(
            add_version(stub, token(org), prompt.id, twice), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {"version.variables[1].name"}

    async def test_a_syntax_error_names_its_line(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt = (await create_prompt(stub, token(org), "syntax")).prompt
        error = await rpc_error(
            add_version(stub, token(org), prompt.id, text_version("ok\n{% if %}")),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert error_reason(error) == "TEMPLATE_SYNTAX"
        assert "line 2" in error.details()
