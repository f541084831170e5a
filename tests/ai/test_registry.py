"""Providers and models: catalog defaults and organization prices, unique names, updates with
masks and etags, deletes refused while in use, and who may change them."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from coder.ai.v1 import ai_service_pb2 as api
from coder.ai.v1 import ai_service_pb2_grpc, resources_pb2
from tests.ai.factories import ANTHROPIC, OPENAI, Registry
from tests.fixtures.tokens import Metadata


async def refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call  # type: ignore[misc]
    return error.value


class TestProviders:
    async def test_create_get_list(
        self, registry: Registry, stub: ai_service_pb2_grpc.AiServiceStub, member: Metadata
    ) -> None:
        created = await registry.provider("claude", ANTHROPIC, secret="sec-1")
        got = await stub.GetProvider(
            api.GetProviderRequest(provider_id=created.id), metadata=member
        )
        listed = await stub.ListProviders(api.ListProvidersRequest(), metadata=member)
        assert got.provider == created
        assert (created.kind, created.credential_secret_id, created.etag != "") == (
            ANTHROPIC,
            "sec-1",
            True,
        )
        assert [p.name for p in listed.providers] == ["claude"]

    async def test_name_unique(self, registry: Registry) -> None:
        await registry.provider("dup")
        error = await refused(registry.provider("dup"))
        assert error.code() == grpc.StatusCode.ALREADY_EXISTS

    async def test_compatible_server_needs_a_base_url(
        self, stub: ai_service_pb2_grpc.AiServiceStub, admin: Metadata
    ) -> None:
        error = await refused(
            stub.CreateProvider(
                api.CreateProviderRequest(provider=resources_pb2.Provider(name="x", kind=OPENAI)),
                metadata=admin,
            )
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def test_members_cannot_register(
        self, stub: ai_service_pb2_grpc.AiServiceStub, member: Metadata
    ) -> None:
        error = await refused(
            stub.CreateProvider(
                api.CreateProviderRequest(
                    provider=resources_pb2.Provider(name="x", kind=ANTHROPIC)
                ),
                metadata=member,
            )
        )
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_update_rename_and_stale_etag(
        self, registry: Registry, stub: ai_service_pb2_grpc.AiServiceStub, admin: Metadata
    ) -> None:
        created = await registry.provider("before")
        updated = await stub.UpdateProvider(
            api.UpdateProviderRequest(
                provider=resources_pb2.Provider(id=created.id, name="after", etag=created.etag),
                update_mask=FieldMask(paths=["name"]),
            ),
            metadata=admin,
        )
        assert updated.provider.name == "after"
        await registry.provider("before")  # the old name is free again
        error = await refused(
            stub.UpdateProvider(
                api.UpdateProviderRequest(
                    provider=resources_pb2.Provider(id=created.id, name="again", etag=created.etag),
                    update_mask=FieldMask(paths=["name"]),
                ),
                metadata=admin,
            )
        )
        assert error.code() == grpc.StatusCode.ABORTED

    async def test_delete_refused_while_models_use_it(
        self, registry: Registry, stub: ai_service_pb2_grpc.AiServiceStub, admin: Metadata
    ) -> None:
        provider = await registry.provider()
        model = await registry.model("in-use", provider)
        error = await refused(
            stub.DeleteProvider(api.DeleteProviderRequest(provider_id=provider.id), metadata=admin)
        )
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        await stub.DeleteModel(api.DeleteModelRequest(model_id=model.id), metadata=admin)
        await stub.DeleteProvider(
            api.DeleteProviderRequest(provider_id=provider.id), metadata=admin
        )
        gone = await refused(
            stub.GetProvider(api.GetProviderRequest(provider_id=provider.id), metadata=admin)
        )
        assert gone.code() == grpc.StatusCode.NOT_FOUND


class TestModels:
    async def test_catalog_defaults(self, registry: Registry) -> None:
        claude = await registry.provider("claude", ANTHROPIC)
        model = await registry.model("claude-sonnet-4-5", claude)
        assert model.context_window == 200_000
        assert model.max_output_tokens == 4096
        assert list(model.capabilities) == [resources_pb2.CAPABILITY_CHAT]
        pricing = model.pricing
        assert (
            pricing.input_per_million,
            pricing.output_per_million,
            pricing.cached_input_per_million,
        ) == ("3", "15", "0.3")
        assert pricing.source == resources_pb2.PRICE_SOURCE_CATALOG

    async def test_organization_prices_override(self, registry: Registry) -> None:
        claude = await registry.provider("claude", ANTHROPIC)
        model = await registry.model("claude-sonnet-4-5", claude, prices=("2.5", "10", ""))
        pricing = model.pricing
        assert (
            pricing.input_per_million,
            pricing.output_per_million,
            pricing.cached_input_per_million,
        ) == ("2.5", "10", "2.5")
        assert pricing.source == resources_pb2.PRICE_SOURCE_OVERRIDE

    async def test_unknown_self_hosted_model_is_free(self, registry: Registry) -> None:
        local = await registry.provider()
        model = await registry.model("llama-local", local)
        assert model.pricing.source == resources_pb2.PRICE_SOURCE_NONE
        assert model.context_window == 8192

    async def test_provider_must_exist(
        self, stub: ai_service_pb2_grpc.AiServiceStub, admin: Metadata
    ) -> None:
        error = await refused(
            stub.CreateModel(
                api.CreateModelRequest(model=resources_pb2.Model(name="m", provider_id="nope")),
                metadata=admin,
            )
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def test_update_fallbacks(
        self, registry: Registry, stub: ai_service_pb2_grpc.AiServiceStub, admin: Metadata
    ) -> None:
        local = await registry.provider()
        model = await registry.model("main", local)
        updated = await stub.UpdateModel(
            api.UpdateModelRequest(
                model=resources_pb2.Model(id=model.id, fallback_models=["spare"], priority=3),
                update_mask=FieldMask(paths=["fallback_models", "priority"]),
            ),
            metadata=admin,
        )
        assert (list(updated.model.fallback_models), updated.model.priority) == (["spare"], 3)
        error = await refused(
            stub.UpdateModel(
                api.UpdateModelRequest(
                    model=resources_pb2.Model(id=model.id, fallback_models=["main"]),
                    update_mask=FieldMask(paths=["fallback_models"]),
                ),
                metadata=admin,
            )
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
