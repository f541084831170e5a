"""Reading usage: meters, aggregates, records, exports and alerts.

QueryUsage rounds its range out to whole hours, splits each output window into the fewest
whole buckets (months, days, hours at the edges: `_periods.cover`), reads those buckets once
per run of one size, and merges them per window, meter and group. Distinct counts merge as
sets, maxima as maxima, everything else as exact sums, so a row is the same whatever bucket
sizes it was read from.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from coder.usage.v1 import resources_pb2
from coder.usage.v1 import usage_service_pb2 as api
from services.kit import (
    Clock,
    FieldViolation,
    InvalidArgument,
    PageRequest,
    check_time_range,
    current_principal,
    timestamp_text,
)
from services.usage import _money
from services.usage._ledger import Bucket, BucketKey
from services.usage._meters import (
    BY_CATEGORY,
    CATEGORIES,
    COST,
    DIMENSIONS,
    METERS,
    UNIQUE_COUNT,
    Meter,
    meter_proto,
)
from services.usage._periods import Granularity, ceil, cover, floor, following
from services.usage.repository.ingest import UsageLedger
from services.usage.repository.reports import RecordFilter, ReportsRepository

MAX_RANGE = timedelta(days=400)
MAX_HOURLY_RANGE = timedelta(days=31)
MAX_ROWS = 10_000

WINDOWS = {
    resources_pb2.WINDOW_HOUR: Granularity.HOUR,
    resources_pb2.WINDOW_DAY: Granularity.DAY,
    resources_pb2.WINDOW_MONTH: Granularity.MONTH,
}

QUANTITY_COLUMNS = tuple(
    dict.fromkeys(
        source
        for category in CATEGORIES
        for meter in category.meters
        if meter.aggregation != UNIQUE_COUNT  # a distinct count's source is a dimension
        for source in meter.sources
        if source != COST
    )
)
CSV_COLUMNS = (
    "event_id",
    "occur_time",
    "record_time",
    "category",
    "event_type",
    *DIMENSIONS,
    *QUANTITY_COLUMNS,
    "cost",
    "currency",
    "amount",
    "charges",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ReportService:
    """Usage reports of the caller's organization."""

    def __init__(self, ledger: UsageLedger, reports: ReportsRepository, clock: Clock) -> None:
        self._ledger = ledger
        self._reports = reports
        self._clock = clock

    def list_meters(self, category: str) -> list[resources_pb2.Meter]:
        if category and category not in BY_CATEGORY:
            raise InvalidArgument(
                f"no usage category {category!r}",
                violations=[FieldViolation("category", "unknown category")],
            )
        return [
            meter_proto(meter)
            for c in CATEGORIES
            if not category or c.name == category
            for meter in c.meters
        ]

    # --- aggregates ----------------------------------------------------------------------------

    async def query_usage(self, request: api.QueryUsageRequest) -> api.QueryUsageResponse:
        organization_id = current_principal().organization_id
        start, end = self._range(request)
        meters = _meters_of(request)
        categories = sorted({meter.category for meter in meters})
        _check_group_by(request.group_by)
        filters = {
            name: list(values)
            for name, values in (
                ("user", request.user_ids),
                ("project", request.project_ids),
                ("model", request.models),
                ("provider", request.providers),
            )
            if values
        }
        windows = _windows(start, end, request.window)
        window_starts = [window_start for window_start, _ in windows]
        merged: dict[tuple[int, str, tuple[str, ...]], Bucket] = {}
        for granularity, run_start, run_end in _runs(windows):
            buckets = await self._ledger.buckets(
                organization_id, granularity, run_start, run_end, categories, filters
            )
            for bucket in buckets:
                index = bisect.bisect_right(window_starts, bucket.key.start) - 1
                dims = dict(bucket.key.dimensions)
                group = tuple(dims.get(name, "") for name in request.group_by)
                key = (index, bucket.key.category, group)
                total = merged.get(key)
                if total is None:
                    synthetic = BucketKey(granularity, windows[index][0], bucket.key.category, ())
                    total = merged[key] = Bucket(synthetic)
                total.merge(bucket)
        response = api.QueryUsageResponse(currency=_money.CURRENCY)
        response.start_time.FromDatetime(start)
        response.end_time.FromDatetime(end)
        rows = _rows(merged, meters, windows, request.group_by)
        if len(rows) > MAX_ROWS:
            raise InvalidArgument(
                f"the query has more than {MAX_ROWS} rows; narrow the range, the window or "
                "the group_by",
                violations=[FieldViolation("group_by", f"at most {MAX_ROWS} rows")],
            )
        response.rows.extend(rows)
        response.total_amount = _money.text(_money.total([_money.parse(r.amount) for r in rows]))
        return response

    def _range(self, request: api.QueryUsageRequest) -> tuple[datetime, datetime]:
        check_time_range(request, ("start_time", "end_time"))
        now = self._clock.now()
        start = _moment(request.start_time) if request.HasField("start_time") else now
        if not request.HasField("start_time"):
            start = floor(now, Granularity.MONTH)
        start = floor(start, Granularity.HOUR)
        if request.HasField("end_time"):
            end = ceil(_moment(request.end_time), Granularity.HOUR)
        else:
            # To the end of the current hour, so usage of this very moment is in.
            end = max(following(floor(now, Granularity.HOUR), Granularity.HOUR), start)
        violations = []
        if end <= start:
            violations.append(FieldViolation("end_time", "must be after start_time"))
        elif end - start > MAX_RANGE:
            violations.append(FieldViolation("end_time", "at most 400 days after start_time"))
        elif request.window == resources_pb2.WINDOW_HOUR and end - start > MAX_HOURLY_RANGE:
            violations.append(FieldViolation("end_time", "hourly windows span at most 31 days"))
        if violations:
            raise InvalidArgument("the time range is invalid", violations=violations)
        return start, end

    async def list_alerts(
        self, request: api.ListAlertsRequest
    ) -> tuple[list[resources_pb2.UsageAlert], str]:
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        alerts, continuation = await self._reports.list_alerts(
            organization_id, request.limit_id, page.size, page.continuation
        )
        return alerts, page.seal(continuation)

    # --- records -------------------------------------------------------------------------------

    async def list_records(
        self, request: api.ListUsageRecordsRequest
    ) -> tuple[list[resources_pb2.UsageRecord], str]:
        organization_id = current_principal().organization_id
        check_time_range(request, ("start_time", "end_time"))
        _check_category(request.category)
        page = PageRequest.of(request, organization_id)
        record_filter = RecordFilter(
            start=timestamp_text(request.start_time) if request.HasField("start_time") else None,
            end=timestamp_text(request.end_time) if request.HasField("end_time") else None,
            category=request.category,
            user_id=request.user_id,
            project_id=request.project_id,
        )
        records, continuation = await self._reports.list_records(
            organization_id, record_filter, page.size, page.continuation
        )
        return records, page.seal(continuation)

    async def export_usage(
        self, request: api.ExportUsageRequest
    ) -> AsyncIterator[api.ExportUsageResponse]:
        """The export's chunks, one per page of records read."""
        organization_id = current_principal().organization_id
        check_time_range(request, ("start_time", "end_time"))
        _check_category(request.category)
        now = self._clock.now()
        start = (
            request.start_time
            if request.HasField("start_time")
            else _stamp(floor(now, Granularity.MONTH))
        )
        record_filter = RecordFilter(
            start=timestamp_text(start),
            end=timestamp_text(request.end_time) if request.HasField("end_time") else None,
            category=request.category,
            user_id=request.user_id,
            project_id=request.project_id,
        )
        as_json = request.format == api.EXPORT_FORMAT_JSON
        content_type = "application/json" if as_json else "text/csv"
        written = 0
        head = "[" if as_json else _csv_lines([CSV_COLUMNS])
        async for records in self._reports.each_record_page(organization_id, record_filter):
            if as_json:
                parts = [_json(record) for record in records]
                data = head + ("," if written else "") + ",".join(parts)
            else:
                data = head + _csv_lines([_csv_row(record) for record in records])
            written += len(records)
            yield api.ExportUsageResponse(content_type=content_type, data=data, records=written)
            head, content_type = "", ""
        tail = "]" if as_json else ""
        yield api.ExportUsageResponse(content_type=content_type, data=head + tail, records=written)


