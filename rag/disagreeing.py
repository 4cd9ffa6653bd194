"""Where sources disagree: pairs of statements from different documents that conflict.

The statements are the prose sentences of passages retrieved for a topic. Two sentences of
different documents are compared when they are about the same thing: their embeddings are at
least `disagree_min_similarity` apart. A pair is then:

- a conflict of figures when both state a figure of the same measure (the same unit words
  after the number, e.g. "tonnes of cod", "%", "$ million") and no figure of one matches a
  figure of the other within `disagree_tolerance`, and both name the same years (or none);
- set aside, not a conflict, when they name different years (the figures are for different
  times) or state their figures in different units or measures ("square kilometers" against
  "square miles"), since neither is then a statement about the same quantity;
- with a chat model (modes "local" and "openai"), a conflict of claims when the model says the
  two statements contradict each other. Only pairs without figures, for the same years, of
  which exactly one is negated ("has ratified" / "has not ratified") are put to it, the
  closest first, at most `disagree_max_judged`: the small local model says yes to most close
  pairs it is shown (BENCHMARKS.md, issue 16).

Before a pair is shown it is checked by the judge: in the model modes the chat model must say
yes to "do these contradict each other about the same thing at the same time?"; in extractive
mode the judge is the rule above (same measure, same years, different values), which a test
can check. When nothing is left, the result says "no disagreement found".
"""

from __future__ import annotations

import datetime
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from rag.answering import EXTRACTIVE, is_prose, neutralise
from rag.errors import RagError
from rag.library import Library
from rag.records import Citation, Passage
from rag.text import STOPWORDS, sentence_spans, stem
from rag.timeline import find_dates

DisagreeProgress = Callable[[str, int, int], None]
"""progress(step, steps done, steps in all): called as pairs are compared and judged."""

NO_DISAGREEMENT = "No disagreement found."
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_FIGURE = re.compile(
    r"(?P<currency>[$€£])?(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w,.]\d|[a-zA-Z])"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion))?"
    r"(?P<percent>\s?%|\s(?:percent|per cent)\b)?",
    re.I,
)
_UNIT_WORD = re.compile(r"\s*([^\W\d_](?:[\w-]|\.(?=\w))*)")
UNIT_WORDS = 2  # words after a figure that name what it counts or measures
_CONNECTORS = {"of", "the", "a", "an"}  # skipped between a unit and what it measures
# Words after a number that make it a label, not a quantity ("P.L. 66-261", "Section 27").
_LABEL_BEFORE = re.compile(
    r"(?:\b(?:p\.l\.|no\.|section|sec\.|article|part|title|figure|table|page|§+|fy|u\.s\.c\.)"
    r"|[-\u2013/:])\s*$",
    re.I,
)
JUDGE_SYSTEM = (
    "You compare two statements from different reports. Reply with one word: yes or no. "
    "Say yes only if they contradict each other about the same thing at the same time: "
    "different figures for the same measure, or opposite assessments. Say no if they are about "
    "different things, years, places or units, or if both can be true."
)
JUDGE_HUMAN = 'Statement A: "{first}"\nStatement B: "{second}"\n\nDo they contradict each other?'

_NEGATION = re.compile(r"\b(?:not|no|never|none|cannot|neither|nor)\b|n[’']t\b", re.I)

Kind = Literal["figure", "claim"]


@dataclass(frozen=True)
class Figure:
    """A number a sentence states, what it measures, and where it is in the sentence."""

    value: float
    unit: tuple[str, ...]  # "%", "$", and the stems of the words naming the measure
    start: int
    end: int
    words: str  # the words as written, e.g. "4,200 tonnes of cod"


@dataclass(frozen=True)
class Statement:
    """A prose sentence of a retrieved passage, with its figures and the years it names."""

    passage: Passage
    start: int  # span of the sentence within the passage text
    end: int
    figures: tuple[Figure, ...]
    years: frozenset[int]

    @property
    def text(self) -> str:
        return self.passage.text[self.start : self.end]

    def citation(self, n: int) -> Citation:
        return Citation.of(n, self.passage, self.start, self.end)


@dataclass(frozen=True)
class Conflict:
    """Two statements of different documents that conflict, each with its citation."""

    kind: Kind
    first: Citation
    second: Citation
    first_words: str  # the conflicting words quoted: a figure, or the whole sentence
    second_words: str
    why: str
    similarity: float


