"""Question to passages: dense (FAISS) and lexical (FTS5) candidates fused by reciprocal rank."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.embedding import QUERY, Embedder
from rag.records import Passage
from rag.settings import Settings
from rag.store import DocumentStore, Hit


def reciprocal_rank_fusion(
    rankings: list[list[Hit]], weights: list[float], k: int
) -> list[tuple[int, float]]:
    """Chunk ids with fused scores sum(weight / (k + rank)), best first; ranks start at 1."""
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def retrieve(
    store: DocumentStore,
    embedder: Embedder,
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
        fused = reciprocal_rank_fusion(
            [dense, lexical], [settings.dense_weight, settings.lexical_weight], settings.rrf_k
        )[:k]
        chunk_ids = [chunk_id for chunk_id, _ in fused]
        passages = store.passages(chunk_ids)
        if not passages:
            return []
        similarities = store.vectors([p.chunk_id for p in passages]) @ query_vector
    scores = dict(fused)
    return [
        replace(p, score=scores[p.chunk_id], dense_similarity=float(similarity))
        for p, similarity in zip(passages, similarities)
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
            self.store, self.embedder, self.settings, query,
            k=self.k, document_ids=self.document_ids,
        )
        return [passage_to_document(p) for p in passages]

