"""Files to pages: one loader per format behind `load(path)`."""

from __future__ import annotations

import bisect
import csv
import datetime
import functools
import io
import math
import posixpath
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from rag.errors import UnreadableFileError
from rag.normalising import normalise, normalised_text
from rag.ocr import Ocr, needs_ocr, page_image
from rag.pdfpages import PageLayout, body_size, page_layout, without_furniture
from rag.pdftables import TABLES_MARK, TableFinder, blank_tables, table_kinds, tables_text
from rag.records import LoadedFile, Page
from rag.tables import markdown_blocks

if TYPE_CHECKING:
    from pptx.shapes.base import BaseShape

MAX_DOCX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_DOCX_COMPRESSION_RATIO = 200
# About 8,000 pages: splitting and embedding that much text takes tens of minutes on a laptop.
MAX_TEXT_CHARS = 20_000_000
# Text has few control characters; data named .txt (images, archives, executables) has many.
MAX_CONTROL_BYTES_SHARE = 0.05
TITLE_SCAN_CHARS = 20_000
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_TITLE_SKIP = re.compile(r"^(https?://|www\.|updated\b|published\b|page \d+)", re.I)
_NON_CONTENT_TAGS = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "nav",
        "header",
        "footer",
        "aside",
        "form",
        "svg",
        "canvas",
        "iframe",
        "object",
        "embed",
        "button",
        "select",
        "menu",
    ]
)
_NON_CONTENT_ROLES = frozenset(["navigation", "banner", "contentinfo"])
_BLOCK_TAGS = frozenset(
    [
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "tr",
        "pre",
        "blockquote",
        "div",
        "section",
        "dd",
        "dt",
        "figcaption",
        "td",
        "th",
    ]
)
_HEADING_TAGS = frozenset(["h1", "h2", "h3"])
MAX_CAPTION_CHARS = 200  # a longer paragraph above a Word table is text, not its caption
LAYOUT_CELL_CHARS = 400  # an HTML table with a cell this long lays out a page: not a data table
# Running headers and footers: a line among the first or last EDGE_LINES lines of a page that
# recurs, numbers aside, at the edges of at least RUNNING_SHARE of a PDF's pages and of at
# least MIN_RUNNING_PAGES, in a PDF of MIN_PAGES_TO_TELL pages or more. "Congressional
# Research Service 4", "Page 12 GAO-07-283 Peak Oil", "Page ii GAO-07-283 Peak Oil" (front
# matter numbered in roman), "PART II" (a 10-K's parts); a three-page brief's title, repeated
# at the top of its pages 2 and 3.
EDGE_LINES = 2
RUNNING_SHARE = 0.5
MIN_RUNNING_PAGES = 2
MIN_PAGES_TO_TELL = 3
_LINE = re.compile(r"[^\r\n]*[^\s][^\r\n]*")
_NUMBER = re.compile(r"\d+|\b[ivx]+\b")  # in a lower-cased line: arabic or roman
_SPACES = re.compile(r"\s+")


def _page(number: int | None, raw: str, keep_line_breaks: bool | None = None) -> Page:
    """A page; whole-file formats (no page number) keep line breaks, PDFs' wrapped lines don't,
    unless `keep_line_breaks` says otherwise (slides and sheets: numbered, lines that mean
    something)."""
    keep = number is None if keep_line_breaks is None else keep_line_breaks
    return Page(number=number, text=normalised_text(raw, keep_line_breaks=keep), raw_text=raw)


def _title_from_text(text: str, fallback: str) -> str:
    """The first line that reads like a title, from the start of the text only (a 50 MB line
    would otherwise be split into millions of words)."""
    for line in text[:TITLE_SCAN_CHARS].splitlines():
        line = line.strip().lstrip("#").strip()
        if len(re.findall(r"[^\W\d_]{2,}", line)) >= 2 and not _TITLE_SKIP.match(line):
            return line[:200]
    return fallback


