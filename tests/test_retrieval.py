import pytest

from rag.retrieval import (
    LibraryRetriever,
    document_to_passage,
    reciprocal_rank_fusion,
    zscore_fusion,
)
from rag.store import Hit


def test_reciprocal_rank_fusion_by_hand():
    dense = [Hit(1, 0.9), Hit(2, 0.8), Hit(3, 0.1)]
    lexical = [Hit(3, 12.0), Hit(1, 5.0)]
    fused = reciprocal_rank_fusion([dense, lexical], [1.0, 1.0], k=60)
    scores = dict(fused)
    assert scores[1] == 1 / 61 + 1 / 62
    assert scores[3] == 1 / 63 + 1 / 61
    assert scores[2] == 1 / 62
    assert [chunk_id for chunk_id, _ in fused] == [1, 3, 2]
    weighted = dict(reciprocal_rank_fusion([dense, lexical], [2.0, 0.0], k=60))
    assert weighted[3] == 2 / 63


def test_zscore_fusion_by_hand():
    dense = [Hit(1, 0.9), Hit(2, 0.6), Hit(3, 0.3)]  # mean 0.6, std sqrt(0.06)
    lexical = [Hit(3, 12.0), Hit(4, 4.0)]  # mean 8, std 4: z = 1, -1
    fused = zscore_fusion([dense, lexical], [0.7, 0.3])
    z_top = 0.3 / 0.06**0.5
    scores = dict(fused)
    assert scores[1] == pytest.approx(0.7 * z_top + 0.3 * -1)  # absent lexically: its lowest z
    assert scores[2] == pytest.approx(0.7 * 0 + 0.3 * -1)
    assert scores[3] == pytest.approx(0.7 * -z_top + 0.3 * 1)
    assert scores[4] == pytest.approx(0.7 * -z_top + 0.3 * -1)
    assert [chunk_id for chunk_id, _ in fused] == [1, 2, 3, 4]


def test_zscore_fusion_of_one_ranking_or_equal_scores():
    assert [c for c, _ in zscore_fusion([[Hit(5, 2.0), Hit(6, 3.0)], []], [1.0, 1.0])] == [6, 5]
    assert zscore_fusion([[Hit(7, 0.5)], [Hit(7, 9.0)]], [1.0, 1.0]) == [(7, 0.0)]
    assert zscore_fusion([[], []], [1.0, 1.0]) == []


def test_retriever_returns_documents_with_citation_metadata(library):
    retriever = LibraryRetriever(
        store=library.store(), embedder=library.embedder, settings=library.settings
    )
    documents = retriever.invoke("What is Australia's surface area in square miles?")
    assert len(documents) == library.settings.top_k
    top = documents[0]
    for key in ("title", "file", "page", "chunk_id", "start", "end", "document_id"):
        assert key in top.metadata
    assert top.metadata["file"] == "IF10491v14.pdf" and top.metadata["page"] == 1
    passage = document_to_passage(top)
    page = library.store().page(passage.document_id, passage.page)
    assert page.text[passage.start : passage.end] == passage.text


def test_questions_can_be_restricted_to_named_documents(library):
    only = library.document_ids(["RS22331v53.pdf"])
    retriever = LibraryRetriever(
        store=library.store(),
        embedder=library.embedder,
        settings=library.settings,
        document_ids=only,
    )
    documents = retriever.invoke("seized cocaine near Trujillo")
    assert documents and {d.metadata["file"] for d in documents} == {"RS22331v53.pdf"}


def test_zscore_fusion_retrieves_the_evidence_page(library):
    settings = library.settings.model_copy(
        update={"fusion": "zscore", "dense_weight": 0.7, "lexical_weight": 0.3}
    )
    retriever = LibraryRetriever(
        store=library.store(), embedder=library.embedder, settings=settings
    )
    documents = retriever.invoke("What is Australia's surface area in square miles?")
    assert len(documents) == settings.top_k
    assert (documents[0].metadata["file"], documents[0].metadata["page"]) == ("IF10491v14.pdf", 1)
    scores = [d.metadata["score"] for d in documents]
    assert scores == sorted(scores, reverse=True)
