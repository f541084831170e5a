"""The gRPC adapter of the usage service: unpack the request, call the service, reply.

Access, validation, errors and deadlines are handled by the kit's interceptors before and
after these methods run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from coder.usage.v1 import usage_service_pb2 as api
from coder.usage.v1 import usage_service_pb2_grpc
from services.usage.service import UsageServices


class UsageServicer(usage_service_pb2_grpc.UsageServiceServicer):
    """coder.usage.v1.UsageService."""

    def __init__(self, services: UsageServices) -> None:
        self._prices = services.prices
        self._limits = services.limits
        self._reports = services.reports

    async def ListMeters(
        self, request: api.ListMetersRequest, context: grpc.aio.ServicerContext
    ) -> api.ListMetersResponse:
        return api.ListMetersResponse(meters=self._reports.list_meters(request.category))

    async def CreatePrice(
        self, request: api.CreatePriceRequest, context: grpc.aio.ServicerContext
    ) -> api.CreatePriceResponse:
        return api.CreatePriceResponse(price=await self._prices.create_price(request.price))

    async def GetPrice(
        self, request: api.GetPriceRequest, context: grpc.aio.ServicerContext
    ) -> api.GetPriceResponse:
        return api.GetPriceResponse(price=await self._prices.get_price(request.price_id))

    async def ListPrices(
        self, request: api.ListPricesRequest, context: grpc.aio.ServicerContext
    ) -> api.ListPricesResponse:
        prices, defaults, token = await self._prices.list_prices(request)
        return api.ListPricesResponse(
            prices=prices, platform_defaults=defaults, next_page_token=token
        )

    async def DeletePrice(
        self, request: api.DeletePriceRequest, context: grpc.aio.ServicerContext
    ) -> api.DeletePriceResponse:
        await self._prices.delete_price(request.price_id)
        return api.DeletePriceResponse()

    async def CreateQuota(
        self, request: api.CreateQuotaRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateQuotaResponse:
        return api.CreateQuotaResponse(quota=await self._limits.create_quota(request.quota))

    async def GetQuota(
        self, request: api.GetQuotaRequest, context: grpc.aio.ServicerContext
    ) -> api.GetQuotaResponse:
        return api.GetQuotaResponse(quota=await self._limits.get_quota(request.quota_id))

    async def ListQuotas(
        self, request: api.ListQuotasRequest, context: grpc.aio.ServicerContext
    ) -> api.ListQuotasResponse:
        quotas, token = await self._limits.list_quotas(request)
        return api.ListQuotasResponse(quotas=quotas, next_page_token=token)

    async def UpdateQuota(
        self, request: api.UpdateQuotaRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateQuotaResponse:
        quota = await self._limits.update_quota(request.quota, request.update_mask)
        return api.UpdateQuotaResponse(quota=quota)

    async def DeleteQuota(
        self, request: api.DeleteQuotaRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteQuotaResponse:
        await self._limits.delete_quota(request.quota_id, request.etag)
        return api.DeleteQuotaResponse()

    async def CheckQuota(
        self, request: api.CheckQuotaRequest, context: grpc.aio.ServicerContext
    ) -> api.CheckQuotaResponse:
        return await self._limits.check_quota(request)

    async def CreateBudget(
        self, request: api.CreateBudgetRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateBudgetResponse:
        return api.CreateBudgetResponse(budget=await self._limits.create_budget(request.budget))

    async def GetBudget(
        self, request: api.GetBudgetRequest, context: grpc.aio.ServicerContext
    ) -> api.GetBudgetResponse:
        return api.GetBudgetResponse(budget=await self._limits.get_budget(request.budget_id))

    async def ListBudgets(
        self, request: api.ListBudgetsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListBudgetsResponse:
        budgets, token = await self._limits.list_budgets(request)
        return api.ListBudgetsResponse(budgets=budgets, next_page_token=token)

    async def UpdateBudget(
        self, request: api.UpdateBudgetRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateBudgetResponse:
        budget = await self._limits.update_budget(request.budget, request.update_mask)
        return api.UpdateBudgetResponse(budget=budget)

    async def DeleteBudget(
        self, request: api.DeleteBudgetRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteBudgetResponse:
        await self._limits.delete_budget(request.budget_id, request.etag)
        return api.DeleteBudgetResponse()

    async def ListAlerts(
        self, request: api.ListAlertsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListAlertsResponse:
        alerts, token = await self._reports.list_alerts(request)
        return api.ListAlertsResponse(alerts=alerts, next_page_token=token)

    async def QueryUsage(
        self, request: api.QueryUsageRequest, context: grpc.aio.ServicerContext
    ) -> api.QueryUsageResponse:
        return await self._reports.query_usage(request)

    async def ListUsageRecords(
        self, request: api.ListUsageRecordsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListUsageRecordsResponse:
        records, token = await self._reports.list_records(request)
        return api.ListUsageRecordsResponse(records=records, next_page_token=token)

    async def ExportUsage(
        self, request: api.ExportUsageRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[api.ExportUsageResponse]:
        async for chunk in self._reports.export_usage(request):
            yield chunk
