"""Question to passages: dense (FAISS) and lexical (FTS5) candidates, fused by rank or by score."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.embedding import QUERY, TextEmbedder
from rag.records import Passage
from rag.settings import Settings
from rag.store import DocumentStore, Hit


def reciprocal_rank_fusion(
    rankings: list[list[Hit]], weights: list[float], k: int
) -> list[tuple[int, float]]:
    """Chunk ids with fused scores sum(weight / (k + rank)), best first; ranks start at 1."""
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def zscore_fusion(rankings: list[list[Hit]], weights: list[float]) -> list[tuple[int, float]]:
    """Chunk ids with fused scores sum(weight * z), best first.

    z is a hit's score standardised over its own ranking; a chunk absent from a ranking takes
    that ranking's lowest z, as if it had come just below the last candidate.
    """
    standardised: list[tuple[dict[int, float], float, float]] = []
    for ranking, weight in zip(rankings, weights, strict=True):
        if not ranking:
            continue
        scores = np.array([hit.score for hit in ranking], dtype=np.float64)
        spread = float(scores.std()) or 1.0
        z = (scores - scores.mean()) / spread
        standardised.append(
            (
                {hit.chunk_id: float(v) for hit, v in zip(ranking, z, strict=True)},
                float(z.min()),
                weight,
            )
        )
    chunk_ids = {chunk_id for found, _, _ in standardised for chunk_id in found}
    fused = {
        chunk_id: sum(
            weight * found.get(chunk_id, lowest) for found, lowest, weight in standardised
        )
        for chunk_id in chunk_ids
    }
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def fuse(rankings: list[list[Hit]], settings: Settings) -> list[tuple[int, float]]:
    """The dense and lexical rankings merged as `settings.fusion` says, best first."""
    weights = [settings.dense_weight, settings.lexical_weight]
    if settings.fusion == "zscore":
        return zscore_fusion(rankings, weights)
    return reciprocal_rank_fusion(rankings, weights, settings.rrf_k)


def retrieve(
    store: DocumentStore,
    embedder: TextEmbedder,
    settings: Settings,
    question: str,
    *,
    k: int | None = None,
    document_ids: list[int] | None = None,
) -> list[Passage]:
    """The `k` passages that best match the question, each with its cosine similarity to it."""
    k = k or settings.top_k
    query_vector = embedder.embed([question], prompt_name=QUERY)[0]
    dense: list[Hit] = []  # a ranking of weight 0 is not searched at all
    lexical: list[Hit] = []
    with store.snapshot():  # one committed state, however a concurrent ingest goes on
        if settings.dense_weight:
            dense = store.search_dense(query_vector, settings.candidates, document_ids)
        if settings.lexical_weight:
            lexical = store.search_lexical(question, settings.candidates, document_ids)
        fused = fuse([dense, lexical], settings)[:k]
        chunk_ids = [chunk_id for chunk_id, _ in fused]
        passages = store.passages(chunk_ids)
        if not passages:
            return []
        similarities = store.vectors([p.chunk_id for p in passages]) @ query_vector
    scores = dict(fused)
    return [
        replace(p, score=scores[p.chunk_id], dense_similarity=float(similarity))
        for p, similarity in zip(passages, similarities, strict=True)
    ]


def passage_to_document(passage: Passage) -> Document:
    """A LangChain Document whose metadata carry every citation field of the passage."""
    metadata = {key: value for key, value in vars(passage).items() if key != "text"}
    return Document(page_content=passage.text, metadata=metadata, id=str(passage.chunk_id))


def document_to_passage(document: Document) -> Passage:
    return Passage(text=document.page_content, **document.metadata)


class LibraryRetriever(BaseRetriever):
    """LangChain retriever over the library, optionally restricted to some documents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Any
    embedder: Any
    settings: Settings
    k: int | None = None
    document_ids: list[int] | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        passages = retrieve(
            self.store,
            self.embedder,
            self.settings,
            query,
            k=self.k,
            document_ids=self.document_ids,
        )
        return [passage_to_document(p) for p in passages]
