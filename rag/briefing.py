"""Topic to briefing: plan sub-questions, answer each with checked citations, assemble one document.

A briefing holds only sentences whose citation check says "supported": sentences judged weak or
unsupported, and sentences without a citation, never reach it. Citations are renumbered across
the whole briefing so that one quoted span of one page has one number everywhere, and a
sentence already used by an earlier section is not repeated.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import pairwise, zip_longest

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from rag.answering import EXTRACTIVE, is_prose, neutralise
from rag.citations import cite_claims, parse_markers, strip_markers
from rag.errors import RagError
from rag.headings import HeadingFinder
from rag.library import Library
from rag.records import Answer, Citation, Passage, Sentence
from rag.text import STOPWORDS, sentence_spans, stem, stems, words
from rag.timeline import Event, build_timeline, mentions_topic

BriefingProgress = Callable[[str, int, int], None]
"""progress(step, steps done, steps in all): called as the briefing is planned and written."""
QuoteMover = Callable[[list[Citation], list[Passage]], list[Citation]]
"""Citations with their quotes moved past headings run into their start."""

NOT_COVERED = "Not in the library: none of the indexed documents covers this topic."
PLANNER_SYSTEM = (
    "You plan a short briefing for trainers. Write questions that the briefing should answer. "
    "Reply with the questions only, one per line."
)
PLANNER_HUMAN = (
    "Topic: {topic}\n\nSome of what the reports say:\n{context}\n\n"
    "Write {n} short questions about {topic} that these reports can answer. "
    "Each question names the topic. One question per line."
)
PLANNER_CONTEXT_PASSAGES = 4
# Spare sub-questions tried when planned ones keep nothing supported: a small model keeps no
# supported sentence for about half of them (BENCHMARKS.md, issue 8).
SPARES_PER_SECTION = 1
TOPIC_POOL = 200  # passages searched for a topic's documents (a report's best may rank 80th)
_DOT_LEADER = re.compile(r"\.{4,}|(?:\. ){4,}")  # a table-of-contents line
_LIST_PREFIX = re.compile(
    r"^\s*(?:[-*\u2022]|\(?\d{1,2}[.):]|q\d{1,2}[.:)]?|question \d+:)\s*", re.I
)
_NAME = re.compile(r"\b[A-Z][\w'-]*(?:\s+(?:of|for|and|the|on)?\s*[A-Z][\w'-]*)*")
# A date, not a name: "Iran on February 28" runs a name into a month
_MONTHS = frozenset(
    "january february march april may june july august september october november december".split()
)
# Words that never name what a passage adds to a topic: stopwords, and the vocabulary of reports.
_PHRASE_STOPWORDS = STOPWORDS | frozenset(
    "may also among according however since although additional potential proposed several "
    "including include includes might must certain various many much using based related within "
    "without upon like described following report reports figure table source section example "
    "new first second last one two three".split()
)


@dataclass(frozen=True)
class Section:
    """A sub-question and the supported sentences that answer it, with global [n] markers."""

    question: str
    sentences: list[Sentence]

    @property
    def text(self) -> str:
        return " ".join(sentence.text for sentence in self.sentences)


@dataclass(frozen=True)
class Briefing:
    """A cited briefing on a topic, ready to export."""

    topic: str
    title: str
    date: str  # ISO 8601
    mode: str
    scope: list[str]  # the documents searched, as "title (file)"
    cited_documents: list[str]
    summary: list[Sentence]  # key points: the first sentence of each section
    sections: list[Section]
    references: list[Citation]  # numbered across the briefing, in order of first use
    unanswered: list[str] = field(default_factory=list)  # sub-questions with nothing supported
    dropped_sentences: int = 0  # sentences left out as weak, unsupported or uncited
    timeline: list[Event] = field(default_factory=list)  # dated events, briefing's numbering

    @property
    def covered(self) -> bool:
        """False when the library holds nothing on the topic."""
        return bool(self.sections)


# -- planning --------------------------------------------------------------------------------


def parse_questions(reply: str, topic: str) -> list[str]:
    """The distinct questions of a planner's reply, one per line, without list numbering."""
    questions: dict[str, str] = {}
    for line in reply.splitlines():
        question = _LIST_PREFIX.sub("", line).strip().strip("\"'*").strip()
        if (
            len(question.split()) < 3
            or question.endswith(":")  # a lead-in such as "Here are the questions:"
            or question.lower().rstrip("?") == topic.lower()
        ):
            continue
        if not question.endswith("?"):
            question = question.rstrip(".:;") + "?"
        questions.setdefault(question.lower(), question)
    return list(questions.values())


