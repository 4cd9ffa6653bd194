"""Briefings, timelines and disagreement reports written as Markdown, Word (.docx) or PDF.

Each kind of document is first laid out as a list of `Block`s (title, front matter, headings,
paragraphs, bullets, references, a closing note); one writer per format renders any such list,
so the three formats hold the same words and the same reference list."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Literal

from rag.answering import EXTRACTIVE
from rag.briefing import NOT_COVERED, Briefing, reference_line
from rag.disagreeing import NO_DISAGREEMENT, Disagreements
from rag.errors import ExportError
from rag.timeline import Event, Timeline

NO_EVENTS = "Not in the library: no dated statement on this topic was found."

FORMATS = (".md", ".docx", ".pdf")
DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")  # Debian package fonts-dejavu-core
LISTED_SCOPE = 3  # a scope of more documents is given as a count
PDF_FONTS = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
MODE_NAMES = {
    "extractive": "extractive (quoted sentences, no generator)",
    "local": "local model (Qwen2.5-Coder-1.5B-Instruct, offline)",
    "openai": "OpenAI-compatible server",
}

Exportable = Briefing | Timeline | Disagreements
BlockKind = Literal["title", "meta", "heading", "text", "bullet", "reference", "note"]


@dataclass(frozen=True)
class Block:
    """One piece of an exported document: its kind decides how each format sets it."""

    kind: BlockKind
    text: str


def searched(scope: list[str]) -> str:
    """The documents searched: listed when few, counted when many."""
    return "; ".join(scope) if len(scope) <= LISTED_SCOPE else f"{len(scope)} documents"


def front_matter(briefing: Briefing) -> list[str]:
    """The lines under the title: date, how it was written, which documents it searched."""
    return [
        f"Date: {briefing.date}",
        f"Written by: {MODE_NAMES.get(briefing.mode, briefing.mode)}",
        f"Scope: searched {searched(briefing.scope)}; cited {len(briefing.cited_documents)}.",
    ]


def section_heading(number: int, question: str) -> str:
    return f"{number}. {question}"


def caveat(briefing: Briefing) -> str:
    """What the briefing leaves out and why."""
    kept = "Only sentences whose cited passage supports them are kept"
    if not briefing.dropped_sentences:
        return kept + "."
    return f"{kept}; {briefing.dropped_sentences} other sentence(s) were left out."


def event_line(event: Event) -> str:
    """A timeline event as every export writes it: its date, what happened, its marker."""
    relative = f" (\u201c{event.relative}\u201d)" if event.relative else ""
    return f"{event.when.label}{relative}: {event.text} [{event.citation.n}]"


def _blocks(kind: BlockKind, texts: list[str]) -> list[Block]:
    return [Block(kind, text) for text in texts]


def briefing_blocks(briefing: Briefing) -> list[Block]:
    """The briefing laid out: key points, one section per sub-question, references."""
    blocks = [Block("title", briefing.title), *_blocks("meta", front_matter(briefing))]
    if not briefing.covered:
        return [*blocks, Block("text", NOT_COVERED)]
    blocks += [Block("heading", "Documents cited"), *_blocks("bullet", briefing.cited_documents)]
    blocks += [Block("heading", "Key points")]
    blocks += _blocks("bullet", [sentence.text for sentence in briefing.summary])
    for number, section in enumerate(briefing.sections, start=1):
        blocks += [Block("heading", section_heading(number, section.question))]
        blocks += [Block("text", section.text)]
    if briefing.timeline:
        blocks += [Block("heading", "Timeline")]
        blocks += _blocks("bullet", [event_line(event) for event in briefing.timeline])
    if briefing.unanswered:
        blocks += [Block("heading", "Not answered by the library")]
        blocks += _blocks("bullet", briefing.unanswered)
    blocks += [Block("heading", "References")]
    blocks += _blocks("reference", [f"[{r.n}] {reference_line(r)}" for r in briefing.references])
    return [*blocks, Block("note", caveat(briefing))]


def timeline_front_matter(timeline: Timeline) -> list[str]:
    """The lines under a timeline's title: date, how it was written, what it searched."""
    return [
        f"Date: {timeline.date}",
        f"Written by: {MODE_NAMES.get(timeline.mode, timeline.mode)}",
        f"Scope: searched {searched(timeline.scope)}; {len(timeline.events)} dated events.",
    ]


def timeline_caveat(timeline: Timeline) -> str:
    """How the dates were read, and what was left out."""
    kept = (
        "Dates are as the cited sentence states them; a relative date is resolved against "
        "its document's date"
    )
    if not timeline.left_out:
        return kept + "."
    return f"{kept}; {timeline.left_out} sentence(s) dated only relative to an unknown date were left out."


def timeline_blocks(timeline: Timeline) -> list[Block]:
    """The timeline laid out: one dated line per event, a numbered reference list."""
    blocks = [Block("title", timeline.title), *_blocks("meta", timeline_front_matter(timeline))]
    if not timeline.covered:
        return [*blocks, Block("text", NO_EVENTS)]
    blocks += [Block("heading", "Events")]
    blocks += _blocks("bullet", [event_line(event) for event in timeline.events])
    blocks += [Block("heading", "References")]
    blocks += _blocks(
        "reference", [f"[{e.citation.n}] {reference_line(e.citation)}" for e in timeline.events]
    )
    return [*blocks, Block("note", timeline_caveat(timeline))]


