"""The answer chain: its control flow with scripted chat models, and as a LangChain runnable over
the real library."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import SEED_QUESTION
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from rag.answering import EXTRACTIVE, AnswerChain, AnswerRequest
from rag.embedding import Embedder
from rag.library import Library
from rag.records import NOT_IN_LIBRARY, Answer, Passage
from rag.settings import Settings

PASSAGE_TEXT = (
    "The Space Force has about 9,400 Guardians. It is led by the Chief of Space Operations."
)


def passage(similarity: float) -> Passage:
    return Passage(
        chunk_id=7,
        document_id=1,
        title="Space Force Primer",
        file="IF11495.pdf",
        page=1,
        start=0,
        end=len(PASSAGE_TEXT),
        text=PASSAGE_TEXT,
        score=1.0,
        dense_similarity=similarity,
    )


class Recorder:
    """A retriever that returns one passage and remembers what it was asked."""

    def __init__(self, similarity: float) -> None:
        self.similarity = similarity
        self.queries: list[tuple[str, list[int] | None]] = []

    def __call__(self, query: str, document_ids: list[int] | None) -> list[Passage]:
        self.queries.append((query, document_ids))
        return [passage(self.similarity)]


def no_model(mode: str) -> BaseChatModel:
    raise AssertionError(f"the {mode} model was asked")


def chain(
    retrieve: Recorder, embedder: Embedder, chat_model: Callable[[str], BaseChatModel]
) -> AnswerChain:
    settings = Settings(judge_citations=False)
    return AnswerChain(retrieve, embedder, settings, chat_model)


def test_passages_too_far_from_the_question_are_refused_without_asking_a_model(embedder):
    retrieve = Recorder(similarity=0.05)
    request = AnswerRequest("Who won the 2018 FIFA World Cup?", mode="local", document_ids=[1])
    answer = chain(retrieve, embedder, no_model).invoke(request)
    assert answer.refused and answer.text == NOT_IN_LIBRARY
    assert retrieve.queries == [("Who won the 2018 FIFA World Cup?", [1])]


def test_a_follow_up_is_condensed_and_searched_with_its_own_words(embedder):
    replies = [
        "Who leads the Space Force?",  # the condensed question
        "The Chief of Space Operations leads it. [1]",  # the answer
        "yes",  # it responds to the question
    ]
    model = FakeListChatModel(responses=replies)
    retrieve = Recorder(similarity=0.9)
    request = AnswerRequest(
        "And who leads it?",
        mode="local",
        history=[("How many Guardians are there?", "About 9,400. [1]")],
    )
    *pieces, answer = chain(retrieve, embedder, lambda mode: model).stream(request)
    assert "".join(str(p) for p in pieces) == replies[1]
    assert isinstance(answer, Answer) and not answer.refused
    assert answer.question == "Who leads the Space Force?"
    assert retrieve.queries == [("Who leads the Space Force? And who leads it?", None)]
    assert answer.citations[0].quote == "It is led by the Chief of Space Operations."


def test_an_answer_the_model_finds_unresponsive_becomes_a_refusal(embedder):
    model = FakeListChatModel(responses=["The Space Force has about 9,400 Guardians. [1]", "no"])
    request = AnswerRequest("What is the Space Force's budget?", mode="local")
    answer = chain(Recorder(0.9), embedder, lambda mode: model).invoke(request)
    assert answer.refused and answer.text == NOT_IN_LIBRARY


def test_an_extractive_follow_up_searches_with_the_previous_question(embedder):
    retrieve = Recorder(similarity=0.9)
    request = AnswerRequest(
        "Who leads it?", mode=EXTRACTIVE, history=[("What is the Space Force?", "...")]
    )
    answer = chain(retrieve, embedder, no_model).invoke(request)
    assert retrieve.queries == [("What is the Space Force? Who leads it?", None)]
    assert answer.question == "Who leads it?"


@pytest.mark.slow
def test_the_chain_is_a_runnable_over_the_library(library: Library):
    request = library.request(SEED_QUESTION, EXTRACTIVE)
    answer = library.chain.invoke(request)
    assert answer == library.ask(SEED_QUESTION, mode=EXTRACTIVE)
    assert "7.6 metric tons" in answer.text
    outside = library.request("Who won the 2018 FIFA World Cup?", EXTRACTIVE)
    batch = library.chain.batch([request, outside])
    assert [isinstance(a, Answer) and a.refused for a in batch] == [False, True]
