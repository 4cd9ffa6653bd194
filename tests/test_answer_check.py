"""Extractive answers checked by a model: the control flow with a scripted chat model or scripted
log-probabilities, the local model's yes-probability and question likelihood, and paraphrased
and near-miss questions over the real library."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from test_chain import Recorder, no_model, passage

from rag.answering import (
    ANSWER_SYSTEM,
    ANSWERS_SYSTEM,
    CLAIM_SYSTEM,
    EXTRACTIVE,
    AnswerChain,
    AnswerRequest,
    Candidate,
    Evidence,
    LogProbabilities,
    TextPiece,
    answer_extractively,
    declines,
    question_explained,
    states_an_answer,
)
from rag.embedding import Embedder
from rag.errors import ModelUnavailableError
from rag.generation import JUDGE_SYSTEM
from rag.library import Library
from rag.records import NOT_IN_LIBRARY, Answer
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


def test_generated_answers_are_gated_by_their_own_check(embedder: Embedder):
    """generated_answer_check gates generated answers; extractive ones keep answer_check."""
    oracle = Oracle(yes_to="")
    settings = Settings(judge_citations=False, answer_check="words", generated_answer_check="model")
    chain = AnswerChain(Recorder(similarity=0.6), embedder, settings, lambda mode: oracle)
    assert not chain.invoke(AnswerRequest(QUESTION, EXTRACTIVE)).refused
    assert oracle.calls == 0
    assert chain.invoke(AnswerRequest(QUESTION, "local")).refused
    assert oracle.calls == 2  # the gate asked of each candidate sentence, and no answer generated


@pytest.mark.parametrize("check", ["model", "claim"])
def test_without_a_model_extractive_answers_fall_back_to_words(
    embedder: Embedder, caplog: pytest.LogCaptureFixture, check: str
):
    def unavailable(mode: str) -> BaseChatModel:
        raise ModelUnavailableError("no GGUF file here")

    settings = Settings(judge_citations=False, answer_check=check)
    chain = AnswerChain(Recorder(similarity=0.6), embedder, settings, unavailable)
    answer = chain.invoke(
        AnswerRequest("How many Guardians does the Space Force have?", EXTRACTIVE)
    )
    assert "9,400" in answer.text
    assert "no GGUF file here" in caplog.text


class Claimant(BaseChatModel):
    """A chat model that states `claim` when asked for an answer in the question's words, and
    as a support judge says yes when the passage it is shown holds `supported`; asked to
    answer over passages, it writes `answer`, and to any other question it says yes. It keeps
    the prompts it read."""

    claim: str
    supported: str
    answer: str = ""
    prompts: list[str] = []

    @property
    def _llm_type(self) -> str:
        return "claimant"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        prompt = str(messages[-1].content)
        self.prompts.append(prompt)
        system = messages[0].content
        if system == CLAIM_SYSTEM:
            reply = self.claim
        elif system == JUDGE_SYSTEM:
            shown, _, _ = prompt.partition("Claim:")
            reply = "yes" if self.supported in shown else "no"
        else:
            reply = self.answer if system == ANSWER_SYSTEM else "yes"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])


HOW_MANY = "How many Guardians does the Space Force have?"


def test_a_sentence_that_supports_its_answer_in_the_questions_words_is_quoted(
    embedder: Embedder,
):
    claim = "The Space Force has about 9,400 Guardians."
    model = Claimant(claim=claim, supported="9,400")
    answer = checked_chain(embedder, model, check="claim").invoke(
        AnswerRequest(HOW_MANY, EXTRACTIVE)
    )
    assert [c.quote for c in answer.citations] == ["The Space Force has about 9,400 Guardians."]
    stated, judged = model.prompts  # one quoted sentence: its claim, then the verdict on it
    assert HOW_MANY in stated and "9,400 Guardians" in stated
    assert f"Claim: {claim}" in judged and "Space Force Primer" in judged


def test_a_sentence_the_judge_finds_does_not_support_its_answer_is_refused(
    embedder: Embedder,
):
    model = Claimant(claim="The Space Force has about 9,400 Guardians.", supported="12,000")
    answer = checked_chain(embedder, model, check="claim").invoke(
        AnswerRequest(HOW_MANY, EXTRACTIVE)
    )
    assert answer.refused and answer.text == NOT_IN_LIBRARY
    assert len(model.prompts) == 2


@pytest.mark.parametrize(("supported", "refused"), [("9,400", False), ("12,000", True)])
def test_the_claim_gate_of_a_generated_answer_waits_until_the_model_has_written(
    embedder: Embedder, supported: str, refused: bool
):
    """With generated_answer_check = "claim", the evidence and the model's first word come
    before the claims; the answer stands when its quoted sentence supports its claim, and is
    a refusal when it does not."""
    claim = "The Space Force has about 9,400 Guardians."
    model = Claimant(claim=claim, supported=supported, answer=f"{claim} [1]")
    settings = Settings(judge_citations=False, generated_answer_check="claim")
    chain = AnswerChain(Recorder(similarity=0.6), embedder, settings, lambda mode: model)
    events = list(chain.stream(AnswerRequest(HOW_MANY, "local")))
    assert isinstance(events[0], Evidence)
    assert isinstance(events[-2], TextPiece) and isinstance(events[-1], Answer)
    assert "Passages:" in model.prompts[0]  # the answer written first, the claim after
    assert any(HOW_MANY in prompt and claim in prompt for prompt in model.prompts[1:])
    assert events[-1].refused is refused
    assert events[-1].mode == "local"
    assert ("9,400" in events[-1].text) is not refused


def test_the_claim_check_reads_sentences_below_the_words_checks_bar(embedder: Embedder):
    """A sentence too far from the question for the words check to quote on its own is put to
    the claim check (`min_claim_sentence_relevance`), in extractive mode and before the local
    model writes."""
    model = Claimant(claim="The Space Force has about 9,400 Guardians.", supported="9,400")
    settings = Settings(
        judge_citations=False,
        generated_answer_check="claim",
        min_sentence_relevance=0.99,
        min_claim_sentence_relevance=0.0,
    )

    def ask(settings: Settings, mode: str, check: str = "words") -> Answer:
        settings = settings.model_copy(update={"answer_check": check})
        chain = AnswerChain(Recorder(similarity=0.6), embedder, settings, lambda mode: model)
        return chain.invoke(AnswerRequest(HOW_MANY, mode))

    assert ask(settings, EXTRACTIVE).refused
    assert "9,400" in ask(settings, EXTRACTIVE, "claim").text
    model.answer = "The Space Force has about 9,400 Guardians. [1]"
    assert "9,400" in ask(settings, "local").text
    at_words_bar = settings.model_copy(update={"min_claim_sentence_relevance": 0.99})
    assert ask(at_words_bar, EXTRACTIVE, "claim").refused
    assert ask(at_words_bar, "local").refused

    def unavailable(mode: str) -> BaseChatModel:
        raise ModelUnavailableError("no GGUF file here")

    # without a model to judge them, sentences are held to the words check's bar
    claim_settings = settings.model_copy(update={"answer_check": "claim"})
    chain = AnswerChain(Recorder(similarity=0.6), embedder, claim_settings, unavailable)
    assert chain.invoke(AnswerRequest(HOW_MANY, EXTRACTIVE)).refused


@pytest.mark.parametrize(
    "claim",
    [
        "The Space Force has about 12,000 Guardians.",  # an answer the sentence does not give
        "The Space Force has many Guardians.",  # the question restated, no answer
    ],
)
def test_a_claim_that_states_no_answer_from_its_sentence_is_refused_unjudged(
    embedder: Embedder, claim: str
):
    model = Claimant(claim=claim, supported="Guardians")
    answer = checked_chain(embedder, model, check="claim").invoke(
        AnswerRequest(HOW_MANY, EXTRACTIVE)
    )
    assert answer.refused and len(model.prompts) == 1  # the claim asked for, no verdict


@pytest.mark.parametrize(
    ("question", "claim", "sentence", "states"),
    [
        (
            "How much did formula makers spend on ads in 2004?",
            "Formula makers spent over $46 million on TV, print and radio ads in 2004.",
            "Expenditures for TV, print, and radio ads grew to over $46M in 2004.",
            True,  # "$46 million" is the sentence's "$46M"
        ),
        (
            "Why did the incentives fail to raise collections?",
            "The incentives failed because they were too small to motivate states.",
            "States said the incentive payments were too small to motivate them.",
            True,
        ),
        (
            "On what date did Lockheed Martin ask NOAA to extend its licenses beyond June 2027?",
            "Lockheed Martin asked NOAA to extend its licenses beyond June 2027.",
            "In 2022, NOAA extended Lockheed Martin's licenses through June 2, 2027.",
            False,  # the question restated
        ),
        (
            "Where will DOE's FutureGen plant be built?",
            "DOE's FutureGen plant will be built in the United States.",
            "FutureGen is expected to be operational by 2015.",
            False,  # an answer from elsewhere
        ),
        (
            "How large was America's deficit with Canada?",
            "The U.S. deficit with Canada was large.",
            "The U.S. deficit with China was $295.5 billion.",
            False,  # "U.S." is no answer: letters are not terms
        ),
    ],
)
def test_a_claim_states_an_answer_when_it_adds_what_its_sentence_says(
    question: str, claim: str, sentence: str, states: bool
):
    assert states_an_answer(question, claim, sentence) is states


def test_the_claim_check_asks_no_model_where_the_words_check_refuses(embedder: Embedder):
    model = Claimant(claim="", supported="")
    question = "Who leads the Australian Space Force?"  # "Australian" is in no passage
    answer = checked_chain(embedder, model, check="claim").invoke(
        AnswerRequest(question, EXTRACTIVE)
    )
    assert answer.refused and not model.prompts


def explained_by(words: str, calls: list[str]) -> LogProbabilities:
    """Log-probabilities one nat higher for every token after a context that holds `words`."""

    def log_probabilities(context: str, continuation: str) -> np.ndarray:
        calls.append(context)
        return np.full(len(continuation.split()), -3.0 + (words in context))

    return log_probabilities


def test_the_sentence_that_explains_the_question_is_quoted(embedder: Embedder):
    calls: list[str] = []
    likelihood = explained_by("Chief of Space Operations", calls)
    settings = Settings(answer_check="likelihood")
    passages = Recorder(similarity=0.6)(QUESTION, None)
    by_words = answer_extractively(QUESTION, passages, embedder, settings)
    answer = answer_extractively(
        QUESTION, passages, embedder, settings, log_probabilities=likelihood
    )
    assert not by_words.refused  # the words check finds the library answers
    assert [c.quote for c in answer.citations] == ["It is led by the Chief of Space Operations."]
    assert len(calls) == 3  # the question alone, then after each candidate


def test_a_question_the_words_check_refuses_asks_no_model(embedder: Embedder):
    calls: list[str] = []
    question = "Who leads the Australian Space Force?"  # "Australian" is in no passage
    passages = Recorder(similarity=0.6)(question, None)
    answer = answer_extractively(
        question,
        passages,
        embedder,
        Settings(answer_check="likelihood"),
        log_probabilities=explained_by("Chief", calls),
    )
    assert answer.refused and not calls


def test_candidates_within_the_likelihood_margin_are_quoted_best_first(embedder: Embedder):
    likelihood = explained_by("Chief of Space Operations", [])
    settings = Settings(answer_check="likelihood", likelihood_margin=1.5)
    passages = Recorder(similarity=0.6)(QUESTION, None)
    answer = answer_extractively(
        QUESTION, passages, embedder, settings, log_probabilities=likelihood
    )
    assert [c.quote for c in answer.citations] == [
        "It is led by the Chief of Space Operations.",
        "The Space Force has about 9,400 Guardians.",
    ]


def test_the_likelihood_check_falls_back_to_words_without_the_local_model(
    embedder: Embedder, caplog: pytest.LogCaptureFixture
):
    settings = Settings(judge_citations=False, answer_check="likelihood")
    oracle = AnswerChain(
        Recorder(similarity=0.6), embedder, settings, lambda mode: Oracle(yes_to="")
    )
    assert oracle.question_log_probabilities() is None
    assert "reads no text" in caplog.text
    words = AnswerChain(
        Recorder(similarity=0.6),
        embedder,
        settings.model_copy(update={"answer_check": "words"}),
        no_model,
    )
    assert words.question_log_probabilities() is None


@pytest.mark.model
def test_the_local_model_finds_a_question_explained_by_the_sentence_that_answers_it():
    from rag.generation import ChatLlamaCpp, chat_model

    local = chat_model(Settings(), "local")
    assert isinstance(local, ChatLlamaCpp)
    question = "When was the Space Force set up?"
    context = "Passage:\nThe Space Force was established on December 20, 2019.\n\nA question:"
    first = local.log_probabilities(context, " " + question)
    local.log_probabilities("Something else entirely:", " " + question)
    again = local.log_probabilities(context, " " + question)
    assert len(first) >= len(question.split()) and (first <= 0).all()
    np.testing.assert_allclose(first, again, atol=1e-4)  # nothing left over from the last read

    def candidate(text: str, chunk_id: int) -> Candidate:
        return Candidate(
            replace(passage(0.6), chunk_id=chunk_id, text=text, end=len(text)),
            0,
            len(text),
            0.6,
            0.6,
        )

    answers = candidate("The Space Force was established on December 20, 2019, as a new branch.", 1)
    related = candidate("The Space Force has about 9,400 Guardians and 5,000 civilians.", 2)
    gain_answers, gain_related = question_explained(
        local.log_probabilities, question, [answers, related]
    )
    assert gain_answers > gain_related


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


@pytest.mark.model
def test_the_claim_check_refuses_a_near_miss_the_words_check_answers(library: Library):
    """Two questions of the fresh set's dev half. The words check quotes a sentence on U.S.
    exports of condiments and sauces for soybeans; stated in the question's words ("20% of U.S.
    soybean exports go to ...") the model gave that claim 0.06 there, and 0.95 to the answer's
    (threshold 0.2)."""
    checked = Library(library.settings.model_copy(update={"answer_check": "claim"}))
    near_miss = "What share of U.S. soybean exports goes to the Persian Gulf countries?"
    try:
        assert not library.ask(near_miss, mode=EXTRACTIVE).refused
        assert checked.ask(near_miss, mode=EXTRACTIVE).refused
        answer = checked.ask(
            "What death toll had Israeli air and ground operations in Lebanon reportedly "
            "caused by early April 2026?",
            mode=EXTRACTIVE,
        )
        assert "1,700" in answer.text
    finally:
        checked.close()


@pytest.mark.model
def test_the_claim_gate_keeps_the_local_model_from_answering_a_near_miss(library: Library):
    """The soybean near-miss of the test above, asked of the local model behind the claim
    gate of generated answers (generated_answer_check = "claim", the default; extractive
    answers keep the words check): the evidence shows at once and the model writes an answer,
    which the gate then turns into a refusal; the paraphrased question it does answer still
    gets its figure."""
    assert library.settings.generated_answer_check == "claim"
    events = list(
        library.ask_stream(
            "What share of U.S. soybean exports goes to the Persian Gulf countries?", mode="local"
        )
    )
    written = "".join(event.text for event in events if isinstance(event, TextPiece))
    assert isinstance(events[0], Evidence)
    assert written and not declines(written)
    assert isinstance(events[-1], Answer) and events[-1].refused
    answer = library.ask(
        "What death toll had Israeli air and ground operations in Lebanon reportedly "
        "caused by early April 2026?",
        mode="local",
    )
    assert not answer.refused and "1,700" in answer.text


@pytest.mark.model
def test_the_likelihood_check_quotes_the_sentence_that_answers(library: Library):
    """A question of the paraphrase set's dev half that the words check answers with the more
    similar "Five of these vessels ..." sentence; the answering one explained the question
    better by 0.8 nats a token there."""
    checked = Library(library.settings.model_copy(update={"answer_check": "likelihood"}))
    try:
        answer = checked.ask(
            "How many U.S.-flagged tankers were signed up for the tanker security program at "
            "the start of 2026?",
            mode=EXTRACTIVE,
        )
        assert "9 were enrolled in the TSP" in answer.citations[0].quote
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


def test_the_margin_curve_answers_only_where_the_words_check_does():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from answer_check import margin_curve

    def row(unanswerable: bool, *candidates: tuple[float, bool, bool]) -> dict[str, object]:
        return {
            "unanswerable": unanswerable,
            "candidates": [{"gain": g, "answers": a, "words": w} for g, a, w in candidates],
        }

    rows = [
        row(False, (0.8, False, True), (0.7, True, False)),  # answers only within 0.1 of the best
        row(False, (0.9, True, False)),  # the words check refuses: so does the margin
        row(True, (0.4, False, True)),
    ]
    by_margin = {m: (c, r, d) for m, c, r, d in margin_curve(rows)}
    assert by_margin[0.0] == (0.0, 0.5, 0.0)
    assert by_margin[0.2] == (0.5, 0.5, 0.0)
