"""The in-process index: a filtered search returns k hits however selective the filter (the
same hits as exact search over the filtered subset), the HNSW graph answers unfiltered and
loosely filtered searches, and writes made while the graph is built are not lost."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from services.embeddings._filters import Check, DocFilter, key_of
from services.embeddings._index import CollectionIndex, IndexedChunk, IndexedDocument, Scored, fuse


def clustered(count: int, dimensions: int, seed: int = 7) -> npt.NDArray[np.float32]:
    """Vectors around 100 centres, as embeddings of related texts are."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(100, dimensions)).astype(np.float32)
    noise = rng.normal(size=(count, dimensions)).astype(np.float32)
    return (centres[rng.integers(0, 100, count)] + 0.6 * noise).astype(np.float32)


def filled(vectors: npt.NDArray[np.float32], buckets: int, **options: int) -> CollectionIndex:
    """One single-chunk document per vector, metadata `bucket` = position mod `buckets`."""
    index = CollectionIndex(
        vectors.shape[1], "cosine", **{"hnsw_threshold": 10**9, "exact_limit": 20_000, **options}
    )
    for i, vector in enumerate(vectors):
        index.put(
            IndexedDocument(
                f"d{i}", "", {"bucket": i % buckets}, frozenset({"even"} if i % 2 == 0 else set())
            ),
            [IndexedChunk(f"c{i}", f"d{i}", 0, f"chunk {i}", (), 0, 1, 2)],
            vector[None, :],
        )
    return index


def exact_over(
    vectors: npt.NDArray[np.float32], rows: list[int], query: npt.NDArray[np.float32], k: int
) -> list[int]:
    """Brute force, independent of the index: cosine over the given rows."""
    subset = vectors[rows] / np.linalg.norm(vectors[rows], axis=1, keepdims=True)
    scores = subset @ (query / np.linalg.norm(query))
    return [rows[i] for i in np.argsort(-scores, kind="stable")[:k]]


class TestSelectiveFilters:
    def test_a_filter_passing_half_a_percent_of_100k_chunks_returns_k_exact_hits(self) -> None:
        vectors = clustered(100_000, 64)
        index = filled(vectors, 200)  # bucket 13 is 500 chunks: 0.5 %
        rng = np.random.default_rng(3)
        only = DocFilter((Check("bucket", "equals", (key_of(13),)),))
        rows = [i for i in range(100_000) if i % 200 == 13]
        for query in rng.normal(size=(5, 64)).astype(np.float32):
            hits, strategy = index.search(query, 10, only)
            assert strategy == "exact"
            assert [h.row for h in hits] == exact_over(vectors, rows, query, 10)
            assert all(index.document_of(h.row).metadata["bucket"] == 13 for h in hits)

    def test_a_filter_passing_fewer_than_k_returns_all_that_pass(self) -> None:
        vectors = clustered(2_000, 16)
        index = filled(vectors, 500)
        hits, _ = index.search(
            vectors[0], 10, DocFilter((Check("bucket", "equals", (key_of(4),)),))
        )
        assert sorted(index.document_of(h.row).id for h in hits) == ["d1004", "d1504", "d4", "d504"]

    def test_ranges_tags_and_ids_combine(self) -> None:
        vectors = clustered(1_000, 16)
        index = filled(vectors, 100)
        only = DocFilter(
            (Check("bucket", "range", bounds=(("gte", 10.0), ("lt", 12.0))),),
            tags_all=frozenset({"even"}),
        )
        hits, _ = index.search(vectors[0], 100, only)
        found = {index.document_of(h.row).id for h in hits}
        assert found == {f"d{i}" for i in range(1_000) if i % 100 in (10, 11) and i % 2 == 0}


class TestGraph:
    def test_the_graph_answers_with_high_recall_and_filters_still_give_k(self) -> None:
        vectors = clustered(6_000, 32)
        index = filled(vectors, 50, hnsw_threshold=1_000, exact_limit=50)
        assert index.needs_graph()
        index.build_graph()
        rng = np.random.default_rng(5)
        queries = vectors[rng.integers(0, 6_000, 20)] + 0.1 * rng.normal(size=(20, 32)).astype(
            np.float32
        )
        recall = []
        for query in queries:
            hits, strategy = index.search(query, 10, DocFilter())
            assert strategy == "hnsw"
            recall.append(
                len({h.row for h in hits} & set(exact_over(vectors, list(range(6_000)), query, 10)))
                / 10
            )
            only = DocFilter((Check("bucket", "in", (key_of(3),)),))  # 2 %: the graph, oversampled
            filtered, _ = index.search(query, 10, only)
            assert len(filtered) == 10
            assert all(index.document_of(h.row).metadata["bucket"] == 3 for h in filtered)
        assert np.mean(recall) >= 0.9

    def test_writes_during_a_build_reach_the_graph(self) -> None:
        vectors = clustered(1_200, 16)
        index = filled(vectors[:1_100], 10, hnsw_threshold=1_000, exact_limit=1)
        index._building = True  # as while a worker thread builds it
        index.remove("d0")
        index.put(
            IndexedDocument("late", "", {}, frozenset()),
            [IndexedChunk("late", "late", 0, "late", (), 0, 1, 1)],
            vectors[1_150][None, :],
        )
        index._building = False
        index.build_graph()
        hits, strategy = index.search(vectors[1_150], 1, DocFilter())
        assert strategy == "hnsw"
        assert index.document_of(hits[0].row).id == "late"
        hits, _ = index.search(vectors[0], 5, DocFilter())
        assert "d0" not in {index.document_of(h.row).id for h in hits}


class TestBm25AndFusion:
    def test_bm25_ranks_rarer_words_higher_and_respects_the_filter(self) -> None:
        index = CollectionIndex(2, "cosine", hnsw_threshold=10, exact_limit=10)
        texts = {"a": "the quick fox", "b": "quick quick dog", "c": "a lazy zebra and a quick cat"}
        for i, (name, text) in enumerate(texts.items()):
            index.put(
                IndexedDocument(name, "", {"n": i}, frozenset()),
                [IndexedChunk(name, name, 1, text, (), 0, len(text), 3)],
                np.ones((1, 2), dtype=np.float32),
            )
        hits = index.bm25("zebra quick", 3, DocFilter())
        assert index.document_of(hits[0].row).id == "c"
        only = DocFilter((Check("n", "range", bounds=(("lte", 1.0),)),))
        assert {index.document_of(h.row).id for h in index.bm25("zebra", 3, only)} == set()

    def test_reciprocal_rank_fusion_favours_rows_both_legs_found(self) -> None:
        fused = fuse([[Scored(1, 0.9), Scored(2, 0.8)], [Scored(3, 5.0), Scored(2, 4.0)]], 3)
        assert [row for row, _, _ in fused] == [2, 1, 3]
        assert fused[0][2] == [2, 2]
