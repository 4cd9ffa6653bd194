"""Ruled tables on PDF pages, found by pdfplumber's table finder: their rows as Markdown blocks
(`rag.tables`, the line just above a table as its caption), the characters of PDFium's page text
that they cover, and the boxes of the cells that a quote of table rows holds.

A PDF page with tables is stored as its PDFium text with the tables' characters blanked (offsets
still locate characters on the page, as `rag.viewing` needs), then TABLES_MARK, then its tables
as Markdown. Only pages that draw rules enough for a table are searched (`may_hold_tables`):
the table finder parses a page again, with pdfminer, several times slower than PDFium.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.pdfpages import char_indices
from rag.tables import MAX_HEADER_ROWS, markdown_blocks, markdown_row

if TYPE_CHECKING:
    from pypdfium2 import PdfPage, PdfTextPage

# A ruled table of two rows and two columns draws rules (or the sides of stroked cell boxes) at
# three places or more each way; pages drawing fewer are not searched.
MIN_RULE_PLACES = 3
RULE_WIDTH = 2.0  # points: a path this thin one way and MIN_RULE_LENGTH long the other is a rule
MIN_RULE_LENGTH = 5.0
# A found "table" with fewer rows of two or more filled cells is a text box or a chart's frame.
MIN_FILLED_ROWS = 2
MAX_CELL_CHARS = 400  # a cell this long is a paragraph in a box, not a table's cell
CAPTION_GAP = 24.0  # points: a line of text this close above a table introduces it
LINE_TOLERANCE = 2.0  # points: words whose bottoms differ by less are on one line
# Between a page's text and its tables in the stored raw text: a blank line (a paragraph break
# when normalised) and a control character that PDFium's text of a page does not hold.
TABLES_MARK = "\n\n\x1d\n\n"

Box = tuple[float, float, float, float]  # x0, top, x1, bottom: points from the page's top left


@dataclass(frozen=True)
class PdfTable:
    """A table found on a PDF page: its box, its cells' text by row, each cell's box (None
    where a cell spans from the one before), and the line of text above it."""

    box: Box
    rows: tuple[tuple[str, ...], ...]
    cells: tuple[tuple[Box | None, ...], ...]
    caption: str

    def markdown(self) -> str:
        """The table as Markdown blocks that repeat its header (`rag.tables`)."""
        return "\n\n".join(markdown_blocks(self.rows, self.caption))


def may_hold_tables(page: PdfPage) -> bool:
    """Whether a page draws rules at MIN_RULE_PLACES places or more across and down: thin
    paths (lines, or rules drawn as thin filled boxes) and the sides of stroked boxes. Filled
    boxes, such as the shading of a statement's rows, are not rules; nor is a page-size box."""
    import pypdfium2.raw as pdfium_c

    width, height = page.get_width(), page.get_height()
    across: set[int] = set()  # the heights of horizontal rules, to the point
    down: set[int] = set()  # the places of vertical rules, to the point
    fill, stroke = ctypes.c_int(), ctypes.c_int()
    for path in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=2):
        left, bottom, right, top = path.get_bounds()
        wide, tall = right - left, top - bottom
        if wide <= RULE_WIDTH and tall >= MIN_RULE_LENGTH:
            down.add(round(left))
        elif tall <= RULE_WIDTH and wide >= MIN_RULE_LENGTH:
            across.add(round(bottom))
        elif (
            wide > RULE_WIDTH
            and tall > RULE_WIDTH
            and (wide < 0.9 * width or tall < 0.9 * height)
            and pdfium_c.FPDFPath_GetDrawMode(path.raw, ctypes.byref(fill), ctypes.byref(stroke))
            and stroke.value
        ):
            down.update((round(left), round(right)))
            across.update((round(bottom), round(top)))
        if len(down) >= MIN_RULE_PLACES and len(across) >= MIN_RULE_PLACES:
            return True
    return False


def _text(value: str | None) -> str:
    return " ".join((value or "").split())


def _caption(words: list[dict[str, Any]], box: Box) -> str:
    """The line of words just above the table (within CAPTION_GAP) that overlaps it across."""
    x0, top, x1, _ = box
    above = [
        word
        for word in words
        if top - CAPTION_GAP <= word["bottom"] <= top + LINE_TOLERANCE / 2
        and word["x1"] > x0
        and word["x0"] < x1
    ]
    if not above:
        return ""
    lowest = max(word["bottom"] for word in above)
    line = [word for word in above if lowest - word["bottom"] < LINE_TOLERANCE]
    return " ".join(word["text"] for word in sorted(line, key=lambda word: word["x0"]))


