"""Texts to normalised vectors with a sentence-transformers model."""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.models import DEFAULT_CACHE_DIR, offline_environment, resolve_embedding_model

QUERY = "query"  # prompt names of models trained with prompts (EmbeddingGemma); others ignore them
DOCUMENT = "document"


class Embedder:
    """A sentence-transformers model loaded once, encoding batches into unit vectors."""

    def __init__(
        self, source: str, batch_size: int = 32, cache_dir: Path = DEFAULT_CACHE_DIR
    ) -> None:
        self.source = source
        self.path: Path = resolve_embedding_model(source, cache_dir)
        self.batch_size = batch_size
        self._lock = threading.Lock()

    @cached_property
    def model(self):  # sentence_transformers.SentenceTransformer, imported lazily (slow import)
        offline_environment()
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()

        return SentenceTransformer(str(self.path), device="cpu", local_files_only=True)

    @property
    def name(self) -> str:
        """The model's identity, stored with the index."""
        return self.path.name if self.path.name != "model" else self.path.parent.name

    @cached_property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @cached_property
    def max_tokens(self) -> int:
        """Tokens of text the model reads, not counting its special tokens."""
        return int(self.model.max_seq_length) - 2

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer.encode(text, add_special_tokens=False))

    def embed(self, texts: list[str], prompt_name: str | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text.

        `prompt_name` (QUERY or DOCUMENT) applies the model's prompt of that name, if it has one.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
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


_cache: dict[tuple[str, int, Path], Embedder] = {}


def get_embedder(
    source: str, batch_size: int = 32, cache_dir: Path = DEFAULT_CACHE_DIR
) -> Embedder:
    """One Embedder per model source, batch size and model cache folder in this process."""
    key = (source, batch_size, cache_dir)
    if key not in _cache:
        _cache[key] = Embedder(source, batch_size, cache_dir)
    return _cache[key]
