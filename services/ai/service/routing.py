"""Which models to try, in which order, and which of them are cooling down.

A request names a model (then its fallbacks follow it) or a task type (then the models of
that type by priority, then the first one's fallbacks). A model that failed with a rate
limit, a timeout or a provider error is skipped for a cool-down period, recorded in the kit
cache (Redis in distributed mode) so every replica routes around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from coder.ai.v1 import resources_pb2
from services.ai._catalog import Prices
from services.ai._providers import Tokens
from services.ai.repository import AiRepository
from services.ai.service.registry import effective
from services.kit import Clock, FailedPrecondition, NotFound
from services.kit.cache import Cache

DEFAULT_TASK = "chat"
MILLION = Decimal(1_000_000)
COST_QUANTUM = Decimal("0.000000000001")


@dataclass(frozen=True, slots=True)
class Target:
    """One model of the chain with its provider and effective limits and prices."""

    model: resources_pb2.Model
    provider: resources_pb2.Provider

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def deployment(self) -> str:
        return self.model.provider_model or self.model.name

    @property
    def prices(self) -> Prices:
        pricing = self.model.pricing
        return Prices(
            Decimal(pricing.input_per_million or 0),
            Decimal(pricing.output_per_million or 0),
            Decimal(pricing.cached_input_per_million or pricing.input_per_million or 0),
        )

    def cost(self, tokens: Tokens) -> Decimal:
        """What the tokens cost at this model's prices, USD, to 12 decimal places."""
        prices = self.prices
        cached = min(tokens.cached, tokens.input)
        total = (
            (tokens.input - cached) * prices.input
            + cached * prices.cached_input
            + tokens.output * prices.output
        ) / MILLION
        return total.quantize(COST_QUANTUM)


class Router:
    """Builds the chain of targets of a request and keeps the cool-downs."""

    def __init__(self, repository: AiRepository, cache: Cache, clock: Clock) -> None:
        self._repository = repository
        self._cache = cache
        self._clock = clock

    async def chain(self, organization: str, model: str, task_type: str) -> list[Target]:
        if model:
            primary = await self._repository.model_by_name(organization, model)
            if primary is None:
                raise NotFound(f"model {model} is not registered", reason="MODEL_NOT_FOUND")
            models = [primary]
        else:
            task = task_type or DEFAULT_TASK
            models = await self._repository.models_for_task(organization, task)
            if not models:
                raise FailedPrecondition(
                    f"no model serves the task type {task}", reason="NO_MODEL_FOR_TASK"
                )
        names = {m.name for m in models}
        for name in models[0].fallback_models:
            if name in names:
                continue
            fallback = await self._repository.model_by_name(organization, name)
            if fallback is not None:
                names.add(name)
                models.append(fallback)
        providers: dict[str, resources_pb2.Provider | None] = {}
        targets: list[Target] = []
        for entry in models:
            if entry.provider_id not in providers:
                providers[entry.provider_id] = await self._repository.provider(
                    organization, entry.provider_id
                )
            provider = providers[entry.provider_id]
            if provider is not None:
                targets.append(Target(effective(entry, provider), provider))
        if not targets:
            raise FailedPrecondition("the model's provider is gone", reason="PROVIDER_NOT_FOUND")
        return targets

    def _key(self, organization: str, target: Target) -> str:
        return f"ai:cooldown:{organization}:{target.model.id}"

    async def cooling(self, organization: str, target: Target) -> float:
        """Seconds the target still cools down; 0 when it may be tried."""
        value = await self._cache.get(self._key(organization, target))
        if value is None:
            return 0.0
        return max(0.0, float(value) - self._clock.now().timestamp())

    async def cool_down(self, organization: str, target: Target, seconds: float) -> None:
        until = self._clock.now().timestamp() + seconds
        await self._cache.set(self._key(organization, target), repr(until).encode(), ttl=seconds)
