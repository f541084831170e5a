"""Providers and models of an organization: create, read, list, update, delete.

A provider names a protocol, an endpoint and the secret holding its key (never the key). A
model names a provider, its deployment, its limits, capabilities, prices, task types and
fallbacks; what it leaves unset comes from the price catalog when read (`effective`).
"""

from __future__ import annotations

from decimal import Decimal

from google.protobuf.field_mask_pb2 import FieldMask

from coder.ai.v1 import ai_service_pb2 as api
from coder.ai.v1 import resources_pb2
from services.ai import _catalog
from services.ai.repository import AiRepository
from services.kit import (
    AlreadyExists,
    Clock,
    DocumentExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    apply_update,
    check_etag,
    current_principal,
    new_id,
    read_modify_write,
    require_field,
    update_paths,
)

PROVIDER_WRITABLE = ("name", "base_url", "api_version", "credential_secret_id", "attempt_timeout")
PROVIDER_OUTPUT_ONLY = ("id", "organization_id", "kind", "create_time", "update_time")
MODEL_WRITABLE = (
    "name",
    "provider_id",
    "provider_model",
    "context_window",
    "max_output_tokens",
    "capabilities",
    "pricing",
    "task_types",
    "priority",
    "fallback_models",
)
MODEL_OUTPUT_ONLY = ("id", "organization_id", "create_time", "update_time")
NEEDS_BASE_URL = (
    resources_pb2.PROVIDER_KIND_AZURE_OPENAI,
    resources_pb2.PROVIDER_KIND_OPENAI_COMPATIBLE,
)


def _check_provider(provider: resources_pb2.Provider) -> None:
    require_field(provider.name, "provider.name")
    require_field(provider.kind, "provider.kind")
    if provider.kind in NEEDS_BASE_URL and not provider.base_url:
        raise InvalidArgument(
            "this kind of provider needs a base URL",
            violations=[FieldViolation("provider.base_url", "is required for this kind")],
        )


def _check_model(model: resources_pb2.Model) -> None:
    require_field(model.name, "model.name")
    require_field(model.provider_id, "model.provider_id")
    if model.name in model.fallback_models:
        raise InvalidArgument(
            "a model cannot fall back to itself",
            violations=[FieldViolation("model.fallback_models", "names the model itself")],
        )


def effective(model: resources_pb2.Model, provider: resources_pb2.Provider) -> resources_pb2.Model:
    """The model with the catalog's defaults where it sets nothing, and the source of its
    prices."""
    shown = resources_pb2.Model()
    shown.CopyFrom(model)
    # An Azure deployment's name is the operator's choice; the model's own name may be the
    # catalog's.
    entry = None
    for reference in dict.fromkeys(filter(None, (model.provider_model, model.name))):
        entry = _catalog.lookup(reference, provider.kind)
        if entry is not None:
            break
    if not shown.context_window:
        known = entry.context_window if entry is not None else None
        shown.context_window = known or _catalog.DEFAULT_CONTEXT_WINDOW
    if not shown.max_output_tokens:
        shown.max_output_tokens = min(_catalog.DEFAULT_MAX_OUTPUT, shown.context_window)
    if not shown.capabilities:
        shown.capabilities.append(resources_pb2.CAPABILITY_CHAT)
    pricing = shown.pricing
    overridden = any(
        (pricing.input_per_million, pricing.output_per_million, pricing.cached_input_per_million)
    )
    if overridden:
        pricing.input_per_million = pricing.input_per_million or "0"
        pricing.output_per_million = pricing.output_per_million or "0"
        pricing.cached_input_per_million = (
            pricing.cached_input_per_million or pricing.input_per_million
        )
        pricing.source = resources_pb2.PRICE_SOURCE_OVERRIDE
    elif entry is not None and entry.prices is not None:
        pricing.input_per_million = _text(entry.prices.input)
        pricing.output_per_million = _text(entry.prices.output)
        pricing.cached_input_per_million = _text(entry.prices.cached_input)
        pricing.source = resources_pb2.PRICE_SOURCE_CATALOG
    else:
        pricing.input_per_million = pricing.output_per_million = "0"
        pricing.cached_input_per_million = "0"
        pricing.source = resources_pb2.PRICE_SOURCE_NONE
    return shown


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


