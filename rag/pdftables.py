"""Tables on PDF pages: their rows as Markdown blocks (`rag.tables`, the line just above a table
as its caption), the characters of PDFium's page text that they cover, and the boxes of the
cells that a quote of table rows holds.

Two kinds are read. Ruled tables, whose cells are drawn, are found by pdfplumber's table finder.
Open tables, drawn only with rules across (above and below the table and under its header, as
most reports set them), take their columns from the gaps that run down between words in every
line, and their rows from the space between lines (`open_tables`).

A PDF page with tables is stored as its PDFium text with the tables' characters blanked (offsets
still locate characters on the page, as `rag.viewing` needs), then TABLES_MARK, then its tables
as Markdown. Only pages that draw rules enough for a table are searched (`table_kinds`):
pdfplumber parses a page again, with pdfminer, several times slower than PDFium.
"""

from __future__ import annotations

import ctypes
import itertools
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.pdfpages import char_indices
from rag.tables import MAX_HEADER_ROWS, is_figure, markdown_blocks, markdown_row

if TYPE_CHECKING:
    from pypdfium2 import PdfPage, PdfTextPage

# A ruled table of two rows and two columns draws rules (or the sides of stroked cell boxes) at
# three places or more each way; pages drawing fewer are not searched.
MIN_RULE_PLACES = 3
RULE_WIDTH = 2.0  # points: a path this thin one way and MIN_RULE_LENGTH long the other is a rule
MIN_RULE_LENGTH = 5.0
# A rule across this share of the page's width or more may bound an open table, which has one
# above it, one under its header and one below it.
OPEN_RULE_SHARE = 0.3
MIN_OPEN_RULES = 3
OPEN_RULE_WIDTH = 3.0  # points: the heavier rule that closes a table is a rule too
# In an open table, a gap of this share of a line's height or more that runs down between the
# words of every line parts two columns (the space between words is about a quarter), and
# lines further apart than ROW_GAP of a line's height start a new row.
MIN_COLUMN_GAP = 0.6
ROW_GAP = 0.4
# Lines between two rules that make one column across this share of them are prose.
PROSE_SHARE = 0.5
MAX_HEADER_BLOCKS = 2  # a header over two rows of heads, parted by a rule under the upper
# Columns between rules are a page's layout (a side column of labels, a contents page) unless
# a row sets figures or marks side by side or the caption calls it a table.
TABLE_MARKS = frozenset("•●■✓✔√✗Xx")
_UNMAPPED_GLYPH = re.compile(r"\(cid:\d+\)")
_CURRENCY_SIGN = re.compile(r"[$€£¥]")
# "Table 2. ...", not the running line "Table of Contents" of a 10-K's pages
TABLE_CAPTION = re.compile(
    r"^\W*(?:table|tabla|tableau|tabelle|таблица)\b"
    r"(?!\s+(?:of\s+contents|des\s+mati[eè]res|de\s+contenidos?)\b)",
    re.IGNORECASE,
)
# A found "table" with fewer rows of two or more filled cells is a text box or a chart's frame.
MIN_FILLED_ROWS = 2
MAX_CELL_CHARS = 400  # a cell this long is a paragraph in a box, not a table's cell
CAPTION_GAP = 24.0  # points: a line of text this close above a table introduces it
LINE_TOLERANCE = 2.0  # points: words whose bottoms differ by less are on one line
# Between a page's text and its tables in the stored raw text: a blank line (a paragraph break
# when normalised) and a control character that PDFium's text of a page does not hold.
TABLES_MARK = "\n\n\x1d\n\n"

Box = tuple[float, float, float, float]  # x0, top, x1, bottom: points from the page's top left
Span = tuple[float, float]  # left and right, in points
Rule = tuple[float, float, float]  # a rule across: its top, left and right


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


@dataclass(frozen=True)
class TableKinds:
    """The kinds of table a page may hold, by the rules it draws (`table_kinds`)."""

    ruled: bool  # rules at MIN_RULE_PLACES places or more across and down
    open: bool  # MIN_OPEN_RULES long rules across or more

    def __bool__(self) -> bool:
        return self.ruled or self.open