def _decode_text(data: bytes, path: Path) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    head = data[:8192]
    if b"\x00" in head or len(_CONTROL_BYTES.findall(head)) > MAX_CONTROL_BYTES_SHARE * len(head):
        raise UnreadableFileError(f"{path}: binary data, not text")
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFileError(f"{path}: text in an unknown encoding")  # latin-1 never fails


def load_text(path: Path) -> LoadedFile:
    raw = _decode_text(path.read_bytes(), path)
    page = _page(None, raw)
    return LoadedFile(title=_title_from_text(raw, path.stem), format="text", pages=[page])


def load_markdown(path: Path) -> LoadedFile:
    raw = _decode_text(path.read_bytes(), path)
    heading = re.search(r"^#\s+(.+)$", raw, re.M)
    title = heading.group(1).strip() if heading else _title_from_text(raw, path.stem)
    return LoadedFile(title=title, format="markdown", pages=[_page(None, raw)])


class _HtmlTable:
    """The rows of an HTML table being read: each cell's text, and its caption."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []
        self.caption: list[str] = []
        self.nested = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_caption = False

    def start(self, tag: str) -> None:
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._row = [] if self._row is None else self._row
            self._cell = []
        elif tag == "caption":
            self._in_caption = True
        elif tag in _BLOCK_TAGS or tag == "br":
            self.data("\n\n" if tag in _BLOCK_TAGS else "\n")

    def end(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if any(cell.strip() for cell in self._row):
                self.rows.append(self._row)
            self._row = None
        elif tag == "caption":
            self._in_caption = False

    def data(self, text: str) -> None:
        if self._cell is not None:
            self._cell.append(text)
        elif self._in_caption:
            self.caption.append(text)

    def text(self) -> str:
        """Markdown blocks with the header repeated (`rag.tables`); a table that lays out a
        page (a table in it, or a cell of LAYOUT_CELL_CHARS) gives its cells as paragraphs."""
        cells = [cell for row in self.rows for cell in row]
        if self.nested or any(len(cell) >= LAYOUT_CELL_CHARS for cell in cells):
            return "\n\n".join(cells)
        caption = " ".join("".join(self.caption).split())
        return "\n\n".join(markdown_blocks(self.rows, caption))


class _HtmlText:
    """An lxml parser target that keeps the text of an HTML page's content, without a tree.

    Text inside scripts, styles, navigation and other non-content elements is dropped; block
    elements are set apart by blank lines. No tree is built, so memory holds only the text,
    however many elements the page has or however deep they nest.
    """

    def __init__(self) -> None:
        self.segments: list[str] = []
        self.title: list[str] = []
        self.regions: dict[str, list[int]] = {}  # first <main>, <article>: [first, end) segment
        self.headings: list[tuple[int, str]] = []  # (segment index, text) of each h1-h3
        self._open: list[tuple[str, bool]] = []  # open elements: (tag, starts skipped content)
        self._region_depth: dict[str, int] = {}
        self._skipping = 0
        self._heading: list[str] | None = None
        self._tables: list[_HtmlTable] = []  # open tables, innermost last

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        skipped = tag in _NON_CONTENT_TAGS or attributes.get("role") in _NON_CONTENT_ROLES
        self._open.append((tag, skipped))
        self._skipping += skipped
        if self._skipping:
            return
        if tag in ("main", "article") and tag not in self.regions:
            self.regions[tag] = [len(self.segments), -1]
            self._region_depth[tag] = len(self._open)
        if tag == "table":
            if self._tables:
                self._tables[-1].nested = True
            self._tables.append(_HtmlTable())
        elif self._tables:
            self._tables[-1].start(tag)
        elif tag in _BLOCK_TAGS:
            self.segments.append("\n\n")
        if tag in _HEADING_TAGS and self._heading is None:
            self._heading = []
            self.headings.append((len(self.segments), ""))

    def end(self, tag: str) -> None:
        if not self._open:
            return
        depth = len(self._open)
        _, skipped = self._open.pop()
        self._skipping -= skipped
        if self._skipping or skipped:
            return
        if tag == "table" and self._tables:
            text = self._tables.pop().text()
            if self._tables:
                self._tables[-1].data(text)
            else:
                self.segments.append(f"\n\n{text}\n\n")
        elif self._tables:
            self._tables[-1].end(tag)
        elif tag in _BLOCK_TAGS:
            self.segments.append("\n\n")
        if tag in _HEADING_TAGS and self._heading is not None:
            position, _ = self.headings[-1]
            self.headings[-1] = (position, " ".join("".join(self._heading).split()))
            self._heading = None
        for region, region_depth in list(self._region_depth.items()):
            if region_depth == depth:
                self.regions[region][1] = len(self.segments)
                del self._region_depth[region]

    def data(self, text: str) -> None:
        if self._skipping:
            return
        if self._open and self._open[-1][0] == "title":
            self.title.append(text)
        elif self._tables:
            self._tables[-1].data(text)
        else:
            self.segments.append(text)
            if self._heading is not None:
                self._heading.append(text)

    def close(self) -> _HtmlText:
        return self

    def content(self) -> tuple[str, str]:
        """The text of the first <main>, else of the first <article>, else of the whole page,
        and the first h1-h3 heading within it."""
        first, end = 0, len(self.segments)
        for region in ("main", "article"):
            if region in self.regions:
                first, end = self.regions[region]
                end = len(self.segments) if end < 0 else end
                break
        heading = next((text for at, text in self.headings if first <= at < end and text), "")
        return "".join(self.segments[first:end]), heading


def load_html(path: Path) -> LoadedFile:
    from lxml import etree

    target = _HtmlText()
    parser = etree.HTMLParser(target=target, no_network=True, remove_comments=True)
    parser.feed(_decode_text(path.read_bytes(), path))
    parser.close()
    raw, heading = target.content()
    title = " ".join("".join(target.title).split()) or heading or _title_from_text(raw, path.stem)
    return LoadedFile(title=title, format="html", pages=[_page(None, raw)])


@dataclass(frozen=True)
class PdfReading:
    """How PDFs are read: pages that are scans by `ocr` (None: they have no text), ruled
    tables found and kept as tables (`tables`) or left in the page text."""

    ocr: Ocr | None = None
    tables: bool = True

    def variant(self) -> str:
        """How this reading differs from the default one (OCR and tables on), as recorded
        with each document read, so that changing either has the files read again."""
        return "".join(
            [", without OCR" if self.ocr is None else "", "" if self.tables else ", no tables"]
        )


def load_pdf(path: Path, reading: PdfReading = PdfReading()) -> LoadedFile:
    """A PDF, one page per page, read as `reading` says."""
    import pypdfium2 as pdfium

    ocr = reading.ocr

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as error:
        message = str(error).lower()
        reason = (
            "it is encrypted with a password"
            if "password" in message
            else f"damaged or truncated: {error}"
            if "format error" in message
            else error
        )
        raise UnreadableFileError(f"{path}: not a readable PDF ({reason})") from error
    finder = TableFinder(path) if reading.tables else None
    try:
        layouts = []
        tables: list[str] = []  # each page's tables as Markdown
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            layout = page_layout(textpage, page.get_height())
            found = []
            if ocr is not None and needs_ocr(page, layout.text):
                area = page.get_width() * page.get_height()
                scanned = ocr.read(path, index, area, functools.partial(page_image, page))
                layout = PageLayout(scanned.text, (), layout.height)
            elif finder is not None and (kinds := table_kinds(page)):
                found = finder.tables(index, kinds)
            if found:
                blanked_text = blank_tables(layout.text, textpage, layout.height, found)
                layout = PageLayout(blanked_text, layout.lines, layout.height)
            textpage.close()
            layouts.append(layout)
            tables.append(tables_text(found))
            page.close()
        metadata_title = (pdf.get_metadata_dict().get("Title") or "").strip()
    finally:
        if finder is not None:
            finder.close()
        pdf.close()
    body = body_size(layouts)
    blanked = without_running_lines([layout.text for layout in layouts])
    pages = [
        _pdf_page(number, *without_furniture(layout, text, body), page_tables)
        for number, (layout, text, page_tables) in enumerate(
            zip(layouts, blanked, tables, strict=True), 1
        )
    ]
    if not any(page.text for page in pages):
        reason = "scanned images? the setting ocr reads them" if ocr is None else "nor OCR text"
        raise UnreadableFileError(f"{path}: the PDF has no extractable text ({reason})")
    first_text = pages[0].raw_text if pages else ""
    title = metadata_title or _title_from_text(first_text, path.stem)
    return LoadedFile(title=title, format="pdf", pages=pages)


def _pdf_page(number: int, raw: str, raw_breaks: list[int], tables: str = "") -> Page:
    """A PDF page whose chunks end at `raw_breaks` (offsets in `raw`: where footnotes start),
    with its `tables` (Markdown, `rag.pdftables`) after its text, their line breaks kept, in
    chunks of their own."""
    if not raw_breaks and not tables:
        return _page(number, raw)
    text, offsets = normalise(raw)
    breaks = {bisect.bisect_left(offsets, at) for at in raw_breaks}
    if tables:
        breaks.add(len(text))
        text = f"{text}\n\n{normalised_text(tables, keep_line_breaks=True)}".lstrip()
        raw = f"{raw}{TABLES_MARK}{tables}"
    return Page(number, text, raw, tuple(sorted(breaks - {0, len(text)})))


def _edge_lines(text: str) -> list[tuple[re.Match[str], str]]:
    """The first and last EDGE_LINES non-blank lines of a page, each with its `_line_key`."""
    lines = list(_LINE.finditer(text))
    edges = lines[:EDGE_LINES] + lines[EDGE_LINES:][-EDGE_LINES:]
    return [(line, _line_key(line.group())) for line in edges]


def _line_key(line: str) -> str:
    return _SPACES.sub(" ", _NUMBER.sub("#", line.strip().lower()))


def without_running_lines(pages: list[str]) -> list[str]:
    """The pages' texts with their running headers and footers blanked out by spaces.

    Each text keeps its length, so that offsets into it still locate characters on the page.
    The first page is left whole: it holds the title that later pages repeat as a header.
    """
    if len(pages) < MIN_PAGES_TO_TELL:
        return pages
    edges = [_edge_lines(text) for text in pages]
    seen = Counter(key for lines in edges for key in {key for _, key in lines})
    needed = max(MIN_RUNNING_PAGES, math.ceil(RUNNING_SHARE * len(pages)))
    running = {key for key, pages_with_it in seen.items() if pages_with_it >= needed}
    if not running:
        return pages
    blanked = pages[:1]
    for text, lines in zip(pages[1:], edges[1:], strict=True):
        characters = list(text)
        for line, key in lines:
            if key in running:
                characters[line.start() : line.end()] = " " * (line.end() - line.start())
        blanked.append("".join(characters))
    return blanked


def _check_zip_is_safe(path: Path, kind: str = "a Word .docx file") -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as error:
        raise UnreadableFileError(f"{path}: not {kind} (not a zip archive)") from error
    unpacked = sum(member.file_size for member in members)
    packed = sum(member.compress_size for member in members) or 1
    if unpacked > MAX_DOCX_UNPACKED_BYTES or unpacked / packed > MAX_DOCX_COMPRESSION_RATIO:
        raise UnreadableFileError(
            f"{path}: refused, it unpacks to {unpacked:,} bytes from {packed:,} (a zip bomb?)"
        )


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"


def _xml_parser() -> Any:  # lxml.etree.XMLParser that never fetches or expands external content
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _docx_part(archive: zipfile.ZipFile, name: str) -> Any:  # lxml _Element; None if absent
    from lxml import etree

    try:
        return etree.fromstring(archive.read(name), _xml_parser())
    except KeyError:
        return None


def _docx_main_part(archive: zipfile.ZipFile, path: Path) -> str:
    """The name of the document part that the package's relationships point to."""
    relationships = _docx_part(archive, "_rels/.rels")
    for relationship in [] if relationships is None else relationships.iter(_RELATIONSHIP):
        if relationship.get("Type", "").endswith("/officeDocument"):
            return str(relationship.get("Target", "")).lstrip("/")
    raise UnreadableFileError(f"{path}: not a Word .docx file (no main document part)")


