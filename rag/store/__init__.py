"""The document-store protocol every index backend implements."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rag.records import Chunk, DocumentInfo, Page, Passage


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


@dataclass(frozen=True)
class StoreStats:
    documents: int
    pages: int
    chunks: int
    model: str
    dimension: int
    bytes_on_disk: int
    generation: int


@dataclass(frozen=True)
class Hit:
    """A chunk id found by one search method, with its raw score (higher is better)."""

    chunk_id: int
    score: float


class DocumentStore(Protocol):
    """Documents, their chunks and vectors; dense and lexical search over them."""

    model: str
    dimension: int

    def snapshot(self) -> AbstractContextManager[None]:
        """Reads inside see one committed state, never a concurrent writer's partial change."""

    def put_document(self, document: NewDocument) -> DocumentInfo:
        """Store a document, atomically replacing any earlier version from the same source."""

    def remove_document(self, document_id: int) -> None: ...

    def document_by_source(self, source: str) -> DocumentInfo | None: ...

    def documents(self) -> list[DocumentInfo]: ...

    def find_documents(self, reference: str) -> list[DocumentInfo]:
        """Documents whose id, file, file name, source path or title equals `reference`."""

    def search_dense(
        self, vector: np.ndarray, k: int, document_ids: list[int] | None = None
    ) -> list[Hit]: ...

    def search_lexical(
        self, query: str, k: int, document_ids: list[int] | None = None
    ) -> list[Hit]: ...

    def passages(self, chunk_ids: list[int]) -> list[Passage]:
        """Passages for the given chunk ids, in the given order; unknown ids are left out."""

    def vectors(self, chunk_ids: list[int]) -> np.ndarray: ...

    def page(self, document_id: int, page: int | None) -> Page: ...

    def stats(self) -> StoreStats: ...

    def close(self) -> None: ...
