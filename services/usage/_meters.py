"""The platform's usage categories and their meters, and which event carries each category.

This is the mapping from event type to meters: an event of a type listed here carries a
`coder.usage.v1.UsageRecorded` payload, and each meter of its category takes one value from
it. Adding a category (a new domain's usage) is a new entry here; the consumer's bindings,
ListMeters and the query dimensions follow from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeAlias

from coder.usage.v1 import resources_pb2
from services.usage import _money

Aggregation: TypeAlias = resources_pb2.Aggregation.ValueType

SUM = resources_pb2.AGGREGATION_SUM
COUNT = resources_pb2.AGGREGATION_COUNT
MAX = resources_pb2.AGGREGATION_MAX
UNIQUE_COUNT = resources_pb2.AGGREGATION_UNIQUE_COUNT

COST = "cost"
"""The source name that stands for the event's reported cost rather than a quantity."""

AI_DIMENSIONS = ("model", "provider", "project", "user")
MCP_DIMENSIONS = ("server", "tool", "project", "user")

SCOPE_DIMENSIONS = ("project", "user")
"""Dimensions every category has: quotas and budgets are scoped by them."""


@dataclass(frozen=True, slots=True)
class Meter:
    """One measure of a category: how it aggregates, from which quantities, in what unit."""

    id: str
    category: str
    aggregation: Aggregation
    unit: str
    description: str
    sources: tuple[str, ...] = ()

    @property
    def additive(self) -> bool:
        """Whether it adds up (SUM, COUNT): only those can be priced or limited."""
        return self.aggregation in (SUM, COUNT)

    def value(
        self, quantities: Mapping[str, Decimal], dimensions: Mapping[str, str]
    ) -> Decimal | str | None:
        """This meter's contribution of one event: a decimal (SUM, COUNT, MAX), the distinct
        value (UNIQUE_COUNT), or None when the event carries nothing for it."""
        if self.aggregation == COUNT:
            return Decimal(1)
        if self.aggregation == UNIQUE_COUNT:
            return dimensions.get(self.sources[0]) or None
        present = [quantities[name] for name in self.sources if name in quantities]
        if not present:
            return None
        if self.aggregation == MAX:
            return max(present)
        return _money.total(present)


@dataclass(frozen=True, slots=True)
class Category:
    """A kind of usage, the event type that reports it, its dimensions and meters."""

    name: str
    event_type: str
    dimensions: tuple[str, ...]
    meters: tuple[Meter, ...] = field(default=())

    @property
    def domain(self) -> str:
        """The domain that publishes it (its exchange)."""
        return self.event_type.split(".", 1)[0]


def _meters(
    category: str, *specs: tuple[str, Aggregation, str, str, tuple[str, ...]]
) -> tuple[Meter, ...]:
    return tuple(
        Meter(f"{category}.{name}", category, aggregation, unit, description, sources)
        for name, aggregation, unit, description, sources in specs
    )


CATEGORIES: tuple[Category, ...] = (
    Category(
        "ai.completion",
        "ai.completion.completed",
        AI_DIMENSIONS,
        _meters(
            "ai.completion",
            ("requests", COUNT, "request", "Chat completions served.", ()),
            ("input_tokens", SUM, "token", "Prompt tokens sent to providers.", ("input_tokens",)),
            (
                "output_tokens",
                SUM,
                "token",
                "Completion tokens received from providers.",
                ("output_tokens",),
            ),
            (
                "cached_tokens",
                SUM,
                "token",
                "Prompt tokens the provider served from its cache.",
                ("cached_tokens",),
            ),
            (
                "tokens",
                SUM,
                "token",
                "Input and output tokens together.",
                ("input_tokens", "output_tokens"),
            ),
            ("cost", SUM, _money.CURRENCY, "What the providers charged, in USD.", (COST,)),
            ("users", UNIQUE_COUNT, "user", "Distinct users served.", ("user",)),
            (
                "max_latency",
                MAX,
                "millisecond",
                "Slowest completion, start to last token.",
                ("latency_ms",),
            ),
        ),
    ),
    Category(
        "ai.embedding",
        "ai.embedding.completed",
        AI_DIMENSIONS,
        _meters(
            "ai.embedding",
            ("requests", COUNT, "request", "Embedding requests served.", ()),
            ("input_tokens", SUM, "token", "Tokens embedded.", ("input_tokens",)),
            ("cost", SUM, _money.CURRENCY, "What the providers charged, in USD.", (COST,)),
        ),
    ),
    Category(
        "embeddings.embedding",
        "embeddings.embedding.completed",
        AI_DIMENSIONS,
        _meters(
            "embeddings.embedding",
            ("requests", COUNT, "request", "Documents embedded by the local model.", ()),
            ("input_tokens", SUM, "token", "Tokens the local model embedded.", ("input_tokens",)),
        ),
    ),
    Category(
        "mcp.execution",
        "mcp.tool.executed",
        MCP_DIMENSIONS,
        _meters(
            "mcp.execution",
            ("executions", COUNT, "execution", "Tool executions.", ()),
            ("duration", SUM, "second", "Time spent in tools.", ("duration_seconds",)),
            ("max_duration", MAX, "second", "Longest tool execution.", ("duration_seconds",)),
        ),
    ),
)

BY_CATEGORY: dict[str, Category] = {category.name: category for category in CATEGORIES}
BY_EVENT_TYPE: dict[str, Category] = {category.event_type: category for category in CATEGORIES}
METERS: dict[str, Meter] = {meter.id: meter for c in CATEGORIES for meter in c.meters}
DIMENSIONS: tuple[str, ...] = tuple(dict.fromkeys(d for c in CATEGORIES for d in c.dimensions))


def meter_proto(meter: Meter) -> resources_pb2.Meter:
    category = BY_CATEGORY[meter.category]
    return resources_pb2.Meter(
        id=meter.id,
        category=meter.category,
        aggregation=meter.aggregation,
        unit=meter.unit,
        description=meter.description,
        sources=meter.sources,
        dimensions=category.dimensions,
        event_type=category.event_type,
    )