def _docx_heading_styles(archive: zipfile.ZipFile) -> frozenset[str]:
    """Ids of the paragraph styles named Title or Heading (Word's names, in any language)."""
    styles = _docx_part(archive, "word/styles.xml")
    headings = set()
    for style in [] if styles is None else styles.iter(f"{_W}style"):
        name = style.find(f"{_W}name")
        label = (name.get(f"{_W}val", "") if name is not None else "").lower()
        if label.startswith(("title", "heading")):
            headings.add(style.get(f"{_W}styleId", ""))
    return frozenset(headings)


class _DocxText:
    """Paragraphs and tables (as Markdown, `rag.tables`) of a Word body, in document order,
    from iterparse events.

    Each element is dropped once read, so memory holds the text, not the XML tree.
    """

    TAGS = [f"{_W}{name}" for name in ("p", "t", "tab", "br", "cr", "pStyle", "tr", "tc", "tbl")]

    def __init__(self, heading_styles: frozenset[str]) -> None:
        self.heading_styles = heading_styles
        self.blocks: list[str] = []
        self.headings: list[str] = []
        self._paragraphs: list[tuple[list[str], list[str]]] = []  # open: (pieces, style)
        self._tables: list[list[list[str]]] = []  # open tables: their rows so far
        self._rows: list[list[str]] = []  # open table rows: their cells' text
        self._cells: list[list[str]] = []  # open cells: their paragraphs' text

    def start(self, tag: str) -> None:
        if tag == f"{_W}p":
            self._paragraphs.append(([], []))
        elif tag == f"{_W}tbl":
            self._tables.append([])
        elif tag == f"{_W}tr":
            self._rows.append([])
        elif tag == f"{_W}tc":
            self._cells.append([])

    def end(self, element: Any) -> None:  # element: lxml.etree._Element
        tag, parent = element.tag, element.getparent()
        in_run = parent is not None and parent.tag == f"{_W}r"
        if tag == f"{_W}t" and self._paragraphs:
            self._paragraphs[-1][0].append(element.text or "")
        elif tag in (f"{_W}tab", f"{_W}br", f"{_W}cr") and in_run and self._paragraphs:
            self._paragraphs[-1][0].append("\t" if tag == f"{_W}tab" else "\n")
        elif tag == f"{_W}pStyle" and self._paragraphs:
            self._paragraphs[-1][1].append(element.get(f"{_W}val", ""))
        elif tag == f"{_W}p" and self._paragraphs:
            pieces, style = self._paragraphs.pop()
            text = "".join(pieces)
            self._add(text)
            if style and style[0] in self.heading_styles:
                self.headings.append(text)
        elif tag == f"{_W}tc" and self._cells:
            cell = "\n".join(self._cells.pop())
            if self._rows:
                self._rows[-1].append(cell)
        elif tag == f"{_W}tr" and self._rows:
            row = self._rows.pop()
            if self._tables and any(cell.strip() for cell in row):
                self._tables[-1].append(row)
        elif tag == f"{_W}tbl" and self._tables:
            rows = self._tables.pop()
            self._add("\n\n".join(markdown_blocks(rows, self._caption())))
        if tag in (f"{_W}p", f"{_W}tr", f"{_W}tbl"):
            element.clear()
            while parent is not None and element.getprevious() is not None:
                del parent[0]

    def _add(self, text: str) -> None:
        (self._cells[-1] if self._cells else self.blocks).append(text)

    def _caption(self) -> str:
        """The paragraph just above a table of the body, when it is short enough to be its
        caption or the sentence that introduces it: taken out of the body to head the table's
        first block, so that the table's first chunk says what the table is."""
        if self._cells or self._tables:  # a table in a cell
            return ""
        while self.blocks and not self.blocks[-1].strip():
            self.blocks.pop()
        last = self.blocks[-1].strip() if self.blocks else ""
        if not last or len(last) > MAX_CAPTION_CHARS or last.startswith("|"):
            return ""
        self.blocks.pop()
        return " ".join(last.split())


