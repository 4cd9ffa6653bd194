"""Texts to normalised vectors with a sentence-transformers model.

The model runs in one of several backends (see `rag.onnx_embedding`): int8 or fp32 ONNX where
an export of it passed its check, else the sentence-transformers model in torch.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np
import yaml

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
from rag.tables import embedding_text

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


class Encoder(Protocol):
    """A model that turns texts into unit vectors; `Embedder` runs one of these."""

    @property
    def backend(self) -> str:
        """TORCH, FP32 or INT8."""
        ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_seq_length(self) -> int:
        """Tokens the model reads, its special tokens included."""
        ...

    @property
    def prompts(self) -> dict[str, str]:
        """Prompt name -> text put before each input."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def encode(
        self, texts: list[str], batch_size: int, prompt_name: str | None = None
    ) -> np.ndarray:
        """Unit vectors of `texts`, each after the model's prompt `prompt_name` if it has one."""
        ...


class TorchEncoder:
    """The sentence-transformers model itself, in torch (fp32)."""

    backend = TORCH

    def __init__(self, path: Path, threads: int | None) -> None:
        offline_environment()
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        dimension, max_seq_length = self.model.get_embedding_dimension(), self.model.max_seq_length
        if dimension is None or max_seq_length is None:
            raise ModelUnavailableError(f"{path}: the model states no dimension or length")
        self.dimension = int(dimension)
        self.max_seq_length = int(max_seq_length)
        self.prompts = {name: text or "" for name, text in self.model.prompts.items()}
        self._lock = threading.Lock()  # the tokenizer is shared by counting and encoding
        tokenizer_file = path / "tokenizer.json"
        self._counter = token_counter(tokenizer_file) if tokenizer_file.is_file() else None

    def count_tokens(self, text: str) -> int:
        if self._counter is not None:  # a tokenizer of its own: no need to wait for `encode`
            return self._counter(text)
        with self._lock:
            return len(self.model.tokenizer.encode(text, add_special_tokens=False))

    def encode(
        self, texts: list[str], batch_size: int, prompt_name: str | None = None
    ) -> np.ndarray:
        with self._lock:
            vectors = self.model.encode(
                texts,
                prompt_name=prompt_name if prompt_name in self.prompts else None,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def load_encoder(
    path: Path, name: str, cache_dir: Path, backend: str, threads: int | None
) -> Encoder:
    """The encoder of the backend asked for.

    AUTO takes int8, else fp32 ONNX, else torch: whichever is first available and passed its
    check against the original model; a backend named explicitly must be available.
    """
    if backend == TORCH:
        return TorchEncoder(path, threads)
    variants = [INT8, FP32] if backend == AUTO else [backend]
    problems = []
    for variant in variants:
        try:
            file = exported_model(path, name, cache_dir, variant)
            return OnnxEncoder(model_layout(path), file, threads, variant)
        except (ModelUnavailableError, ImportError, RuntimeError, OSError) as error:
            problems.append(f"{variant}: {error}")
    if backend != AUTO:
        raise ModelUnavailableError(f"embedding backend unavailable: {problems[0]}")
    log.warning("embedding with torch: no ONNX backend (%s)", "; ".join(problems))
    return TorchEncoder(path, threads)


def card_languages(model_folder: Path) -> frozenset[str] | None:
    """The ISO 639-1 codes of a model card's `language` field (the front matter of the
    folder's README.md, as Hugging Face writes it: "language: en"); None when the card
    declares none or there is no card, as for EmbeddingGemma's, which reads 100 languages."""
    try:
        text = (model_folder / "README.md").read_text(encoding="utf-8")
    except OSError:
        return None
    front = re.match(r"---\n(.*?)\n---", text, re.DOTALL)
    if front is None:
        return None
    try:
        declared = yaml.safe_load(front.group(1)) or {}
    except yaml.YAMLError:
        return None
    languages = declared.get("language") if isinstance(declared, dict) else None
    if isinstance(languages, str):
        languages = [languages]
    if not isinstance(languages, list) or not languages:
        return None
    return frozenset(str(code).lower() for code in languages)


class TextEmbedder(Protocol):
    """What searching and answering need of an embedding model (`Embedder` is one)."""

    def embed(self, texts: list[str], prompt_name: str | None = None) -> np.ndarray: ...


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
    def encoder(self) -> Encoder:
        """The model, loaded at first use."""
        return load_encoder(
            self.path, self.name, self.cache_dir, self.requested_backend, self.threads
        )

    @property
    def backend(self) -> str:
        """The backend that computes the vectors: TORCH, FP32 or INT8."""
        return self.encoder.backend

    @property
    def name(self) -> str:
        """The model's identity, stored with the index."""
        return self.path.name if self.path.name != "model" else self.path.parent.name

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

    @cached_property
    def languages(self) -> frozenset[str] | None:
        """The languages the model was trained for, as its model card declares them."""
        return card_languages(self.path)

    @property
    def max_tokens(self) -> int:
        """Tokens of text the model reads, not counting its special tokens."""
        return self.encoder.max_seq_length - 2

    def count_tokens(self, text: str) -> int:
        """Tokens of `text`; safe to call while another thread embeds."""
        return self.encoder.count_tokens(text)

    def passage_inputs(self, passages: list[tuple[str, str]]) -> list[str]:
        """The texts embedded for (title, passage text) pairs: each passage with the title of
        its document, so that a passage of one report is told from the like passage of another,
        its table rows without their pipes (`rag.tables.embedding_text`)."""
        prompt = self.encoder.prompts.get(DOCUMENT, "")
        inputs = []
        for title, passage in passages:
            text = embedding_text(passage)
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
        with self._lock:
            return self.encoder.encode(texts, self.batch_size, prompt_name)


class SavedVectors:
    """Vectors of short texts kept in a SQLite file, keyed by a hash of the text and of what
    computed it (model, backend, prompt): derived data that every process opening the library
    reads back, so that a sentence is embedded once, at ingest or by the first question that
    meets it. The file is opened at first use once its folder exists; one that cannot be
    opened or read is left alone with a warning, and vectors are then computed as they would
    be without it."""

    def __init__(self, path: Path, computed_by: str) -> None:
        self.path = path
        self.computed_by = computed_by
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._failed = False

    def key(self, text: str, prompt_name: str | None) -> bytes:
        return hashlib.sha256(f"{self.computed_by}\0{prompt_name}\0{text}".encode()).digest()[:16]

    def _connection(self) -> sqlite3.Connection | None:
        if self._db is None and not self._failed and self.path.parent.is_dir():
            try:
                self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS vectors "
                    "(key BLOB PRIMARY KEY, vector BLOB NOT NULL)"
                )
            except sqlite3.Error as error:
                self._unusable(error)
        return self._db

    def get(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        """The saved vectors of these keys (those not saved are left out)."""
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            try:
                db = self._connection()
                if db is None:
                    return found
                for start in range(0, len(keys), 500):  # SQLite's limit on parameters
                    batch = keys[start : start + 500]
                    marks = ",".join("?" * len(batch))
                    rows = db.execute(
                        f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch
                    )
                    found |= {key: np.frombuffer(vector, np.float32) for key, vector in rows}
            except sqlite3.Error as error:
                self._unusable(error)
        return found

    def put(self, vectors: dict[bytes, np.ndarray]) -> None:
        with self._lock:
            try:
                db = self._connection()
                if db is not None and vectors:
                    with db:
                        db.executemany(
                            "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                            ((key, v.astype(np.float32).tobytes()) for key, v in vectors.items()),
                        )
            except sqlite3.Error as error:
                self._unusable(error)

    def delete(self, keys: Iterable[bytes]) -> None:
        """Forget the saved vectors of these keys."""
        with self._lock:
            try:
                db = self._connection()
                if db is not None:
                    with db:
                        db.executemany("DELETE FROM vectors WHERE key = ?", ((k,) for k in keys))
            except sqlite3.Error as error:
                self._unusable(error)

    def keep_only(self, keys: set[bytes]) -> int:
        """Forget every saved vector whose key is not in `keys`; the number forgotten."""
        with self._lock:
            try:
                db = self._connection()
                if db is None:
                    return 0
                with db:
                    db.execute("CREATE TEMP TABLE IF NOT EXISTS kept (key BLOB PRIMARY KEY)")
                    db.executemany("INSERT OR IGNORE INTO kept VALUES (?)", ((k,) for k in keys))
                    forgotten = db.execute(
                        "DELETE FROM vectors WHERE key NOT IN (SELECT key FROM kept)"
                    ).rowcount
                    db.execute("DELETE FROM kept")
                return forgotten
            except sqlite3.Error as error:
                self._unusable(error)
                return 0

    def _unusable(self, error: sqlite3.Error) -> None:
        log.warning("sentence vectors are not saved in %s: %s", self.path, error)
        if self._db is not None:
            self._db.close()
        self._db = None
        self._failed = True

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


class SentenceVectors:
    """Vectors of short texts such as candidate sentences, each embedded on its own, so that a
    text's vector depends on it alone (int8 activations are quantized per batch, and a
    sentence's vector moved with the sentences it shared a batch with), and kept for the
    `capacity` texts used last: the candidate sentences of questions on one topic repeat
    (0.45 of them over 200 paraphrased questions on the default library). One short text per
    run costs no more than a padded batch (BENCHMARKS.md, issue 18). With `saved`, vectors
    not in memory are looked up there first, and new ones are saved there."""

    def __init__(
        self, embedder: TextEmbedder, capacity: int = 20_000, saved: SavedVectors | None = None
    ) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self.saved = saved
        self._vectors: OrderedDict[tuple[str, str | None], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: list[str], prompt_name: str | None = None) -> np.ndarray:
        if not texts:
            return self.embedder.embed(texts, prompt_name)
        with self._lock:
            known = {
                t: self._vectors[(t, prompt_name)]
                for t in texts
                if (t, prompt_name) in self._vectors
            }
            for text in known:
                self._vectors.move_to_end((text, prompt_name))
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        keys: dict[str, bytes] = {}
        if missing and self.saved is not None:
            keys = {text: self.saved.key(text, prompt_name) for text in missing}
            saved = self.saved.get(list(keys.values()))
            known |= {text: saved[key] for text, key in keys.items() if key in saved}
            self._remember({t: known[t] for t in missing if t in known}, prompt_name)
        computed = {
            text: self.embedder.embed([text], prompt_name)[0]
            for text in missing
            if text not in known
        }
        if computed:
            self._remember(computed, prompt_name)
            if self.saved is not None:
                self.saved.put({keys[text]: vector for text, vector in computed.items()})
        known |= computed
        return np.stack([known[t] for t in texts])

    def _remember(self, vectors: dict[str, np.ndarray], prompt_name: str | None) -> None:
        with self._lock:
            for text, vector in vectors.items():
                self._vectors[(text, prompt_name)] = vector
                self._vectors.move_to_end((text, prompt_name))
            while len(self._vectors) > self.capacity:
                self._vectors.popitem(last=False)


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