def model_questions(chat: BaseChatModel, topic: str, n: int, passages: list[Passage]) -> list[str]:
    """Up to `n` sub-questions written by the chat model from the topic and leading passages;
    questions that share no content word with the topic are left out."""
    context = "\n".join(
        f"- {neutralise(_leading_sentence(passage))}"
        for passage in passages[:PLANNER_CONTEXT_PASSAGES]
    )
    prompt = PLANNER_HUMAN.format(topic=topic, context=context, n=n)
    reply = chat.invoke([SystemMessage(PLANNER_SYSTEM), HumanMessage(prompt)], max_tokens=40 * n)
    topic_words = stems(topic)
    on_topic = [q for q in parse_questions(reply.text, topic) if stems(q) & topic_words]
    return on_topic[:n]


def _leading_sentence(passage: Passage) -> str:
    """The first prose sentence of a passage (the passage start when none is prose)."""
    return next(iter(prose_sentences(passage)), passage.text[:200])


def prose_sentences(passage: Passage) -> list[str]:
    """The passage's prose sentences, leaving out page furniture such as running headers that
    repeat the document title."""
    sentences = (passage.text[start:end] for start, end in sentence_spans(passage.text))
    return [s for s in sentences if is_prose(s) and passage.title.lower() not in s.lower()]


def key_phrase(passage: Passage, topic: str, used: set[str]) -> str | None:
    """The phrase that best names what a passage adds to the topic: the most frequent pair of
    content words, or name of several words, in its prose, leaving out the words of the topic
    and of the document title, and phrases already `used`."""
    known = {stem(word) for word in words(f"{topic} {passage.title}")}

    def content(word: str) -> bool:
        return len(word) > 2 and word not in _PHRASE_STOPWORDS and not word.isdigit()

    phrases: Counter[str] = Counter()
    for sentence in prose_sentences(passage):
        tokens = re.findall(r"[\w-]+", sentence.lower())
        for first, second in pairwise(tokens):
            if content(first) and content(second) and not {stem(first), stem(second)} & known:
                phrases[f"{first} {second}"] += 1
        for match in _NAME.finditer(sentence):
            name = match.group()
            if (
                match.start() > 0
                and len(name.split()) > 1
                and name.lower() not in passage.title.lower()
                and not _MONTHS.intersection(name.lower().split())  # "Iran on February"
            ):
                phrases[name] += 2
    ranked = [p for p, _ in phrases.most_common() if p.lower() not in used]
    return ranked[0] if ranked else None


def extractive_questions(
    topic: str, n: int, passages: list[Passage], headings: HeadingFinder | None = None
) -> list[str]:
    """Up to `n` sub-questions derived from the best passages on the topic, one per distinct
    document page: first about the headings of the sections the passages are in, in the words
    of the reports (the documents' own structure), then, for the passages left, about each
    one's key phrase in the topic's terms."""
    questions: list[str] = []
    used: set[str] = set()
    pages: set[tuple[int, int | None]] = set()

    def open_page(passage: Passage) -> bool:
        return len(questions) < n and (passage.document_id, passage.page) not in pages

    def ask(passage: Passage, subject: str, question: str) -> None:
        pages.add((passage.document_id, passage.page))
        used.add(subject.lower())
        questions.append(question)

    if headings is not None:
        for passage in passages:
            if open_page(passage) and (asked := _heading_question(passage, topic, used, headings)):
                ask(passage, *asked)
    for passage in passages:
        if open_page(passage) and (phrase := key_phrase(passage, topic, used)):
            ask(passage, phrase, f"What do the reports say about {phrase} in {topic}?")
    return questions


def _heading_question(
    passage: Passage, topic: str, used: set[str], headings: HeadingFinder
) -> tuple[str, str] | None:
    """(heading, question) for the section a passage is in: its heading as the report writes
    it, with the topic added unless the heading holds every word of it. None when the passage
    has no heading, or one already asked about, or only the document's title."""
    heading = headings.heading_of(passage)
    if heading is None or heading.lower() in used or _names_document(heading, passage):
        return None
    question = f"What do the reports say about {heading}"
    if not stems(topic) <= stems(heading):
        question += f" in {topic}"
    return heading, f"{question}?"


def _names_document(heading: str, passage: Passage) -> bool:
    """Whether a heading is the document's title, or part of it, as on a title page."""
    title = " ".join(passage.title.lower().split())
    return heading.lower() in title or title in heading.lower()


def plan_subquestions(
    library: Library,
    topic: str,
    n: int,
    *,
    documents: list[str] | None = None,
    mode: str = EXTRACTIVE,
    passages: list[Passage] | None = None,
    derived: list[str] | None = None,
) -> list[str]:
    """Sub-questions that cover the topic: written by the chat model of `mode`, topped up with
    questions derived from the passages (`derived`, if already made) when the model's reply
    gives fewer than `n`; derived from the passages alone in extractive mode."""
    if passages is None:
        passages = topic_passages(library, topic, n, documents)
    if derived is None:
        derived = derived_questions(library, topic, n, passages)
    if mode == EXTRACTIVE:
        return derived[:n]
    planned = model_questions(library.chat_model(mode), topic, n, passages)
    known = {question.lower() for question in planned}
    return planned + [q for q in derived if q.lower() not in known][: max(0, n - len(planned))]