def load_docx(path: Path) -> LoadedFile:
    from lxml import etree

    _check_zip_is_safe(path)
    with zipfile.ZipFile(path) as archive:
        core = _docx_part(archive, "docProps/core.xml")
        title_element = core.find(_DC_TITLE) if core is not None else None
        body = _DocxText(_docx_heading_styles(archive))
        try:
            part = archive.open(_docx_main_part(archive, path))
        except KeyError as error:
            raise UnreadableFileError(f"{path}: not a Word .docx file ({error})") from error
        with part:
            events = etree.iterparse(
                part,
                events=("start", "end"),
                tag=_DocxText.TAGS,
                resolve_entities=False,
                no_network=True,
                load_dtd=False,
            )
            for event, element in events:
                body.start(element.tag) if event == "start" else body.end(element)
    raw = "\n\n".join(block for block in body.blocks if block.strip())
    title = ((title_element.text or "") if title_element is not None else "").strip()
    title = title or next((h for h in body.headings if h.strip()), _title_from_text(raw, path.stem))
    return LoadedFile(title=title, format="docx", pages=[_page(None, raw)])


class _TextBudget:
    """Counts the characters a loader builds, so that a file whose text is over MAX_TEXT_CHARS
    is refused before its text fills memory (a spreadsheet of a million rows)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.used = 0

    def take(self, text: str) -> str:
        self.used += len(text)
        if self.used > MAX_TEXT_CHARS:
            raise UnreadableFileError(
                f"{self.path}: refused, its text is over the limit of {MAX_TEXT_CHARS:,} "
                f"characters (about 8,000 pages); split it into smaller files"
            )
        return text


def _table_text(rows: Iterable[Sequence[str]], budget: _TextBudget) -> list[str]:
    """The Markdown blocks of a table whose first row is its header (`rag.tables`)."""
    return [budget.take(block) for block in markdown_blocks(rows)]


def _cell_text(value: object) -> str:
    """A spreadsheet cell's value as it reads: 12 not 12.0, dates without a zero time."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _sheet_tables(
    rows: Iterable[Sequence[object]], budget: _TextBudget
) -> Iterator[list[list[str]]]:
    """The tables of a sheet: runs of rows between empty rows, trailing empty cells dropped."""
    table: list[list[str]] = []
    for row in rows:
        cells = [_cell_text(value) for value in row]
        while cells and not cells[-1].strip():
            cells.pop()
        if cells:
            budget.take("".join(cells))
            table.append(cells)
        elif table:
            yield table
            table = []
    if table:
        yield table


