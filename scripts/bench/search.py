"""Search benchmark: the embedded index of 100k chunks of 384 dimensions — HNSW against exact
search in the same run (latency and recall@10), filtered search at 0.5 % and 30 % selectivity,
BM25 and hybrid search, plus the local model's embedding rate on this machine's CPU.

    .venv/bin/python scripts/bench/search.py [--chunks 100000] [--queries 200] [--threads 2]

The vectors: 2,000 real all-MiniLM-L6-v2 embeddings of generated sentences (the model runs
here, which also gives the embedding rate), each the centre of 50 chunks scattered around it
and normalised — embedding 100k chunks for real would take the 2 shared cores ~7 minutes, and
neighbours among clusters of related texts is what a collection looks like to the index. Each
chunk carries ~40 words drawn from a Zipf vocabulary (for BM25) and metadata `bucket` (200
values: one is 0.5 %) and `year`. Queries are noised chunks of random clusters. Goals (issue
11): p50 ≤ 20 ms, p99 ≤ 50 ms, recall@10 ≥ 0.95 against exact search.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from services.embeddings._filters import Check, DocFilter, key_of
from services.embeddings._index import CollectionIndex, IndexedChunk, IndexedDocument, fuse
from services.embeddings._models import LocalModels
from services.embeddings._settings import EmbeddingsSettings

SUBJECTS = [
    "the",
    "service",
    "the",
    "cache",
    "the",
    "planner",
    "a",
    "worker",
    "the",
    "index",
    "our",
    "team",
    "the",
    "parser",
]
VERBS = [
    "rebuilds",
    "checks",
    "sends",
    "drops",
    "merges",
    "splits",
    "reads",
    "writes",
    "ranks",
    "embeds",
]
OBJECTS = [
    "the queue",
    "a token",
    "every page",
    "the vectors",
    "an event",
    "the schema",
    "a chunk",
    "the budget",
    "the tenant",
    "a heading",
    "the graph",
    "a deadline",
]
TAILS = [
    "before the deploy",
    "after a restart",
    "under load",
    "once a day",
    "for each organization",
    "without a lock",
    "in one batch",
    "on the CPU",
]


def sentences(count: int, rng: np.random.Generator) -> list[str]:
    return [
        f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
        f"{rng.choice(TAILS)}, step {i}."
        for i in range(count)
    ]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.asarray(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def timed(call: Callable[[], object], repeats: int) -> list[float]:
    found = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        found.append(time.perf_counter() - start)
    return found


def recall(got: list[int], truth: list[int]) -> float:
    return len(set(got) & set(truth)) / max(len(truth), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2, help="HNSW build threads")
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    print(f"load average before: {os.getloadavg()}")

    model = LocalModels(EmbeddingsSettings()).default
    texts = sentences(2_000, rng)
    model.embed_now(texts[:32])  # load and warm the model
    start = time.perf_counter()
    embedded = model.embed_now(texts)
    seconds = time.perf_counter() - start
    tokens = embedded.tokens / len(texts)
    print(
        f"local model: {len(texts)} chunks ({tokens:.1f} tokens each) in {seconds:.2f} s = "
        f"{len(texts) / seconds:.0f} chunks/s, {embedded.tokens / seconds:.0f} tokens/s "
        "(1 intra-op thread)"
    )
    long_texts = [" ".join(texts[i : i + 8]) for i in range(0, 400, 8)] * 4
    start = time.perf_counter()
    long = model.embed_now(long_texts)
    seconds = time.perf_counter() - start
    print(
        f"local model, ~{long.tokens / len(long_texts):.0f}-token chunks: "
        f"{len(long_texts) / seconds:.0f} chunks/s"
    )
    query_embed = timed(lambda: model.embed_now(["how is the index rebuilt after a restart"]), 50)
    p50, p99 = percentiles(query_embed)
    print(f"query embedding p50/p99 ms: {p50:.2f} / {p99:.2f}")

    centres = embedded.vectors
    per = -(-args.chunks // len(centres))
    owner = np.repeat(np.arange(len(centres)), per)[: args.chunks]
    noise = rng.normal(scale=0.035, size=(args.chunks, centres.shape[1])).astype(np.float32)
    vectors = centres[owner] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vocabulary = [f"w{i}" for i in range(20_000)]
    ranks = np.minimum(rng.zipf(1.3, size=(args.chunks, 40)), len(vocabulary)) - 1

    index = CollectionIndex(
        384, "cosine", hnsw_threshold=20_000, exact_limit=20_000, build_threads=args.threads
    )
    start = time.perf_counter()
    for i in range(args.chunks):
        text = " ".join(vocabulary[r] for r in ranks[i])
        index.put(
            IndexedDocument(f"d{i}", "", {"bucket": i % 200, "year": 2000 + i % 25}, frozenset()),
            [IndexedChunk(f"c{i}", f"d{i}", 1, text, (), 0, len(text), 40)],
            vectors[i : i + 1],
        )
    print(f"index filled with {index.chunk_count} chunks in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    index.build_graph()
    print(f"HNSW graph built in {time.perf_counter() - start:.1f} s ({args.threads} threads)")

    picks = rng.integers(0, args.chunks, args.queries)
    queries = vectors[picks] + rng.normal(scale=0.03, size=(args.queries, 384)).astype(np.float32)
    rows: list[tuple[str, list[float], float | None, str]] = []

    def row(
        name: str,
        search: Callable[[npt.NDArray[np.float32]], list[int]],
        truth: Callable[[npt.NDArray[np.float32]], list[int]] | None,
    ) -> None:
        samples, recalls = [], []
        for query in queries:
            start = time.perf_counter()
            got = search(query)
            samples.append(time.perf_counter() - start)
            if truth is not None:
                recalls.append(recall(got, truth(query)))
        rows.append((name, samples, float(np.mean(recalls)) if recalls else None, ""))

    none = DocFilter()
    row("exact, no filter", lambda q: [h.row for h in index.exact(q, 10)], None)
    row(
        "HNSW, no filter",
        lambda q: [h.row for h in index.search(q, 10, none)[0]],
        lambda q: [h.row for h in index.exact(q, 10)],
    )
    narrow = DocFilter((Check("bucket", "equals", (key_of(13),)),))
    narrow_rows = np.asarray([i for i in range(args.chunks) if i % 200 == 13])
    counts: list[int] = []

    def narrow_search(q: npt.NDArray[np.float32]) -> list[int]:
        hits = index.search(q, 10, narrow)[0]
        counts.append(len(hits))
        return [h.row for h in hits]

    row(
        "filter 0.5 % (pre-filter, exact)",
        narrow_search,
        lambda q: [h.row for h in index.exact(q, 10, narrow_rows)],
    )
    print(f"filter 0.5 %: {min(counts)}..{max(counts)} hits per query for k=10")
    wide = DocFilter((Check("bucket", "in", tuple(key_of(b) for b in range(60))),))
    wide_rows = np.asarray([i for i in range(args.chunks) if i % 200 < 60])
    row(
        "filter 30 % (HNSW, oversampled)",
        lambda q: [h.row for h in index.search(q, 10, wide)[0]],
        lambda q: [h.row for h in index.exact(q, 10, wide_rows)],
    )
    words = [" ".join(vocabulary[r] for r in rng.choice(ranks[p], 3)) for p in picks]
    position = iter(range(10**9))
    row(
        "BM25 (3 words)",
        lambda q: [h.row for h in index.bm25(words[next(position) % len(words)], 10, none)],
        None,
    )
    position = iter(range(10**9))

    def hybrid(q: npt.NDArray[np.float32]) -> list[int]:
        text = words[next(position) % len(words)]
        vector = index.search(q, 50, none)[0]
        return [r for r, _, _ in fuse([vector, index.bm25(text, 50, none)], 10)]

    row("hybrid (HNSW 50 + BM25 50, RRF)", hybrid, None)

    print(f"\n{args.queries} queries, k=10, {args.chunks} chunks of 384 dimensions")
    print(f"{'search':38} {'p50 ms':>8} {'p99 ms':>8} {'recall@10':>10}")
    for name, samples, value, _ in rows:
        p50, p99 = percentiles(samples)
        shown = f"{value:.3f}" if value is not None else "—"
        print(f"{name:38} {p50:8.2f} {p99:8.2f} {shown:>10}")
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