def _moment(value: Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=UTC)


def _stamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _check_category(category: str) -> None:
    if category and category not in BY_CATEGORY:
        raise InvalidArgument(
            f"no usage category {category!r}",
            violations=[FieldViolation("category", "see ListMeters for the categories")],
        )


def _meters_of(request: api.QueryUsageRequest) -> list[Meter]:
    _check_category(request.category)
    if not request.meters:
        return [
            meter
            for category in CATEGORIES
            if not request.category or category.name == request.category
            for meter in category.meters
        ]
    violations = []
    chosen = []
    for index, meter_id in enumerate(request.meters):
        meter = METERS.get(meter_id)
        if meter is None or (request.category and meter.category != request.category):
            violations.append(FieldViolation(f"meters[{index}]", f"no meter {meter_id!r} here"))
        else:
            chosen.append(meter)
    if violations:
        raise InvalidArgument("unknown meters", violations=violations)
    return list(dict.fromkeys(chosen))


def _check_group_by(group_by: Sequence[str]) -> None:
    violations = [
        FieldViolation(f"group_by[{index}]", f"not a dimension: one of {', '.join(DIMENSIONS)}")
        for index, name in enumerate(group_by)
        if name not in DIMENSIONS
    ]
    if violations:
        raise InvalidArgument("unknown dimensions", violations=violations)