def load_xlsx(path: Path) -> LoadedFile:
    """An Excel workbook, one page per sheet that holds cells (numbered by the sheet's
    position), each table of it as Markdown; cached values of formulas, streamed."""
    from openpyxl import load_workbook

    _check_zip_is_safe(path, "an Excel .xlsx file")
    workbook = load_workbook(path, read_only=True, data_only=True)
    budget = _TextBudget(path)
    pages = []
    try:
        for number, sheet in enumerate(workbook.worksheets, 1):
            sheet.reset_dimensions()  # a file's stated dimensions may be absurd; read its cells
            blocks = [
                block
                for table in _sheet_tables(sheet.iter_rows(values_only=True), budget)
                for block in _table_text(table, budget)
            ]
            if blocks:
                raw = "\n\n".join([f"Sheet: {sheet.title}", *blocks])
                pages.append(_page(number, raw, keep_line_breaks=True))
        title = (workbook.properties.title or "").strip() or path.stem
    finally:
        workbook.close()
    return LoadedFile(title=title, format="xlsx", pages=pages)


def load_csv(path: Path) -> LoadedFile:
    """A CSV (or tab-separated) file as one Markdown table whose header is its first row."""
    raw = _decode_text(path.read_bytes(), path)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            raw[:8192], delimiters=",;\t|"
        )
    except csv.Error:  # one column, or too few rows to tell
        dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    rows = (row for row in csv.reader(io.StringIO(raw, newline=""), dialect) if any(row))
    blocks = _table_text(rows, _TextBudget(path))
    page = _page(None, "\n\n".join(blocks))
    return LoadedFile(title=path.stem, format="csv", pages=[page])


