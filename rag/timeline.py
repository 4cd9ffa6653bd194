"""Topic to timeline: dated events across the library, in date order, each with its citation.

An event is a whole prose sentence of a passage retrieved for the topic that states a date: a day
("April 7, 2026", "7 April 2026"), a month ("March 2026") or a year ("in 1994", "since 2001",
"FY2025"). A date without a year ("on April 8", "in early March") and a relative date ("last
year", "this month") are resolved against the date of the document that states it (the date in
its title block, such as "Updated April 13, 2026") only when that date is known; otherwise they
are not read, and a sentence dated only by them is left out. In extractive mode an event reads
as its quoted sentence; with a chat model, as a one-sentence summary that must pass the same
citation check as an answer (numbers and names in the quote, judge's yes), else the quote.
"""

from __future__ import annotations

import calendar
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from rag.answering import (
    BEGINS_SENTENCE,
    EXTRACTIVE,
    model_judge,
    neutralise,
    quotable_pieces,
)
from rag.citations import check_answer, one_by_one, strip_markers
from rag.errors import RagError
from rag.library import Library
from rag.records import Citation, DocumentInfo, Passage
from rag.text import stems

TimelineProgress = Callable[[str, int, int], None]
"""progress(step, steps done, steps in all): called as events are found and written."""

_MONTHS = {name.lower(): n for n, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.lower(): n for n, name in enumerate(calendar.month_abbr) if name}
_MONTHS["sept"] = 9
_MONTH = r"(?P<{g}>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<{g}>(?:1[89]|20)\d\d)(?!\d|,\d|'?s\b)"
_DAY_FIRST = re.compile(
    r"\b(?P<day>[0-3]?\d) " + _MONTH.format(g="month") + r",? " + _YEAR.format(g="year"), re.I
)
_MONTH_FIRST = re.compile(
    r"\b" + _MONTH.format(g="month") + r" (?P<day>[0-3]?\d)(?:st|nd|rd|th)?,? "
    r"" + _YEAR.format(g="year"),
    re.I,
)
_ANY_MONTH = r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
# "April-June 2025" is dated by its first month.
_MONTH_YEAR = re.compile(
    r"\b" + _MONTH.format(g="month") + r"(?:\s?[-\u2013]\s?" + _ANY_MONTH + r")?,? (?:of )?"
    r"" + _YEAR.format(g="year"),
    re.I,
)
# A day and month without a year ("on March 15"): the year is the document's.
# Month names without a year are capitalised ("in March", "an April 8 statement"): not "may".
_CAPITAL_MONTH = r"(?P<month>" + "|".join(n for n in calendar.month_name if n) + r")"
_MONTH_DAY = re.compile(r"\b" + _CAPITAL_MONTH + r" (?P<day>[0-3]?\d)\b(?!,? \d|\.\d)")
# A month alone ("in March", "In early March"): also the document's year.
_MONTH_ALONE = re.compile(
    r"\b(?:[Ii]n|[Ss]ince|[Bb]y|[Uu]ntil|[Ee]arly|[Mm]id|[Ll]ate)[\s-]+(?:early |mid-|late )?"
    r"" + _CAPITAL_MONTH + r"\b(?![\s,]*\d)"
)
_UPDATED = re.compile(r"\b(?:updated|published|dated)\s*$", re.I)
# A date something is compared with ("permitted ... to guarantee MMFs, as in 2008") is not
# when the sentence's event happened.
_COMPARED = re.compile(r"\b(?:as|than|like) (?:it did |they did )?in\s*$", re.I)
# How a whole sentence ends; one that does not was cut by its passage's end or a page break.
_CLOSES = re.compile(r"[.!?][\"”’)\]]*$")
# A bare year counts as a date only after words that place an event in time, perhaps
# approximately ("peaked around 1970", "in about 1970").
_BARE_YEAR = re.compile(
    r"\b(?:(?:in|since|during|until|through|from|of|by|early|mid|late|fiscal year|FY|as of)"
    r"(?: (?:about|around|approximately|roughly))?|around|circa|approximately)"
    r"[\s-]?" + _YEAR.format(g="year"),
    re.I,
)
_RELATIVE = re.compile(
    r"\b(?P<phrase>(?:earlier |later )?(?P<which>last|this|next) (?P<unit>year|month))\b", re.I
)
_SHIFT = {"last": -1, "this": 0, "next": 1}
# Words before a date that make it part of a sentence rather than of a title block.
_IN_SENTENCE = re.compile(r"\b(?:in|on|by|since|until|from|of|and|to|through)\s*,?\s*$", re.I)
LOOKAHEAD_MONTHS = 2  # a month named without a year this far after the document's is ahead
TITLE_BLOCK_CHARS = 600  # where a document's own date is looked for on its first page