def derived_questions(
    library: Library, topic: str, sections: int, passages: list[Passage]
) -> list[str]:
    """The sub-questions derived from the passages for `sections` sections and their spares,
    asked about the headings of their sections (`briefing_headings`)."""
    headings = HeadingFinder(library.store()) if library.settings.briefing_headings else None
    return extractive_questions(topic, _with_spares(sections), passages, headings)


def _with_spares(sections: int) -> int:
    """Sub-questions to have at hand for `sections` sections: one each, and the spares."""
    return sections * (1 + SPARES_PER_SECTION)


def topic_passages(
    library: Library, topic: str, n: int, documents: list[str] | None
) -> list[Passage]:
    """The passages that best match the topic, enough to plan `n` sections and spares, taken
    in turn from each document that holds a relevant one: a long report would otherwise fill
    the plan, and a briefing must draw on every report on its topic."""
    document_ids = library.document_ids(documents) if documents else None
    k = max(library.settings.top_k, 4 * _with_spares(n))
    pool = library.retrieve(topic, k=TOPIC_POOL, candidates=TOPIC_POOL, document_ids=document_ids)
    return take_turns(pool, library.settings.min_relevance, topic)[:k]


def take_turns(passages: list[Passage], min_relevance: float, topic: str) -> list[Passage]:
    """The passages of the documents on the topic, one of each document in turn, each
    document's in their order; documents in the order of their first passage. A document is
    on the topic when its best passage is relevant (`min_relevance`) and one of its passages
    names the topic (`mentions_topic`: a report on decentralized exchanges is not about the
    Exchange Stabilization Fund, however close its passages on exchanges)."""
    by_document: dict[int, list[Passage]] = {}
    for passage in passages:
        by_document.setdefault(passage.document_id, []).append(passage)
    relevant = [
        ranked
        for ranked in by_document.values()
        if max(p.dense_similarity or 0.0 for p in ranked) >= min_relevance
        and any(mentions_topic(topic, p) for p in ranked)
    ]
    return [p for turn in zip_longest(*relevant) for p in turn if p is not None]


# -- assembling ------------------------------------------------------------------------------


class _Numbering:
    """Global citation numbers: one per distinct (file, page, quoted words)."""

    def __init__(self) -> None:
        self.references: dict[tuple[str, int | None, str], Citation] = {}

    def number(self, citation: Citation) -> int:
        key = (citation.file, citation.page, citation.quote.strip())
        if key not in self.references:
            self.references[key] = replace(citation, n=len(self.references) + 1)
        return self.references[key].n


def renumber(text: str, numbers: dict[int, int]) -> str:
    """`text` with each marker [n] rewritten [numbers[n]]; a number repeated within a run of
    adjacent markers ("[1][2]" where both become 4) is written once."""
    pieces: list[str] = []
    done = 0
    run: set[int] = set()
    for marker in parse_markers(text):
        if text[done : marker.start]:
            run = set()
        new = [n for n in dict.fromkeys(numbers[n] for n in marker.numbers) if n not in run]
        run.update(new)
        pieces += [text[done : marker.start], "".join(f"[{n}]" for n in new)]
        done = marker.end
    return "".join(pieces) + text[done:]


def _reads_as_prose(claim: str, cited: list[int], citations: dict[int, Citation]) -> bool:
    """False for quoted page furniture: a running header holding its document's title, a
    heading ending in a colon, a link or footnote; also for a claim resting on a quote from a
    table of contents, which names a subject without saying anything about it."""
    titles = [citations[n].document.lower() for n in cited]
    return (
        is_prose(claim)
        and not claim.endswith(":")
        and not any(title in claim.lower() for title in titles)
        and not any(_DOT_LEADER.search(citations[n].quote) for n in cited)
    )