def _pptx_texts(shapes: Iterable[BaseShape]) -> Iterator[str]:
    """The text of slide shapes in reading order (top to bottom, left to right), groups
    entered, tables as Markdown."""
    from pptx.shapes.autoshape import Shape
    from pptx.shapes.graphfrm import GraphicFrame
    from pptx.shapes.group import GroupShape

    for shape in sorted(shapes, key=lambda shape: (shape.top or 0, shape.left or 0)):
        if isinstance(shape, GroupShape):
            yield from _pptx_texts(shape.shapes)
        elif isinstance(shape, GraphicFrame) and shape.has_table:
            yield from markdown_blocks(
                [[cell.text for cell in row.cells] for row in shape.table.rows]
            )
        elif isinstance(shape, Shape) and shape.text_frame.text.strip():
            yield shape.text_frame.text


def load_pptx(path: Path) -> LoadedFile:
    """A PowerPoint deck, one page per slide: its title, its other text in reading order,
    tables as Markdown, then its speaker notes."""
    from pptx import Presentation

    _check_zip_is_safe(path, "a PowerPoint .pptx file")
    deck = Presentation(str(path))
    budget = _TextBudget(path)
    pages = []
    slide_titles = []
    for number, slide in enumerate(deck.slides, 1):
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text.strip() if title_shape is not None else ""
        others = [
            shape
            for shape in slide.shapes
            if shape.shape_id != getattr(title_shape, "shape_id", None)
        ]
        parts = [title, *_pptx_texts(others)] if title else list(_pptx_texts(others))
        notes = slide.notes_slide.notes_text_frame if slide.has_notes_slide else None
        if notes is not None and notes.text.strip():
            parts.append("Speaker notes:\n" + notes.text)
        pages.append(_page(number, budget.take("\n\n".join(parts)), keep_line_breaks=True))
        slide_titles.append(title)
    title = (deck.core_properties.title or "").strip()
    title = title or next((t for t in slide_titles if t), path.stem)
    return LoadedFile(title=title, format="pptx", pages=pages)