def table_kinds(page: PdfPage) -> TableKinds:
    """The kinds of table a page may hold: ruled if it draws rules at MIN_RULE_PLACES places
    or more across and down (thin paths: lines, or rules drawn as thin filled boxes, and the
    sides of stroked boxes), open if it draws MIN_OPEN_RULES rules across OPEN_RULE_SHARE of
    its width or more. Filled boxes, such as the shading of a statement's rows, are not
    rules; nor is a page-size box."""
    import pypdfium2.raw as pdfium_c

    width, height = page.get_width(), page.get_height()
    across: set[int] = set()  # the heights of horizontal rules, to the point
    across_lengths: dict[int, float] = {}  # the length of the rules at each height
    down: set[int] = set()  # the places of vertical rules, to the point
    fill, stroke = ctypes.c_int(), ctypes.c_int()
    for path in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=2):
        left, bottom, right, top = path.get_bounds()
        wide, tall = right - left, top - bottom
        if tall <= OPEN_RULE_WIDTH and wide >= MIN_RULE_LENGTH:
            across_lengths[round(bottom)] = across_lengths.get(round(bottom), 0.0) + wide
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
    long_rules = sum(length >= OPEN_RULE_SHARE * width for length in across_lengths.values())
    return TableKinds(
        ruled=len(down) >= MIN_RULE_PLACES and len(across) >= MIN_RULE_PLACES,
        open=bool(long_rules >= MIN_OPEN_RULES),
    )


def _text(value: str | None) -> str:
    """A cell's text on one line; a lone glyph that the PDF maps to no character (pdfminer's
    "(cid:127)"), in a table nearly always a bullet or a tick, as "•"."""
    text = " ".join((value or "").split())
    return "•" if _UNMAPPED_GLYPH.fullmatch(text) else text


def _line_above(words: list[dict[str, Any]], box: Box) -> list[_Phrase]:
    """The line of words just above `box` (within CAPTION_GAP) that overlaps it across, with
    the words set on from it either side ("Table 3." left of a table's edge)."""
    x0, top, x1, _ = box
    above = [
        word
        for word in words
        if top - CAPTION_GAP <= word["bottom"] <= top + LINE_TOLERANCE / 2
        and word["x1"] > x0
        and word["x0"] < x1
    ]
    if not above:
        return []
    lowest = max(word["bottom"] for word in above)
    line = [word for word in words if abs(lowest - word["bottom"]) < LINE_TOLERANCE]
    gap = MIN_COLUMN_GAP * (lowest - min(word["top"] for word in line))
    phrases = _phrases(sorted(line, key=lambda word: word["x0"]), gap)
    return [phrase for phrase in phrases if phrase.box[2] > x0 and phrase.box[0] < x1]


def _caption(words: list[dict[str, Any]], box: Box) -> str:
    """The line just above the table, after the table's title when that is the line above it
    ("Table 1. Ownership of Treasury securities" over "In trillions of dollars")."""
    line = _line_above(words, box)
    caption = " ".join(phrase.text for phrase in line)
    if not line or TABLE_CAPTION.match(caption):
        return caption
    top = min(phrase.box[1] for phrase in line)
    title = " ".join(phrase.text for phrase in _line_above(words, (box[0], top, box[2], box[3])))
    return f"{title} {caption}" if TABLE_CAPTION.match(title) else caption


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


def _rules_across(page: Any) -> list[Rule]:
    """The rules across a pdfplumber page (lines, or boxes OPEN_RULE_WIDTH tall at most), top
    to bottom."""
    return sorted(
        (edge["top"], edge["x0"], edge["x1"])
        for edge in [*page.rects, *page.lines]
        if edge["bottom"] - edge["top"] <= OPEN_RULE_WIDTH
        and edge["x1"] - edge["x0"] >= MIN_RULE_LENGTH
    )


def _joined(spans: list[Span], gap: float) -> list[Span]:
    """The spans joined where they overlap or lie less than `gap` apart, left to right."""
    joined: list[Span] = []
    for left, right in sorted(spans):
        if joined and left - joined[-1][1] < gap:
            joined[-1] = (joined[-1][0], max(joined[-1][1], right))
        else:
            joined.append((left, right))
    return joined


def _long_rules(rules: list[Rule], width: float, ruled: list[Box]) -> list[Rule]:
    """The rules outside the ruled tables, their pieces at one height joined, that cross
    OPEN_RULE_SHARE of `width` or more, top to bottom."""
    groups: list[list[Rule]] = []
    for rule in rules:
        top, left, right = rule
        if any(x0 <= left and right <= x1 and y0 - 1 <= top <= y1 + 1 for x0, y0, x1, y1 in ruled):
            continue
        if groups and top - groups[-1][0][0] < LINE_TOLERANCE:
            groups[-1].append(rule)
        else:
            groups.append([rule])
    long_rules = []
    for group in groups:
        pieces = _joined([(left, right) for _, left, right in group], 0.0)
        if sum(right - left for left, right in pieces) >= OPEN_RULE_SHARE * width:
            long_rules.append((group[0][0], pieces[0][0], pieces[-1][1]))
    return long_rules


