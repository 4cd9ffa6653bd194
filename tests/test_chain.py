"""The answer chain: its control flow with scripted chat models, and as a LangChain runnable over
the real library."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from conftest import SEED_QUESTION
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from rag.answering import (
    EXTRACTIVE,
    AnswerChain,
    AnswerRequest,
    Evidence,
    ModelQueue,
    TextPiece,
    focus_passages,
    parse_check,
)
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
    retrieve: Recorder,
    embedder: Embedder,
    chat_model: Callable[[str], BaseChatModel],
    quote_backs_generated: bool = True,
    quote_when_model_declines: bool = False,
    quote_when_unverified: bool = False,
) -> AnswerChain:
    settings = Settings(
        judge_citations=False,
        generated_answer_check="words",  # a scripted model states no claims
        quote_backs_generated=quote_backs_generated,
        quote_when_model_declines=quote_when_model_declines,
        quote_when_unverified=quote_when_unverified,
    )
    return AnswerChain(retrieve, embedder, settings, chat_model)


def always(model: BaseChatModel) -> Callable[[str], BaseChatModel]:
    return lambda mode: model


def test_passages_too_far_from_the_question_are_refused_without_asking_a_model(embedder):
    retrieve = Recorder(similarity=0.05)
    request = AnswerRequest("Who won the 2018 FIFA World Cup?", mode="local", document_ids=[1])
    answer = chain(retrieve, embedder, no_model).invoke(request)
    assert answer.refused and answer.text == NOT_IN_LIBRARY
    assert retrieve.queries == [("Who won the 2018 FIFA World Cup?", [1])]


def test_an_extractive_answer_is_held_to_its_sentences_not_to_the_whole_passage(embedder):
    retrieve = Recorder(similarity=0.05)  # a long passage scores low though one sentence answers
    settings = Settings(judge_citations=False)
    answers = AnswerChain(retrieve, embedder, settings, no_model)
    answer = answers.invoke(
        AnswerRequest("How many Guardians does the Space Force have?", "extractive")
    )
    assert not answer.refused and "9,400 Guardians" in answer.citations[0].quote
    unrelated = answers.invoke(AnswerRequest("Who won the 2018 FIFA World Cup?", "extractive"))
    assert unrelated.refused and unrelated.text == NOT_IN_LIBRARY


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
    evidence, *pieces, answer = chain(retrieve, embedder, lambda mode: model).stream(request)
    assert isinstance(evidence, Evidence) and evidence.question == "Who leads the Space Force?"
    assert all(isinstance(p, TextPiece) for p in pieces)
    assert "".join(p.text for p in pieces if isinstance(p, TextPiece)) == replies[1]
    assert isinstance(answer, Answer) and not answer.refused
    assert answer.question == "Who leads the Space Force?"
    assert retrieve.queries == [("Who leads the Space Force? And who leads it?", None)]
    assert answer.citations[0].quote == "It is led by the Chief of Space Operations."


def test_an_answer_the_model_finds_unresponsive_becomes_a_refusal(embedder):
    model = FakeListChatModel(responses=["The Space Force has about 9,400 Guardians. [1]", "no"])
    request = AnswerRequest("What is the Space Force's budget?", mode="local")
    unbacked = chain(Recorder(0.9), embedder, always(model), quote_backs_generated=False)
    answer = unbacked.invoke(request)
    assert answer.refused and answer.text == NOT_IN_LIBRARY


def test_without_a_sentence_to_quote_the_model_is_not_asked(embedder):
    request = AnswerRequest("How many Guardians does the Navy have?", mode="local")
    answer = chain(Recorder(0.9), embedder, no_model).invoke(request)
    assert answer.refused and answer.text == NOT_IN_LIBRARY and answer.mode == "local"


def test_when_the_model_gives_no_answer_the_quoted_sentence_is_the_answer(embedder):
    # the model refuses; or it answers and then finds its answer does not respond
    for replies in (
        ["Not in the library."],
        ["It is led by the Chief of Space Operations. [1]", "no"],
    ):
        model = FakeListChatModel(responses=replies)
        request = AnswerRequest("How many Guardians does the Space Force have?", mode="local")
        quoting = chain(Recorder(0.9), embedder, always(model), quote_when_model_declines=True)
        answer = quoting.invoke(request)
        assert not answer.refused and answer.mode == EXTRACTIVE
        assert answer.text == "The Space Force has about 9,400 Guardians. [1]"
        assert answer.citations[0].quote == "The Space Force has about 9,400 Guardians."


def test_by_default_the_models_own_refusal_stands(embedder):
    """With quote_when_model_declines off (the default), "Not in the library" from the model
    is the answer; an answer of the model that fails the checks is still replaced by the
    quote."""
    request = AnswerRequest("How many Guardians does the Space Force have?", mode="local")
    declined = FakeListChatModel(responses=["Not in the library. [1]"])
    answer = chain(Recorder(0.9), embedder, always(declined)).invoke(request)
    assert answer.refused and answer.text == NOT_IN_LIBRARY and answer.mode == "local"
    unresponsive = FakeListChatModel(
        responses=["It is led by the Chief of Space Operations. [1]", "no"]
    )
    answer = chain(Recorder(0.9), embedder, always(unresponsive)).invoke(request)
    assert not answer.refused and answer.mode == EXTRACTIVE
    assert answer.citations[0].quote == "The Space Force has about 9,400 Guardians."


def test_an_answer_with_a_sentence_not_verified_can_give_way_to_the_quote(embedder):
    """With quote_when_unverified, a model's answer whose sentence fails the checks (here a
    number in no passage) is replaced by the quoted sentence; without it, it is shown with
    its verdict."""
    request = AnswerRequest("How many Guardians does the Space Force have?", mode="local")

    def answer(reply: str, quote_when_unverified: bool) -> Answer:
        model = FakeListChatModel(responses=[reply, "yes"])  # the answer; it responds
        return chain(
            Recorder(0.9), embedder, always(model), quote_when_unverified=quote_when_unverified
        ).invoke(request)

    wrong = "The Space Force has about 12,000 Guardians. [1]"
    shown = answer(wrong, quote_when_unverified=False)
    assert shown.mode == "local" and shown.sentences[0].verdict == "unsupported"
    quoted = answer(wrong, quote_when_unverified=True)
    assert not quoted.refused and quoted.mode == EXTRACTIVE
    assert quoted.citations[0].quote == "The Space Force has about 9,400 Guardians."
    right = answer("The Space Force has about 9,400 Guardians. [1]", quote_when_unverified=True)
    assert right.mode == "local" and right.sentences[0].verdict == "supported"


def test_an_open_question_is_not_asked_whether_it_is_answered(embedder):
    model = FakeListChatModel(responses=["The Space Force has about 9,400 Guardians. [1]", "no"])
    question = "What do the reports say about the Space Force?"
    closed = AnswerRequest(question, mode="local")
    unbacked = chain(Recorder(0.9), embedder, always(model), quote_backs_generated=False)
    assert unbacked.invoke(closed).refused
    model = FakeListChatModel(responses=["The Space Force has about 9,400 Guardians. [1]", "no"])
    opened = AnswerRequest(question, mode="local", open_question=True)  # a briefing's section
    answer = chain(Recorder(0.9), embedder, lambda mode: model).invoke(opened)
    assert not answer.refused and answer.sentences[0].verdict == "supported"


class Counting(FakeListChatModel):
    """A scripted chat model that keeps the messages of each call."""

    calls: list[list[str]] = []

    def _call(self, messages, stop=None, run_manager=None, **kwargs):
        self.calls.append([str(m.content) for m in messages])
        return super()._call(messages, stop, run_manager, **kwargs)

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        self.calls.append([str(m.content) for m in messages])
        return super()._stream(messages, stop, run_manager, **kwargs)


def test_evidence_comes_first_and_the_answer_is_checked_in_two_short_calls(embedder):
    answer_text = "The Chief of Space Operations leads the Guardians. [1] It has 9,400 of them. [1]"
    model = Counting(responses=[answer_text, "1: yes\n2: no", "yes"], calls=[])
    request = AnswerRequest("Who is the Space Force led by?", mode="local")
    settings = Settings(
        judge_citations=True,
        generated_answer_check="words",  # no claims: the calls counted are the answer's checks
        quote_when_unverified=False,  # shown as judged
    )
    events = list(
        AnswerChain(Recorder(0.9), embedder, settings, lambda mode: model).stream(request)
    )
    evidence, answer = events[0], events[-1]
    assert isinstance(evidence, Evidence) and isinstance(answer, Answer)
    assert [q.quote for q in evidence.quotes] == ["It is led by the Chief of Space Operations."]
    # the answer; one check of every sentence the deterministic checks leave open; whether it
    # answers the question
    assert len(model.calls) == 3
    check = model.calls[1]
    assert check[:3] == model.calls[0] + [answer_text]  # the same conversation, continued
    assert "1. The Chief of Space Operations leads the Guardians. (passage 1)" in check[3]
    responsive = model.calls[2]
    assert "Question: Who is the Space Force led by?" in responsive[1]
    assert PASSAGE_TEXT not in responsive[1]  # asked apart from the passages
    assert [s.verdict for s in answer.sentences] == ["supported", "unsupported"]


def test_an_answer_that_restates_its_passage_is_checked_only_for_responsiveness(embedder):
    model = Counting(responses=["It is led by the Chief of Space Operations. [1]", "yes"], calls=[])
    request = AnswerRequest("Who leads the Space Force?", mode="local")
    settings = Settings(judge_citations=True, generated_answer_check="words")
    answer = AnswerChain(Recorder(0.9), embedder, settings, lambda mode: model).invoke(request)
    assert not answer.refused and answer.sentences[0].verdict == "supported"
    assert len(model.calls) == 2  # the answer, then whether it answers


def test_the_check_reply_is_read_line_by_line() -> None:
    assert parse_check("1: yes\n2: No.\n", 3) == [True, False, None]
    assert parse_check("1. yes", 1) == [True]
    assert parse_check("Yes.", 1) == [None]


def test_the_model_reads_the_best_sentences_with_their_neighbours(embedder):
    filler = " ".join(f"Paragraph {n} is about the weather in Lisbon." for n in range(8))
    text = f"{filler} The Space Force is led by the Chief of Space Operations. {filler}"
    whole = passage(0.9)
    whole = Passage(**{**whole.__dict__, "text": text, "start": 100, "end": 100 + len(text)})
    settings = Settings(generator_focus=True, context_sentences=1)
    focused, quotes = focus_passages("Who leads the Space Force?", [whole], embedder, settings)
    assert focused[0].text == (
        "Paragraph 7 is about the weather in Lisbon. The Space Force is led by the Chief of "
        "Space Operations. Paragraph 0 is about the weather in Lisbon."
    )
    assert whole.text[focused[0].start - whole.start :][: len(focused[0].text)] == focused[0].text
    quote = quotes[0]
    assert quote.quote == "The Space Force is led by the Chief of Space Operations."
    assert text[quote.page_start - 100 : quote.page_end - 100] == quote.quote


def test_by_default_the_model_reads_the_passages_whole_with_their_best_sentence_quoted(
    embedder,
):
    other = Passage(**{**passage(0.9).__dict__, "chunk_id": 8, "text": "Rain fell in Lisbon."})
    read, quotes = focus_passages(
        "Who is the Space Force led by?", [other, passage(0.9)], embedder, Settings()
    )
    assert read == [other, passage(0.9)]
    assert [(q.n, q.quote) for q in quotes] == [(2, "It is led by the Chief of Space Operations.")]


def test_generated_citations_point_into_the_whole_passage(embedder):
    filler = " ".join(f"Paragraph {n} is about the weather in Lisbon." for n in range(8))
    text = f"{filler} The Space Force is led by the Chief of Space Operations."
    whole = Passage(**{**passage(0.9).__dict__, "text": text, "end": len(text)})
    model = FakeListChatModel(
        responses=["The Chief of Space Operations leads the Space Force. [1]", "yes"]
    )
    chained = AnswerChain(
        lambda query, ids: [whole],
        embedder,
        Settings(judge_citations=False, generator_focus=True),
        lambda m: model,
    )
    answer = chained.invoke(AnswerRequest("Who leads the Space Force?", mode="local"))
    citation = answer.citations[0]
    assert answer.passages == [whole]
    assert text[citation.chunk_start : citation.chunk_end] == citation.quote
    assert citation.quote == "The Space Force is led by the Chief of Space Operations."


def test_questions_take_turns_at_the_model_and_see_their_place() -> None:
    queue = ModelQueue()
    first, second, third = queue.join(), queue.join(), queue.join()
    assert list(queue.ahead(first)) == []  # its turn at once
    seen: list[int] = []
    waiting = threading.Thread(target=lambda: seen.extend(queue.ahead(third, poll=0.01)))
    waiting.start()
    time.sleep(0.1)
    queue.leave(first)
    time.sleep(0.1)
    queue.leave(second)
    waiting.join(timeout=5)
    assert seen == [2, 1]
    queue.leave(third)


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