_OPF = "{http://www.idpf.org/2007/opf}"
_EPUB_ROOTFILE = "{urn:oasis:names:tc:opendocument:xmlns:container}rootfile"


def load_epub(path: Path) -> LoadedFile:
    """An EPUB book (2 or 3): the XHTML documents of its reading order, each read as HTML,
    as one text; the package's title. Parsed with the safe XML and streaming HTML parsers
    used for Word and HTML, after the same zip-bomb check."""
    from lxml import etree

    _check_zip_is_safe(path, "an EPUB book")
    budget = _TextBudget(path)
    chapters = []
    with zipfile.ZipFile(path) as archive:
        container = _docx_part(archive, "META-INF/container.xml")
        rootfile = None if container is None else container.find(f".//{_EPUB_ROOTFILE}")
        package_name = "" if rootfile is None else rootfile.get("full-path", "")
        package = _docx_part(archive, package_name) if package_name else None
        if package is None:
            raise UnreadableFileError(f"{path}: not an EPUB book (no package document)")
        folder = posixpath.dirname(package_name)
        manifest = {item.get("id"): item.get("href", "") for item in package.iter(f"{_OPF}item")}
        for reference in package.iter(f"{_OPF}itemref"):
            href = manifest.get(reference.get("idref"))
            if not href or reference.get("linear") == "no":
                continue
            name = posixpath.normpath(posixpath.join(folder, unquote(href)))
            try:
                data = archive.read(name)
            except KeyError as error:
                raise UnreadableFileError(f"{path}: the book lacks its part {name}") from error
            target = _HtmlText()
            parser = etree.HTMLParser(target=target, no_network=True, remove_comments=True)
            parser.feed(_decode_text(data, path))
            parser.close()
            chapters.append(budget.take(target.content()[0]))
        title_element = package.find(f".//{_DC_TITLE}")
    raw = "\n\n".join(chapters)
    title = (title_element.text or "").strip() if title_element is not None else ""
    return LoadedFile(
        title=title or _title_from_text(raw, path.stem), format="epub", pages=[_page(None, raw)]
    )


