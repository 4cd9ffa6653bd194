"""Files to pages: one loader per format behind `load(path)`."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from rag.errors import UnreadableFileError
from rag.normalising import normalise
from rag.records import LoadedFile, Page

MAX_DOCX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_DOCX_COMPRESSION_RATIO = 200
_TITLE_SKIP = re.compile(r"^(https?://|www\.|updated\b|published\b|page \d+)", re.I)
_NON_CONTENT_TAGS = [
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
    "svg", "canvas", "iframe", "object", "embed", "button", "select", "menu",
]


def _page(number: int | None, raw: str) -> Page:
    """A page; whole-file formats (no page number) keep line breaks, PDFs' wrapped lines don't."""
    text, _ = normalise(raw, keep_line_breaks=number is None)
    return Page(number=number, text=text, raw_text=raw)


def _title_from_text(text: str, fallback: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if len(re.findall(r"[^\W\d_]{2,}", line)) >= 2 and not _TITLE_SKIP.match(line):
            return line[:200]
    return fallback


def _decode_text(data: bytes, path: Path) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:8192]:
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
    headings = re.findall(r"^#\s+(.+)$", raw, re.M)
    title = headings[0].strip() if headings else _title_from_text(raw, path.stem)
    return LoadedFile(title=title, format="markdown", pages=[_page(None, raw)])


def load_html(path: Path) -> LoadedFile:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode_text(path.read_bytes(), path), "html.parser")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    for tag in soup.find_all(_NON_CONTENT_TAGS):
        tag.decompose()
    for tag in soup.find_all(attrs={"role": ["navigation", "banner", "contentinfo"]}):
        tag.decompose()
    body = soup.find("main") or soup.find("article") or soup.body or soup
    blocks = re.compile(r"^(p|h[1-6]|li|tr|pre|blockquote|div|section|dd|dt|figcaption|td|th)$")
    for tag in body.find_all(blocks):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    raw = body.get_text("")
    if not title:
        heading = body.find(re.compile("^h[1-3]$"))
        title = heading.get_text(" ", strip=True) if heading else _title_from_text(raw, path.stem)
    return LoadedFile(title=title, format="html", pages=[_page(None, raw)])


def load_pdf(path: Path) -> LoadedFile:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as error:
        reason = "it is encrypted with a password" if "password" in str(error).lower() else error
        raise UnreadableFileError(f"{path}: not a readable PDF ({reason})") from error
    try:
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            pages.append(_page(index + 1, textpage.get_text_bounded()))
            textpage.close()
            page.close()
        metadata_title = (pdf.get_metadata_dict().get("Title") or "").strip()
    finally:
        pdf.close()
    if not any(page.text for page in pages):
        raise UnreadableFileError(f"{path}: the PDF has no extractable text (scanned images?)")
    first_text = pages[0].raw_text if pages else ""
    title = metadata_title or _title_from_text(first_text, path.stem)
    return LoadedFile(title=title, format="pdf", pages=pages)


def _check_zip_is_safe(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as error:
        raise UnreadableFileError(f"{path}: not a Word .docx file (not a zip archive)") from error
    unpacked = sum(member.file_size for member in members)
    packed = sum(member.compress_size for member in members) or 1
    if unpacked > MAX_DOCX_UNPACKED_BYTES or unpacked / packed > MAX_DOCX_COMPRESSION_RATIO:
        raise UnreadableFileError(
            f"{path}: refused, it unpacks to {unpacked:,} bytes from {packed:,} (a zip bomb?)"
        )


def load_docx(path: Path) -> LoadedFile:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    _check_zip_is_safe(path)
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as error:
        raise UnreadableFileError(f"{path}: not a readable Word .docx file ({error})") from error
    blocks = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            blocks.append(" | ".join(cell.text for cell in row.cells))
    raw = "\n\n".join(block for block in blocks if block.strip())
    headings = [p.text for p in document.paragraphs if p.style.name.startswith(("Title", "Heading"))]
    title = (document.core_properties.title or "").strip() or next(
        (h for h in headings if h.strip()), _title_from_text(raw, path.stem)
    )
    return LoadedFile(title=title, format="docx", pages=[_page(None, raw)])


LOADERS: dict[str, Callable[[Path], LoadedFile]] = {
    ".txt": load_text,
    ".text": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}
SUPPORTED_SUFFIXES = frozenset(LOADERS)


def load(path: Path) -> LoadedFile:
    """Read a supported file into pages; raise UnreadableFileError naming the file and reason."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnreadableFileError(f"{path}: unsupported file type (supported: {supported})")
    try:
        loaded = loader(path)
    except UnreadableFileError:
        raise
    except MemoryError as error:
        raise UnreadableFileError(f"{path}: too large to read into memory") from error
    except (OSError, ValueError, RuntimeError, LookupError, zipfile.BadZipFile) as error:
        raise UnreadableFileError(f"{path}: {type(error).__name__}: {error}") from error
    if not any(page.text.strip() for page in loaded.pages):
        raise UnreadableFileError(f"{path}: no text in the file")
    return loaded
