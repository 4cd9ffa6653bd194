"""The document-store protocol every backend implements, and `open_store` that picks one.

A store lives in a folder (SQLite + FAISS, `rag.store.sqlite_faiss`, the default) or in a
PostgreSQL database given by a `postgresql://` URL (pgvector + full-text search,
`rag.store.postgres`). Callers see only `DocumentStore`; `rag.store.testing` is the conformance
suite every backend passes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from rag.records import Chunk, DocumentInfo, Page, Passage
from rag.settings import Settings

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class NewDocument:
    """Everything stored for one file: its identity, pages, chunks and their vectors."""

    source: str
    file: str
    title: str
    format: str
    content_hash: str
    size: int
    pages: list[Page]
    chunks: list[Chunk]
    vectors: np.ndarray  # one unit-length row per chunk
    prepared_with: str  # the loading and splitting that made the chunks (rag.ingesting)
    # ids to keep, when a document is copied from another store (`rag migrate`); None: new ids
    document_id: int | None = None
    chunk_ids: tuple[int, ...] | None = None
    added_at: str | None = None  # ISO 8601, UTC; None: now


@dataclass(frozen=True)
class StoreStats:
    location: str  # the folder, or the database URL without its password
    documents: int
    pages: int
    chunks: int
    model: str
    dimension: int
    bytes_on_disk: int


@dataclass(frozen=True)
class Hit:
    """A chunk id found by one search method, with its raw score (higher is better)."""

    chunk_id: int
    score: float


@dataclass(frozen=True)
class Finding:
    """One problem found: which check found it, what it is, and what was or must be done."""

    check: str
    problem: str
    action: str  # what was done when `repaired`, else what the user can do
    repaired: bool = False


@dataclass
class StoreCheck:
    """What a store's own check looked at (in order) and found."""

    repair: bool
    checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    invalid_chunks: set[int] = field(default_factory=set)  # stored vectors found invalid
    readable: bool = True  # False: the storage itself is damaged; checks that read it stop

    def found(
        self, check: str, problem: str, fix: str, repair: Callable[[], str] | None = None
    ) -> None:
        """Record a problem; when repairing, run `repair`, which says what it did."""
        if self.repair and repair is not None:
            self.findings.append(Finding(check, problem, repair(), repaired=True))
        else:
            hint = "; `rag check --repair` does it" if repair is not None else ""
            self.findings.append(Finding(check, problem, fix + hint))


class DocumentStore(Protocol):
    """Documents, their chunks and vectors; dense and lexical search over them."""

    model: str
    dimension: int

    def snapshot(self) -> AbstractContextManager[None]:
        """Reads inside see one committed state, never a concurrent writer's partial change."""
        ...

    def put_document(self, document: NewDocument) -> DocumentInfo:
        """Store a document, atomically replacing any earlier version from the same source."""
        ...

    def put_documents(self, documents: Iterable[NewDocument]) -> list[DocumentInfo]:
        """Bulk load (`rag migrate`): store each document as `put_document` would, in order (a
        source given twice keeps its last version); the stored documents in the order written.
        PostgreSQL writes them all in one transaction (all or none); the folder store each in
        its own, as `put_document` does."""
        ...

    def remove_document(self, document_id: int) -> None:
        """Delete a document with its pages and chunks (DocumentNotFoundError if unknown)."""
        ...

    def flush(self) -> None:
        """Make derived structures durable (a backend without any does nothing)."""
        ...

    def document(self, document_id: int) -> DocumentInfo:
        """The document with this id (DocumentNotFoundError if unknown)."""
        ...

    def document_by_source(self, source: str) -> DocumentInfo | None: ...

    def stored_document(self, document_id: int) -> NewDocument:
        """A stored document as it was put: pages, chunks and vectors (to copy it elsewhere)."""
        ...

    def chunk_ids(self, document_ids: list[int] | None = None) -> list[int]:
        """The chunk ids of these documents (None: of every document), ascending."""
        ...

    def page_chunk_ids(self, document_id: int, pages: Collection[int]) -> list[int]:
        """The chunk ids of these pages of a document, ascending."""
        ...

    def documents(self) -> list[DocumentInfo]:
        """Every document, ordered by file, then id."""
        ...

    def generation(self) -> int:
        """A number that every committed write changes, by any process: what was read at one
        generation still holds while it is unchanged. Cheaper to read than any list."""
        ...

    def find_documents(self, reference: str) -> list[DocumentInfo]:
        """Documents whose id, file, file name, source path or title equals `reference`."""
        ...

    def search_dense(
        self, vector: np.ndarray, k: int, document_ids: list[int] | None = None
    ) -> list[Hit]:
        """The `k` chunks nearest `vector` by inner product, best first."""
        ...

    def search_lexical(
        self, query: str, k: int, document_ids: list[int] | None = None
    ) -> list[Hit]:
        """The `k` chunks best matching the content words of `query`, best first."""
        ...

    def passages(self, chunk_ids: list[int]) -> list[Passage]:
        """Passages for the given chunk ids, in the given order; unknown ids are left out."""
        ...

    def vectors(self, chunk_ids: list[int]) -> np.ndarray:
        """The stored vectors of these chunks, in order (KeyError naming unknown ids)."""
        ...

    def page(self, document_id: int, page: int | None) -> Page:
        """A stored page by its number (None: the one page of a format without pages)."""
        ...

    def stats(self) -> StoreStats: ...

    def check(self, repair: bool = False) -> StoreCheck:
        """Verify this backend's own storage; with `repair`, rebuild what derives from it."""
        ...

    def close(self) -> None: ...


def is_postgres_url(location: str) -> bool:
    return location.startswith(POSTGRES_SCHEMES)


def without_password(url: str) -> str:
    """A database URL fit to print: its password replaced by ***."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def store_location(settings: Settings) -> str:
    """Where the library is stored: the `store` setting, else the `index_dir` folder."""
    return settings.store or str(settings.index_dir)


def open_store(
    settings: Settings, model: str, dimension: int | None = None, *, create: bool = False
) -> DocumentStore:
    """Open the store that `settings` name (a folder or a postgresql:// URL) for vectors of
    `model`; `create` makes an empty one, of `dimension`, where there is none."""
    location = store_location(settings)
    if is_postgres_url(location):
        from rag.store.postgres import PostgresStore

        return PostgresStore(location, model, dimension, create=create, config=settings.postgres)
    from rag.store.sqlite_faiss import SqliteFaissStore
    from rag.store.vector_index import IndexPlan

    plan = IndexPlan(ann_threshold=settings.faiss.ann_threshold, nprobe=settings.faiss.nprobe)
    return SqliteFaissStore(Path(location), model, dimension, create=create, plan=plan)
