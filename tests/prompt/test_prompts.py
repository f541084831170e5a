"""Prompts: names in folders, unique per organization, listing by folder, updates, and the
deletes that are refused while something depends on the prompt."""

from __future__ import annotations

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from coder.prompt.v1 import prompt_pb2
from coder.prompt.v1 import prompt_service_pb2 as api
from coder.prompt.v1.prompt_service_pb2_grpc import PromptServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.prompt.factories import (
    CHAT,
    create_prompt,
    get_prompt,
    labels_of,
    move_label,
    text_version,
    variable,
)


class TestCreate:
    async def test_a_prompt_starts_with_version_one_labelled_latest(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_prompt(
            stub,
            token(org, sub="ana"),
            "team/review",
            text_version("Review {{ code }}", variable("code")),
            description="Code review",
        )
        prompt, version = created.prompt, created.version
        assert prompt.name == "team/review"
        assert prompt.folder == "team"
        assert prompt.organization_id == org
        assert prompt.latest_version == 1
        assert labels_of(prompt) == {"latest": 1}
        assert prompt.created_by == "ana"
        assert prompt.etag
        assert version.version == 1
        assert version.prompt_id == prompt.id
        assert list(version.labels) == ["latest"]
        assert version.template == "Review {{ code }}"
        assert await get_prompt(stub, token(org), prompt.id) == prompt

    async def test_names_are_unique_in_an_organization_only(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        await create_prompt(stub, token(org), "dup")
        error = await rpc_error(
            create_prompt(stub, token(org), "dup"), grpc.StatusCode.ALREADY_EXISTS
        )
        assert error_reason(error) == "PROMPT_EXISTS"
        other = await create_prompt(stub, token(f"{org}-other"), "dup")
        assert other.prompt.organization_id == f"{org}-other"

    async def test_a_bad_name_or_a_missing_type_is_refused(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        for name in ("", "/lead", "trail/", "a//b", "has space", "x@y"):
            error = await rpc_error(
                create_prompt(stub, token(org), name), grpc.StatusCode.INVALID_ARGUMENT
            )
            assert "prompt.name" in violated_fields(error), name
        request = api.CreatePromptRequest(
            prompt=prompt_pb2.Prompt(name="untyped"), version=text_version("x")
        )
        error = await rpc_error(
            stub.CreatePrompt(request, metadata=auth(token(org))), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert "prompt.type" in violated_fields(error)

    async def test_content_must_fit_the_type(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        error = await rpc_error(
            create_prompt(stub, token(org), "chat-with-template", text_version("x"), kind=CHAT),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"version.messages", "version.template"}
        error = await rpc_error(
            create_prompt(stub, token(org), "empty", text_version("")),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"version.template"}


class TestList:
    async def test_lists_by_name_within_a_folder_and_pages(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        for name in ("team/b", "team/a", "team/sub/c", "teammate", "other/x"):
            await create_prompt(stub, token(org), name)
        reply = await stub.ListPrompts(api.ListPromptsRequest(), metadata=auth(token(org)))
        assert [p.name for p in reply.prompts] == [
            "other/x",
            "team/a",
            "team/b",
            "team/sub/c",
            "teammate",
        ]
        names: list[str] = []
        page_token = ""
        while True:
            page = await stub.ListPrompts(
                api.ListPromptsRequest(folder="team", page_size=2, page_token=page_token),
                metadata=auth(token(org)),
            )
            names.extend(p.name for p in page.prompts)
            page_token = page.next_page_token
            if not page_token:
                break
        assert names == ["team/a", "team/b", "team/sub/c"]


class TestUpdate:
    async def test_description_and_tags_change_name_and_type_do_not(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt = (await create_prompt(stub, token(org), "updatable")).prompt
        reply = await stub.UpdatePrompt(
            api.UpdatePromptRequest(
                prompt=prompt_pb2.Prompt(id=prompt.id, description="new", tags=["a", "b"]),
                update_mask=FieldMask(paths=["description", "tags"]),
            ),
            metadata=auth(token(org)),
        )
        assert reply.prompt.description == "new"
        assert list(reply.prompt.tags) == ["a", "b"]
        assert reply.prompt.etag != prompt.etag
        error = await rpc_error(
            stub.UpdatePrompt(
                api.UpdatePromptRequest(
                    prompt=prompt_pb2.Prompt(id=prompt.id, name="renamed"),
                    update_mask=FieldMask(paths=["name"]),
                ),
                metadata=auth(token(org)),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert "update_mask" in violated_fields(error)

    async def test_a_stale_etag_is_refused(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt = (await create_prompt(stub, token(org), "stale")).prompt
        mask = FieldMask(paths=["description"])
        fresh = prompt_pb2.Prompt(id=prompt.id, description="one", etag=prompt.etag)
        await stub.UpdatePrompt(
            api.UpdatePromptRequest(prompt=fresh, update_mask=mask), metadata=auth(token(org))
        )
        await rpc_error(
            stub.UpdatePrompt(
                api.UpdatePromptRequest(
                    prompt=prompt_pb2.Prompt(id=prompt.id, description="two", etag=prompt.etag),
                    update_mask=mask,
                ),
                metadata=auth(token(org)),
            ),
            grpc.StatusCode.ABORTED,
        )


class TestDelete:
    async def test_a_prompt_with_only_latest_is_deleted_with_its_versions(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_prompt(stub, token(org), "gone")
        await stub.DeletePrompt(
            api.DeletePromptRequest(prompt_id=created.prompt.id), metadata=auth(token(org))
        )
        await rpc_error(get_prompt(stub, token(org), created.prompt.id), grpc.StatusCode.NOT_FOUND)
        await rpc_error(
            stub.GetPromptVersion(
                api.GetPromptVersionRequest(
                    prompt_id=created.prompt.id, version_id=created.version.id
                ),
                metadata=auth(token(org)),
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        again = await create_prompt(stub, token(org), "gone")  # the name is free again
        assert again.prompt.id != created.prompt.id

    async def test_a_labelled_prompt_is_refused_until_the_label_is_removed(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt = (await create_prompt(stub, token(org), "labelled")).prompt
        await move_label(stub, token(org), prompt.id, "staging", 1)
        error = await rpc_error(
            stub.DeletePrompt(
                api.DeletePromptRequest(prompt_id=prompt.id), metadata=auth(token(org))
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "PROMPT_LABELLED"
        await stub.RemoveLabel(
            api.RemoveLabelRequest(prompt_id=prompt.id, label="staging"), metadata=auth(token(org))
        )
        await stub.DeletePrompt(
            api.DeletePromptRequest(prompt_id=prompt.id), metadata=auth(token(org))
        )

    async def test_another_organizations_prompt_is_not_found(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt = (await create_prompt(stub, token(org), "mine")).prompt
        await rpc_error(
            get_prompt(stub, token(f"{org}-intruder"), prompt.id), grpc.StatusCode.NOT_FOUND
        )
        await rpc_error(
            stub.DeletePrompt(
                api.DeletePromptRequest(prompt_id=prompt.id),
                metadata=auth(token(f"{org}-intruder")),
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        assert (await get_prompt(stub, token(org), prompt.id)).name == "mine"
