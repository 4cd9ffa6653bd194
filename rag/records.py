"""Typed records passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Verdict = Literal["supported", "weak", "unsupported", "uncited"]
NOT_IN_LIBRARY = "Not in the library: none of the indexed documents answers this question."


@dataclass(frozen=True)
class Page:
    """One page of a loaded file.

    `text` is the normalised text that chunks and citations quote; `raw_text` is the text as
    extracted, from which `rag.normalising.normalise` rebuilds the offset map on demand.
    """

    number: int | None  # 1-based; None for formats without pages (text, Markdown, HTML, Word)
    text: str
    raw_text: str
    # Offsets in `text` where a chunk must end, such as where a PDF page's footnotes begin
    # (found by the loader; not stored)
    breaks: tuple[int, ...] = ()


@dataclass(frozen=True)
class LoadedFile:
    """A file read by a loader: its title and pages."""

    title: str
    format: str
    pages: list[Page]


@dataclass(frozen=True)
class Chunk:
    """A span of one page, sized for the embedding model."""

    ordinal: int  # position of the chunk within its document
    page: int | None
    start: int  # character offsets of `text` within the page's normalised text
    end: int
    text: str
    token_count: int


@dataclass(frozen=True)
class DocumentInfo:
    """A document as stored in the index."""

    id: int
    file: str  # path relative to the folder it was ingested from
    source: str  # absolute path at ingest time
    title: str
    format: str
    content_hash: str
    pages: int
    chunks: int
    added_at: str  # ISO 8601, UTC
    prepared_with: str  # how it was loaded and split ("" if not recorded): see rag.ingesting


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with what a citation needs to point at it."""

    chunk_id: int
    document_id: int
    title: str
    file: str
    page: int | None
    start: int  # span of `text` within the page's normalised text
    end: int
    text: str
    score: float  # fused retrieval score (higher is better)
    dense_similarity: float | None = None  # cosine similarity to the question, when known


@dataclass(frozen=True)
class Citation:
    """A numbered citation bound to a retrieved passage and the exact words it quotes."""

    n: int
    chunk_id: int
    document: str
    file: str
    page: int | None
    quote: str
    chunk_start: int  # offsets of `quote` within the chunk text
    chunk_end: int
    page_start: int  # offsets of `quote` within the page's normalised text
    page_end: int

    @classmethod
    def of(cls, n: int, passage: Passage, start: int, end: int) -> Citation:
        """Citation `n` quoting `passage.text[start:end]`."""
        return cls(
            n=n,
            chunk_id=passage.chunk_id,
            document=passage.title,
            file=passage.file,
            page=passage.page,
            quote=passage.text[start:end],
            chunk_start=start,
            chunk_end=end,
            page_start=passage.start + start,
            page_end=passage.start + end,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "document": self.document,
            "file": self.file,
            "page": self.page,
            "quote": self.quote,
            "chunk_id": self.chunk_id,
            "chunk_start": self.chunk_start,
            "chunk_end": self.chunk_end,
            "page_start": self.page_start,
            "page_end": self.page_end,
        }


@dataclass(frozen=True)
class Sentence:
    """One answer sentence, the citations it carries and whether they support it."""

    text: str
    citations: list[int]
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """An answer to a question: text with [n] markers, its citations and sentence verdicts."""

    question: str
    text: str
    refused: bool
    mode: str
    citations: list[Citation] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    removed_markers: int = 0  # citation markers dropped because they named no passage shown

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "refused": self.refused,
            "mode": self.mode,
            "citations": [c.to_json() for c in self.citations],
            "sentences": [s.to_json() for s in self.sentences],
            "removed_markers": self.removed_markers,
        }
