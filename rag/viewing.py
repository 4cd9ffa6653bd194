"""Showing a cited source: the quote in its page text, the PDF page with the quote highlighted,
and the original file, served only for documents of the library."""

from __future__ import annotations

import ctypes
import functools
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from rag.errors import DocumentNotFoundError, SourceFileError
from rag.models import sha256_of
from rag.normalising import normalise, normalised_text, raw_span
from rag.ocr import Ocr, needs_ocr, page_image
from rag.pdfpages import char_indices
from rag.pdftables import TABLES_MARK, TableFinder, quoted_cells, table_kinds, tables_text
from rag.records import Citation, DocumentInfo, Page
from rag.store import DocumentStore

if TYPE_CHECKING:
    from pypdfium2 import PdfPage

CONTEXT_CHARS = 700  # page text shown on each side of the quote
RENDER_SCALE = 1.5  # pixels per PDF point: 108 dpi
HIGHLIGHT_FILL = (255, 200, 0, 90)
HIGHLIGHT_OUTLINE = (230, 150, 0, 255)
Box = tuple[float, float, float, float]  # left, top, right, bottom in image pixels


@dataclass(frozen=True)
class SourceView:
    """A citation opened: its document, page, and the quote with the page text around it."""

    citation: Citation
    document: DocumentInfo
    page: Page
    before: str  # page text before the quote (at most CONTEXT_CHARS, cut at a word)
    quote: str
    after: str

    @property
    def is_pdf(self) -> bool:
        return self.document.format == "pdf" and self.page.number is not None


