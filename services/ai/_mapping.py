"""Providers and models ↔ stored documents (lowerCamelCase, times as the kit's time text,
enums by number, decimals as their text)."""

from __future__ import annotations

from typing import Any

from coder.ai.v1 import resources_pb2
from services.kit import fill_timestamp, timestamp_text
from services.kit.store import Document

PROVIDER_KIND = "provider"
MODEL_KIND = "model"
NAME_KIND = "name"


def name_claim_id(kind: str, name: str) -> str:
    return f"{kind}-name:{name}"


def name_claim(kind: str, name: str, owner: str) -> Document:
    return {"id": name_claim_id(kind, name), "kind": NAME_KIND, "owner": owner}


def provider_document(provider: resources_pb2.Provider) -> Document:
    document: dict[str, Any] = {
        "id": provider.id,
        "kind": PROVIDER_KIND,
        "name": provider.name,
        "providerKind": int(provider.kind),
        "baseUrl": provider.base_url,
        "apiVersion": provider.api_version,
        "credentialSecretId": provider.credential_secret_id,
        "createTime": timestamp_text(provider.create_time),
        "updateTime": timestamp_text(provider.update_time),
    }
    if provider.HasField("attempt_timeout"):
        document["attemptTimeoutMs"] = provider.attempt_timeout.ToMilliseconds()
    return document


def provider_from_document(document: Document) -> resources_pb2.Provider:
    provider = resources_pb2.Provider(
        id=document["id"],
        organization_id=document["organizationId"],
        name=document["name"],
        kind=document["providerKind"],
        base_url=document["baseUrl"],
        api_version=document["apiVersion"],
        credential_secret_id=document["credentialSecretId"],
        etag=document.get("_etag", ""),
    )
    if "attemptTimeoutMs" in document:
        provider.attempt_timeout.FromMilliseconds(document["attemptTimeoutMs"])
    fill_timestamp(provider.create_time, document["createTime"])
    fill_timestamp(provider.update_time, document["updateTime"])
    return provider


def model_document(model: resources_pb2.Model) -> Document:
    pricing = model.pricing
    return {
        "id": model.id,
        "kind": MODEL_KIND,
        "name": model.name,
        "providerId": model.provider_id,
        "providerModel": model.provider_model,
        "contextWindow": model.context_window,
        "maxOutputTokens": model.max_output_tokens,
        "capabilities": [int(c) for c in model.capabilities],
        "inputPerMillion": pricing.input_per_million,
        "outputPerMillion": pricing.output_per_million,
        "cachedInputPerMillion": pricing.cached_input_per_million,
        "taskTypes": list(model.task_types),
        "priority": model.priority,
        "fallbackModels": list(model.fallback_models),
        "createTime": timestamp_text(model.create_time),
        "updateTime": timestamp_text(model.update_time),
    }


def model_from_document(document: Document) -> resources_pb2.Model:
    model = resources_pb2.Model(
        id=document["id"],
        organization_id=document["organizationId"],
        name=document["name"],
        provider_id=document["providerId"],
        provider_model=document["providerModel"],
        context_window=document["contextWindow"],
        max_output_tokens=document["maxOutputTokens"],
        capabilities=document["capabilities"],
        pricing=resources_pb2.ModelPricing(
            input_per_million=document["inputPerMillion"],
            output_per_million=document["outputPerMillion"],
            cached_input_per_million=document["cachedInputPerMillion"],
        ),
        task_types=document["taskTypes"],
        priority=document["priority"],
        fallback_models=document["fallbackModels"],
        etag=document.get("_etag", ""),
    )
    fill_timestamp(model.create_time, document["createTime"])
    fill_timestamp(model.update_time, document["updateTime"])
    return model
