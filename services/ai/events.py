"""The events the AI service publishes. It consumes none.

- `ai.completion.completed` (coder.usage.v1.UsageRecorded): a chat completion was served;
  Usage Tracking meters it (input, output and cached tokens, latency, cost). The subject is
  the completion id.
- `ai.embedding.completed` (UsageRecorded): texts were embedded.
- `ai.completion.failed` (CompletionFailed): no model of the chain answered.
- `ai.completion.fallback` (CompletionFallback): a model failed and the next was tried.
"""

from __future__ import annotations

from decimal import Decimal

from coder.ai.v1 import events_pb2
from coder.events.v1 import event_pb2
from coder.usage.v1 import events_pb2 as usage_events_pb2
from services.ai._providers import Tokens
from services.kit import Clock, Principal
from services.kit.bus import EventFactory

COMPLETION_COMPLETED = "ai.completion.completed"
COMPLETION_FAILED = "ai.completion.failed"
COMPLETION_FALLBACK = "ai.completion.fallback"
EMBEDDING_COMPLETED = "ai.embedding.completed"


def decimal_text(value: Decimal) -> str:
    """A non-negative decimal as plain text with at most 12 fractional digits (the usage
    payload's form)."""
    quantized = value.quantize(Decimal("0.000000000001"))
    text = format(quantized.normalize(), "f")
    return text if text != "-0" else "0"


class AiEvents:
    """Builds the service's events for one caller."""

    def __init__(self, principal: Principal, clock: Clock) -> None:
        self._principal = principal
        self._event = EventFactory.acting(principal, clock)

    def completed(
        self,
        subject: str,
        *,
        model: str,
        provider: str,
        project_id: str,
        tokens: Tokens,
        latency_ms: int,
        cost: Decimal,
        cached: bool = False,
        event_type: str = COMPLETION_COMPLETED,
    ) -> event_pb2.Event:
        quantities = {
            "input_tokens": str(tokens.input),
            "output_tokens": str(tokens.output),
            "latency_ms": str(latency_ms),
        }
        if event_type == COMPLETION_COMPLETED:
            quantities["cached_tokens"] = str(tokens.cached)
        if cached:
            quantities["cache_hits"] = "1"
        usage = usage_events_pb2.UsageRecorded(
            user_id=self._principal.subject,
            project_id=project_id,
            model=model,
            provider=provider,
            quantities=quantities,
            cost=decimal_text(cost),
        )
        return self._event(event_type, subject, usage)

    def failed(
        self,
        subject: str,
        *,
        model: str,
        provider: str,
        project_id: str,
        input_tokens: int,
        latency_ms: int,
        code: str,
        reason: str,
    ) -> event_pb2.Event:
        payload = events_pb2.CompletionFailed(
            organization_id=self._principal.organization_id,
            user_id=self._principal.subject,
            project_id=project_id,
            model=model,
            provider=provider,
            input_tokens=input_tokens,
            latency_ms=latency_ms,
            code=code,
            reason=reason,
        )
        return self._event(COMPLETION_FAILED, subject, payload)

    def fallback(
        self,
        subject: str,
        *,
        model: str,
        provider: str,
        fallback_model: str,
        fallback_provider: str,
        project_id: str,
        input_tokens: int,
        latency_ms: int,
        reason: str,
    ) -> event_pb2.Event:
        payload = events_pb2.CompletionFallback(
            organization_id=self._principal.organization_id,
            user_id=self._principal.subject,
            project_id=project_id,
            model=model,
            provider=provider,
            fallback_model=fallback_model,
            fallback_provider=fallback_provider,
            input_tokens=input_tokens,
            latency_ms=latency_ms,
            reason=reason,
        )
        return self._event(COMPLETION_FALLBACK, subject, payload)
