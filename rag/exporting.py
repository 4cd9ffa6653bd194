"""A briefing written as Markdown, Word (.docx) or PDF, each with the same reference list."""

from __future__ import annotations

from pathlib import Path

from rag.briefing import NOT_COVERED, Briefing, reference_line
from rag.errors import ExportError

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
        if briefing.unanswered:
            document.add_heading("Not answered by the library", level=1)
            for question in briefing.unanswered:
                document.add_paragraph(question, style="List Bullet")
        document.add_heading("References", level=1)
        for reference in briefing.references:
            document.add_paragraph(f"[{reference.n}] {reference_line(reference)}")
        document.add_paragraph().add_run(caveat(briefing)).italic = True
    document.save(str(path))


def to_pdf(briefing: Briefing, path: Path, font_dir: Path = DEJAVU_DIR) -> None:
    """The briefing as a PDF in DejaVu Sans (Unicode), with the same content as the Markdown."""
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
    pdf.set_title(briefing.title)
    pdf.set_creator("rag brief")
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
        if briefing.unanswered:
            heading("Not answered by the library", 13)
            for question in briefing.unanswered:
                paragraph(question, indent="\u2022 ")
        heading("References", 13)
        for reference in briefing.references:
            paragraph(f"[{reference.n}] {reference_line(reference)}", size=9)
        paragraph(caveat(briefing), style="I", size=9)
    pdf.output(str(path))


def export(briefing: Briefing, path: Path) -> None:
    """Write the briefing to `path` in the format its suffix names (.md, .docx or .pdf)."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(
            f"{path}: unknown briefing format '{suffix or '(none)'}'; end the file name in "
            + ", ".join(FORMATS)
        )
    if not path.parent.is_dir():
        raise ExportError(f"{path}: the folder {path.parent} does not exist")
    try:
        if suffix == ".md":
            path.write_text(to_markdown(briefing), encoding="utf-8")
        elif suffix == ".docx":
            to_docx(briefing, path)
        else:
            to_pdf(briefing, path)
    except OSError as error:
        raise ExportError(
            f"{path}: cannot write the briefing ({error.strerror or error})"
        ) from error