@dataclass(frozen=True)
class Disagreements:
    """What comparing the statements on a topic found."""

    topic: str
    mode: str
    scope: list[str]  # the documents compared, as "title (file)"
    conflicts: list[Conflict]
    compared: int  # pairs of statements of different documents about the same thing
    set_aside: dict[str, int] = field(default_factory=dict)  # reason -> pairs not reported
    rejected_by_judge: int = 0
    cancelled: bool = False  # stopped before every candidate pair was judged
    date: str = field(default_factory=lambda: datetime.date.today().isoformat())  # ISO 8601

    @property
    def found(self) -> bool:
        return bool(self.conflicts)


def figures(sentence: str) -> tuple[Figure, ...]:
    """The quantities a sentence states, leaving out years, dates, labels and ordinals."""
    dated = [(d.start, d.end) for d in find_dates(sentence)]
    found = []
    for match in _FIGURE.finditer(sentence):
        start, end = match.span()
        if any(s <= start < e for s, e in dated) or _LABEL_BEFORE.search(sentence[:start]):
            continue
        number = match.group("number").replace(",", "")
        if not match.group("scale") and re.fullmatch(r"(1[89]|20)\d\d", number):
            continue  # a year named without a preposition ("the 2025 assessment")
        value = float(number) * _SCALES.get((match.group("scale") or "").lower(), 1.0)
        unit: list[str] = []
        if match.group("currency"):
            unit.append(match.group("currency"))
        if match.group("percent"):
            unit.append("%")
        tail, named = end, 0
        while named < UNIT_WORDS and (word := _UNIT_WORD.match(sentence, tail)) is not None:
            text = word.group(1).lower()
            if unit and (text in _CONNECTORS or (text == "in" and unit[-1] in "$€£")):
                tail = word.end()  # "tonnes of cod", "$4 billion in loans": on to "cod", "loans"
                continue
            if text in STOPWORDS:
                break
            unit.append(stem(text))
            tail = end = word.end()
            named += 1
        if unit:
            found.append(Figure(value, tuple(unit), start, end, sentence[start:end]))
    return tuple(found)


def statements(passages: list[Passage]) -> list[Statement]:
    """The distinct prose sentences of the passages, with their figures and years."""
    seen: set[tuple[int, int | None, int]] = set()
    found = []
    for passage in passages:
        for start, end in sentence_spans(passage.text):
            key = (passage.document_id, passage.page, passage.start + start)
            sentence = passage.text[start:end]
            if key in seen or not is_prose(sentence):
                continue
            seen.add(key)
            years = frozenset(d.when.year for d in find_dates(sentence))
            found.append(Statement(passage, start, end, figures(sentence), years))
    return found


def negated(sentence: str) -> bool:
    """Whether the sentence holds a negation ("not", "no", "never", "cannot", "n't")."""
    return bool(_NEGATION.search(sentence))


def _agree(first: float, second: float, tolerance: float) -> bool:
    return abs(first - second) <= tolerance * max(abs(first), abs(second))


def compare_figures(
    first: Statement, second: Statement, tolerance: float
) -> tuple[str, tuple[Figure, Figure] | None]:
    """How two statements' figures relate: "conflict" (with the two figures), "agree",
    "different years" (they name different years, or only one names any), "different units"
    or "no figures"."""
    if not first.figures or not second.figures:
        return "no figures", None
    shared = {f.unit for f in first.figures} & {f.unit for f in second.figures}
    if first.years != second.years:
        return "different years", None
    if not shared:
        return "different units", None
    for unit in sorted(shared):
        ours = [f for f in first.figures if f.unit == unit]
        theirs = [f for f in second.figures if f.unit == unit]
        # a figure agrees with any number of the other sentence: "31 contracts, of which 17
        # are in the CCZ" does not conflict with "17 contracts in the CCZ"
        if not any(
            _agree(a.value, b, tolerance) for a in ours for b in numbers(second)
        ) and not any(_agree(a, b.value, tolerance) for a in numbers(first) for b in theirs):
            return "conflict", (ours[0], theirs[0])
    return "agree", None


def numbers(statement: Statement) -> list[float]:
    """Every number the statement writes, with its scale, figure or not."""
    return [
        float(m.group("number").replace(",", ""))
        * _SCALES.get((m.group("scale") or "").lower(), 1.0)
        for m in _FIGURE.finditer(statement.text)
    ]


def judge_conflict(chat: BaseChatModel, first: str, second: str) -> bool:
    """Whether the chat model says the two statements contradict each other."""
    reply = chat.invoke(
        [
            SystemMessage(JUDGE_SYSTEM),
            HumanMessage(JUDGE_HUMAN.format(first=neutralise(first), second=neutralise(second))),
        ],
        max_tokens=2,
        temperature=0,
    )
    words = reply.text.strip().lower().split()
    return bool(words) and words[0].strip(".,!:;\"'") == "yes"


