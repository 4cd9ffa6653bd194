"""Documents × questions: each question answered from each document alone, as a table.

Every cell is one `AnswerChain` answer restricted to one document, with the same citation check
as `rag ask`; a cell whose answer is refused reads "not in this document". The table exports
to Markdown, CSV and Excel (.xlsx), each keeping every citation's file, page and quoted words.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.answering import AnswerRequest
from rag.errors import ExportError, RagError
from rag.library import Library
from rag.records import Answer, Citation, DocumentInfo

MAX_QUESTIONS = 10
NOT_IN_DOCUMENT = "Not in this document."
FORMATS = (".md", ".csv", ".xlsx")
CSV_COLUMNS = ["document", "file", "question", "answer", "n", "cited file", "page", "quote"]

CompareProgress = Callable[[str, int, int], None]
"""progress(cell label, cells done, cells in all): called as each cell is answered."""


@dataclass(frozen=True)
class Cell:
    """The answer to one question from one document."""

    document: DocumentInfo
    question: str
    answer: Answer

    @property
    def found(self) -> bool:
        return not self.answer.refused

    @property
    def text(self) -> str:
        """The short answer with its [n] markers, or "Not in this document."."""
        return self.answer.text if self.found else NOT_IN_DOCUMENT

    @property
    def citations(self) -> list[Citation]:
        return self.answer.citations if self.found else []


@dataclass(frozen=True)
class Comparison:
    """A documents × questions table; `cells` holds one cell per pair that was answered (all,
    unless the comparison was cancelled)."""

    documents: list[DocumentInfo]
    questions: list[str]
    mode: str
    cells: list[Cell]

    def cell(self, document_id: int, question: str) -> Cell | None:
        return next(
            (c for c in self.cells if c.document.id == document_id and c.question == question),
            None,
        )

    @property
    def complete(self) -> bool:
        return len(self.cells) == len(self.documents) * len(self.questions)


def clean_questions(questions: list[str]) -> list[str]:
    """The distinct non-empty questions, in order; refused when none or more than ten."""
    kept = list(dict.fromkeys(q.strip() for q in questions if q.strip()))
    if not kept:
        raise RagError("no question to compare on: give at least one question")
    if len(kept) > MAX_QUESTIONS:
        raise RagError(f"{len(kept)} questions: a comparison takes at most {MAX_QUESTIONS}")
    return kept


def resolve_documents(library: Library, references: list[str]) -> list[DocumentInfo]:
    """The distinct documents named (by id, file, path or title); at least one."""
    if not references:
        raise RagError("no document to compare: choose at least one document")
    found = [library.find_document(reference) for reference in references]
    return list({document.id: document for document in found}.values())


def compare_cells(
    library: Library,
    documents: list[str],
    questions: list[str],
    *,
    mode: str | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[Cell]:
    """Each cell as soon as it is answered, question by question, document by document;
    `cancel`, once set, stops before the next cell. Bad input (an unknown document, no
    question, more than ten) raises `RagError` before any answer is asked."""
    chosen = resolve_documents(library, documents)
    asked = clean_questions(questions)
    mode = mode or library.settings.generator
    for question in asked:
        for document in chosen:
            if cancel is not None and cancel.is_set():
                return
            request = AnswerRequest(question=question, mode=mode, document_ids=[document.id])
            yield Cell(document, question, library.chain.invoke(request))


def compare(
    library: Library,
    documents: list[str],
    questions: list[str],
    *,
    mode: str | None = None,
    progress: CompareProgress | None = None,
    cancel: threading.Event | None = None,
) -> Comparison:
    """The documents × questions table (see `compare_cells`)."""
    chosen = resolve_documents(library, documents)
    asked = clean_questions(questions)
    total = len(chosen) * len(asked)
    cells: list[Cell] = []
    for cell in compare_cells(
        library, [str(d.id) for d in chosen], asked, mode=mode, cancel=cancel
    ):
        cells.append(cell)
        if progress is not None:
            progress(f"{cell.document.file}: {cell.question}", len(cells), total)
    return Comparison(chosen, asked, mode or library.settings.generator, cells)


# -- export ------------------------------------------------------------------------------------


def citation_line(citation: Citation, answer: str = "") -> str:
    """A citation as the exports write it: [n] file, page: "quote"; the quote is left out when
    the answer already gives it word for word (an extractive answer is its quotes)."""
    page = f", page {citation.page}" if citation.page is not None else ""
    where = f"[{citation.n}] {citation.file}{page}"
    return where if citation.quote in answer else f"{where}: \u201c{citation.quote}\u201d"


def cell_text(cell: Cell | None) -> str:
    """A cell as text: the answer, then its citations one a line ("" when not answered)."""
    if cell is None:
        return ""
    return "\n".join([cell.text, *(citation_line(c, cell.text) for c in cell.citations)])


def _markdown_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def to_markdown(comparison: Comparison) -> str:
    """A Markdown table, one row per question and one column per document; each cell's
    citations follow its answer."""
    header = ["Question", *(f"{d.title} ({d.file})" for d in comparison.documents)]
    lines = [
        "# Comparison",
        "",
        f"{len(comparison.documents)} documents \u00d7 {len(comparison.questions)} questions, "
        f"answered by: {comparison.mode}."
        + ("" if comparison.complete else " Stopped before every cell was answered."),
        "",
        "| " + " | ".join(_markdown_escape(h) for h in header) + " |",
        "|" + "---|" * len(header),
    ]
    for question in comparison.questions:
        row = [question] + [
            cell_text(comparison.cell(d.id, question)) for d in comparison.documents
        ]
        lines.append("| " + " | ".join(_markdown_escape(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def rows(comparison: Comparison) -> list[list[str | int | None]]:
    """One row per citation of each cell (one row for a cell without any), in CSV_COLUMNS."""
    table: list[list[str | int | None]] = []
    for cell in comparison.cells:
        first: list[str | int | None] = [
            cell.document.title,
            cell.document.file,
            cell.question,
            cell.text,
        ]
        if not cell.citations:
            table.append([*first, None, None, None, None])
        for citation in cell.citations:
            table.append([*first, citation.n, citation.file, citation.page, citation.quote])
    return table


def to_xlsx(comparison: Comparison, path: Path) -> None:
    """An Excel workbook: sheet "Table" (questions × documents, citations in each cell) and
    sheet "Citations" (one row per citation, as the CSV)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook()
    grid = workbook.active
    assert grid is not None
    grid.title = "Table"
    grid.append(["Question", *(f"{d.title} ({d.file})" for d in comparison.documents)])
    for question in comparison.questions:
        grid.append(
            [question, *(cell_text(comparison.cell(d.id, question)) for d in comparison.documents)]
        )
    for column in grid.iter_cols():
        for item in column:
            item.alignment = Alignment(wrap_text=True, vertical="top")
        grid.column_dimensions[column[0].column_letter].width = 60
    for item in grid[1]:
        item.font = Font(bold=True)
    listing = workbook.create_sheet("Citations")
    listing.append(CSV_COLUMNS)
    for row in rows(comparison):
        listing.append(row)
    workbook.save(str(path))


def export_comparison(comparison: Comparison, path: Path) -> None:
    """Write the comparison to `path` in the format its suffix names (.md, .csv or .xlsx)."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(
            f"{path}: unknown comparison format '{suffix or '(none)'}'; end the file name in "
            + ", ".join(FORMATS)
        )
    if not path.parent.is_dir():
        raise ExportError(f"{path}: the folder {path.parent} does not exist")
    try:
        if suffix == ".md":
            path.write_text(to_markdown(comparison), encoding="utf-8")
        elif suffix == ".csv":
            with path.open("w", newline="", encoding="utf-8") as file:
                writer = csv.writer(file)
                writer.writerow(CSV_COLUMNS)
                writer.writerows(rows(comparison))
        else:
            to_xlsx(comparison, path)
    except OSError as error:
        raise ExportError(
            f"{path}: cannot write the comparison ({error.strerror or error})"
        ) from error
