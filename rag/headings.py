"""The section headings of a document, read from the line breaks of its pages' extracted text,
and the heading a passage falls under: what a briefing's sub-questions follow."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from rag.errors import DocumentNotFoundError
from rag.records import Page, Passage
from rag.store import DocumentStore
from rag.text import BULLET

MAX_HEADING_CHARS = 120
MIN_HEADING_WORDS = 2  # words of four letters or more
# a table of contents' heading on a line of its own ("Contents", "Table of Contents")
_CONTENTS_HEADING = re.compile(r"^\s*(?:table of )?contents\s*$", re.IGNORECASE | re.MULTILINE)
LOOKBACK_PAGES = 3  # pages searched back for the heading of a passage that starts a page
_WORD = re.compile(r"[^\W\d_][\w'’-]{3,}")
_SMALL_WORDS = frozenset(  # the words title case leaves in lower case
    "a an and as at but by for from in into nor of on onto or over per than the to upon via "
    "versus vs with within without".split()
)
_NOT_HEADINGS = re.compile(  # captions, sources, contents, bylines: not headings at all
    r"^(?:figure|table|source|sources|note|notes|contents|exhibit|chart)\b|\bcontents$|"
    r"\b(?:specialist|analyst|chairman|chairwoman|ranking member|honorable|director)\b",
    re.IGNORECASE,
)
_BACK_MATTER = re.compile(  # headings of front and back matter: not sections a briefing follows
    r"^appendix\b|^(?:author information|results in brief|agency comments\b.*|"
    r"scope and methodology|related gao products)$",
    re.IGNORECASE,
)
_SENTENCE_END = (".", ",", ";", ":", "!", "?", '"', "”", "’")
_MARKER_LINE = re.compile(r"\d{1,4}|[ivxlc]{1,6}")
_PARAGRAPH_END = (".", ":", "!", "?", '."', ".”", "?”", ".)")
# Prose ("In 1980, Congress"), contents lines and page footers (a page number, dot leaders),
# a reference ("Thielemann. Reserves", "Pub. L.", a quoted title), table cells.
_NOT_A_TITLE = re.compile(
    r"\d,|\s{3,}|\.{4,}|•|[“”\"]|^Page\b|[a-z]{2}\. |\s(?!1[89]\d\d$|20\d\d$)\d+$"
)


@dataclass(frozen=True)
class Heading:
    """A heading as it stands on its page: where it starts in the page's normalised text."""

    text: str
    start: int


def is_heading_line(
    line: str, min_words: int = MIN_HEADING_WORDS, back_matter: bool = False
) -> bool:
    """A short title-case line of at least `min_words` words of four letters or more that does
    not end a sentence and is mostly letters: "Calls for a Deep-Seabed Mining Moratorium", not
    a wrapped line of prose, a caption, a contents line or a table row; the headings of front
    and back matter ("Appendix I: Scope and Methodology") only with `back_matter`."""
    line = line.strip().lstrip("#").strip()
    long_words = _WORD.findall(line)
    letters = sum(char.isalpha() for char in line)
    return (
        0 < len(line) <= MAX_HEADING_CHARS
        and line[0].isupper()
        and not line.endswith(_SENTENCE_END)
        and len(long_words) >= min_words
        and all(word[0].isupper() or word.lower() in _SMALL_WORDS for word in long_words)
        and sum(char.isdigit() for char in line) <= 0.2 * letters
        and not _NOT_A_TITLE.search(line)
        and not _NOT_HEADINGS.search(line)
        and (back_matter or not _BACK_MATTER.search(line))
    )


def heading_lines(raw: str) -> Iterator[str]:
    """The headings of a page's extracted text: title-case lines that start a block (the page's
    first line, or one after a blank line, a line ending a sentence or a heading, footnote
    markers and page numbers on lines of their own passed over), each
    wrapped heading joined into one line. A wrapped line of prose, of a list or of a title
    that did not start a block is not a heading, nor is a line ending with a small word
    ("... Role and Issues for")."""
    return (heading for heading, _ in _headings_and_next_lines(raw, MIN_HEADING_WORDS))


