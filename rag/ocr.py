"""Scanned PDF pages read with Tesseract (through pytesseract): the page's words with their
boxes, kept as JSON in a cache folder so that a page is read once per file version."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import UnreadableFileError

if TYPE_CHECKING:
    from PIL.Image import Image
    from pypdfium2 import PdfPage

OCR_DPI = 300  # Tesseract reads body text best at about 300 dpi
MAX_OCR_PIXELS = 40_000_000  # a larger page is read at a lower resolution
OCR_TIMEOUT_SECONDS = 180  # per page
# A PDF page with an image and fewer visible characters than this is read by OCR (a scan,
# perhaps with a stamp or page number in its text layer).
MIN_TEXT_CHARS = 50
CACHE_VERSION = 1

Box = tuple[float, float, float, float]  # left, top, right, bottom: fractions of the page


@dataclass(frozen=True)
class OcrPage:
    """The words OCR read on a page, and its text made of them."""

    words: tuple[tuple[str, int, Box], ...]  # (text, paragraph number, box) in reading order
    lines: tuple[int, ...]  # for each word, its line number (counted over the page)

    def text_and_spans(self) -> tuple[str, list[tuple[int, int]]]:
        """The page text, words set apart by a space, lines by a line break, paragraphs by a
        blank line; and each word's span in it."""
        pieces: list[str] = []
        spans: list[tuple[int, int]] = []
        at = 0
        previous: tuple[int, int] | None = None
        for (word, paragraph, _), line in zip(self.words, self.lines, strict=True):
            if previous is not None:
                gap = " " if previous == (paragraph, line) else "\n"
                gap = "\n\n" if previous[0] != paragraph else gap
                pieces.append(gap)
                at += len(gap)
            pieces.append(word)
            spans.append((at, at + len(word)))
            at += len(word)
            previous = (paragraph, line)
        return "".join(pieces), spans

    @property
    def text(self) -> str:
        return self.text_and_spans()[0]

    def boxes(self, start: int, end: int) -> list[Box]:
        """The boxes of the words that the text span [start, end) touches."""
        _, spans = self.text_and_spans()
        return [
            box
            for (_, _, box), (word_start, word_end) in zip(self.words, spans, strict=True)
            if word_start < end and start < word_end
        ]


def needs_ocr(pdf_page: PdfPage, text: str) -> bool:
    """Whether a PDF page is a scan: an image, and fewer than MIN_TEXT_CHARS visible
    characters in its text layer."""
    import pypdfium2.raw as pdfium_c

    if len(text) - sum(char.isspace() for char in text) >= MIN_TEXT_CHARS:
        return False
    images = pdf_page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3)
    return next(iter(images), None) is not None


def page_image(pdf_page: PdfPage, scale: float) -> Image:
    """The PDF page drawn at `scale` pixels per point."""
    image: Image = pdf_page.render(scale=scale).to_pil()
    return image


def _file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class Ocr:
    """Reads page images with Tesseract in `languages` ("eng", "eng+fra"), caching the words
    of each page under `cache_dir` (JSON, keyed by the file's content hash)."""

    def __init__(self, languages: str, cache_dir: Path | None) -> None:
        self.languages = languages
        self.cache_dir = cache_dir
        self._digests: dict[Path, str] = {}

    def _cache_file(self, path: Path, page_index: int) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = self._digests.get(path)
        if digest is None:
            digest = self._digests[path] = _file_digest(path)
        name = f"{digest}-p{page_index + 1}-{self.languages}-v{CACHE_VERSION}.json"
        return self.cache_dir / digest[:2] / name

    def read(
        self, path: Path, page_index: int, area: float, render: Callable[[float], Image]
    ) -> OcrPage:
        """The words on page `page_index` of the PDF at `path` (`area` square points), from
        the cache, else read from `render(scale)` (the page drawn at `scale` pixels per
        point) and cached."""
        cache_file = self._cache_file(path, page_index)
        if cache_file is not None and cache_file.exists():
            try:
                return _from_json(cache_file.read_text(encoding="utf-8"))
            except (ValueError, KeyError, TypeError):
                pass  # a damaged cache entry is read again and replaced
        scale = min(OCR_DPI / 72, (MAX_OCR_PIXELS / max(area, 1.0)) ** 0.5)
        page = self._recognise(path, page_index, render(scale))
        if cache_file is not None:
            _write_atomically(cache_file, _to_json(page))
        return page

    def _recognise(self, path: Path, page_index: int, image: Image) -> OcrPage:
        import pytesseract

        try:
            with _one_thread():
                data = pytesseract.image_to_data(
                    image,
                    lang=self.languages,
                    output_type=pytesseract.Output.DICT,
                    timeout=OCR_TIMEOUT_SECONDS,
                )
        except pytesseract.TesseractNotFoundError as error:
            raise UnreadableFileError(
                f"{path}: page {page_index + 1} is a scan and needs OCR, but Tesseract is not "
                f"installed (apt-get install tesseract-ocr tesseract-ocr-eng), or set ocr = false"
            ) from error
        except RuntimeError as error:  # TesseractError, or its timeout
            raise UnreadableFileError(
                f"{path}: OCR of page {page_index + 1} failed ({error}); the languages "
                f"'{self.languages}' must be installed Tesseract languages (tesseract --list-langs)"
            ) from error
        width, height = image.width, image.height
        words: list[tuple[str, int, Box]] = []
        lines: list[int] = []
        paragraph_ids: dict[tuple[int, int], int] = {}
        line_ids: dict[tuple[int, int, int], int] = {}
        for i, text in enumerate(data["text"]):
            word = text.strip()
            if not word:
                continue
            paragraph = (data["block_num"][i], data["par_num"][i])
            line_key = (*paragraph, data["line_num"][i])
            left, top = data["left"][i], data["top"][i]
            box = (
                left / width,
                top / height,
                (left + data["width"][i]) / width,
                (top + data["height"][i]) / height,
            )
            words.append((word, paragraph_ids.setdefault(paragraph, len(paragraph_ids)), box))
            lines.append(line_ids.setdefault(line_key, len(line_ids)))
        return OcrPage(tuple(words), tuple(lines))


_ENVIRONMENT_LOCK = threading.Lock()


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Tesseract started meanwhile runs one OpenMP thread (OMP_THREAD_LIMIT=1): measured on 2
    busy cores, a page took 8.0 s with its default threads and 3.2 s with one. pytesseract
    passes this process's environment to Tesseract, so the variable is set for the call."""
    with _ENVIRONMENT_LOCK:
        before = os.environ.get("OMP_THREAD_LIMIT")
        os.environ["OMP_THREAD_LIMIT"] = "1"
        try:
            yield
        finally:
            if before is None:
                del os.environ["OMP_THREAD_LIMIT"]
            else:
                os.environ["OMP_THREAD_LIMIT"] = before


def _to_json(page: OcrPage) -> str:
    return json.dumps(
        {
            "version": CACHE_VERSION,
            "words": [[word, paragraph, list(box)] for word, paragraph, box in page.words],
            "lines": list(page.lines),
        }
    )


def _from_json(text: str) -> OcrPage:
    data = json.loads(text)
    if data["version"] != CACHE_VERSION:
        raise ValueError("another cache version")
    words = tuple(
        (str(word), int(paragraph), (float(b[0]), float(b[1]), float(b[2]), float(b[3])))
        for word, paragraph, b in data["words"]
    )
    lines = tuple(int(line) for line in data["lines"])
    if len(lines) != len(words):
        raise ValueError("words and lines differ in number")
    return OcrPage(words, lines)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".ocr-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
