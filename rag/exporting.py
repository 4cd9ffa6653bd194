"""A briefing or a timeline written as Markdown, Word (.docx) or PDF, each with the same
reference list."""

from __future__ import annotations

from pathlib import Path

from rag.briefing import NOT_COVERED, Briefing, reference_line
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


def front_matter(briefing: Briefing) -> list[str]:
    """The lines under the title: date, how it was written, which documents it searched."""
    searched = (
        "; ".join(briefing.scope)
        if len(briefing.scope) <= LISTED_SCOPE
        else f"{len(briefing.scope)} documents"
    )
    return [
        f"Date: {briefing.date}",
        f"Written by: {MODE_NAMES.get(briefing.mode, briefing.mode)}",
        f"Scope: searched {searched}; cited {len(briefing.cited_documents)}.",
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


def to_markdown(briefing: Briefing) -> str:
    """The briefing as Markdown: [n] markers in the text, a numbered reference list at the end."""
    lines = [f"# {briefing.title}", ""]
    lines += [f"{line}  " for line in front_matter(briefing)] + [""]
    if not briefing.covered:
        return "\n".join(lines + [NOT_COVERED, ""])
    lines += ["## Documents cited", ""] + [f"- {d}" for d in briefing.cited_documents] + [""]
    lines += ["## Key points", ""] + [f"- {s.text}" for s in briefing.summary] + [""]
    for number, section in enumerate(briefing.sections, start=1):
        lines += [f"## {section_heading(number, section.question)}", "", section.text, ""]
    if briefing.timeline:
        lines += ["## Timeline", ""] + [f"- {event_line(e)}" for e in briefing.timeline] + [""]
    if briefing.unanswered:
        lines += ["## Not answered by the library", ""]
        lines += [f"- {question}" for question in briefing.unanswered] + [""]
    lines += ["## References", ""]
    lines += [f"[{r.n}] {reference_line(r)}  " for r in briefing.references]
    lines += ["", f"*{caveat(briefing)}*", ""]
    return "\n".join(lines)


def to_docx(briefing: Briefing, path: Path) -> None:
    """The briefing as a Word document with real headings and a numbered reference list."""
    from docx import Document  # imported here: only this export needs it

    document = Document()
    document.core_properties.title = briefing.title
    document.add_heading(briefing.title, level=0)
    for line in front_matter(briefing):
        document.add_paragraph(line)
    if not briefing.covered:
        document.add_paragraph(NOT_COVERED)
    else:
        document.add_heading("Documents cited", level=1)
        for label in briefing.cited_documents:
            document.add_paragraph(label, style="List Bullet")
        document.add_heading("Key points", level=1)
        for sentence in briefing.summary:
            document.add_paragraph(sentence.text, style="List Bullet")
        for number, section in enumerate(briefing.sections, start=1):
            document.add_heading(section_heading(number, section.question), level=1)
            document.add_paragraph(section.text)
        if briefing.timeline:
            document.add_heading("Timeline", level=1)
            for event in briefing.timeline:
                document.add_paragraph(event_line(event), style="List Bullet")
        if briefing.unanswered:
            document.add_heading("Not answered by the library", level=1)
            for question in briefing.unanswered:
                document.add_paragraph(question, style="List Bullet")
        document.add_heading("References", level=1)
        for reference in briefing.references:
            document.add_paragraph(f"[{reference.n}] {reference_line(reference)}")
        document.add_paragraph().add_run(caveat(briefing)).italic = True
    document.save(str(path))


class _Pdf:
    """An A4 PDF in DejaVu Sans (Unicode) with headings and paragraphs."""

    def __init__(self, title: str, creator: str, font_dir: Path) -> None:
        from fpdf import FPDF  # imported here: only this export needs it

        missing = [name for name in PDF_FONTS.values() if not (font_dir / name).is_file()]
        if missing:
            raise ExportError(
                f"PDF export needs the DejaVu fonts ({', '.join(missing)} not in {font_dir}); "
                "install them with `apt-get install fonts-dejavu-core`"
            )
        self.pdf = FPDF(format="A4")
        self.pdf.set_margins(20, 20, 20)
        self.pdf.set_auto_page_break(True, margin=20)
        for style, name in PDF_FONTS.items():
            self.pdf.add_font("DejaVu", style, str(font_dir / name))
        self.pdf.set_title(title)
        self.pdf.set_creator(creator)
        self.pdf.add_page()

    def heading(self, text: str, size: int) -> None:
        self.pdf.set_font("DejaVu", "B", size)
        self.pdf.ln(3)
        self.pdf.multi_cell(0, size * 0.5, text, align="L", new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1.5)

    def paragraph(self, text: str, style: str = "", size: float = 10.5, indent: str = "") -> None:
        self.pdf.set_font("DejaVu", style, size)
        self.pdf.multi_cell(0, 5.2, indent + text, align="L", new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1.2)

    def save(self, path: Path) -> None:
        self.pdf.output(str(path))


def to_pdf(briefing: Briefing, path: Path, font_dir: Path = DEJAVU_DIR) -> None:
    """The briefing as a PDF in DejaVu Sans (Unicode), with the same content as the Markdown."""
    writer = _Pdf(briefing.title, "rag brief", font_dir)
    heading, paragraph = writer.heading, writer.paragraph
    heading(briefing.title, 18)
    for line in front_matter(briefing):
        paragraph(line, size=9.5)
    if not briefing.covered:
        paragraph(NOT_COVERED)
    else:
        heading("Documents cited", 13)
        for label in briefing.cited_documents:
            paragraph(label, indent="\u2022 ")
        heading("Key points", 13)
        for sentence in briefing.summary:
            paragraph(sentence.text, indent="\u2022 ")
        for number, section in enumerate(briefing.sections, start=1):
            heading(section_heading(number, section.question), 13)
            paragraph(section.text)
        if briefing.timeline:
            heading("Timeline", 13)
            for event in briefing.timeline:
                paragraph(event_line(event), indent="\u2022 ")
        if briefing.unanswered:
            heading("Not answered by the library", 13)
            for question in briefing.unanswered:
                paragraph(question, indent="\u2022 ")
        heading("References", 13)
        for reference in briefing.references:
            paragraph(f"[{reference.n}] {reference_line(reference)}", size=9)
        paragraph(caveat(briefing), style="I", size=9)
    writer.save(path)


def timeline_front_matter(timeline: Timeline) -> list[str]:
    """The lines under a timeline's title: date, how it was written, what it searched."""
    searched = (
        "; ".join(timeline.scope)
        if len(timeline.scope) <= LISTED_SCOPE
        else f"{len(timeline.scope)} documents"
    )
    return [
        f"Date: {timeline.date}",
        f"Written by: {MODE_NAMES.get(timeline.mode, timeline.mode)}",
        f"Scope: searched {searched}; {len(timeline.events)} dated events.",
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


def timeline_markdown(timeline: Timeline) -> str:
    """The timeline as Markdown: one dated line per event, a numbered reference list."""
    lines = [f"# {timeline.title}", ""]
    lines += [f"{line}  " for line in timeline_front_matter(timeline)] + [""]
    if not timeline.covered:
        return "\n".join(lines + [NO_EVENTS, ""])
    lines += ["## Events", ""] + [f"- {event_line(e)}" for e in timeline.events] + [""]
    lines += ["## References", ""]
    lines += [f"[{e.citation.n}] {reference_line(e.citation)}  " for e in timeline.events]
    lines += ["", f"*{timeline_caveat(timeline)}*", ""]
    return "\n".join(lines)


def timeline_docx(timeline: Timeline, path: Path) -> None:
    """The timeline as a Word document."""
    from docx import Document  # imported here: only this export needs it

    document = Document()
    document.core_properties.title = timeline.title
    document.add_heading(timeline.title, level=0)
    for line in timeline_front_matter(timeline):
        document.add_paragraph(line)
    if not timeline.covered:
        document.add_paragraph(NO_EVENTS)
    else:
        document.add_heading("Events", level=1)
        for event in timeline.events:
            document.add_paragraph(event_line(event), style="List Bullet")
        document.add_heading("References", level=1)
        for event in timeline.events:
            document.add_paragraph(f"[{event.citation.n}] {reference_line(event.citation)}")
        document.add_paragraph().add_run(timeline_caveat(timeline)).italic = True
    document.save(str(path))


def timeline_pdf(timeline: Timeline, path: Path, font_dir: Path = DEJAVU_DIR) -> None:
    """The timeline as a PDF, with the same content as the Markdown."""
    writer = _Pdf(timeline.title, "rag timeline", font_dir)
    writer.heading(timeline.title, 18)
    for line in timeline_front_matter(timeline):
        writer.paragraph(line, size=9.5)
    if not timeline.covered:
        writer.paragraph(NO_EVENTS)
    else:
        writer.heading("Events", 13)
        for event in timeline.events:
            writer.paragraph(event_line(event), indent="\u2022 ")
        writer.heading("References", 13)
        for event in timeline.events:
            writer.paragraph(f"[{event.citation.n}] {reference_line(event.citation)}", size=9)
        writer.paragraph(timeline_caveat(timeline), style="I", size=9)
    writer.save(path)


def export(document: Briefing | Timeline, path: Path) -> None:
    """Write a briefing or a timeline to `path` in the format its suffix names (.md, .docx or
    .pdf)."""
    suffix = path.suffix.lower()
    kind = "briefing" if isinstance(document, Briefing) else "timeline"
    if suffix not in FORMATS:
        raise ExportError(
            f"{path}: unknown {kind} format '{suffix or '(none)'}'; end the file name in "
            + ", ".join(FORMATS)
        )
    if not path.parent.is_dir():
        raise ExportError(f"{path}: the folder {path.parent} does not exist")
    try:
        if isinstance(document, Briefing):
            if suffix == ".md":
                path.write_text(to_markdown(document), encoding="utf-8")
            elif suffix == ".docx":
                to_docx(document, path)
            else:
                to_pdf(document, path)
        elif suffix == ".md":
            path.write_text(timeline_markdown(document), encoding="utf-8")
        elif suffix == ".docx":
            timeline_docx(document, path)
        else:
            timeline_pdf(document, path)
    except OSError as error:
        raise ExportError(f"{path}: cannot write the {kind} ({error.strerror or error})") from error