def _without_empty_columns(
    rows: tuple[tuple[str, ...], ...], cells: tuple[tuple[Box | None, ...], ...]
) -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[Box | None, ...], ...]]:
    """The rows and cell boxes without the columns that are empty in every row (the finder
    makes one between each two rules, and spanning cells leave many empty)."""
    width = max((len(row) for row in rows), default=0)
    kept = [i for i in range(width) if any(i < len(row) and row[i] for row in rows)]
    return (
        tuple(tuple(row[i] for i in kept if i < len(row)) for row in rows),
        tuple(tuple(boxes[i] for i in kept if i < len(boxes)) for boxes in cells),
    )


def _is_table(rows: Sequence[Sequence[str]]) -> bool:
    filled = sum(1 for row in rows if sum(1 for cell in row if cell) >= 2)
    longest = max((len(cell) for row in rows for cell in row), default=0)
    return filled >= MIN_FILLED_ROWS and longest < MAX_CELL_CHARS


class TableFinder:
    """pdfplumber's reading of one PDF, opened when a page is first searched."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pdf: Any = None  # pdfplumber.PDF

    def tables(self, index: int) -> list[PdfTable]:
        """The tables of page `index` (0-based), top to bottom."""
        import pdfplumber

        if self._pdf is None:
            self._pdf = pdfplumber.open(self.path)
        page = self._pdf.pages[index]
        try:
            found = []
            words: list[dict[str, Any]] | None = None
            for table in sorted(page.find_tables(), key=lambda table: table.bbox[1]):
                rows = tuple(tuple(_text(cell) for cell in row) for row in table.extract())
                if not _is_table(rows):
                    continue
                words = page.extract_words() if words is None else words
                cells = tuple(tuple(row.cells) for row in table.rows)
                rows, cells = _without_empty_columns(rows, cells)
                found.append(PdfTable(tuple(table.bbox), rows, cells, _caption(words, table.bbox)))
            return found
        finally:
            page.close()

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None


def blank_tables(text: str, textpage: PdfTextPage, height: float, tables: list[PdfTable]) -> str:
    """PDFium's bounded `text` of a page `height` points tall, with the characters whose centre
    lies in one of the tables replaced by spaces (its length kept)."""
    indices = char_indices(text, textpage.get_text_range())
    characters = list(text)
    for offset, char in enumerate(text):
        if char.isspace():
            continue
        left, bottom, right, top = textpage.get_charbox(indices[offset])
        x, y = (left + right) / 2, height - (bottom + top) / 2
        if any(x0 <= x <= x1 and y0 <= y <= y1 for x0, y0, x1, y1 in (t.box for t in tables)):
            characters[offset] = " "
    return "".join(characters)


def tables_text(tables: list[PdfTable]) -> str:
    """The Markdown of a page's tables, set apart by blank lines."""
    return "\n\n".join(table.markdown() for table in tables)


def _quoted_rows(quote: str) -> Iterator[str]:
    """The Markdown row lines of a quote, without the `---` line under a header."""
    for line in quote.splitlines():
        line = line.strip()
        if line.startswith("|") and line.endswith("|") and line.strip("|- "):
            yield line


def _same_row(line: str, cells: Sequence[str]) -> bool:
    """Whether a Markdown row line shows these cells (perhaps padded with empty ones), spaces
    compared as normalised page text has them (one)."""
    line, row = " ".join(line.split()), " ".join(markdown_row(cells).split())
    return line == row or (line.startswith(row[:-1]) and not line[len(row) - 1 :].strip("| "))


def _row_runs(table: PdfTable) -> Iterator[tuple[list[str], list[tuple[str, Box | None]]]]:
    """Each run of one to MAX_HEADER_ROWS consecutive rows: its cells joined column by column
    (as `rag.tables` joins a header spread over rows), and its cells with their boxes."""
    for first in range(len(table.rows)):
        for end in range(first + 1, min(first + MAX_HEADER_ROWS, len(table.rows)) + 1):
            rows = table.rows[first:end]
            width = max(len(row) for row in rows)
            joined = [
                " ".join(row[i] for row in rows if i < len(row) and row[i]) for i in range(width)
            ]
            cells = [
                (cell, box)
                for row, boxes in zip(rows, table.cells[first:end], strict=True)
                for cell, box in zip(row, boxes, strict=False)
            ]
            yield joined, cells


def quoted_cells(tables: list[PdfTable], quote: str) -> list[Box]:
    """The boxes of the filled cells of the table rows that the quote holds: data rows shown as
    found, and header rows joined column by column into one Markdown row (`rag.tables`)."""
    boxes: list[Box] = []
    for line in _quoted_rows(quote):
        for table in tables:
            for joined, cells in _row_runs(table):
                if _same_row(line, joined):
                    boxes += [box for cell, box in cells if cell and box is not None]
    return _unique(boxes)


def _unique(boxes: list[Box]) -> list[Box]:
    seen: set[Box] = set()
    kept = []
    for box in boxes:
        if box not in seen and all(math.isfinite(value) for value in box):
            seen.add(box)
            kept.append(box)
    return kept
