"""Settings of the embeddings service, read from `CODER_EMBEDDINGS_*` environment variables.

They live here rather than in the kit's Settings because only this service reads them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EmbeddingsSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CODER_EMBEDDINGS_", env_file=".env", extra="ignore"
    )

    model_name: str = Field(
        "",
        pattern=r"^([A-Za-z0-9][A-Za-z0-9_.:/-]*)?$",
        description="Name under which collections use the ONNX model at `model_path`; empty "
        "means only the built-in all-MiniLM-L6-v2.",
    )
    model_path: Path | None = Field(
        None,
        description="Another ONNX sentence-transformer (inputs input_ids, attention_mask and "
        "optionally token_type_ids; output the last hidden state), mean-pooled and normalised.",
    )
    tokenizer_path: Path | None = Field(
        None, description="The `tokenizer.json` of the model at `model_path`."
    )
    max_input_tokens: int = Field(
        256, ge=8, le=8192, description="Tokens the model at `model_path` reads, markers included."
    )
    threads: int = Field(
        1,
        ge=1,
        le=64,
        description="onnxruntime intra-op threads of the local model. One by default: the "
        "machine is shared, and batches already keep a core busy.",
    )
    batch_size: int = Field(32, ge=1, le=512, description="Texts per model run.")
    hnsw_threshold: int = Field(
        20_000,
        ge=1,
        description="Chunks in a collection from which its in-process index keeps an HNSW "
        "graph; below it every search is exact.",
    )
    exact_limit: int = Field(
        20_000,
        ge=1,
        description="A filtered search whose filter passes at most this many chunks compares "
        "all of them exactly (pre-filter) rather than walking the HNSW graph.",
    )
