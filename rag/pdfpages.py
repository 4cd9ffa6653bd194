"""A PDF page's furniture, told from PDFium's characters: footnote bodies at the page's foot,
footnote markers in the body, and table-of-contents dot leaders.

The page text is PDFium's bounded text, changed only by blanking characters with spaces, so
that offsets into it still locate characters on the page (`rag.viewing` boxes quotes by them).
"""

from __future__ import annotations

import ctypes
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pypdfium2 import PdfTextPage

# A line whose characters are mostly in a font under SMALL_SHARE of the body's size is small
# print (footnotes: 9 pt under 11 pt body text); a digit under MARKER_SHARE of it is a
# superscript (a footnote marker: 7 pt).
SMALL_SHARE = 0.9
MARKER_SHARE = 0.8
BODY_SHARE = 0.4
SAMPLE_EVERY = 4  # a line's size and baseline from one character in this many (and digits)
# Dot leaders of a table of contents ("Introduction ........ 1"): five dots or more, perhaps
# spaced. Each dot is a token of the embedding model, so a contents page made many chunks.
_DOT_LEADER = re.compile(r"\.(?: ?\.){4,}")
_LINE = re.compile(r"[^\r\n]+")
_CLOSING = frozenset(".,;:)]\"'”’")
MAX_MARKER_DIGITS = 3


def char_indices(bounded: str, full: str) -> list[int]:
    """For each character of PDFium's bounded text, its index among the page's characters.

    The bounded text is the page text with some generated line breaks left out, and with \\x02
    where the full text has \\ufffe (a hyphen at a line end).
    """
    indices: list[int] = []
    j = 0
    for char in bounded:
        wanted = "\ufffe" if char == "\x02" else char
        while j < len(full) and full[j] != wanted:
            j += 1
        if j == len(full):
            raise ValueError("the page's bounded text is not a subsequence of its text")
        indices.append(j)
        j += 1
    return indices


@dataclass(frozen=True)
class Line:
    """A line of a page's bounded text, with what its characters look like."""

    start: int  # offsets in the bounded text
    end: int
    size: float  # font size of most of its visible characters
    baseline: float  # lowest character origin, in points from the page's foot
    digit_runs: tuple[tuple[int, int, float], ...]  # (start, end, size): digits of one size


@dataclass(frozen=True)
class PageLayout:
    """PDFium's bounded text of a page and its lines."""

    text: str
    lines: tuple[Line, ...]
    height: float  # in points


class _Characters:
    """Sizes and positions of a PDFium text page's characters, read through its C API."""

    def __init__(self, textpage: PdfTextPage) -> None:
        import pypdfium2.raw as pdfium_c

        self._raw = textpage.raw
        self._get_size = pdfium_c.FPDFText_GetFontSize
        self._get_matrix = pdfium_c.FPDFText_GetMatrix
        self._get_origin = pdfium_c.FPDFText_GetCharOrigin
        self._matrix = pdfium_c.FS_MATRIX()
        self._x, self._y = ctypes.c_double(), ctypes.c_double()

    def size(self, index: int) -> float:
        """The size a character is drawn at, to half a point: its font size scaled by its text
        matrix (some producers set 1 pt fonts and scale them)."""
        size = float(self._get_size(self._raw, index))
        if self._get_matrix(self._raw, index, ctypes.byref(self._matrix)):
            size *= math.hypot(self._matrix.c, self._matrix.d)
        return round(size * 2) / 2

    def baseline(self, index: int) -> float:
        """The character's origin, in points from the page's foot (inf if unknown)."""
        if self._get_origin(self._raw, index, ctypes.byref(self._x), ctypes.byref(self._y)):
            return float(self._y.value)
        return math.inf


