"""Passages to answers. The extractive answerer quotes the retrieved sentences that answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.embedding import Embedder
from rag.records import NOT_IN_LIBRARY, Answer, Citation, Passage, Sentence
from rag.sentences import sentence_spans
from rag.settings import Settings
from rag.store.sqlite_faiss import lexical_query

EXTRACTIVE = "extractive"
MIN_SENTENCE_CHARS = 25
MAX_SENTENCE_CHARS = 600
LEXICAL_BONUS = 0.3  # weight of the share of question words a sentence contains
SELECTION_MARGIN = 0.08  # later sentences must score within this of the best one


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, scored against the question."""

    passage: Passage
    start: int  # span within the passage text
    end: int
    similarity: float
    score: float

    @property
    def text(self) -> str:
        return self.passage.text[self.start:self.end]

    @property
    def page_span(self) -> tuple[int, int]:
        return self.passage.start + self.start, self.passage.start + self.end


def refusal(question: str, mode: str, passages: list[Passage]) -> Answer:
    """The 'not in the library' answer."""
    return Answer(question=question, text=NOT_IN_LIBRARY, refused=True, mode=mode, passages=passages)


def relevant_enough(passages: list[Passage], settings: Settings) -> bool:
    """Whether any retrieved passage is close enough to the question to hold its answer."""
    best = max((p.dense_similarity or 0.0 for p in passages), default=0.0)
    return best >= settings.min_relevance


def _stem(word: str) -> str:
    return word[:6]


_NOISE = re.compile(r"https?://|www\.|^\d{1,3}\s+[A-Z]|\.{4,}")  # links, footnotes, dot leaders
_QUANTITY_QUESTION = re.compile(
    r"\b(how (many|much|long|large|big|far|old)|what (percent|percentage|share|year|date)|when)\b",
    re.I,
)
_KEY_TERM = re.compile(r"(?<!^)(?<![.?!] )\b((?:[A-Z]\.){2,}|[A-Z][\w-]*|\d[\d,.]*\d|\d)")


def is_prose(sentence: str) -> bool:
    """False for page furniture that splits like a sentence: links, footnotes, dot leaders."""
    letters = sum(char.isalpha() for char in sentence)
    return (
        MIN_SENTENCE_CHARS <= len(sentence) <= MAX_SENTENCE_CHARS
        and letters >= 0.6 * len(sentence.replace(" ", ""))
        and not _NOISE.search(sentence)
    )


def key_terms(question: str) -> set[str]:
    """Names and numbers in the question (not its first word), lower-cased and crudely stemmed."""
    terms = {m.group(1).lower().replace(",", "") for m in _KEY_TERM.finditer(question.strip())}
    return {_stem(term.split("'")[0].split("’")[0]) for term in terms}


def covers_key_terms(terms: set[str], context: str) -> bool:
    """Whether every key term starts some word of the context ('peru' matches 'Peruvian')."""
    words = {w.replace(",", "") for w in re.findall(r"[\w,.-]+", context.lower())}
    words |= {w.strip(".,") for w in words}
    return all(any(word.startswith(term) for word in words) for term in terms)


def answers_quantity(question: str, sentence: str) -> bool:
    """A question asking how many, how much or when needs a sentence with a number in it."""
    return not _QUANTITY_QUESTION.search(question) or bool(re.search(r"\d", sentence))


def lexical_overlap(question: str, sentence: str) -> float:
    """Share of the question's content words (crudely stemmed) that occur in the sentence."""
    wanted = {_stem(w.strip('"')) for w in lexical_query(question).split(" OR ") if w}
    if not wanted:
        return 0.0
    present = {_stem(w) for w in re.findall(r"\w+", sentence.lower())}
    return len(wanted & present) / len(wanted)


def candidate_sentences(
    question: str, passages: list[Passage], embedder: Embedder
) -> list[Candidate]:
    """Distinct prose sentences that may answer, scored by similarity and word overlap.

    A sentence qualifies when its document's retrieved text holds every name and number of the
    question, and, for a question of quantity or time, when it holds a number.
    """
    terms = key_terms(question)
    context = {
        p.document_id: p.title + " " + " ".join(q.text for q in passages if q.document_id == p.document_id)
        for p in passages
    }
    seen: set[tuple[int, int | None, int]] = set()
    pieces: list[tuple[Passage, int, int]] = []
    for passage in passages:
        if not covers_key_terms(terms, context[passage.document_id]):
            continue
        for start, end in sentence_spans(passage.text):
            key = (passage.document_id, passage.page, passage.start + start)
            sentence = passage.text[start:end]
            if key in seen or not is_prose(sentence) or not answers_quantity(question, sentence):
                continue
            seen.add(key)
            pieces.append((passage, start, end))
    if not pieces:
        return []
    vectors = embedder.embed([question] + [p.text[s:e] for p, s, e in pieces])
    similarities = vectors[1:] @ vectors[0]
    return [
        Candidate(
            passage, start, end, float(similarity),
            float(similarity) + LEXICAL_BONUS * lexical_overlap(question, passage.text[start:end]),
        )
        for (passage, start, end), similarity in zip(pieces, similarities)
    ]


def select_sentences(candidates: list[Candidate], settings: Settings) -> list[Candidate]:
    """The best sentence and close runners-up, if the best is relevant enough to quote."""
    ranked = sorted(candidates, key=lambda c: -c.score)
    if not ranked or ranked[0].similarity < settings.min_sentence_relevance:
        return []
    floor = ranked[0].score - SELECTION_MARGIN
    chosen = [
        c for c in ranked
        if c.score >= floor and c.similarity >= settings.min_sentence_relevance
    ]
    return chosen[: settings.max_answer_sentences]


def cite(n: int, candidate: Candidate) -> Citation:
    passage = candidate.passage
    page_start, page_end = candidate.page_span
    return Citation(
        n=n,
        chunk_id=passage.chunk_id,
        document=passage.title,
        file=passage.file,
        page=passage.page,
        quote=candidate.text,
        chunk_start=candidate.start,
        chunk_end=candidate.end,
        page_start=page_start,
        page_end=page_end,
    )


def answer_extractively(
    question: str, passages: list[Passage], embedder: Embedder, settings: Settings
) -> Answer:
    """Quote the retrieved sentences that answer the question, each with its citation."""
    if not relevant_enough(passages, settings):
        return refusal(question, EXTRACTIVE, passages)
    chosen = select_sentences(candidate_sentences(question, passages, embedder), settings)
    if not chosen:
        return refusal(question, EXTRACTIVE, passages)
    citations = [cite(n, candidate) for n, candidate in enumerate(chosen, start=1)]
    sentences = [
        Sentence(text=f"{c.quote} [{c.n}]", citations=[c.n], verdict="supported")
        for c in citations
    ]
    return Answer(
        question=question,
        text=" ".join(s.text for s in sentences),
        refused=False,
        mode=EXTRACTIVE,
        citations=citations,
        sentences=sentences,
        passages=passages,
    )

