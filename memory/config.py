"""Settings of the code memory, kept apart from the store so that reading the
configuration does not import Chroma."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_BUDGET = 1600
"""Largest chunk, in non-whitespace characters. On the dev split of
``benchmarks/retrieval.py``, with the product's ranking (definitions first, then
hybrid), Recall@budget falls and Recall@5 rises as chunks grow (800-2000 tried); 1600 is
the largest budget whose Recall@budget still beats every other chunker there."""
DEFAULT_RRF_K = 60
"""Reciprocal-rank-fusion constant."""


class MemoryConfig(BaseModel):
    """Settings of the code memory (``[memory]`` in the global config)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    chunk_budget: int = Field(default=DEFAULT_BUDGET, ge=50, le=100_000)
    """Largest chunk, in non-whitespace characters."""
    embedder: Literal["hashing", "minilm"] = "hashing"
    """Dense embedder: dependency-free hashing, or the packaged MiniLM (embeddings extra)."""
    k: int = Field(default=8, ge=1, le=1000)
    """Hits returned by a search unless the caller asks for another number."""
    rrf_k: int = Field(default=DEFAULT_RRF_K, ge=3, le=1_000_000)
    """Reciprocal-rank-fusion constant: larger flattens the rank weights."""
    candidates: int = Field(default=50, ge=1, le=10_000)
    """Candidates each retriever (dense, BM25) contributes before fusion."""
    lock_timeout_s: float = Field(default=10.0, ge=0, le=3600)
    """How long to wait for another process holding the memory's lock."""