@dataclass(frozen=True)
class _Phrase:
    """Words of one line with no column's gap between them."""

    text: str
    box: Box

    @property
    def figure(self) -> bool:
        return is_figure(self.text)


Block = list[list[_Phrase]]  # the lines between two rules, each as its phrases


def _lines(words: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The words by line (their tops within LINE_TOLERANCE), top to bottom, left to right."""
    lines: list[list[dict[str, Any]]] = []
    for word in sorted(words, key=lambda word: (word["top"], word["x0"])):
        if lines and word["top"] - lines[-1][0]["top"] < LINE_TOLERANCE:
            lines[-1].append(word)
        else:
            lines.append([word])
    return [sorted(line, key=lambda word: word["x0"]) for line in lines]


def _phrases(line: list[dict[str, Any]], gap: float) -> list[_Phrase]:
    """The line's words joined into phrases where less than `gap` lies between them. A
    currency sign set apart from its amount ("$    114") starts a phrase and takes the amount;
    a percent sign set apart ("19    %") ends the phrase before it."""
    groups: list[list[dict[str, Any]]] = []
    for word in line:
        if not groups or _CURRENCY_SIGN.fullmatch(word["text"]):
            groups.append([word])
        elif (
            word["x0"] - groups[-1][-1]["x1"] < gap
            or word["text"] == "%"
            or _CURRENCY_SIGN.fullmatch(" ".join(w["text"] for w in groups[-1]))
        ):
            groups[-1].append(word)
        else:
            groups.append([word])
    return [
        _Phrase(
            _text(" ".join(word["text"] for word in group)),
            (
                group[0]["x0"],
                min(word["top"] for word in group),
                group[-1]["x1"],
                max(word["bottom"] for word in group),
            ),
        )
        for group in groups
    ]


def _columns(lines: Block, gap: float) -> list[Span]:
    """The columns of these lines: the spans their phrases cover, set apart by `gap` or more."""
    return _joined([(p.box[0], p.box[2]) for line in lines for p in line], gap)


def _overlap(box: Box, column: Span) -> float:
    return min(box[2], column[1]) - max(box[0], column[0])


def _column_of(phrase: _Phrase, columns: list[Span]) -> int:
    """The column that the phrase overlaps most (or lies nearest to)."""
    return max(range(len(columns)), key=lambda i: _overlap(phrase.box, columns[i]))


def _spanned_columns(phrase: _Phrase, columns: list[Span]) -> list[int]:
    """The columns that a header phrase spans: each it overlaps, or else the nearest."""
    spanned = [i for i, column in enumerate(columns) if _overlap(phrase.box, column) > 0]
    return spanned or [_column_of(phrase, columns)]


@dataclass
class _Cell:
    texts: list[str]
    boxes: list[Box]

    def add(self, phrase: _Phrase) -> None:
        self.texts.append(phrase.text)
        self.boxes.append(phrase.box)

    @property
    def text(self) -> str:
        return " ".join(self.texts)

    @property
    def box(self) -> Box | None:
        if not self.boxes:
            return None
        x0s, tops, x1s, bottoms = zip(*self.boxes, strict=True)
        return (min(x0s), min(tops), max(x1s), max(bottoms))


def _new_row(width: int) -> list[_Cell]:
    return [_Cell([], []) for _ in range(width)]


def _heads(lines: Block, columns: list[Span]) -> list[_Cell]:
    """Each column's head: the header's phrases over it, read from the bottom line up. A phrase
    over one column widens it to the phrase, so that a phrase above that spans columns
    ("December 2025" over "Amount" and "Share") heads each it overlaps."""
    reach = list(columns)
    placed: list[tuple[_Phrase, list[int]]] = []
    for line in reversed(lines):
        for phrase in line:
            spanned = _spanned_columns(phrase, reach)
            if len(spanned) == 1:
                (i,) = spanned
                reach[i] = (min(reach[i][0], phrase.box[0]), max(reach[i][1], phrase.box[2]))
            placed.append((phrase, spanned))
    heads = _new_row(len(columns))
    for phrase, spanned in reversed(placed):
        for i in spanned:
            heads[i].add(phrase)
    return heads


def _body_rows(blocks: list[Block], columns: list[Span], height: float) -> list[list[_Cell]]:
    """The rows of the body's blocks of lines. A line starts a new row when it is more than
    ROW_GAP of a line's `height` below the row above, when it puts a figure in a cell the row
    has filled, and at each block's top; other lines continue the row's cells (a label set
    over two lines, its figures level with either)."""
    rows: list[list[_Cell]] = []
    for block in blocks:
        bottom = -math.inf
        for line in block:
            placed = [(phrase, _column_of(phrase, columns)) for phrase in line]
            top = min(phrase.box[1] for phrase, _ in placed)
            refills = any(phrase.figure and rows[-1][i].texts for phrase, i in placed if rows)
            if bottom == -math.inf or top - bottom > ROW_GAP * height or refills:
                rows.append(_new_row(len(columns)))
                bottom = -math.inf
            for phrase, i in placed:
                rows[-1][i].add(phrase)
            bottom = max(bottom, *(phrase.box[3] for phrase, _ in placed))
    return rows


def _side_by_side(heads: list[_Cell]) -> list[tuple[int, int]]:
    """Where a table of tables set side by side (their heads alike, "Country | Amount |
    Country | Amount") parts into tables, as column index ranges; the whole otherwise."""
    texts = [head.text for head in heads]
    starts = [i for i, text in enumerate(texts) if texts[0] and text == texts[0]]
    ends = [*starts[1:], len(texts)]
    if len(starts) > 1 and len({end - start for start, end in zip(starts, ends, strict=True)}) == 1:
        return list(zip(starts, ends, strict=True))
    return [(0, len(texts))]


def _regions(blocks: list[Block | None], gap: float) -> list[tuple[int, int]]:
    """The runs of two filled blocks or more, the first in two columns or more, as index
    ranges; None (prose, or rules that do not lie one over the other) ends a run, and empty
    blocks (between rules drawn close) join one."""
    regions: list[tuple[int, int]] = []
    start: int | None = None
    for i, block in enumerate([*blocks, None]):
        if block is not None:
            start = i if start is None else start
            continue
        if start is not None:
            filled = [j for j in range(start, i) if blocks[j]]
            while filled and len(_columns(blocks[filled[0]] or [], gap)) < 2:
                filled.pop(0)  # a title between rules above the table
            if len(filled) >= 2:
                regions.append((filled[0], filled[-1] + 1))
        start = None
    return regions


def _header_blocks(region: list[Block]) -> int:
    """How many of a table's first blocks are its header: those above the first that holds a
    figure or a mark, MAX_HEADER_BLOCKS at most; the first alone in a table of words. The
    last block is the body's."""
    marked = [any(p.figure or p.text in TABLE_MARKS for line in b for p in line) for b in region]
    heading = marked.index(True) if any(marked) else 1
    return min(heading, MAX_HEADER_BLOCKS, len(region) - 1)


def _inside(word: dict[str, Any], box: Box) -> bool:
    x: float = (word["x0"] + word["x1"]) / 2
    y: float = (word["top"] + word["bottom"]) / 2
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def _block(
    words: list[dict[str, Any]], above: Rule, below: Rule, width: float, gap: float
) -> Block | None:
    """The lines of phrases between two rules and across the wider; None if they are prose
    (one column across PROSE_SHARE of the rules or more) or if the rules do not lie one over
    the other for OPEN_RULE_SHARE of `width`."""
    if min(above[2], below[2]) - max(above[1], below[1]) < OPEN_RULE_SHARE * width:
        return None
    left, right = min(above[1], below[1]), max(above[2], below[2])
    inside = [
        word
        for word in words
        if above[0] < (word["top"] + word["bottom"]) / 2 < below[0]
        and left <= (word["x0"] + word["x1"]) / 2 <= right
    ]
    block = [_phrases(line, gap) for line in _lines(inside)]
    columns = _columns(block, gap)
    if len(columns) == 1 and columns[0][1] - columns[0][0] >= PROSE_SHARE * (right - left):
        return None
    return block


def open_tables(
    words: list[dict[str, Any]], rules: list[Rule], width: float, ruled: list[Box]
) -> list[PdfTable]:
    """The open tables of a page, from its words and rules across (pdfplumber's), outside the
    boxes of its ruled tables: runs of blocks between long rules whose lines part into columns
    (`_regions`). The blocks above the first that holds a figure are the header (or, if none,
    the line above the top rule when it parts into columns); each column is headed by the
    header phrases over it, a phrase spanning columns heading each."""
    words = [word for word in words if not any(_inside(word, box) for box in ruled)]
    rules = _long_rules(rules, width, ruled)
    if not words or len(rules) < MIN_OPEN_RULES:
        return []
    line_height = sorted(word["bottom"] - word["top"] for word in words)[len(words) // 2]
    gap = MIN_COLUMN_GAP * line_height
    blocks = [
        _block(words, above, below, width, gap)
        for above, below in zip(rules, rules[1:], strict=False)
    ]
    tables = []
    for first, end in _regions(blocks, gap):
        region = [block or [] for block in blocks[first:end]]
        heading = _header_blocks(region)
        body = region[heading:]
        columns = _columns([line for block in body for line in block], gap)
        if len(columns) < 2:
            continue
        box = (columns[0][0], rules[first][0], columns[-1][1], rules[end][0])
        header = [line for block in region[:heading] for line in block]
        above = _line_above(words, box) if not header else []
        if len(above) >= 2 and not TABLE_CAPTION.match(above[0].text):
            # No header between the rules: the heads are the line above the top rule, as
            # filings set them ("In Millions | 2019 | 2018").
            header = [above]
            box = (box[0], min(phrase.box[1] for phrase in above), box[2], box[3])
        heads = _heads(header, columns)
        rows = _body_rows(body, columns, line_height)
        if any(head.texts for head in heads):
            rows.insert(0, heads)
        caption = _caption(words, box)
        for start, stop in _side_by_side(heads):
            table = _open_table(rows, start, stop, box, caption)
            if _is_open_table(table):
                tables.append(table)
    return tables


def _is_open_table(table: PdfTable) -> bool:
    """Whether columns set between rules are a table rather than a page's layout, figures
    whose labels lie outside the rules (under a statement's columns of figures only), or
    columns set too close to part: it has MIN_FILLED_ROWS rows of two filled cells, every row
    holds a letter, no cell sets two figures side by side (`_unparted`), and a row holds two
    figures or marks or more, or the caption calls it a table (TABLE_CAPTION). Its cells may
    be long: a paragraph between rules with nothing beside it is not read as a table."""

    def figure(cell: str) -> bool:
        return is_figure(cell) or cell in TABLE_MARKS

    filled = sum(sum(1 for cell in row if cell) >= 2 for row in table.rows) >= MIN_FILLED_ROWS
    labelled = all(any(char.isalpha() for cell in row for char in cell) for row in table.rows)
    figured = any(sum(figure(cell) for cell in row) >= 2 for row in table.rows)
    parted = not any(_unparted(cell) for row in table.rows for cell in row)
    return filled and labelled and parted and (figured or bool(TABLE_CAPTION.match(table.caption)))


_SIGNS = re.compile(rf"(?:{_CURRENCY_SIGN.pattern}|%)+")  # signs a figure may stand apart from


def _unparted(cell: str) -> bool:
    """Whether a cell sets two figures side by side, currency and percent signs aside, as
    columns too close to part do ("1,826 2,027", "19 %$ 4,262"); figures within a label's
    words are not ("net of amortization of $503 and $482", "par value $5.00 – 1,200,000,000
    shares")."""
    tokens = [is_figure(token) for token in cell.split() if not _SIGNS.fullmatch(token)]
    return any(first and second for first, second in itertools.pairwise(tokens))


def _open_table(rows: list[list[_Cell]], start: int, stop: int, box: Box, caption: str) -> PdfTable:
    """The table of columns `start` to `stop` of an open table's rows in `box`."""
    cells = tuple(tuple(cell.box for cell in row[start:stop]) for row in rows)
    lefts = [cell[0] for row in cells for cell in row if cell is not None]
    rights = [cell[2] for row in cells for cell in row if cell is not None]
    return PdfTable(
        (min(lefts, default=box[0]), box[1], max(rights, default=box[2]), box[3]),
        tuple(tuple(cell.text for cell in row[start:stop]) for row in rows),
        cells,
        caption,
    )


class TableFinder:
    """pdfplumber's reading of one PDF, opened when a page is first searched."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pdf: Any = None  # pdfplumber.PDF

    def tables(self, index: int, kinds: TableKinds) -> list[PdfTable]:
        """The tables of these kinds on page `index` (0-based), top to bottom."""
        import pdfplumber

        if self._pdf is None:
            self._pdf = pdfplumber.open(self.path)
        page = self._pdf.pages[index]
        try:
            found = []
            words = page.extract_words()
            for table in page.find_tables() if kinds.ruled else []:
                rows = tuple(tuple(_text(cell) for cell in row) for row in table.extract())
                if not _is_table(rows):
                    continue
                cells = tuple(tuple(row.cells) for row in table.rows)
                rows, cells = _without_empty_columns(rows, cells)
                found.append(PdfTable(tuple(table.bbox), rows, cells, _caption(words, table.bbox)))
            if kinds.open:
                ruled = [table.box for table in found]
                found += open_tables(words, _rules_across(page), page.width, ruled)
            return sorted(found, key=lambda table: table.box[1])
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