class ProviderRegistry:
    """CreateProvider, GetProvider, ListProviders, UpdateProvider, DeleteProvider."""

    def __init__(self, repository: AiRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    async def get(self, provider_id: str) -> resources_pb2.Provider:
        organization = current_principal().organization_id
        provider = await self._repository.provider(organization, provider_id)
        if provider is None:
            raise NotFound(f"provider {provider_id} not found", reason="PROVIDER_NOT_FOUND")
        return provider

    async def create(self, draft: resources_pb2.Provider) -> resources_pb2.Provider:
        _check_provider(draft)
        organization = current_principal().organization_id
        provider = resources_pb2.Provider()
        provider.CopyFrom(draft)
        provider.id = new_id()
        provider.organization_id = organization
        provider.ClearField("etag")
        provider.create_time.FromDatetime(self._clock.now())
        provider.update_time.CopyFrom(provider.create_time)
        try:
            return await self._repository.create_provider(organization, provider)
        except DocumentExists:
            raise AlreadyExists(
                f"a provider named {draft.name} exists", reason="PROVIDER_NAME_TAKEN"
            ) from None

    async def list(
        self, request: api.ListProvidersRequest
    ) -> tuple[list[resources_pb2.Provider], str]:
        organization = current_principal().organization_id
        page = PageRequest.of(request, organization)
        providers, continuation = await self._repository.list_providers(
            organization, page.size, page.continuation
        )
        return providers, page.seal(continuation)

    async def update(
        self, changes: resources_pb2.Provider, mask: FieldMask
    ) -> resources_pb2.Provider:
        paths = update_paths(
            mask, changes, "provider", PROVIDER_WRITABLE, output_only=PROVIDER_OUTPUT_ONLY
        )
        organization = current_principal().organization_id

        async def attempt() -> resources_pb2.Provider:
            current = await self.get(changes.id)
            check_etag(changes.etag, current.etag, "provider")
            updated, changed = apply_update(current, changes, paths)
            if not changed:
                return current
            _check_provider(updated)
            updated.update_time.FromDatetime(self._clock.now())
            try:
                return await self._repository.replace_provider(
                    organization, updated, current.etag, current.name
                )
            except DocumentExists:
                raise AlreadyExists(
                    f"a provider named {updated.name} exists", reason="PROVIDER_NAME_TAKEN"
                ) from None

        return await read_modify_write(changes.etag, attempt)

    async def delete(self, provider_id: str, etag: str) -> None:
        organization = current_principal().organization_id
        provider = await self.get(provider_id)
        check_etag(etag, provider.etag, "provider")
        if await self._repository.provider_in_use(organization, provider_id):
            raise FailedPrecondition(
                "models use this provider; delete or move them first", reason="PROVIDER_IN_USE"
            )
        await self._repository.delete_provider(organization, provider, etag or provider.etag)


class ModelRegistry:
    """CreateModel, GetModel, ListModels, UpdateModel, DeleteModel; and lookups by name."""

    def __init__(self, repository: AiRepository, providers: ProviderRegistry, clock: Clock) -> None:
        self._repository = repository
        self._providers = providers
        self._clock = clock

    async def _shown(self, model: resources_pb2.Model) -> resources_pb2.Model:
        organization = current_principal().organization_id
        provider = await self._repository.provider(organization, model.provider_id)
        return effective(model, provider) if provider is not None else model

    async def _stored(self, model_id: str) -> resources_pb2.Model:
        organization = current_principal().organization_id
        model = await self._repository.model(organization, model_id)
        if model is None:
            raise NotFound(f"model {model_id} not found", reason="MODEL_NOT_FOUND")
        return model

    async def get(self, model_id: str) -> resources_pb2.Model:
        return await self._shown(await self._stored(model_id))

    async def _provider_exists(self, provider_id: str) -> None:
        organization = current_principal().organization_id
        if await self._repository.provider(organization, provider_id) is None:
            raise InvalidArgument(
                f"provider {provider_id} not found",
                reason="PROVIDER_NOT_FOUND",
                violations=[FieldViolation("model.provider_id", "names no provider")],
            )

    async def create(self, draft: resources_pb2.Model) -> resources_pb2.Model:
        _check_model(draft)
        await self._provider_exists(draft.provider_id)
        organization = current_principal().organization_id
        model = resources_pb2.Model()
        model.CopyFrom(draft)
        model.id = new_id()
        model.organization_id = organization
        model.ClearField("etag")
        model.pricing.ClearField("source")
        model.create_time.FromDatetime(self._clock.now())
        model.update_time.CopyFrom(model.create_time)
        try:
            stored = await self._repository.create_model(organization, model)
        except DocumentExists:
            raise AlreadyExists(
                f"a model named {draft.name} exists", reason="MODEL_NAME_TAKEN"
            ) from None
        return await self._shown(stored)

    async def list(self, request: api.ListModelsRequest) -> tuple[list[resources_pb2.Model], str]:
        organization = current_principal().organization_id
        page = PageRequest.of(request, organization)
        models, continuation = await self._repository.list_models(
            organization, page.size, page.continuation
        )
        return [await self._shown(m) for m in models], page.seal(continuation)

    async def update(self, changes: resources_pb2.Model, mask: FieldMask) -> resources_pb2.Model:
        paths = update_paths(mask, changes, "model", MODEL_WRITABLE, output_only=MODEL_OUTPUT_ONLY)
        organization = current_principal().organization_id

        async def attempt() -> resources_pb2.Model:
            current = await self._stored(changes.id)
            check_etag(changes.etag, current.etag, "model")
            updated, changed = apply_update(current, changes, paths)
            if not changed:
                return current
            _check_model(updated)
            if "provider_id" in changed:
                await self._provider_exists(updated.provider_id)
            updated.pricing.ClearField("source")
            updated.update_time.FromDatetime(self._clock.now())
            try:
                return await self._repository.replace_model(
                    organization, updated, current.etag, current.name
                )
            except DocumentExists:
                raise AlreadyExists(
                    f"a model named {updated.name} exists", reason="MODEL_NAME_TAKEN"
                ) from None

        return await self._shown(await read_modify_write(changes.etag, attempt))

    async def delete(self, model_id: str, etag: str) -> None:
        organization = current_principal().organization_id
        model = await self._stored(model_id)
        check_etag(etag, model.etag, "model")
        await self._repository.delete_model(organization, model, etag or model.etag)
