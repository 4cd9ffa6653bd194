"""Texts to normalised vectors with a sentence-transformers model.

The model runs in one of several backends (see `rag.onnx_embedding`): int8 or fp32 ONNX where
an export of it passed its check, else the sentence-transformers model in torch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.errors import ModelUnavailableError
from rag.models import DEFAULT_CACHE_DIR, offline_environment, resolve_embedding_model
from rag.onnx_embedding import (
    FP32,
    INT8,
    OnnxEncoder,
    exported_model,
    model_layout,
    token_counter,
)

QUERY = "query"  # prompt names of models trained with prompts (EmbeddingGemma); others ignore them
DOCUMENT = "document"
# EmbeddingGemma's document prompt has a slot for the title; other models read it before the text.
UNTITLED = "title: none"
TITLE_CONTEXT_CHARS = 120
TITLE_CONTEXT_TOKENS = 32  # room kept for the title in the model's window (120 chars: ~30 tokens)
TORCH = "torch"  # the sentence-transformers model itself, fp32
AUTO = "auto"
BACKENDS = (AUTO, TORCH, FP32, INT8)

log = logging.getLogger(__name__)


class Embedder:
    """A sentence-transformers model loaded once, encoding batches into unit vectors."""

    def __init__(
        self,
        source: str,
        batch_size: int = 32,
        cache_dir: Path = DEFAULT_CACHE_DIR,
        backend: str = AUTO,
        threads: int | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ModelUnavailableError(
                f"unknown embedding backend '{backend}' ({', '.join(BACKENDS)})"
            )
        self.source = source
        self.path: Path = resolve_embedding_model(source, cache_dir)
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.requested_backend = backend
        self.threads = threads
        self._lock = threading.Lock()

    @cached_property
    def _onnx(self) -> OnnxEncoder | None:
        """The ONNX encoder of the backend asked for; None runs the sentence-transformers model.

        AUTO takes int8, else fp32 ONNX, else torch: whichever is first available and passed its
        check against the original model; a backend named explicitly must be available.
        """
        if self.requested_backend == TORCH:
            return None
        variants = [INT8, FP32] if self.requested_backend == AUTO else [self.requested_backend]
        problems = []
        for variant in variants:
            try:
                layout = model_layout(self.path)
                file = exported_model(self.path, self.name, self.cache_dir, variant)
                return OnnxEncoder(layout, file, self.threads, variant)
            except (ModelUnavailableError, ImportError, RuntimeError, OSError) as error:
                problems.append(f"{variant}: {error}")
        if self.requested_backend != AUTO:
            raise ModelUnavailableError(f"embedding backend unavailable: {problems[0]}")
        log.warning("embedding with torch: no ONNX backend (%s)", "; ".join(problems))
        return None

    @property
    def backend(self) -> str:
        """The backend that computes the vectors: TORCH, FP32 or INT8."""
        return self._onnx.variant if self._onnx is not None else TORCH

    @cached_property
    def model(self):  # sentence_transformers.SentenceTransformer, imported lazily (slow import)
        offline_environment()
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()

        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        return SentenceTransformer(str(self.path), device="cpu", local_files_only=True)

    @property
    def name(self) -> str:
        """The model's identity, stored with the index."""
        return self.path.name if self.path.name != "model" else self.path.parent.name

    @cached_property
    def dimension(self) -> int:
        if self._onnx is not None:
            return self._onnx.layout.dimension
        return int(self.model.get_embedding_dimension())

    @cached_property
    def max_tokens(self) -> int:
        """Tokens of text the model reads, not counting its special tokens."""
        if self._onnx is not None:
            return self._onnx.layout.max_seq_length - 2
        return int(self.model.max_seq_length) - 2

    @cached_property
    def _counter(self) -> Callable[[str], int]:
        """Counts tokens without touching the tokenizer that `embed` uses, so that a thread
        may split text while another embeds."""
        if self._onnx is not None:
            return self._onnx.count_tokens
        if (self.path / "tokenizer.json").is_file():
            return token_counter(self.path / "tokenizer.json")

        def count_locked(text: str) -> int:
            with self._lock:
                return len(self.model.tokenizer.encode(text, add_special_tokens=False))

        return count_locked

    def count_tokens(self, text: str) -> int:
        return self._counter(text)

    def _prompts(self) -> dict[str, str]:
        return self._onnx.layout.prompts if self._onnx is not None else self.model.prompts

    def passage_inputs(self, passages: list[tuple[str, str]]) -> list[str]:
        """The texts embedded for (title, passage text) pairs: each passage with the title of
        its document, so that a passage of one report is told from the like passage of another."""
        prompt = self._prompts().get(DOCUMENT, "")
        inputs = []
        for title, text in passages:
            title = " ".join(title.split())[:TITLE_CONTEXT_CHARS]
            if not title or text.startswith(title):  # nothing to add
                inputs.append(prompt + text)
            elif UNTITLED in prompt:
                inputs.append(prompt.replace(UNTITLED, f"title: {title}") + text)
            else:
                inputs.append(f"{prompt}{title}\n\n{text}")
        return inputs

    def embed_passages(self, passages: list[tuple[str, str]]) -> np.ndarray:
        """Unit-length vectors of (title, passage text) pairs, as stored in an index."""
        return self.embed(self.passage_inputs(passages), prompt_name=None)

    def embed(self, texts: list[str], prompt_name: str | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text.

        `prompt_name` (QUERY or DOCUMENT) applies the model's prompt of that name, if it has one.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._onnx is not None:
            prompt = self._onnx.layout.prompts.get(prompt_name or "", "")
            with self._lock:
                return self._onnx.encode([prompt + text for text in texts], self.batch_size)
        prompt_name = prompt_name if prompt_name in self.model.prompts else None
        with self._lock:
            vectors = self.model.encode(
                texts,
                prompt_name=prompt_name,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


_cache: dict[tuple[str, int, Path, str, int | None], Embedder] = {}


def get_embedder(
    source: str,
    batch_size: int = 32,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    backend: str = AUTO,
    threads: int | None = None,
) -> Embedder:
    """One Embedder per model source, batch size, cache folder, backend and threads."""
    key = (source, batch_size, cache_dir, backend, threads)
    if key not in _cache:
        _cache[key] = Embedder(source, batch_size, cache_dir, backend, threads)
    return _cache[key]
