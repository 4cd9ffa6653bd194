"""Scanned PDF pages: a text page rendered to an image and put in a PDF of its own is read by
Tesseract, answered from, cached, and its quotes boxed on the page from the OCR's words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_pdf, settings_for

from rag.library import Library
from rag.loading import PdfReading, load
from rag.ocr import Ocr
from rag.viewing import render_page, source_view

FACT = "The Quellport breakwater was rebuilt in 1962 with 40,000 tonnes of granite."
TEXT = (
    "Harbour works of the southern coast. "
    + FACT
    + " The old wooden pier was removed in the same year, and a new crane arrived in 1965."
)


def make_scanned_pdf(path: Path, text: str, dpi: int = 200) -> Path:
    """A PDF whose one page is an image of a text page: no text layer, as a scanner makes."""
    import pypdfium2 as pdfium
    from fpdf import FPDF

    source = make_pdf(path.with_suffix(".source.pdf"), [text])
    document = pdfium.PdfDocument(source)
    image = document[0].render(scale=dpi / 72).to_pil().convert("L")
    document.close()
    source.unlink()
    pdf = FPDF()
    pdf.add_page()
    pdf.image(image, x=0, y=0, w=pdf.w, h=pdf.h)
    pdf.output(str(path))
    return path


def test_a_scanned_page_is_read_by_ocr_once(tmp_path: Path, monkeypatch):
    path = make_scanned_pdf(tmp_path / "scan.pdf", TEXT)
    ocr = Ocr("eng", tmp_path / "ocr")

    page = load(path, PdfReading(ocr)).pages[0]

    assert FACT in page.text
    assert len(list((tmp_path / "ocr").rglob("*.json"))) == 1
    import pytesseract

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached words should have been used")

    monkeypatch.setattr(pytesseract, "image_to_data", fail)
    assert load(path, PdfReading(Ocr("eng", tmp_path / "ocr"))).pages[0] == page


def test_without_ocr_a_scan_is_named_and_skipped(tmp_path: Path):
    path = make_scanned_pdf(tmp_path / "scan.pdf", TEXT)
    library = Library(settings_for(tmp_path / "index", ocr=False))
    try:
        report = library.ingest([path])
    finally:
        library.close()
    assert report.skipped == [
        ("scan.pdf", "the PDF has no extractable text (scanned images? the setting ocr reads them)")
    ]


def test_a_scanned_pdf_is_answered_and_its_quote_boxed(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    path = make_scanned_pdf(tmp_path / "docs" / "scan.pdf", TEXT)
    library = Library(settings_for(tmp_path / "index"))
    try:
        report = library.ingest([tmp_path / "docs"])
        assert report.indexed == ["scan.pdf"], report.skipped
        answer = library.ask("When was the Quellport breakwater rebuilt?", mode="extractive")
        assert not answer.refused, answer.text
        citation = answer.citations[0]
        assert citation.file == "scan.pdf" and citation.page == 1
        assert "1962" in citation.quote
        view = source_view(library.store(), citation)
        span = (citation.page_start, citation.page_end)
        plain = np.asarray(render_page(path, view.page))
        boxed = np.asarray(render_page(path, view.page, span, ocr=library.ocr()))
        assert np.asarray(render_page(path, view.page, span)).tolist() == plain.tolist()
    finally:
        library.close()
    rows = np.flatnonzero((plain != boxed).any(axis=(1, 2)))
    assert 0 < len(rows) < 80, len(rows)  # the quoted line or two, not the page


@pytest.mark.parametrize("languages", ["eng+", "eng;rm"])
def test_ocr_languages_are_checked(tmp_path: Path, languages: str):
    from rag.errors import SettingsError

    with pytest.raises(SettingsError, match="ocr_languages"):
        settings_for(tmp_path, ocr_languages=languages)


def test_a_ray_worker_reads_scanned_pages_as_in_process_ingest_does(tmp_path: Path):
    from rag.distributing import prepare_file, recipe_for
    from rag.ingesting import SourceFile
    from rag.models import sha256_of

    (tmp_path / "docs").mkdir()
    path = make_scanned_pdf(tmp_path / "docs" / "scan.pdf", TEXT)
    size = path.stat().st_size
    library = Library(settings_for(tmp_path / "index"))
    try:
        # prepare_file is what each Ray task runs, given the recipe the driver sends
        on_worker = prepare_file(
            recipe_for(library), SourceFile(path, "scan.pdf"), sha256_of(path), size, "as here"
        )
        assert not isinstance(on_worker, str), on_worker
        assert library.ingest([tmp_path / "docs"]).indexed == ["scan.pdf"]
        document = library.store().documents()[0]
        in_process = library.store().stored_document(document.id)
        assert on_worker.chunks == in_process.chunks and on_worker.pages == in_process.pages
        assert FACT in on_worker.pages[0].text
    finally:
        library.close()