def _cut_before(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    return "…" + cut[cut.find(" ") + 1 :] if " " in cut else "…" + cut


def _cut_after(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return (cut[: cut.rfind(" ")] if " " in cut else cut) + "…"


def source_view(
    store: DocumentStore, citation: Citation, context_chars: int = CONTEXT_CHARS
) -> SourceView:
    """The stored page of a citation with its quote located; raise if the index changed since."""
    passages = store.passages([citation.chunk_id])
    if not passages:
        raise DocumentNotFoundError(
            f"citation [{citation.n}] points to a passage that is no longer in the index "
            f"(its document was removed or re-ingested); ask the question again"
        )
    passage = passages[0]
    try:
        document = store.document(passage.document_id)
    except DocumentNotFoundError as error:
        raise DocumentNotFoundError(
            f"citation [{citation.n}]: its document is no longer in the index"
        ) from error
    page = store.page(passage.document_id, citation.page)
    start, end = citation.page_start, citation.page_end
    if page.text[start:end] != citation.quote:
        raise DocumentNotFoundError(
            f"citation [{citation.n}]: the quoted words are no longer on {document.file}"
            f"{f' page {page.number}' if page.number else ''} (re-ingested?); ask the question again"
        )
    return SourceView(
        citation=citation,
        document=document,
        page=page,
        before=_cut_before(page.text[:start], context_chars),
        quote=citation.quote,
        after=_cut_after(page.text[end:], context_chars),
    )


def original_file(document: DocumentInfo) -> Path:
    """The document's file as it was indexed; raise if it is gone or has changed since."""
    path = Path(document.source)
    try:
        unchanged = sha256_of(path) == document.content_hash
    except OSError as error:
        raise SourceFileError(
            f"{document.file}: the original file {path} cannot be read ({error.strerror or error})"
        ) from error
    if not unchanged:
        raise SourceFileError(
            f"{document.file}: the original file {path} changed after it was indexed; "
            f"run `rag ingest` on it again"
        )
    return path


def copy_for_serving(document: DocumentInfo, folder: Path) -> Path:
    """A copy of the document's original file under `folder`, made once per file version.

    Only files of indexed documents are ever copied, so a web server that serves `folder`
    serves library files and nothing else.
    """
    target = folder / f"{document.id}-{document.content_hash[:16]}" / Path(document.source).name
    if not target.exists():
        source = original_file(document)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(source, partial)
        partial.replace(target)
    return target


def _device_box(page: object, rect: Box, width: int, height: int) -> Box:
    """A rectangle in PDF page space (left, bottom, right, top) in rendered-image pixels."""
    import pypdfium2.raw as pdfium_c

    left, bottom, right, top = rect
    points = []
    for x, y in ((left, top), (right, bottom)):
        device_x, device_y = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(
            page, 0, 0, width, height, 0, x, y, ctypes.byref(device_x), ctypes.byref(device_y)
        )
        points.append((device_x.value, device_y.value))
    (x1, y1), (x2, y2) = points
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


@dataclass(frozen=True)
class DrawnPage:
    """A PDF page drawn as an image, and the box around its highlighted quote (None: none)."""

    image: Image.Image
    highlight: Box | None


def render_page(
    path: Path,
    page: Page,
    span: tuple[int, int] | None = None,
    scale: float = RENDER_SCALE,
    ocr: Ocr | None = None,
) -> Image.Image:
    """Page `page.number` of the PDF at `path` as an image, with the words of the normalised
    page-text `span` highlighted when the page still holds the text it was indexed with (for
    a scanned page, from the boxes of the words `ocr` read)."""
    return drawn_page(path, page, span, scale, ocr).image


def drawn_page(
    path: Path,
    page: Page,
    span: tuple[int, int] | None = None,
    scale: float = RENDER_SCALE,
    ocr: Ocr | None = None,
) -> DrawnPage:
    """`render_page`, with the box (in the image's pixels) around the highlight drawn."""
    import pypdfium2 as pdfium

    if page.number is None:
        raise ValueError("render_page needs a page of a PDF")
    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as error:
        raise SourceFileError(f"{path}: cannot open the PDF ({error})") from error
    try:
        if not 1 <= page.number <= len(pdf):
            raise SourceFileError(f"{path} has no page {page.number}")
        pdf_page = pdf[page.number - 1]
        image = pdf_page.render(scale=scale).to_pil().convert("RGBA")
        boxes = _quote_boxes(path, pdf_page, page, span, image.size) if span else []
        if span and not boxes and ocr is not None:
            boxes = _ocr_quote_boxes(ocr, path, pdf_page, page, span, image.size)
    finally:
        pdf.close()
    if not boxes:
        return DrawnPage(image.convert("RGB"), None)
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    drawn = [(left - 2, top - 2, right + 2, bottom + 2) for left, top, right, bottom in boxes]
    for box in drawn:
        draw.rectangle(box, fill=HIGHLIGHT_FILL, outline=HIGHLIGHT_OUTLINE, width=1)
    highlight = (
        min(box[0] for box in drawn),
        min(box[1] for box in drawn),
        max(box[2] for box in drawn),
        max(box[3] for box in drawn),
    )
    return DrawnPage(Image.alpha_composite(image, overlay).convert("RGB"), highlight)


def _extracted_from(raw_text: str, bounded: str) -> bool:
    """Whether the stored text is PDFium's text of the page, running headers blanked or not."""
    return len(raw_text) == len(bounded) and all(
        stored == extracted or stored == " "
        for stored, extracted in zip(raw_text, bounded, strict=True)
    )


def _quote_boxes(
    path: Path, pdf_page: PdfPage, page: Page, span: tuple[int, int], size: tuple[int, int]
) -> list[Box]:
    """Pixel boxes around the characters of the normalised `span`, or around the cells of the
    table rows it quotes; none if the page changed."""
    textpage = pdf_page.get_textpage()
    try:
        bounded = textpage.get_text_bounded()
        prose, tables = page.raw_text[: len(bounded)], page.raw_text[len(bounded) :]
        if tables and not tables.startswith(TABLES_MARK):
            return []
        table_text = normalised_text(tables[len(TABLES_MARK) :], keep_line_breaks=True)
        if table_text and span[0] >= len(page.text) - len(table_text):
            return _table_boxes(path, pdf_page, page, tables[len(TABLES_MARK) :], span, size)
        text, offsets = normalise(prose, keep_line_breaks=False)
        if not _extracted_from(prose, bounded) or not page.text.startswith(text):
            return []
        raw_start, raw_end = raw_span(offsets, span[0], span[1], len(bounded))
        if raw_end <= raw_start:
            return []
        indices = char_indices(bounded, textpage.get_text_range())
        first, last = indices[raw_start], indices[raw_end - 1]
        count = textpage.count_rects(first, last - first + 1)
        rects = [textpage.get_rect(i) for i in range(count)]
    finally:
        textpage.close()
    raw_page = pdf_page.raw
    return _merge_lines([_device_box(raw_page, rect, *size) for rect in rects])


def _table_boxes(
    path: Path,
    pdf_page: PdfPage,
    page: Page,
    tables: str,
    span: tuple[int, int],
    size: tuple[int, int],
) -> list[Box]:
    """Pixel boxes around the cells of the table rows that the normalised `span` quotes, from
    the tables found on the page again; none if they are not the `tables` (Markdown) stored."""
    if page.number is None:
        return []
    finder = TableFinder(path)
    try:
        found = finder.tables(page.number - 1, table_kinds(pdf_page))
    finally:
        finder.close()
    if tables_text(found) != tables:
        return []
    width, height = size
    x_scale, y_scale = width / pdf_page.get_width(), height / pdf_page.get_height()
    return [
        (x0 * x_scale, top * y_scale, x1 * x_scale, bottom * y_scale)
        for x0, top, x1, bottom in quoted_cells(found, page.text[span[0] : span[1]])
    ]


def _ocr_quote_boxes(
    ocr: Ocr,
    path: Path,
    pdf_page: PdfPage,
    page: Page,
    span: tuple[int, int],
    size: tuple[int, int],
) -> list[Box]:
    """Pixel boxes around the OCR words of the normalised `span` of a scanned page; none if
    the page is not a scan or its stored text is not the text OCR reads on it."""
    textpage = pdf_page.get_textpage()
    try:
        scanned = needs_ocr(pdf_page, textpage.get_text_bounded())
    finally:
        textpage.close()
    if not scanned or page.number is None:
        return []
    area = pdf_page.get_width() * pdf_page.get_height()
    words = ocr.read(path, page.number - 1, area, functools.partial(page_image, pdf_page))
    text, offsets = normalise(page.raw_text, keep_line_breaks=False)
    if not _extracted_from(page.raw_text, words.text) or text != page.text:
        return []
    raw_start, raw_end = raw_span(offsets, span[0], span[1], len(page.raw_text))
    width, height = size
    return _merge_lines(
        [
            (left * width, top * height, right * width, bottom * height)
            for left, top, right, bottom in words.boxes(raw_start, raw_end)
        ]
    )


def _merge_lines(boxes: list[Box]) -> list[Box]:
    """One box per line of text: boxes that overlap vertically by half their height are joined."""
    merged: list[Box] = []
    for left, top, right, bottom in sorted(boxes, key=lambda box: (box[1], box[0])):
        if merged:
            m_left, m_top, m_right, m_bottom = merged[-1]
            overlap = min(bottom, m_bottom) - max(top, m_top)
            if overlap >= 0.5 * min(bottom - top, m_bottom - m_top):
                merged[-1] = (
                    min(left, m_left),
                    min(top, m_top),
                    max(right, m_right),
                    max(bottom, m_bottom),
                )
                continue
        merged.append((left, top, right, bottom))
    return merged