def _why(
    kind: Kind, first: Statement, second: Statement, pair: tuple[Figure, Figure] | None
) -> str:
    if kind == "claim" or pair is None:
        return "the judge found that the two statements contradict each other"
    years = f" for {', '.join(str(y) for y in sorted(first.years))}" if first.years else ""
    measure = " ".join(w for w in pair[0].words.split()[1:]) or pair[0].unit[0]
    return (
        f"{first.passage.file} gives {pair[0].words}, {second.passage.file} gives "
        f"{pair[1].words}: different figures for the same measure ({measure}){years}"
    )


def topic_passages(library: Library, topic: str, documents: list[str] | None) -> list[Passage]:
    """The `disagree_passages` passages closest to the topic from each document named, else from
    each of the `disagree_documents` documents whose passages are closest to it (searched
    separately, so that a long document does not crowd out a short one)."""
    settings = library.settings
    if documents:
        ids = library.document_ids(documents)
    else:
        found = library.retrieve(topic, k=settings.disagree_passages * settings.disagree_documents)
        ids = list(dict.fromkeys(p.document_id for p in found))[: settings.disagree_documents]
    return [
        passage
        for document_id in dict.fromkeys(ids)
        for passage in library.retrieve(
            topic, k=settings.disagree_passages, document_ids=[document_id]
        )
    ]


def find_disagreements(
    library: Library,
    topic: str,
    *,
    documents: list[str] | None = None,
    mode: str | None = None,
    progress: DisagreeProgress | None = None,
    cancel: threading.Event | None = None,
) -> Disagreements:
    """The conflicting statements on `topic` among the named `documents` (default: the whole
    library); see the module's description. `cancel`, once set, stops judging (pairs not yet
    judged are not shown)."""
    topic = " ".join(topic.split())
    if not topic:
        raise RagError("the topic is empty")
    settings = library.settings
    mode = mode or settings.generator
    report = progress or (lambda step, done, total: None)
    passages = topic_passages(library, topic, documents)
    scope = list(dict.fromkeys(f"{p.title} ({p.file})" for p in passages))
    said = statements(passages) if library.chain.relevant(passages) else []
    if len({s.passage.document_id for s in said}) < 2:
        report("done", 1, 1)
        return Disagreements(topic, mode, scope, [], 0)
    vectors = library.embedder.embed([s.text for s in said])
    similarity = vectors @ vectors.T
    candidates: list[tuple[Kind, Statement, Statement, tuple[Figure, Figure] | None, float]] = []
    set_aside: dict[str, int] = {}
    compared = 0
    for i, j in combinations(range(len(said)), 2):
        first, second = said[i], said[j]
        close = float(similarity[i, j])
        if first.passage.document_id == second.passage.document_id:
            continue
        if close < settings.disagree_min_similarity or first.text == second.text:
            continue
        compared += 1
        if first.passage.file > second.passage.file:
            first, second = second, first
        relation, pair = compare_figures(first, second, settings.disagree_tolerance)
        if relation == "conflict":
            candidates.append(("figure", first, second, pair, close))
        elif (
            relation == "no figures"
            and first.years == second.years
            and mode != EXTRACTIVE
            and negated(first.text) != negated(second.text)
        ):
            candidates.append(("claim", first, second, None, close))
        elif relation in ("different years", "different units"):
            set_aside[relation] = set_aside.get(relation, 0) + 1
    figures_first = sorted(candidates, key=lambda c: (c[0] != "figure", -c[4]))
    if mode != EXTRACTIVE:
        figures_first = figures_first[: settings.disagree_max_judged]
    conflicts: list[Conflict] = []
    rejected = 0
    chat = library.chat_model(mode) if mode != EXTRACTIVE and figures_first else None
    steps = max(1, len(figures_first))
    cancelled = False
    for done, (kind, first, second, pair, close) in enumerate(figures_first, start=1):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        report(f"{first.passage.file} / {second.passage.file}", done - 1, steps)
        if chat is not None and not judge_conflict(chat, first.text, second.text):
            rejected += 1
            continue
        n = 2 * len(conflicts) + 1
        conflicts.append(
            Conflict(
                kind,
                first.citation(n),
                second.citation(n + 1),
                pair[0].words if pair else first.text,
                pair[1].words if pair else second.text,
                _why(kind, first, second, pair),
                close,
            )
        )
    report("done", steps, steps)
    return Disagreements(
        topic, mode, scope, conflicts, compared, set_aside, rejected, cancelled=cancelled
    )
