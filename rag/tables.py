"""Tables as Markdown text: a header row, then the rows, in blocks that each repeat the header.

Blocks are set apart by blank lines, which the splitter prefers as chunk boundaries, so a chunk
holds a whole table or a run of its rows under the header that says what each column is.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

# Characters of rows in one block (its header aside): one block of figures is about 150-200
# tokens of the default embedding model, so a block fits in a chunk.
TABLE_BLOCK_CHARS = 500
MAX_HEADER_ROWS = 3
_FIGURE = re.compile(r"[-–(]?\s*[$€£]?\s*[\d,.]+\s*\)?\s*%?")
_YEAR = re.compile(r"(?:19|20)\d\d")


def _cell(value: str) -> str:
    return " ".join(value.split()).replace("|", "\\|")


def markdown_row(cells: Sequence[str]) -> str:
    """One Markdown table row: cells on one line each, pipes escaped."""
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def _padded(cells: Sequence[str], width: int) -> list[str]:
    return [*cells, *[""] * (width - len(cells))]


def is_figure(cell: str) -> bool:
    """Whether a cell holds a figure ("$1,040.3", "(12)", "4.5%"), a bare year aside."""
    cell = cell.strip()
    return bool(_FIGURE.fullmatch(cell)) and not _YEAR.fullmatch(cell)


def _is_header_row(row: Sequence[str]) -> bool:
    """Whether a row below the first continues the header: its first cell is empty and its
    other cells are words or years, not figures ("Fiscal", "2019", "(in millions)")."""
    cells = [cell.strip() for cell in row]
    return (
        bool(cells)
        and not cells[0]
        and any(cells)
        and not any(is_figure(cell) for cell in cells if cell)
    )


def _header(lines: Iterator[Sequence[str]]) -> tuple[list[str], list[Sequence[str]]]:
    """The header of a table: its first row, joined column by column with the rows after it
    that continue it (`_is_header_row`), as in reports' tables: "| | Fiscal |", "| | 2019 |
    2018 |", "| | (in millions) |" make "| | Fiscal 2019 (in millions) | 2018 |"; and the
    row read past it, if any."""
    header = list(next(lines, []))
    for _ in range(MAX_HEADER_ROWS - 1):
        row = next(lines, None)
        if row is None:
            return header, []
        if not _is_header_row(row):
            return header, [row]
        width = max(len(header), len(row))
        pairs = zip(_padded(header, width), _padded(row, width), strict=True)
        header = [f"{top} {below}".strip() for top, below in pairs]
    return header, []


def markdown_blocks(rows: Iterable[Sequence[str]], caption: str = "") -> Iterator[str]:
    """A table as Markdown blocks of at most about TABLE_BLOCK_CHARS characters of rows, each
    starting with the header row (`_header`; the first block also with `caption`). Rows
    shorter than the header are padded with empty cells. Nothing is yielded for a table
    without rows."""
    lines = iter(rows)
    header, read_past = _header(lines)
    if not header:
        return
    lines = itertools.chain(read_past, lines)
    width = len(header)
    head = markdown_row(header) + "\n" + markdown_row(["---"] * width)
    block: list[str] = []
    size = 0
    first = True
    for row in lines:
        line = markdown_row(_padded(row, width))
        if block and size + len(line) > TABLE_BLOCK_CHARS:
            yield _block(head, block, caption if first else "")
            block, size, first = [], 0, False
        block.append(line)
        size += len(line) + 1
    if block or first:
        yield _block(head, block, caption if first else "")


def _block(head: str, rows: list[str], caption: str) -> str:
    text = "\n".join([head, *rows])
    return f"{caption}\n{text}" if caption else text


@dataclass(frozen=True)
class TableRow:
    """A data row of a Markdown table in a text: its span, and the row read with its header
    ("Harbour dredging | 2022: 3,875 | 2023: 4,020"), a statement that a question can match."""

    start: int
    end: int
    statement: str


_CELL_SEPARATOR = re.compile(r"(?<!\\)\|")
_HEADER_RULE = re.compile(r"\|(?:\s*:?-{3,}:?\s*\|)+")


def _cells(line: str) -> list[str]:
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SEPARATOR.split(line.strip())[1:-1]]


def _statement(header: Sequence[str], cells: Sequence[str]) -> str:
    """The row's first cell, then each other filled cell after its column's name."""
    named = [
        f"{name}: {cell}" if name else cell
        for name, cell in itertools.zip_longest(header[1:], cells[1:], fillvalue="")
        if cell
    ]
    return " | ".join([cells[0], *named] if cells and cells[0] else named)


def table_rows(text: str) -> Iterator[TableRow]:
    """The data rows of the Markdown tables in `text` (a header row, its `---` line, then rows
    that start and end with a pipe, each on its line); rows above a header are not read."""
    header: list[str] | None = None
    previous = ""
    at = 0
    for line in text.splitlines(keepends=True):
        start, at = at, at + len(line)
        row = line.strip()
        if _HEADER_RULE.fullmatch(row.replace(" ", "")) and previous.startswith("|"):
            header = _cells(previous)
        elif header is not None and row.startswith("|") and row.endswith("|") and len(row) > 1:
            cells = _cells(row)
            if any(cells):
                offset = line.index("|")
                yield TableRow(start + offset, start + offset + len(row), _statement(header, cells))
        else:
            header = None
        previous = row


def embedding_text(text: str) -> str:
    """`text` with each Markdown table row as the embedding model reads it best: its cells set
    apart by spaces, without pipes, and no `---` line under a header. Each pipe is a token of
    the model: a row of figures holds as many pipes as figures, and they crowd its vector."""
    if "|" not in text:
        return text
    lines = []
    for line in text.split("\n"):
        row = line.strip()
        if not (row.startswith("|") and row.endswith("|") and len(row) > 1):
            lines.append(line)
        elif not _HEADER_RULE.fullmatch(row.replace(" ", "")):
            lines.append(" ".join(cell for cell in _cells(row) if cell))
    return "\n".join(lines)