LOADERS: dict[str, Callable[[Path], LoadedFile]] = {
    ".txt": load_text,
    ".text": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".pptx": load_pptx,
    ".xlsx": load_xlsx,
    ".csv": load_csv,
    ".tsv": load_csv,
    ".epub": load_epub,
}
SUPPORTED_SUFFIXES = frozenset(LOADERS)
# Raised when a loader starts to give other text for the same file (2: PDF running headers
# and footers blanked; 3: footnote markers and dot leaders blanked, footnotes their own
# chunks; 4: ruled tables as Markdown after the page's text, figures in small type no longer
# taken for footnote markers; 5: table columns empty in every row dropped; 6: open tables,
# drawn with rules across only, as Markdown too; 7: running lines numbered in roman numerals
# blanked too; 8: a page's footnotes together, not one chunk each; 9: a number joined by a
# hyphen at a line end kept joined (`rag.normalising`); 10: an open table may hold figures
# among a label's words, and "Table of Contents" is no caption; 11: a compound's hyphen at a
# line end after a capital kept too, "NOAA-issued" (`rag.normalising`); 12: a line at the
# edges of two pages is a running line, as a three-page brief's title on its pages 2 and 3;
# Word and HTML 2: tables as Markdown; Word 3: the paragraph above a table heads it), so that
# files read by an earlier version are read again.
LOADER_VERSIONS = {".pdf": 12, ".docx": 3, ".html": 2, ".htm": 2}


def loader_version(suffix: str) -> int:
    """The version of the loader that reads files with this suffix."""
    return LOADER_VERSIONS.get(suffix.lower(), 1)


def load(path: Path, pdf: PdfReading = PdfReading()) -> LoadedFile:
    """Read a supported file into pages; raise UnreadableFileError naming the file and reason.
    PDFs are read as `pdf` says."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnreadableFileError(f"{path}: unsupported file type (supported: {supported})")
    try:
        loaded = load_pdf(path, pdf) if loader is load_pdf else loader(path)
    except UnreadableFileError:
        raise
    except MemoryError as error:
        raise UnreadableFileError(f"{path}: too large to read into memory") from error
    except OSError as error:
        raise UnreadableFileError(f"{path}: {error.strerror or error}") from error
    except Exception as error:  # parsers of untrusted files fail in many ways (lxml raises
        # SyntaxError, zlib its own error...); whichever it is, this one file cannot be read
        raise UnreadableFileError(f"{path}: {type(error).__name__}: {error}") from error
    if not any(page.text.strip() for page in loaded.pages):
        raise UnreadableFileError(f"{path}: no text in the file")
    characters = sum(len(page.text) for page in loaded.pages)
    if characters > MAX_TEXT_CHARS:
        raise UnreadableFileError(
            f"{path}: refused, its text is {characters:,} characters, over the limit of "
            f"{MAX_TEXT_CHARS:,} (about 8,000 pages); split it into smaller files"
        )
    return loaded
