"""Records and exports: recorded events listed newest first, and streamed out as CSV or JSON
in chunks whose concatenation is the file, oldest first, filtered as asked."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from coder.usage.v1 import usage_service_pb2 as api
from coder.usage.v1.usage_service_pb2_grpc import UsageServiceStub
from services.kit import ManualClock, Resources
from tests.fixtures.tokens import TokenFactory, auth
from tests.usage.factories import completion, publish, recorded, stamp


async def export(
    stub: UsageServiceStub, token: str, **fields: object
) -> list[api.ExportUsageResponse]:
    request = api.ExportUsageRequest(**fields)  # type: ignore[arg-type]
    return [chunk async for chunk in stub.ExportUsage(request, metadata=auth(token))]


class TestExport:
    async def test_csv_streams_every_record_in_chunks(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        start = clock.now() - timedelta(days=2)
        events = [
            completion(
                org,
                clock,
                user="ann" if n % 2 else "bob",
                input_tokens=n,
                output_tokens=1,
                cost="0.000001",
                at=start + timedelta(seconds=n),
            )
            for n in range(1200)
        ]
        await publish(resources, events)
        await recorded(resources, org, 1200, within=30)
        chunks = await export(stub, token(org), start_time=stamp(start))
        assert len(chunks) > 2  # streamed a page at a time, not built whole
        assert chunks[0].content_type == "text/csv"
        assert chunks[-1].records == 1200
        rows = list(csv.DictReader(io.StringIO("".join(c.data for c in chunks))))
        assert [row["event_id"] for row in rows] == [e.id for e in events]
        assert rows[7]["input_tokens"] == "7" and rows[7]["user"] == "ann"
        assert rows[7]["amount"] == "0.000001" and rows[7]["currency"] == "USD"

        only_bob = await export(stub, token(org), start_time=stamp(start), user_id="bob")
        bob_rows = list(csv.DictReader(io.StringIO("".join(c.data for c in only_bob))))
        assert len(bob_rows) == 600 and {r["user"] for r in bob_rows} == {"bob"}

    async def test_json_is_one_array_of_records(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        await publish(resources, [completion(org, clock, input_tokens=5, project="apollo")])
        await recorded(resources, org, 1)
        chunks = await export(stub, token(org), format=api.EXPORT_FORMAT_JSON)
        assert chunks[0].content_type == "application/json"
        records = json.loads("".join(c.data for c in chunks))
        assert len(records) == 1
        assert records[0]["dimensions"]["project"] == "apollo"
        assert records[0]["quantities"]["input_tokens"] == "5"
        assert records[0]["charges"] == {"ai.completion.cost": "0.0001"}

    async def test_an_empty_export_is_a_valid_file(
        self, stub: UsageServiceStub, token: TokenFactory, org: str
    ) -> None:
        as_json = await export(stub, token(org), format=api.EXPORT_FORMAT_JSON)
        assert json.loads("".join(c.data for c in as_json)) == []
        as_csv = await export(stub, token(org))
        assert "".join(c.data for c in as_csv).startswith("event_id,occur_time,")

    async def test_cells_a_spreadsheet_would_run_are_defused(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        await publish(resources, [completion(org, clock, model='=HYPERLINK("http://x")')])
        await recorded(resources, org, 1)
        chunks = await export(stub, token(org))
        row = next(csv.DictReader(io.StringIO("".join(c.data for c in chunks))))
        assert row["model"] == '\'=HYPERLINK("http://x")'


class TestRecords:
    async def test_records_list_newest_first_in_pages(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        now = clock.now()
        events = [
            completion(org, clock, input_tokens=n, at=now - timedelta(minutes=n)) for n in range(5)
        ]
        await publish(resources, events)
        await recorded(resources, org, 5)
        first = await stub.ListUsageRecords(
            api.ListUsageRecordsRequest(page_size=3), metadata=auth(token(org))
        )
        second = await stub.ListUsageRecords(
            api.ListUsageRecordsRequest(page_size=3, page_token=first.next_page_token),
            metadata=auth(token(org)),
        )
        listed = [r.event_id for r in [*first.records, *second.records]]
        assert listed == [e.id for e in events]
        assert first.records[0].quantities["input_tokens"] == "0"
        assert first.records[0].category == "ai.completion"