def _windows(
    start: datetime, end: datetime, window: resources_pb2.Window.ValueType
) -> list[tuple[datetime, datetime]]:
    """The output windows of [start, end), clipped to it."""
    size = WINDOWS.get(window)
    if size is None:
        return [(start, end)]
    windows = []
    moment = floor(start, size)
    while moment < end:
        after = following(moment, size)
        windows.append((max(moment, start), min(after, end)))
        moment = after
    return windows


def _runs(
    windows: Sequence[tuple[datetime, datetime]],
) -> list[tuple[Granularity, datetime, datetime]]:
    """The bucket runs covering every window, contiguous runs of one size joined."""
    runs: list[tuple[Granularity, datetime, datetime]] = []
    for window_start, window_end in windows:
        for granularity, run_start, run_end in cover(window_start, window_end):
            if runs and runs[-1][0] is granularity and runs[-1][2] == run_start:
                runs[-1] = (granularity, runs[-1][1], run_end)
            else:
                runs.append((granularity, run_start, run_end))
    return runs


def _rows(
    merged: dict[tuple[int, str, tuple[str, ...]], Bucket],
    meters: Sequence[Meter],
    windows: Sequence[tuple[datetime, datetime]],
    group_by: Sequence[str],
) -> list[resources_pb2.UsageRow]:
    by_category: dict[str, list[Meter]] = {}
    for meter in meters:
        by_category.setdefault(meter.category, []).append(meter)
    rows: list[tuple[tuple[int, str, tuple[str, ...]], resources_pb2.UsageRow]] = []
    for (index, category, group), bucket in merged.items():
        for meter in by_category.get(category, ()):
            value = bucket.value(meter)
            amount = bucket.amounts.get(meter.id, _money.ZERO)
            if value is None and amount == 0:
                continue
            row = resources_pb2.UsageRow(
                meter=meter.id,
                dimensions=dict(zip(group_by, group, strict=True)),
                value=_money.text(value if value is not None else Decimal(0)),
                unit=meter.unit,
                amount=_money.text(amount),
                events=bucket.events,
            )
            row.window_start.FromDatetime(windows[index][0])
            row.window_end.FromDatetime(windows[index][1])
            rows.append(((index, meter.id, group), row))
    rows.sort(key=lambda item: item[0])
    return [row for _, row in rows]


# --- export formats ----------------------------------------------------------------------------


def _safe(cell: str) -> str:
    """A text cell a spreadsheet will show rather than run (OWASP CSV injection)."""
    return f"'{cell}" if cell.startswith(_FORMULA_STARTS) else cell


def _csv_row(record: resources_pb2.UsageRecord) -> list[str]:
    return [
        record.event_id,
        record.occur_time.ToJsonString(),
        record.record_time.ToJsonString(),
        record.category,
        _safe(record.event_type),
        *(_safe(record.dimensions.get(name, "")) for name in DIMENSIONS),
        *(record.quantities.get(name, "") for name in QUANTITY_COLUMNS),
        record.cost,
        record.currency,
        record.amount,
        json.dumps(dict(record.charges), sort_keys=True) if record.charges else "",
    ]


def _csv_lines(rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue()


def _json(message: Message) -> str:
    # The API's JSON profile: fields without presence printed even when empty.
    document = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    return json.dumps(document, separators=(",", ":"), sort_keys=True)
