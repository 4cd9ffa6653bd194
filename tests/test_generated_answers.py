"""Generated answers end to end: the real packaged model over the real library."""

from __future__ import annotations

import pytest
from conftest import SEED_QUESTION
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from rag.answering import (
    CHARS_PER_TOKEN,
    EXTRACTIVE,
    PROMPT_RESERVE_TOKENS,
    Evidence,
    TextPiece,
    fit_to_context,
)
from rag.records import NOT_IN_LIBRARY, Answer, Passage
from rag.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.model]


def test_local_model_answers_the_seed_question_with_a_checked_citation(library):
    evidence, *events, answer = list(library.ask_stream(SEED_QUESTION, mode="local"))
    assert isinstance(evidence, Evidence) and isinstance(answer, Answer)  # evidence first
    assert len([e for e in events if isinstance(e, TextPiece)]) > 1  # then token by token
    # the model's answer, or the quote in its place where a sentence of it is not verified
    assert not answer.refused and answer.mode in ("local", EXTRACTIVE)
    assert "7.6 metric tons" in answer.text
    assert "000_2ab8909efb0e4c04.txt" in {c.file for c in answer.citations}
    assert answer.sentences and all(s.verdict == "supported" for s in answer.sentences)
    cited = [s for s in answer.sentences if "7.6" in s.text]
    assert cited and cited[0].citations
    for citation in answer.citations:
        passage = next(p for p in answer.passages if p.chunk_id == citation.chunk_id)
        assert passage.text[citation.chunk_start : citation.chunk_end] == citation.quote


def test_local_model_says_not_in_the_library(library):
    answer = library.ask("What was Brazil's coffee export volume in 2023?", mode="local")
    assert answer.refused and answer.text == NOT_IN_LIBRARY and answer.citations == []


def test_follow_up_is_condensed_and_retrieves_the_right_passage(library):
    history = [(SEED_QUESTION, "7.6 metric tons of cocaine were seized near Trujillo in 2014. [1]")]
    answer = library.ask(
        "And from which ports was it to be shipped?", mode="local", history=history
    )
    assert answer.question != "And from which ports was it to be shipped?"  # rewritten
    assert any("Callao (Lima) and Paita" in p.text for p in answer.passages[:3])


def test_refuses_before_generating_when_nothing_is_relevant(library, monkeypatch):
    """Control flow only: a chat model that must never be called."""
    never = FakeListChatModel(responses=[])
    monkeypatch.setattr(library, "chat_model", lambda mode: never)
    answer = library.ask("Who won the 2018 FIFA World Cup?", mode="local")
    assert answer.refused and answer.text == NOT_IN_LIBRARY


def test_passages_are_cut_to_fit_the_local_models_context() -> None:
    passages = [
        Passage(
            chunk_id=n,
            document_id=1,
            title="Ferries",
            file="f.txt",
            page=None,
            start=0,
            end=1000,
            text="x" * 1000,
            score=1.0 - n / 100,
        )
        for n in range(30)
    ]
    settings = Settings(generator_context_tokens=4096, generator_max_tokens=512)
    budget = (4096 - 512 - PROMPT_RESERVE_TOKENS) * CHARS_PER_TOKEN
    kept = fit_to_context(passages, settings)
    assert kept == passages[: budget // (1000 + len("Ferries") + 20)]
    assert 6 <= len(kept) < 30  # the default top_k fits; thirty passages do not
    tiny = Settings(generator_context_tokens=512, generator_max_tokens=512)
    assert fit_to_context(passages, tiny) == passages[:1]  # never none
