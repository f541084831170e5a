"""Default facts about models from the maintained price catalog `genai-prices`, offline.

The package ships a snapshot of providers' prices and context windows; it is read as shipped
(no auto-update is started, so nothing leaves the machine). A model's registry entry takes
these defaults where its own fields are unset; an organization's prices on the model override
them. Prices are USD per million tokens, exact decimals.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from genai_prices import data_snapshot, types

from coder.ai.v1 import resources_pb2

_VENDOR: dict[int, str] = {
    resources_pb2.PROVIDER_KIND_OPENAI: "openai",
    resources_pb2.PROVIDER_KIND_AZURE_OPENAI: "azure",
    resources_pb2.PROVIDER_KIND_ANTHROPIC: "anthropic",
}

DEFAULT_CONTEXT_WINDOW = 8_192
DEFAULT_MAX_OUTPUT = 4_096


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per million input, output and cached input tokens."""

    input: Decimal = Decimal(0)
    output: Decimal = Decimal(0)
    cached_input: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    context_window: int | None
    prices: Prices | None


def _base(value: Decimal | types.TieredPrices | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, types.TieredPrices):
        return value.base
    return value


@functools.lru_cache(maxsize=1024)
def lookup(model: str, kind: int, at: datetime | None = None) -> CatalogEntry | None:
    """What the catalog knows of `model` served by a provider of `kind`; None when nothing.
    An OpenAI-compatible server's models are matched by name among every vendor for their
    context window only: a self-hosted model costs nothing unless the organization prices it."""
    snapshot = data_snapshot.get_snapshot()
    vendor = _VENDOR.get(int(kind))
    try:
        _, info = snapshot.find_provider_model(model, None, vendor, None)
    except LookupError:
        if vendor is None:
            return None
        try:
            _, info = snapshot.find_provider_model(model, None, None, None)
        except LookupError:
            return None
    prices: Prices | None = None
    if info.prices and vendor is not None:
        price = info.get_prices(at or datetime.now().astimezone())
        input_price = _base(price.input_mtok) or Decimal(0)
        prices = Prices(
            input=input_price,
            output=_base(price.output_mtok) or Decimal(0),
            cached_input=_base(price.cache_read_mtok) or input_price,
        )
    return CatalogEntry(info.context_window, prices)