SUMMARY_SYSTEM = (
    "You write one line of a timeline. Given a quoted sentence and its date, say in one short "
    "sentence what happened then, using only the quote. Copy names and numbers exactly."
)
SUMMARY_HUMAN = 'Date: {when}\nQuote: "{quote}"\n\nWhat happened then? One sentence.'


@dataclass(frozen=True)
class When:
    """A date known to the day, the month or the year."""

    year: int
    month: int | None = None
    day: int | None = None

    @property
    def key(self) -> tuple[int, int, int]:
        """Sort key: a year sorts before its months, a month before its days."""
        return (self.year, self.month or 0, self.day or 0)

    @property
    def label(self) -> str:
        if self.month is None:
            return str(self.year)
        month = calendar.month_name[self.month]
        return f"{self.day} {month} {self.year}" if self.day else f"{month} {self.year}"

    @property
    def iso(self) -> str:
        """ "2026-04-07", "2026-04" or "2026"."""
        parts = [f"{self.year:04d}"]
        if self.month:
            parts.append(f"{self.month:02d}")
        if self.day:
            parts.append(f"{self.day:02d}")
        return "-".join(parts)


@dataclass(frozen=True)
class DatedSpan:
    """A date stated in a text: when, and the words that state it."""

    when: When
    start: int
    end: int
    relative: bool = False  # stated relative to the document's date, e.g. "last year"


@dataclass(frozen=True)
class Event:
    """A dated event on the topic: what happened, and the citation of the sentence saying so."""

    when: When
    text: str  # the quoted sentence (extractive), or a summary that the quote supports
    citation: Citation
    relative: str | None = None  # the relative phrase resolved against the document's date
    similarity: float = 0.0  # of the quoted sentence to the topic


@dataclass(frozen=True)
class Timeline:
    """A cited timeline on a topic, ready to export."""

    topic: str
    title: str
    date: str  # ISO 8601: when it was made
    mode: str
    scope: list[str]  # the documents searched, as "title (file)"
    events: list[Event]  # sorted by date, numbered citations 1..n in order
    left_out: int = 0  # sentences with a relative date whose document's date is unknown

    @property
    def covered(self) -> bool:
        return bool(self.events)


def _valid(year: int, month: int | None, day: int | None) -> When | None:
    if month is None:
        return When(year)
    if day is None:
        return When(year, month)
    try:
        date(year, month, day)
    except ValueError:
        return None
    return When(year, month, day)