def page_layout(textpage: PdfTextPage, height: float) -> PageLayout:
    """The bounded text of a page `height` points tall and, for each line, its font size and
    position (from every digit, and every SAMPLE_EVERY-th other character)."""
    bounded: str = textpage.get_text_bounded()
    try:
        indices = char_indices(bounded, textpage.get_text_range())
    except ValueError:  # PDFium's two texts disagree: no layout, the text as it is
        return PageLayout(bounded, (), height)
    characters = _Characters(textpage)
    lines = []
    for match in _LINE.finditer(bounded):
        sizes: Counter[float] = Counter()
        runs: list[tuple[int, int, float]] = []  # digits of one size in a row
        baseline = math.inf
        seen = 0
        for offset in range(match.start(), match.end()):
            char = bounded[offset]
            if char.isspace():
                continue
            seen += 1
            digit = char.isdigit()
            if not digit and seen % SAMPLE_EVERY != 1:
                continue
            size = characters.size(indices[offset])
            sizes[size] += 1
            baseline = min(baseline, characters.baseline(indices[offset]))
            if digit:
                if runs and runs[-1][1] == offset and runs[-1][2] == size:
                    runs[-1] = (runs[-1][0], offset + 1, size)
                else:
                    runs.append((offset, offset + 1, size))
        if sizes:
            size = sizes.most_common(1)[0][0]
            lines.append(Line(match.start(), match.end(), size, baseline, tuple(runs)))
    return PageLayout(bounded, tuple(lines), height)


def body_size(layouts: list[PageLayout]) -> float:
    """The font size of most of the text in the upper part of a document's pages (footnotes
    can outweigh the body text of a report, but not above BODY_SHARE of a page's height)."""
    sizes: Counter[float] = Counter()
    for layout in layouts:
        for line in layout.lines:
            if line.baseline > (1 - BODY_SHARE) * layout.height:
                sizes[line.size] += line.end - line.start
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _footnote_lines(text: str, lines: tuple[Line, ...], body: float) -> list[Line]:
    """The lines of small print after the page's last body line and below its lowest one."""
    visible = [line for line in lines if text[line.start : line.end].strip()]
    body_lines = [i for i, line in enumerate(visible) if line.size >= SMALL_SHARE * body]
    if not body_lines:
        return []
    floor = min(visible[i].baseline for i in body_lines)
    return [
        line
        for line in visible[body_lines[-1] + 1 :]
        if line.size < SMALL_SHARE * body and line.baseline < floor
    ]


def _footnote_number(text: str, line: Line) -> str | None:
    """The number a footnote line starts with, in a smaller font than the line (superscript)
    or alone on its line; None for a line that continues a footnote."""
    first = line.digit_runs[0] if line.digit_runs else None
    if first is None or text[line.start : first[0]].strip():
        return None
    start, end, size = first
    alone = not text[end : line.end].strip()
    return text[start:end] if size < line.size or alone else None


def without_furniture(layout: PageLayout, text: str, body: float) -> tuple[str, list[int]]:
    """The page's `text` (its bounded text, perhaps with running lines blanked) with footnote
    markers in the body and dot leaders blanked, and the offset where the footnotes begin: a
    chunk ends there, so the page's footnotes are passages apart from its body. (One passage
    per footnote made dozens of 70-character passages of a report's bibliography, which the
    search for a briefing's or timeline's topic ranked above its body.)"""
    characters = list(text)
    for leader in _DOT_LEADER.finditer(text):
        characters[leader.start() : leader.end()] = " " * (leader.end() - leader.start())
    footnotes = _footnote_lines(text, layout.lines, body) if body else []
    numbers = {number for line in footnotes if (number := _footnote_number(text, line))}
    breaks = [footnotes[0].start] if footnotes else []
    in_footnotes = {line.start for line in footnotes}
    for line in layout.lines:
        if line.start in in_footnotes:
            continue
        for start, end, size in line.digit_runs:
            # a superscript: small against the body text and against its own line (the figures
            # of a table set in small type are the size of their line: "$ 6,015" keeps "015")
            marker = (
                size <= MARKER_SHARE * body
                and size < line.size
                and end - start <= MAX_MARKER_DIGITS
            )
            # a footnote of this page, or one after punctuation (its body on another page)
            if marker and (text[start:end] in numbers or text[start - 1 : start] in _CLOSING):
                characters[start:end] = " " * (end - start)
    return "".join(characters), breaks
