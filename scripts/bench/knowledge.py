"""Knowledge benchmark: full-text SearchPages against GetPage, side by side in one run on one
process, through the full interceptor pipeline over real gRPC (sqlite), at a given number of
pages in one organization.

    .venv/bin/python scripts/bench/knowledge.py [--pages 2000] [--seconds 8] [--rounds 2]

The store has no full-text index, so a search narrows the candidates with ARRAY_CONTAINS on
each page's indexed words (Cosmos DB serves that from its index on `/terms/[]`; SQLite scans
the organization's pages with json_each), then counts each word's pages for BM25's IDF and
ranks the candidates in the process. Rows: GetPage (one point read); a rare word (~1% of the
pages); a common word (~30%); two common words; an exact phrase; a tag filter without words
(newest first). Semantic search is not measured here (it is the Embeddings service's search).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc

from coder.knowledge.v1 import knowledge_pb2 as kb
from coder.knowledge.v1 import knowledge_service_pb2 as pb
from coder.knowledge.v1.knowledge_service_pb2_grpc import KnowledgeServiceStub
from scripts.bench.kit import Result, measure
from services.kit import (
    Host,
    KeySource,
    Settings,
    SigningKey,
    TokenVerifier,
    configure_logging,
    configure_telemetry,
    jwks,
    open_resources,
)
from services.knowledge import KnowledgeSettings, definition

Metadata = tuple[tuple[str, str], ...]
VOCABULARY = [f"word{n}" for n in range(3000)]


def page_text(rng: random.Random, n: int) -> tuple[str, str, list[kb.Tag]]:
    """About 300 words, Zipf-like over the vocabulary, plus marker words at set rates."""
    body = [VOCABULARY[min(int(rng.paretovariate(1.1)) - 1, 2999)] for _ in range(300)]
    if n % 100 == 0:
        body.append("zephyrrare")
    if n % 10 < 3:
        body += ["deploy", "pipeline", "rollback", "the", "blue", "green", "switch"]
    tags = [kb.Tag(name="team", value=f"t{n % 5}")]
    return f"Page {n} {VOCABULARY[n % 3000]}", " ".join(body), tags


async def seed(stub: KnowledgeServiceStub, metadata: Metadata, pages: int) -> str:
    space = await stub.CreateSpace(
        pb.CreateSpaceRequest(space=kb.Space(name="bench")), metadata=metadata
    )
    rng = random.Random(7)
    first = ""
    for n in range(pages):
        title, body, tags = page_text(rng, n)
        made = await stub.CreatePage(
            pb.CreatePageRequest(
                space_id=space.space.id, page=kb.Page(title=title, markdown=body, tags=tags)
            ),
            metadata=metadata,
        )
        first = first or made.page.id
    return first


async def run(options: argparse.Namespace) -> list[Result]:
    configure_logging("warning")
    configure_telemetry("coder-bench")
    service = definition(KnowledgeSettings(semantic=False))
    key = SigningKey.generate()
    verifier = TokenVerifier(KeySource(jwks=jwks([key])), issuer="coder", audience="coder-api")
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings.model_validate(
            {"store_url": f"sqlite:///{Path(directory) / 'bench.db'}", "log_level": "warning"}
        )
        async with open_resources(settings, [service], verifier=verifier) as resources:
            host = Host([service], resources)
            await host.start()
            await host.wait_ready()
            token = key.mint(
                subject="bench-user",
                organization_id="bench-org",
                issuer="coder",
                audience="coder-api",
                roles=["admin"],
                lifetime_seconds=3600,
            )
            metadata: Metadata = (("authorization", f"Bearer {token}"),)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
                stub = KnowledgeServiceStub(channel)
                page_id = await seed(stub, metadata, options.pages)

                def searching(query: str) -> pb.SearchPagesRequest:
                    return pb.SearchPagesRequest(query=query, mode=pb.SEARCH_MODE_FULL_TEXT)

                get = pb.GetPageRequest(page_id=page_id)
                queries = [
                    ("SearchPages rare word (1%)", searching("zephyrrare")),
                    ("SearchPages common word (30%)", searching("rollback")),
                    ("SearchPages two common words", searching("deploy pipeline")),
                    ("SearchPages exact phrase", searching('"blue green switch"')),
                    ("SearchPages tag filter only", searching("[team=t3]")),
                ]

                def searcher(request: pb.SearchPagesRequest) -> Callable[[], Awaitable[object]]:
                    return lambda: stub.SearchPages(request, metadata=metadata)

                rows: list[tuple[str, Callable[[], Awaitable[object]]]] = [
                    ("GetPage (point read)", lambda: stub.GetPage(get, metadata=metadata))
                ]
                rows += [(name, searcher(request)) for name, request in queries]
                results = [Result(name, 0, 0.0, [], 0.0) for name, _ in rows]
                for _ in range(options.rounds):
                    for result, (name, call) in zip(results, rows, strict=True):
                        turn = await measure(
                            name, call, options.seconds / options.rounds, options.concurrency
                        )
                        result.calls += turn.calls
                        result.seconds += turn.seconds
                        result.latencies.extend(turn.latencies)
                        result.cpu_seconds += turn.cpu_seconds
            await host.stop(1.0)
    return results


def report(results: list[Result], options: argparse.Namespace) -> None:
    print(
        f"\nknowledge benchmark: {options.pages} pages, {options.seconds:g} s per row in "
        f"{options.rounds} rounds, {options.concurrency} calls in flight, sqlite\n"
    )
    print("| RPC | calls/s | p50 ms | p99 ms | CPU ms/call |")
    print("|---|---:|---:|---:|---:|")
    for result in results:
        print(
            f"| {result.name} | {result.rate:,.0f} | {result.percentile(0.5):.2f} | "
            f"{result.percentile(0.99):.2f} | {result.cpu_ms:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    report(asyncio.run(run(options)), options)


if __name__ == "__main__":
    main()
