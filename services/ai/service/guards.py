"""What must hold before any provider is called: the organization's and the user's request
and token rates (the kit's GCRA limiter, shared through Redis in distributed mode), and Usage
Tracking's quotas (CheckQuota, category `ai.completion`; a HARD limit refuses)."""

from __future__ import annotations

from coder.usage.v1 import usage_service_pb2, usage_service_pb2_grpc
from services.ai._peers import answered
from services.ai._settings import AiSettings
from services.kit import Peers, Principal, ResourceExhausted
from services.kit.cache import RateLimiter

WINDOW_SECONDS = 60.0
CATEGORY = "ai.completion"


class Guards:
    def __init__(self, limiter: RateLimiter, peers: Peers, settings: AiSettings) -> None:
        self._limiter = limiter
        self._peers = peers
        self._settings = settings

    async def admit(self, principal: Principal, tokens: int) -> None:
        """Count one request and `tokens` against the per-minute limits, or refuse
        (RESOURCE_EXHAUSTED with the time to wait)."""
        settings = self._settings
        organization, user = principal.organization_id, principal.subject
        checks = (
            (
                f"ai:rpm:org:{organization}",
                settings.organization_requests_per_minute,
                1,
                "organization",
            ),
            (f"ai:rpm:user:{organization}:{user}", settings.user_requests_per_minute, 1, "user"),
            (
                f"ai:tpm:org:{organization}",
                settings.organization_tokens_per_minute,
                tokens,
                "organization",
            ),
            (f"ai:tpm:user:{organization}:{user}", settings.user_tokens_per_minute, tokens, "user"),
        )
        for key, limit, cost, whose in checks:
            if cost < 1:
                continue
            decision = await self._limiter.hit(
                key, limit=limit, window=WINDOW_SECONDS, cost=min(cost, limit)
            )
            if not decision.allowed:
                unit = "requests" if ":rpm:" in key else "tokens"
                raise ResourceExhausted(
                    f"the {whose}'s AI {unit} per minute are used up",
                    reason="RATE_LIMITED",
                    retry_after=max(decision.retry_after, 0.001),
                )

    async def check_quota(self, project_id: str, input_tokens: int) -> None:
        """Usage Tracking's word on the caller's quotas and budgets, with the caller's token;
        RESOURCE_EXHAUSTED when a HARD one refuses."""
        if not self._settings.quota_check:
            return
        usage = await self._peers.stub(usage_service_pb2_grpc.UsageServiceStub)
        answer = await answered(
            usage.CheckQuota(
                usage_service_pb2.CheckQuotaRequest(
                    category=CATEGORY,
                    project_id=project_id,
                    estimate={"input_tokens": str(input_tokens)},
                )
            )
        )
        if not answer.allowed:
            wait = (
                answer.retry_after.ToTimedelta().total_seconds()
                if answer.HasField("retry_after")
                else None
            )
            raise ResourceExhausted(
                "a usage quota or budget refuses more AI completions this period: "
                + ", ".join(answer.blocking_limit_ids),
                reason="QUOTA_EXCEEDED",
                retry_after=wait,
            )