def find_dates(text: str, document_date: When | None = None) -> list[DatedSpan]:
    """The dates stated in `text`, in order, each the most precise reading of its words; a
    relative date only when `document_date` is given (resolved to its year or month)."""
    found: list[DatedSpan] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for pattern in (_DAY_FIRST, _MONTH_FIRST, _MONTH_YEAR, _BARE_YEAR):
        for match in pattern.finditer(text):
            start, end = (
                match.start("year") if pattern is _BARE_YEAR else match.start(),
                match.end(),
            )
            if not free(start, end):
                continue
            groups = match.groupdict()
            month = _MONTHS[groups["month"].lower()] if groups.get("month") else None
            day = int(groups["day"]) if groups.get("day") else None
            when = _valid(int(groups["year"]), month, day)
            if when is not None:
                found.append(DatedSpan(when, start, end))
                taken.append((start, end))
    if document_date is not None and document_date.month is not None:
        for pattern in (_MONTH_DAY, _MONTH_ALONE):
            for match in pattern.finditer(text):
                month = _MONTHS[match.group("month").lower()]
                day = int(match.group("day")) if pattern is _MONTH_DAY else None
                # up to LOOKAHEAD_MONTHS after the document's month: planned, the same year;
                # later: last year's
                year = document_date.year - (month > document_date.month + LOOKAHEAD_MONTHS)
                when = _valid(year, month, day)
                start = match.start("month")
                if when is not None and free(start, match.end()):
                    found.append(DatedSpan(when, start, match.end(), relative=True))
                    taken.append((start, match.end()))
    if document_date is not None:
        for match in _RELATIVE.finditer(text):
            shift = _SHIFT[match.group("which").lower()]
            if match.group("unit").lower() == "year":
                when = When(document_date.year + shift)
            elif document_date.month is None:
                continue
            else:
                months = document_date.year * 12 + document_date.month - 1 + shift
                when = When(months // 12, months % 12 + 1)
            found.append(DatedSpan(when, match.start(), match.end(), relative=True))
    return sorted(found, key=lambda d: d.start)


def document_date(text: str) -> When | None:
    """A document's own date: the first day or month date in its title block (the start of its
    first page) that is not part of a sentence ("Updated April 13, 2026", "February 2006")."""
    head = text[:TITLE_BLOCK_CHARS]
    for span in find_dates(head):
        if span.when.month is not None and not _IN_SENTENCE.search(head[: span.start]):
            return span.when
    return None


def document_dates(library: Library, documents: list[DocumentInfo]) -> dict[int, When | None]:
    """Each document's own date (see `document_date`), None when its first page has none."""
    store = library.store()
    dates: dict[int, When | None] = {}
    for document in documents:
        first = 1 if document.format == "pdf" or document.pages > 1 else None
        try:
            dates[document.id] = document_date(store.page(document.id, first).text)
        except RagError:
            dates[document.id] = None
    return dates


def whole_sentences(passages: list[Passage]) -> list[tuple[Passage, int, int]]:
    """The distinct whole prose sentences of the passages that an answer may quote
    (`quotable_pieces`: no heading run into them), as (passage, start, end): where two
    overlapping passages hold a sentence, the one that holds it whole; a sentence that does
    not begin as one (after an abbreviation: "E.O. | 14285 applications ...") or does not
    close (its passage or page ends inside it) is left out."""
    longest: dict[tuple[int, int | None, int], tuple[Passage, int, int]] = {}
    for passage in passages:
        for start, end, statement in quotable_pieces(passage.text):
            key = (passage.document_id, passage.page, passage.start + start)
            if not statement and (key not in longest or end - start > _length(longest[key])):
                longest[key] = (passage, start, end)
    return [
        (passage, start, end)
        for passage, start, end in longest.values()
        if BEGINS_SENTENCE.match(passage.text, start) and _CLOSES.search(passage.text[start:end])
    ]


def _length(piece: tuple[Passage, int, int]) -> int:
    return piece[2] - piece[1]


def candidate_events(
    passages: list[Passage], dates: dict[int, When | None]
) -> tuple[list[Event], int]:
    """One event per distinct whole prose sentence (`whole_sentences`) that states a date (its
    first one that is not a document's date or a comparison), quoted; also how many sentences
    were left out for a relative date in a document of unknown date."""
    events: list[Event] = []
    left_out = 0
    for passage, start, end in whole_sentences(passages):
        sentence = passage.text[start:end]
        spans = [  # "Updated April 9, 2026" dates the document, not an event
            span
            for span in find_dates(sentence, dates.get(passage.document_id))
            if not _UPDATED.search(sentence[: span.start])
            and not _COMPARED.search(sentence[: span.start])
        ]
        if not spans:
            left_out += bool(_RELATIVE.search(sentence))
            continue
        first = spans[0]
        relative = sentence[first.start : first.end] if first.relative else None
        citation = Citation.of(0, passage, start, end)
        events.append(Event(first.when, sentence, citation, relative))
    return events, left_out


def mentions_topic(topic: str, passage: Passage) -> bool:
    """Whether the passage and its document's title hold most of the topic's content words:
    "exchange" alone, in a report on decentralized exchanges, is not the Exchange
    Stabilization Fund, nor "mining" alone, in a report on oil sands, seabed mining."""
    wanted = stems(topic)
    held = wanted & stems(f"{passage.title} {passage.text}")
    return 2 * len(held) > len(wanted)


def summarise(chat: BaseChatModel, event: Event, passage: Passage, judge: bool) -> Event:
    """The event told in one sentence by the chat model, kept only when the citation check
    finds it supported by the quoted sentence; else the event as quoted."""
    reply = chat.invoke(
        [
            SystemMessage(SUMMARY_SYSTEM),
            HumanMessage(SUMMARY_HUMAN.format(when=event.when.label, quote=neutralise(event.text))),
        ],
        max_tokens=60,
        temperature=0,
    )
    summary = " ".join(strip_markers(reply.text).split())
    if not summary:
        return event
    quoted = replace(passage, text=event.text, start=event.citation.page_start)
    checked = check_answer(
        f"What happened in {event.when.label}?",
        f"{summary} [1]",
        [quoted],
        one_by_one(model_judge(chat)) if judge else None,
        mode="timeline",
    )
    if checked.refused or any(s.verdict != "supported" for s in checked.sentences):
        return event
    return replace(event, text=strip_markers(checked.text).strip())


def build_timeline(
    library: Library,
    topic: str,
    *,
    documents: list[str] | None = None,
    mode: str | None = None,
    progress: TimelineProgress | None = None,
    cancel: threading.Event | None = None,
    today: date | None = None,
) -> Timeline:
    """Dated events on `topic` across the named `documents` (default: the whole library),
    sorted by date, at most `timeline_max_events` (the closest to the topic). An event's
    closeness is the larger of its sentence's and its passage's similarity to the topic; it
    must reach `timeline_min_relevance`, and the passage or its title must hold a word of the
    topic. `cancel`, once set, stops writing summaries
    (the events found so far stay, quoted)."""
    topic = " ".join(topic.split())
    if not topic:
        raise RagError("the timeline topic is empty")
    settings = library.settings
    mode = mode or settings.generator
    report = progress or (lambda step, done, total: None)
    chosen = (
        [library.find_document(reference) for reference in documents]
        if documents
        else library.documents()
    )
    report("searching", 0, 1)
    passages = library.retrieve(
        topic,
        k=settings.timeline_passages,
        document_ids=[d.id for d in chosen] if documents else None,
    )
    by_chunk = {p.chunk_id: p for p in passages}
    found: list[Event] = []
    left_out = 0
    if library.chain.relevant(passages):
        dates = document_dates(library, chosen)
        found, left_out = candidate_events(passages, dates)
    if found:
        vectors = library.embedder.embed([topic] + [e.text for e in found])
        scored = [
            replace(
                event,
                similarity=max(
                    float(similarity), by_chunk[event.citation.chunk_id].dense_similarity or 0.0
                ),
            )
            for event, similarity in zip(found, vectors[1:] @ vectors[0], strict=True)
            if mentions_topic(topic, by_chunk[event.citation.chunk_id])
        ]
        found = sorted(
            (e for e in scored if e.similarity >= settings.timeline_min_relevance),
            key=lambda e: -e.similarity,
        )[: settings.timeline_max_events]
    found.sort(key=lambda e: (e.when.key, e.citation.file, e.citation.page_start))
    quoted = library.chain.without_run_in_headings([e.citation for e in found], passages)
    found = [replace(e, text=c.quote, citation=c) for e, c in zip(found, quoted, strict=True)]
    total = len(found) + 1 if mode != EXTRACTIVE else 1
    report("found", 1, total)
    if mode != EXTRACTIVE:
        chat = library.chat_model(mode)
        for done, event in enumerate(list(found), start=2):
            if cancel is not None and cancel.is_set():
                break
            found[done - 2] = summarise(
                chat, event, by_chunk[event.citation.chunk_id], settings.judge_citations
            )
            report(event.when.label, done, total)
    events = [replace(e, citation=replace(e.citation, n=n)) for n, e in enumerate(found, 1)]
    return Timeline(
        topic=topic,
        title=f"Timeline: {topic[:1].upper()}{topic[1:]}",
        date=(today or date.today()).isoformat(),
        mode=mode,
        scope=[f"{d.title} ({d.file})" for d in chosen],
        events=events,
        left_out=left_out,
    )
