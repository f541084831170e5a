"""The AI service's domain: the registry of providers and models, and completions."""

from __future__ import annotations

from dataclasses import dataclass

from services.ai.service.completions import Completions
from services.ai.service.registry import ModelRegistry, ProviderRegistry


@dataclass(frozen=True, slots=True)
class AiDomain:
    providers: ProviderRegistry
    models: ModelRegistry
    completions: Completions


__all__ = ["AiDomain", "Completions", "ModelRegistry", "ProviderRegistry"]