def supported_section(
    answer: Answer, numbering: _Numbering, seen: set[str], quoting: QuoteMover
) -> tuple[Section, int]:
    """The section made of an answer's supported sentences not `seen` before, with global
    citation numbers; also how many sentences were dropped as weak, unsupported or uncited.

    Each sentence's citations quote the passage sentence closest to it, so that a passage cited
    by two sentences gives each its own quoted words (and reference number), without a heading
    run into their start (`quoting`: `AnswerChain.without_run_in_headings`)."""
    passages = {passage.chunk_id: passage for passage in answer.passages}
    by_n = {citation.n: citation for citation in answer.citations}
    kept: list[Sentence] = []
    dropped = 0
    if answer.refused:
        return Section(answer.question, []), 0
    for sentence in answer.sentences:
        if sentence.verdict != "supported" or not sentence.citations:
            dropped += 1
            continue
        claim = " ".join(_LIST_PREFIX.sub("", strip_markers(sentence.text), count=1).split())
        closest = [cite_claims(n, passages[by_n[n].chunk_id], [claim]) for n in sentence.citations]
        quoted = {citation.n: citation for citation in quoting(closest, answer.passages)}
        if claim.lower() in seen or not _reads_as_prose(claim, sentence.citations, quoted):
            continue
        seen.add(claim.lower())
        numbers = {n: numbering.number(quoted[n]) for n in sentence.citations}
        kept.append(
            Sentence(
                text=renumber(_LIST_PREFIX.sub("", sentence.text.strip(), count=1), numbers),
                citations=list(dict.fromkeys(numbers[n] for n in sentence.citations)),
                verdict="supported",
            )
        )
    return Section(answer.question, kept), dropped


def _label(title: str, file: str) -> str:
    return f"{title} ({file})"


def build_briefing(
    library: Library,
    topic: str,
    sections: int = 5,
    *,
    documents: list[str] | None = None,
    mode: str | None = None,
    progress: BriefingProgress | None = None,
    today: date | None = None,
    timeline: bool = False,
) -> Briefing:
    """A briefing of up to `sections` sections on `topic`, from the named `documents` (default:
    the whole library), answered in `mode` ("extractive", "local", "openai"; default: the
    generator setting).

    Only sentences with a "supported" verdict are kept (weak, unsupported and uncited ones are
    dropped and counted). A sub-question whose answer keeps nothing is listed as unanswered and
    a spare derived sub-question is tried in its place (SPARES_PER_SECTION per section asked
    for; a spare that keeps nothing is not listed: nobody asked it). When no passage is close
    enough to the topic, no model is asked and the briefing says so. With `timeline`, a
    Timeline section of the topic's dated events (see `rag.timeline`) follows the sections,
    its citations numbered with theirs.
    """
    topic = " ".join(topic.split())
    if not topic:
        raise RagError("the briefing topic is empty")
    if sections < 1:
        raise RagError(f"a briefing needs at least one section (got {sections})")
    mode = mode or library.settings.generator
    report = progress or (lambda step, done, total: None)
    scope = [
        _label(d.title, d.file)
        for d in (
            [library.find_document(reference) for reference in documents]
            if documents
            else library.documents()
        )
    ]
    passages = topic_passages(library, topic, sections, documents)
    total = sections + 1
    report("planning", 0, total)
    questions: list[str] = []
    spares: list[str] = []
    if library.chain.relevant(passages):
        derived = derived_questions(library, topic, sections, passages)
        questions = plan_subquestions(
            library,
            topic,
            sections,
            documents=documents,
            mode=mode,
            passages=passages,
            derived=derived,
        )
        reserve = [q for q in derived if q not in questions]
        spares = reserve[: _with_spares(sections) - sections]
        questions += spares
    report("planned", 1, total)
    numbering = _Numbering()
    seen: set[str] = set()
    written: list[Section] = []
    unanswered: list[str] = []
    dropped = 0
    for question in questions:
        if len(written) == sections:
            break
        answer = library.ask(question, mode=mode, documents=documents, open_question=True)
        section, lost = supported_section(
            answer, numbering, seen, library.chain.without_run_in_headings
        )
        dropped += lost
        if section.sentences:
            written.append(section)
            if len(written) < sections:  # the last step is reported once, as "done"
                report(question, len(written) + 1, total)
        elif question not in spares:
            unanswered.append(question)
    events: list[Event] = []
    if timeline and written:
        report("timeline", total - 1, total)
        dated = build_timeline(library, topic, documents=documents, mode=mode, today=today)
        events = [
            replace(e, citation=replace(e.citation, n=numbering.number(e.citation)))
            for e in dated.events
        ]
    report("done", total, total)
    references = list(numbering.references.values())
    return Briefing(
        topic=topic,
        title=f"Briefing: {topic[:1].upper()}{topic[1:]}",
        date=(today or date.today()).isoformat(),
        mode=mode,
        scope=scope,
        cited_documents=list(dict.fromkeys(_label(r.document, r.file) for r in references)),
        summary=[section.sentences[0] for section in written],
        sections=written,
        references=references,
        unanswered=unanswered,
        dropped_sentences=dropped,
        timeline=events,
    )


def reference_line(reference: Citation) -> str:
    """A reference as every export writes it: title, page, file and the quoted words."""
    page = f", page {reference.page}" if reference.page is not None else ""
    return f"{reference.document}{page} ({reference.file}): \u201c{reference.quote}\u201d"
