"""Opening a citation: the quote in its page, the PDF page drawn with the quote highlighted,
and the original file served only while it is the file that was indexed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import make_pdf, settings_for

from rag.errors import DocumentNotFoundError, SourceFileError
from rag.library import Library
from rag.records import Citation
from rag.viewing import copy_for_serving, original_file, render_page, source_view

FIRST = "The Quellport lighthouse was built in 1887 by the engineer Ada Moravec."
SECOND = "Its lamp was converted to electricity in 1931 and automated in 1978."
FILLER = " ".join(f"Line {i} of the harbour log records calm weather." for i in range(20))


@pytest.fixture
def pdf_library(tmp_path: Path) -> Iterator[Library]:
    """A library of one two-page PDF: filler, then the two facts on page 2."""
    (tmp_path / "docs").mkdir()
    pdf = make_pdf(
        tmp_path / "docs" / "harbour.pdf", ["Harbour log. " + FILLER, f"{FIRST} {FILLER} {SECOND}"]
    )
    library = Library(settings_for(tmp_path / "index"))
    library.ingest([pdf.parent])
    yield library
    library.close()


def cite(library: Library, sentence: str) -> Citation:
    """A citation of `sentence` on page 2, built from the stored chunk that holds it."""
    document = library.documents()[0]
    page = library.store().page(document.id, 2)
    start = page.text.index(sentence)
    hits = library.store().search_lexical(sentence, 5)
    passage = next(
        p
        for p in library.store().passages([h.chunk_id for h in hits])
        if p.page == 2 and p.start <= start and start + len(sentence) <= p.end
    )
    return Citation(
        n=1,
        chunk_id=passage.chunk_id,
        document=passage.title,
        file=passage.file,
        page=2,
        quote=sentence,
        chunk_start=start - passage.start,
        chunk_end=start - passage.start + len(sentence),
        page_start=start,
        page_end=start + len(sentence),
    )


def highlighted_rows(image) -> np.ndarray:
    """Row numbers of the image holding the highlight's colour (amber over white paper)."""
    pixels = np.asarray(image).astype(int)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    amber = (red > 245) & (green > 220) & (green < 245) & (blue > 140) & (blue < 190)
    return np.nonzero(amber.sum(axis=1) > 20)[0]


def test_source_view_locates_the_quote(pdf_library: Library):
    view = source_view(pdf_library.store(), cite(pdf_library, SECOND))
    assert view.quote == SECOND and view.page.number == 2 and view.is_pdf
    assert view.before.endswith("calm weather. ") and view.before.startswith("…")
    assert view.document.file == "harbour.pdf"


def test_page_image_highlights_exactly_the_quoted_lines(pdf_library: Library):
    document = pdf_library.documents()[0]
    page = pdf_library.store().page(document.id, 2)
    path = original_file(document)
    plain = render_page(path, page)
    assert len(highlighted_rows(plain)) == 0
    first, second = cite(pdf_library, FIRST), cite(pdf_library, SECOND)
    first_rows = highlighted_rows(render_page(path, page, (first.page_start, first.page_end)))
    second_rows = highlighted_rows(render_page(path, page, (second.page_start, second.page_end)))
    assert len(first_rows) > 10 and len(second_rows) > 10
    assert first_rows.max() < second_rows.min()  # the second fact is lower on the page
    assert first_rows.min() < plain.height * 0.2  # the first is the page's opening line


def test_a_quote_on_a_page_with_a_blanked_running_header_is_highlighted(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    bodies = ["Harbour log. " + FILLER, f"{FIRST} {FILLER}", FILLER, FILLER]
    pages = [
        f"Quellport Harbour Annual Report\nPage {n}\n{body}" for n, body in enumerate(bodies, 1)
    ]
    make_pdf(tmp_path / "docs" / "report.pdf", pages)
    library = Library(settings_for(tmp_path / "index"))
    try:
        library.ingest([tmp_path / "docs"])
        document = library.documents()[0]
        page = library.store().page(document.id, 2)
        assert page.text.startswith(FIRST)  # the header is out of the text that is cited
        citation = cite(library, FIRST)
        image = render_page(original_file(document), page, (citation.page_start, citation.page_end))
        rows = highlighted_rows(image)
        assert len(rows) > 10
        assert rows.min() > image.height * 0.05  # below the header lines, which are not marked
    finally:
        library.close()


def test_original_is_served_only_as_indexed(pdf_library: Library, tmp_path: Path):
    document = pdf_library.documents()[0]
    served = copy_for_serving(document, tmp_path / "served")
    assert served.read_bytes() == Path(document.source).read_bytes()
    assert served.is_relative_to(tmp_path / "served")
    Path(document.source).write_bytes(b"%PDF-1.4 replaced by something else")
    with pytest.raises(SourceFileError, match="changed after it was indexed"):
        original_file(document)
    Path(document.source).unlink()
    with pytest.raises(SourceFileError, match="cannot be read"):
        original_file(document)


def test_citation_to_a_removed_document_says_so(pdf_library: Library):
    citation = cite(pdf_library, FIRST)
    pdf_library.remove("harbour.pdf")
    with pytest.raises(DocumentNotFoundError, match="no longer in the index"):
        source_view(pdf_library.store(), citation)