def disagreements_front_matter(result: Disagreements) -> list[str]:
    """What was compared, how each pair was checked, and what was not reported."""
    judge = "the figure rule" if result.mode == EXTRACTIVE else f"the {result.mode} model"
    lines = [
        f"Date: {result.date}",
        f"Compared {result.compared} pairs of statements about the same thing from "
        f"{len(result.scope)} documents, each checked by {judge}.",
    ]
    aside = ", ".join(f"{n} for {reason}" for reason, n in sorted(result.set_aside.items()))
    if aside:
        lines.append(f"Not reported as conflicts: {aside}.")
    if result.rejected_by_judge:
        lines.append(
            f"Left out: {result.rejected_by_judge} pair(s) the judge found not to contradict "
            "each other."
        )
    return lines


def disagreements_blocks(result: Disagreements) -> list[Block]:
    """The conflicts found, each with both statements quoted and cited, and why they conflict;
    or "No disagreement found."."""
    blocks = [Block("title", f"Where sources disagree: {result.topic}")]
    blocks += _blocks("meta", disagreements_front_matter(result))
    if result.cancelled:
        blocks += [Block("note", "Cancelled: not every pair was judged.")]
    if not result.found:
        return [*blocks, Block("text", NO_DISAGREEMENT)]
    for number, conflict in enumerate(result.conflicts, start=1):
        words = f"{conflict.first_words} \u2194 {conflict.second_words}"
        blocks += [Block("heading", section_heading(number, words))]
        blocks += _blocks(
            "bullet", [f"[{c.n}] {reference_line(c)}" for c in (conflict.first, conflict.second)]
        )
        blocks += [Block("text", f"Why: {conflict.why}.")]
    return blocks


def blocks(document: Exportable) -> list[Block]:
    """Any exportable document laid out as blocks."""
    if isinstance(document, Briefing):
        return briefing_blocks(document)
    if isinstance(document, Timeline):
        return timeline_blocks(document)
    return disagreements_blocks(document)


_MARKDOWN_LINE = {
    "title": "# {}",
    "meta": "{}  ",
    "heading": "## {}",
    "text": "{}",
    "bullet": "- {}",
    "reference": "{}  ",
    "note": "*{}*",
}
_GROUPED = {"meta", "bullet", "reference"}  # consecutive blocks of these kinds form one list


def to_markdown(document: Exportable) -> str:
    """The document as Markdown: [n] markers in the text, its reference list at the end."""
    lines: list[str] = []
    for kind, group in groupby(blocks(document), key=lambda block: block.kind):
        texts = [_MARKDOWN_LINE[kind].format(block.text) for block in group]
        if kind in _GROUPED:
            lines += [*texts, ""]
        else:
            lines += [line for text in texts for line in (text, "")]
    return "\n".join(lines)


def to_docx(document: Exportable, path: Path) -> None:
    """The document as Word, with real headings and list paragraphs."""
    from docx import Document  # imported here: only this export needs it

    word = Document()
    for block in blocks(document):
        if block.kind == "title":
            word.core_properties.title = block.text
            word.add_heading(block.text, level=0)
        elif block.kind == "heading":
            word.add_heading(block.text, level=1)
        elif block.kind == "bullet":
            word.add_paragraph(block.text, style="List Bullet")
        elif block.kind == "note":
            word.add_paragraph().add_run(block.text).italic = True
        else:
            word.add_paragraph(block.text)
    word.save(str(path))


def to_pdf(document: Exportable, path: Path, font_dir: Path = DEJAVU_DIR) -> None:
    """The document as an A4 PDF in DejaVu Sans (Unicode)."""
    from fpdf import FPDF  # imported here: only this export needs it

    missing = [name for name in PDF_FONTS.values() if not (font_dir / name).is_file()]
    if missing:
        raise ExportError(
            f"PDF export needs the DejaVu fonts ({', '.join(missing)} not in {font_dir}); "
            "install them with `apt-get install fonts-dejavu-core`"
        )
    pdf = FPDF(format="A4")
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    for style, name in PDF_FONTS.items():
        pdf.add_font("DejaVu", style, str(font_dir / name))
    pdf.set_creator("rag")
    pdf.add_page()

    def heading(text: str, size: int) -> None:
        pdf.set_font("DejaVu", "B", size)
        pdf.ln(3)
        pdf.multi_cell(0, size * 0.5, text, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)

    def paragraph(text: str, style: str = "", size: float = 10.5, indent: str = "") -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(0, 5.2, indent + text, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.2)

    for block in blocks(document):
        if block.kind == "title":
            pdf.set_title(block.text)
            heading(block.text, 18)
        elif block.kind == "heading":
            heading(block.text, 13)
        elif block.kind == "meta":
            paragraph(block.text, size=9.5)
        elif block.kind == "bullet":
            paragraph(block.text, indent="\u2022 ")
        elif block.kind == "reference":
            paragraph(block.text, size=9)
        elif block.kind == "note":
            paragraph(block.text, style="I", size=9)
        else:
            paragraph(block.text)
    pdf.output(str(path))


def _kind(document: Exportable) -> str:
    if isinstance(document, Briefing):
        return "briefing"
    return "timeline" if isinstance(document, Timeline) else "disagreement report"


def export(document: Exportable, path: Path) -> None:
    """Write a briefing, timeline or disagreement report to `path` in the format its suffix
    names (.md, .docx or .pdf)."""
    suffix = path.suffix.lower()
    kind = _kind(document)
    if suffix not in FORMATS:
        raise ExportError(
            f"{path}: unknown {kind} format '{suffix or '(none)'}'; end the file name in "
            + ", ".join(FORMATS)
        )
    if not path.parent.is_dir():
        raise ExportError(f"{path}: the folder {path.parent} does not exist")
    try:
        if suffix == ".md":
            path.write_text(to_markdown(document), encoding="utf-8")
        elif suffix == ".docx":
            to_docx(document, path)
        else:
            to_pdf(document, path)
    except OSError as error:
        raise ExportError(f"{path}: cannot write the {kind} ({error.strerror or error})") from error
