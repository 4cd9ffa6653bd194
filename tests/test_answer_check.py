"""Extractive answers checked by a model: the control flow with a scripted chat model, the local
model's yes-probability, and paraphrased and near-miss questions over the real library."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from test_chain import Recorder, no_model

from rag.answering import ANSWERS_SYSTEM, EXTRACTIVE, AnswerChain, AnswerRequest
from rag.embedding import Embedder
from rag.errors import ModelUnavailableError
from rag.library import Library
from rag.records import NOT_IN_LIBRARY
from rag.settings import Settings

QUESTION = "Who is in charge of the Guardians?"


class Oracle(BaseChatModel):
    """A chat model that says yes when the prompt holds `yes_to`, and counts its calls."""

    yes_to: str
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "oracle"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.calls += 1
        reply = "yes" if self.yes_to and self.yes_to in str(messages[-1].content) else "no"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])


def checked_chain(embedder: Embedder, model: BaseChatModel, check: str = "model") -> AnswerChain:
    settings = Settings(judge_citations=False, answer_check=check)
    return AnswerChain(Recorder(similarity=0.6), embedder, settings, lambda mode: model)


def test_the_sentence_the_model_finds_answers_is_quoted(embedder: Embedder):
    oracle = Oracle(yes_to="Chief of Space Operations")
    answer = checked_chain(embedder, oracle).invoke(AnswerRequest(QUESTION, EXTRACTIVE))
    assert not answer.refused
    assert [c.quote for c in answer.citations] == ["It is led by the Chief of Space Operations."]
    assert oracle.calls == 2  # each candidate sentence asked once


def test_related_sentences_the_model_finds_do_not_answer_are_refused(embedder: Embedder):
    answer = checked_chain(embedder, Oracle(yes_to="")).invoke(AnswerRequest(QUESTION, EXTRACTIVE))
    assert answer.refused and answer.text == NOT_IN_LIBRARY


def test_the_words_check_asks_no_model(embedder: Embedder):
    settings = Settings(judge_citations=False, answer_check="words")
    chain = AnswerChain(Recorder(similarity=0.6), embedder, settings, no_model)
    assert chain.answer_probability() is None


def test_without_a_model_extractive_answers_fall_back_to_words(
    embedder: Embedder, caplog: pytest.LogCaptureFixture
):
    def unavailable(mode: str) -> BaseChatModel:
        raise ModelUnavailableError("no GGUF file here")

    settings = Settings(judge_citations=False, answer_check="model")
    chain = AnswerChain(Recorder(similarity=0.6), embedder, settings, unavailable)
    answer = chain.invoke(
        AnswerRequest("How many Guardians does the Space Force have?", EXTRACTIVE)
    )
    assert "9,400" in answer.text
    assert "no GGUF file here" in caplog.text


@pytest.mark.model
def test_the_local_models_yes_probability_separates_an_answer_from_a_related_sentence():
    from rag.generation import chat_model, yes_probability

    local = chat_model(Settings(), "local")
    question = "Question: In what year was the Space Force founded?\n\nPassage:\n{}\n\n"
    ask = question + "Does the passage answer the question?"
    answers = yes_probability(local, ANSWERS_SYSTEM, ask.format("It was founded in 2019."))
    related = yes_probability(
        local, ANSWERS_SYSTEM, ask.format("The Space Force has about 9,400 Guardians.")
    )
    # the model leans to "no" (P(yes) above 0.5 is rare, and machine-dependent: 0.49 on an
    # AVX2-only CPU); what matters is the gap, and the answer reaching the default threshold
    assert 0.0 <= related < answers <= 1.0
    assert answers - related >= 0.15 and answers >= Settings().min_answer_probability


@pytest.mark.model
def test_a_paraphrased_question_is_answered_and_a_near_miss_refused(library: Library):
    """Two questions of the paraphrase set's dev half: the model's probabilities there were
    0.61 for the answer and at most 0.19 for the near-miss (threshold 0.25). The answer's
    passage ranks 6th or 7th, by less than the int8 embedding's noise (a text's vector moves
    with the texts batched beside it at ingest), so 8 passages are read: the check, not the
    ranking, is what is tested."""
    settings = library.settings.model_copy(update={"answer_check": "model", "top_k": 8})
    checked = Library(settings)
    try:
        answer = checked.ask(
            "On which blockchain do most self-executing crypto programs and financial services run?",
            mode=EXTRACTIVE,
        )
        assert "Ethereum" in answer.text and answer.citations[0].file == "R48883v4.pdf"
        near_miss = checked.ask(
            "What was the street price of a kilogram of Peruvian cocaine in Spain?",
            mode=EXTRACTIVE,
        )
        assert near_miss.refused
    finally:
        checked.close()


def test_the_threshold_curve_counts_answers_refusals_and_declines():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from answer_check import curve

    def row(unanswerable: bool, *candidates: tuple[float, bool]) -> dict[str, object]:
        return {
            "unanswerable": unanswerable,
            "relevant": True,
            "candidates": [{"probability": p, "answers": a} for p, a in candidates],
        }

    rows = [row(False, (0.3, True), (0.6, False)), row(False, (0.1, True)), row(True, (0.2, False))]
    by_threshold = {t: (c, r, d) for t, c, r, d in curve(rows)}
    assert by_threshold[0.1] == (1.0, 0.0, 0.0)
    assert by_threshold[0.25] == (0.5, 0.5, 1.0)
    assert by_threshold[0.55] == (0.0, 0.5, 1.0)
