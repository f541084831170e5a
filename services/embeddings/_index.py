"""The in-process index of one collection (embedded mode): vectors in one contiguous float32
matrix, an HNSW graph over them past a size, metadata and tag postings for filters, and BM25
postings over the same chunks.

Search strategy, so that a filtered search still returns k hits however selective the filter:
- a filter passing at most `exact_limit` chunks, or a collection below `hnsw_threshold`:
  exact search over exactly the passing rows (pre-filter: one matrix product);
- otherwise the HNSW graph, asked for enough candidates that k pass the filter at its
  measured selectivity; when fewer than k pass, exact search over the passing rows.

The index is rebuilt from the store when the collection is first used by a process, and kept in
step with every write the process makes. The HNSW graph is built on a worker thread the first
time the collection passes the threshold; until it is ready searches are exact.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from services.embeddings._filters import Check, DocFilter, Key, keys_of
from services.embeddings._text import words

MetricName = Literal["cosine", "dot", "euclidean"]
Rows = npt.NDArray[np.int64]

BM25_K1 = 1.2
BM25_B = 0.75
_GROWTH = 1.5
_HNSW_METRICS = {"cosine": "cos", "dot": "ip", "euclidean": "l2sq"}


@dataclass(frozen=True, slots=True)
class IndexedChunk:
    """What a hit shows of a chunk (its vector lives in the matrix)."""

    id: str
    document_id: str
    index: int
    text: str
    heading_path: tuple[str, ...]
    start: int
    end: int
    tokens: int


@dataclass(slots=True)
class IndexedDocument:
    """A document as filters and hits see it."""

    id: str
    title: str
    metadata: dict[str, Any]
    tags: frozenset[str]
    rows: Rows = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass(frozen=True, slots=True)
class Scored:
    row: int
    score: float


class _Hnsw:
    """The HNSW graph (usearch) with keys that are never reused, so a row written again
    gets a fresh node and a removed one leaves none behind."""

    def __init__(self, dimensions: int, metric: MetricName) -> None:
        from usearch.index import Index

        self.graph = Index(
            ndim=dimensions,
            metric=_HNSW_METRICS[metric],
            dtype="f32",
            connectivity=16,
            expansion_add=128,
            expansion_search=96,
        )
        self.key_of_row: dict[int, int] = {}
        self.row_of_key: dict[int, int] = {}
        self._next = 0

    def add(self, rows: Sequence[int], vectors: npt.NDArray[np.float32], threads: int) -> None:
        if not len(rows):
            return
        keys = np.arange(self._next, self._next + len(rows), dtype=np.uint64)
        self._next += len(rows)
        for row, key in zip(rows, keys.tolist(), strict=True):
            self.key_of_row[row] = key
            self.row_of_key[key] = row
        self.graph.add(keys, vectors, threads=threads)

    def remove(self, rows: Iterable[int]) -> None:
        keys = [self.key_of_row.pop(row) for row in rows if row in self.key_of_row]
        for key in keys:
            del self.row_of_key[key]
        if keys:
            self.graph.remove(np.asarray(keys, dtype=np.uint64))

    def search(self, query: npt.NDArray[np.float32], count: int) -> list[int]:
        found = self.graph.search(query, count, threads=1, exact=False)
        return [self.row_of_key[k] for k in found.keys.tolist() if k in self.row_of_key]


class CollectionIndex:
    """One collection's chunks in memory, for vector, filtered and BM25 search."""

    def __init__(
        self,
        dimensions: int,
        metric: MetricName,
        *,
        hnsw_threshold: int,
        exact_limit: int,
        build_threads: int = 1,
    ) -> None:
        self.dimensions = dimensions
        self.metric = metric
        self.hnsw_threshold = hnsw_threshold
        self.exact_limit = exact_limit
        self._build_threads = build_threads
        self.lock = threading.RLock()
        """Held by every read and write: searches run on worker threads, writes on the loop."""
        self._matrix = np.zeros((1024, dimensions), dtype=np.float32)
        self._squares = np.zeros(1024, dtype=np.float32)  # |v|², for euclidean distances
        self._alive = np.zeros(1024, dtype=bool)
        self._length = np.zeros(1024, dtype=np.float32)  # BM25 document length (words)
        self._chunks: list[IndexedChunk | None] = []
        self._row_document: list[str] = []
        self._free: list[int] = []
        self.documents: dict[str, IndexedDocument] = {}
        self._values: dict[tuple[str, Key], set[str]] = {}
        self._tagged: dict[str, set[str]] = {}
        self._value_rows: dict[tuple[str, Key], Rows] = {}  # row postings, tags under field ""
        self._postings: dict[str, dict[int, int]] = {}
        self._posting_arrays: dict[str, tuple[Rows, npt.NDArray[np.float32]]] = {}
        self._total_length = 0.0
        self._hnsw: _Hnsw | None = None
        self._building = False
        self._changes: list[tuple[bool, int]] = []  # (added, row) while the graph is built

    # --- size ----------------------------------------------------------------------------------

    @property
    def chunk_count(self) -> int:
        return len(self._chunks) - len(self._free)

    @property
    def has_graph(self) -> bool:
        return self._hnsw is not None

    def chunk(self, row: int) -> IndexedChunk:
        found = self._chunks[row]
        assert found is not None
        return found

    def document_of(self, row: int) -> IndexedDocument:
        return self.documents[self._row_document[row]]

    # --- writes --------------------------------------------------------------------------------

    def put(
        self,
        document: IndexedDocument,
        chunks: Sequence[IndexedChunk],
        vectors: npt.NDArray[np.float32],
    ) -> None:
        """Store a document's chunks and vectors in place of what it had."""
        if vectors.shape != (len(chunks), self.dimensions):
            raise ValueError(f"vectors of shape {vectors.shape} for {len(chunks)} chunks")
        if self.metric == "cosine":
            vectors = _normalised(vectors)
        with self.lock:
            self._drop(document.id)
            rows = self._rows(len(chunks))
            if len(chunks):
                self._matrix[rows] = vectors
                self._squares[rows] = np.einsum("ij,ij->i", vectors, vectors)
                self._alive[rows] = True
            for row, chunk in zip(rows.tolist(), chunks, strict=True):
                self._chunks[row] = chunk
                self._row_document[row] = document.id
                self._add_text(
                    row, chunk.text if chunk.index else f"{document.title}\n{chunk.text}"
                )
            document.rows = rows
            self.documents[document.id] = document
            for name, value in document.metadata.items():
                for key in keys_of(value):
                    self._values.setdefault((name, key), set()).add(document.id)
                    self._value_rows.pop((name, key), None)
            for tag in document.tags:
                self._tagged.setdefault(tag, set()).add(document.id)
                self._value_rows.pop(("", ("s", tag)), None)
            self._graph_add(rows.tolist())

    def remove(self, document_id: str) -> bool:
        with self.lock:
            return self._drop(document_id)

    def _rows(self, count: int) -> Rows:
        reused = [self._free.pop() for _ in range(min(count, len(self._free)))]
        start = len(self._chunks)
        fresh = list(range(start, start + count - len(reused)))
        if fresh:
            self._chunks.extend([None] * len(fresh))
            self._row_document.extend([""] * len(fresh))
            self._grow(len(self._chunks))
        return np.asarray(reused + fresh, dtype=np.int64)

    def _grow(self, needed: int) -> None:
        capacity = self._matrix.shape[0]
        if needed <= capacity:
            return
        size = max(needed, int(capacity * _GROWTH))
        matrix = np.zeros((size, self.dimensions), dtype=np.float32)
        matrix[:capacity] = self._matrix
        self._matrix = matrix
        for name in ("_squares", "_length"):
            old = getattr(self, name)
            new = np.zeros(size, dtype=np.float32)
            new[:capacity] = old
            setattr(self, name, new)
        alive = np.zeros(size, dtype=bool)
        alive[:capacity] = self._alive
        self._alive = alive

    def _drop(self, document_id: str) -> bool:
        document = self.documents.pop(document_id, None)
        if document is None:
            return False
        rows = document.rows.tolist()
        for row in rows:
            chunk = self._chunks[row]
            if chunk is not None:
                self._remove_text(
                    row, chunk.text if chunk.index else f"{document.title}\n{chunk.text}"
                )
            self._chunks[row] = None
            self._row_document[row] = ""
        self._alive[document.rows] = False
        self._free.extend(rows)
        for name, value in document.metadata.items():
            for key in keys_of(value):
                self._value_rows.pop((name, key), None)
                holders = self._values.get((name, key))
                if holders is not None:
                    holders.discard(document_id)
                    if not holders:
                        del self._values[(name, key)]
        for tag in document.tags:
            self._value_rows.pop(("", ("s", tag)), None)
            holders = self._tagged.get(tag)
            if holders is not None:
                holders.discard(document_id)
                if not holders:
                    del self._tagged[tag]
        self._graph_remove(rows)
        return True

    # --- BM25 postings -------------------------------------------------------------------------

    def _add_text(self, row: int, text: str) -> None:
        counts: dict[str, int] = {}
        for word in words(text):
            counts[word] = counts.get(word, 0) + 1
        for word, count in counts.items():
            self._postings.setdefault(word, {})[row] = count
            self._posting_arrays.pop(word, None)
        length = float(sum(counts.values()))
        self._length[row] = length
        self._total_length += length

    def _remove_text(self, row: int, text: str) -> None:
        for word in set(words(text)):
            posting = self._postings.get(word)
            if posting is not None:
                posting.pop(row, None)
                self._posting_arrays.pop(word, None)
                if not posting:
                    del self._postings[word]
        self._total_length -= float(self._length[row])
        self._length[row] = 0.0

    def _posting(self, word: str) -> tuple[Rows, npt.NDArray[np.float32]] | None:
        arrays = self._posting_arrays.get(word)
        if arrays is None:
            posting = self._postings.get(word)
            if not posting:
                return None
            arrays = (
                np.fromiter(posting.keys(), dtype=np.int64, count=len(posting)),
                np.fromiter(posting.values(), dtype=np.float32, count=len(posting)),
            )
            self._posting_arrays[word] = arrays
        return arrays

    # --- the HNSW graph ------------------------------------------------------------------------

    def _graph_add(self, rows: list[int]) -> None:
        if self._building:
            self._changes.extend((True, row) for row in rows)
        elif self._hnsw is not None:
            self._hnsw.add(rows, self._matrix[rows], threads=1)

    def _graph_remove(self, rows: list[int]) -> None:
        if self._building:
            self._changes.extend((False, row) for row in rows)
        elif self._hnsw is not None:
            self._hnsw.remove(rows)

    def needs_graph(self) -> bool:
        return self._hnsw is None and not self._building and self.chunk_count >= self.hnsw_threshold

    def build_graph(self) -> None:
        """Build the HNSW graph over the live rows (slow: run it on a worker thread), then
        apply the writes made meanwhile."""
        with self.lock:
            if self._hnsw is not None or self._building:
                return
            self._building = True
            rows = np.flatnonzero(self._alive[: len(self._chunks)]).tolist()
            vectors = self._matrix[rows].copy()
        graph = _Hnsw(self.dimensions, self.metric)
        try:
            graph.add(rows, vectors, threads=self._build_threads)
        finally:
            with self.lock:
                self._building = False
                changes, self._changes = self._changes, []
        with self.lock:
            for added, row in changes:
                if added and self._alive[row]:
                    graph.remove([row])
                    graph.add([row], self._matrix[[row]], threads=1)
                elif not added:
                    graph.remove([row])
            self._hnsw = graph

    # --- filters -------------------------------------------------------------------------------

    def passing_rows(self, filter: DocFilter) -> Rows | None:
        """The live rows of the chunks whose documents pass the filter, ascending (None: no
        filter). Equality, IN, tags and ids are read from row postings (one array per value,
        kept until a document with that value changes); ranges are checked per document
        among the rows the other parts left."""
        if filter.empty:
            return None
        size = len(self._chunks)
        mask: npt.NDArray[np.bool_] | None = None

        def narrow(rows: Rows) -> None:
            nonlocal mask
            found = np.zeros(size, dtype=bool)
            found[rows] = True
            mask = found if mask is None else mask & found

        if filter.document_ids:
            narrow(self._rows_of(filter.document_ids))
        for tag in filter.tags_all:
            narrow(self._posting_rows(("", ("s", tag)), self._tagged.get(tag, set())))
        if filter.tags_any:
            narrow(
                self._concat(
                    self._posting_rows(("", ("s", tag)), self._tagged.get(tag, set()))
                    for tag in filter.tags_any
                )
            )
        ranges: list[Check] = []
        for test in filter.tests:
            if test.op == "range":
                ranges.append(test)
                continue
            narrow(
                self._concat(
                    self._posting_rows(
                        (test.field, key), self._values.get((test.field, key), set())
                    )
                    for key in test.keys
                )
            )
        if mask is None:
            mask = self._alive[:size].copy()
        else:
            mask &= self._alive[:size]
        rows = np.flatnonzero(mask)
        if not ranges:
            return rows
        held = {self._row_document[row] for row in rows.tolist()}
        kept = [
            self.documents[name].rows
            for name in held
            if all(test.passes(self.documents[name].metadata.get(test.field)) for test in ranges)
        ]
        return np.sort(self._concat(kept))

    def _rows_of(self, documents: Iterable[str]) -> Rows:
        return self._concat(self.documents[d].rows for d in documents if d in self.documents)

    def _posting_rows(self, key: tuple[str, Key], documents: set[str]) -> Rows:
        rows = self._value_rows.get(key)
        if rows is None:
            rows = self._rows_of(documents)
            self._value_rows[key] = rows
        return rows

    @staticmethod
    def _concat(parts: Iterable[Rows]) -> Rows:
        found = list(parts)
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

    # --- vector search -------------------------------------------------------------------------

    def _scores(self, rows: Rows | None, query: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        size = len(self._chunks)
        matrix = self._matrix[:size] if rows is None else self._matrix[rows]
        dots = matrix @ query
        if self.metric != "euclidean":
            return dots
        squares = self._squares[:size] if rows is None else self._squares[rows]
        return np.sqrt(np.maximum(squares + float(query @ query) - 2.0 * dots, 0.0))

    def _better(self, scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
        """Positions of the k best scores, best first."""
        keys = scores if self.metric == "euclidean" else -scores
        top = np.argpartition(keys, k - 1)[:k] if len(keys) > k else np.arange(len(keys))
        return top[np.argsort(keys[top], kind="stable")]

    def exact(
        self, query: npt.NDArray[np.float32], k: int, rows: Rows | None = None
    ) -> list[Scored]:
        """The k closest live rows, comparing every one (of `rows`, when given)."""
        with self.lock:
            if rows is None:
                size = len(self._chunks)
                scores = self._scores(None, query)
                worst = np.inf if self.metric == "euclidean" else -np.inf
                scores = np.where(self._alive[:size], scores, worst)
                candidates = np.arange(size)
                k = min(k, self.chunk_count)
            else:
                scores = self._scores(rows, query)
                candidates = rows
            if k <= 0 or not len(candidates):
                return []
            best = self._better(scores, k)
            return [Scored(int(candidates[i]), float(scores[i])) for i in best]

    def search(
        self, query: npt.NDArray[np.float32], k: int, filter: DocFilter
    ) -> tuple[list[Scored], str]:
        """The k closest chunks passing `filter` and the strategy used (`exact`, `hnsw`)."""
        query = np.ascontiguousarray(query, dtype=np.float32)
        if self.metric == "cosine":
            query = _normalised(query[None, :])[0]
        with self.lock:
            rows = self.passing_rows(filter)
            passing = self.chunk_count if rows is None else len(rows)
            if self._hnsw is None or passing <= self.exact_limit:
                return self.exact(query, k, rows), "exact"
            wanted = min(k, passing)
            fraction = passing / max(self.chunk_count, 1)
            count = min(self.chunk_count, math.ceil(wanted / fraction * 1.5) + wanted)
            allowed = None if rows is None else np.zeros(len(self._chunks), dtype=bool)
            if allowed is not None and rows is not None:
                allowed[rows] = True
            found: list[int] = []
            # Twice at most: neighbours that fail the filter together (a filter correlated
            # with the query) get a wider walk, then exact search over the passing rows.
            for _ in range(2):
                found = [
                    row
                    for row in self._hnsw.search(query, count)
                    if self._alive[row] and (allowed is None or allowed[row])
                ][:wanted]
                if len(found) == wanted or count >= self.chunk_count:
                    break
                count = min(self.chunk_count, count * 4)
            if len(found) < wanted:
                return self.exact(query, k, rows), "exact"
            picked = np.asarray(found, dtype=np.int64)
            scores = self._scores(picked, query)
            order = self._better(scores, len(picked))
            return [Scored(int(picked[i]), float(scores[i])) for i in order], "hnsw"

    # --- BM25 ----------------------------------------------------------------------------------

    def bm25(self, text: str, k: int, filter: DocFilter) -> list[Scored]:
        """The k chunks passing `filter` that score best for the query's words by BM25."""
        terms = set(words(text))
        with self.lock:
            live = self.chunk_count
            if not terms or not live:
                return []
            average = max(self._total_length / live, 1e-9)
            totals = np.zeros(len(self._chunks), dtype=np.float32)
            for term in terms:
                posting = self._posting(term)
                if posting is None:
                    continue
                rows, frequencies = posting
                idf = math.log(1.0 + (live - len(rows) + 0.5) / (len(rows) + 0.5))
                lengths = self._length[rows]
                norm = BM25_K1 * (1.0 - BM25_B + BM25_B * lengths / average)
                totals[rows] += idf * frequencies * (BM25_K1 + 1.0) / (frequencies + norm)
            passing = self.passing_rows(filter)
            if passing is not None:
                allowed = np.zeros(len(self._chunks), dtype=bool)
                allowed[passing] = True
                totals[~allowed] = 0.0
            hits = np.flatnonzero(totals > 0)
            if not len(hits):
                return []
            scores = totals[hits]
            top = (
                np.argpartition(-scores, min(k, len(hits)) - 1)[:k]
                if len(hits) > k
                else np.arange(len(hits))
            )
            top = top[np.argsort(-scores[top], kind="stable")]
            return [Scored(int(hits[i]), float(scores[i])) for i in top]


def _normalised(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalised: npt.NDArray[np.float32] = (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)
    return normalised


def fuse(
    legs: Sequence[Sequence[Scored]], k: int, constant: int = 60
) -> list[tuple[int, float, list[int]]]:
    """Reciprocal rank fusion: each row's Σ 1/(constant + rank) over the legs that found it,
    best first, with its rank in each leg (0 where a leg did not find it)."""
    fused: dict[int, float] = {}
    ranks: dict[int, list[int]] = {}
    for leg_number, leg in enumerate(legs):
        for rank, hit in enumerate(leg, start=1):
            fused[hit.row] = fused.get(hit.row, 0.0) + 1.0 / (constant + rank)
            ranks.setdefault(hit.row, [0] * len(legs))[leg_number] = rank
    best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [(row, score, ranks[row]) for row, score in best]