def _headings_and_next_lines(
    raw: str, min_words: int, back_matter: bool = False
) -> Iterator[tuple[str, str]]:
    """`heading_lines` of at least `min_words` long words (with `back_matter`, those of front
    and back matter too), each with the line after it ("" at the page's end)."""
    lines = [line.strip().lstrip("#").strip() for line in raw.splitlines()]
    starts_block = True
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if _MARKER_LINE.fullmatch(line):  # a footnote marker or page number set apart
            continue
        if not (starts_block and line and is_heading_line(line, min_words, back_matter)):
            starts_block = not line or line.endswith(_PARAGRAPH_END)
            continue
        heading = line
        while (
            index < len(lines)
            and lines[index]
            and is_heading_line(f"{heading} {lines[index]}", back_matter=back_matter)
        ):
            heading = f"{heading} {lines[index]}"
            index += 1
        if heading.split()[-1].lower() not in _SMALL_WORDS:
            yield heading, lines[index] if index < len(lines) else ""


def page_headings(page: Page) -> list[Heading]:
    """The headings of a page, each located in its normalised text; a heading the normalised
    text no longer holds (a running header blanked at ingest) is left out."""
    found: list[Heading] = []
    position = 0
    for text in heading_lines(page.raw_text):
        match = _spaced(text).search(page.text, position)  # after the heading before it
        if match:
            found.append(Heading(text, match.start()))
            position = match.end()
    return found


# the line under a report's title that dates its version
_DATE_LINE = re.compile(r"(?:Updated|Revised) [A-Z][a-z]+ \d{1,2}, \d{4}")


def run_in_headings(page: Page, title: str = "") -> list[tuple[int, int]]:
    """The spans, in a page's normalised text, of the headings that normalisation ran into the
    paragraph after them ("Reactions Oman, Kuwait and Saudi Arabia ... welcomed"), in order:
    its headings (`heading_lines`, and those of front and back matter: an appendix's title is
    no part of the sentence after it) and one-word ones, a capitalised word of four letters or
    more on a line of its own that starts a block, each where the next line's first word
    follows it, and only where that line starts with a capital or a list item's mark; the
    document's `title` where the page sets it on lines of its own (`_is_title_line`), and a
    date line ("Updated April 9, 2026")."""
    spans = [match.span() for match in _DATE_LINE.finditer(page.text)]
    if _is_title_line(title, page.raw_text):
        spans += [match.span() for match in _spaced(title).finditer(page.text)]
    position = 0
    for heading, after in _headings_and_next_lines(page.raw_text, min_words=1, back_matter=True):
        if not (after[:1].isupper() or re.match(BULLET, after)):
            continue
        pattern = rf"({_spaced(heading).pattern})\s+{re.escape(after.split()[0])}"
        match = re.compile(pattern).search(page.text, position)
        if match:
            spans.append(match.span(1))
            position = match.end(1)
    return sorted(spans)


def _is_title_line(title: str, raw: str) -> bool:
    """Whether the page sets the document's title apart, on lines of its own: a title of at
    least MIN_HEADING_WORDS long words, so that a short one ("PRISM") is not taken for the
    subject of a sentence."""
    if len(_WORD.findall(title)) < MIN_HEADING_WORDS:
        return False
    lines = re.compile(rf"(?:^|\n)[ \t]*{_spaced(title).pattern}[ \t]*(?:\r?\n|$)")
    return lines.search(raw) is not None


def _spaced(text: str) -> re.Pattern[str]:
    """The words of `text` in a row, however normalisation spaced them."""
    return re.compile(r"\s+".join(re.escape(word) for word in text.split()))


class HeadingFinder:
    """The heading each passage falls under, reading each page of the store at most once."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store
        self._pages: dict[tuple[int, int | None], list[Heading]] = {}
        self._contents_pages: set[tuple[int, int | None]] = set()

    def headings(self, document_id: int, page: int | None) -> list[Heading]:
        key = (document_id, page)
        if key not in self._pages:
            try:
                stored = self.store.page(document_id, page)
            except DocumentNotFoundError:  # a page before the first, or removed meanwhile
                self._pages[key] = []
            else:
                self._pages[key] = page_headings(stored)
                if _CONTENTS_HEADING.search(stored.raw_text):
                    self._contents_pages.add(key)
        return self._pages[key]

    def heading_of(self, passage: Passage) -> str | None:
        """The last heading before the middle of the passage, on its page or on the
        LOOKBACK_PAGES pages before it, but not past a table of contents: the pages after it
        begin the report's first section, whatever its heading."""
        middle = passage.start + len(passage.text) // 2
        before = [h for h in self.headings(passage.document_id, passage.page) if h.start <= middle]
        if before:
            return before[-1].text
        if passage.page is None:
            return None
        for page in range(passage.page - 1, max(0, passage.page - 1 - LOOKBACK_PAGES), -1):
            headings = self.headings(passage.document_id, page)
            if (passage.document_id, page) in self._contents_pages:
                return None
            if headings:
                return headings[-1].text
        return None
