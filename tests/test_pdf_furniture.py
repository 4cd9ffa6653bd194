"""PDF page furniture: footnotes apart from the body, markers not glued to words, contents
pages without dot leaders; the source viewer still boxes quotes on such pages."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.loading import load
from rag.splitting import Splitter
from rag.viewing import render_page

BODY = (
    "The harbour act was amended by law,{8} as the port authority asked in its annual report. "
    "Dredging of the channel was finished in 2019, ahead of the plan.{9} The new berth opened "
    "in the spring and handles bulk grain and copper concentrate for the mines of the south."
)
NOTES = {
    "8": "Public Law 117-58, the Harbour Modernisation Act of 2021, section 12.",
    "9": "Port authority, Annual Report 2019, p. 14, which gives the dredged depth as 14 metres.",
}


def make_footnoted_pdf(path: Path, pages: int = 2) -> Path:
    """Pages of 11 pt body text with superscript markers, and 8 pt footnotes at the foot."""
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        pdf.set_font("helvetica", size=11)
        for piece in BODY.replace("{", "}").split("}"):
            pdf.char_vpos = "SUP" if piece in NOTES else "LINE"
            pdf.write(6, piece)
        pdf.char_vpos = "LINE"
        pdf.set_y(-50)
        pdf.set_font("helvetica", size=8)
        for number, note in NOTES.items():
            pdf.char_vpos = "SUP"
            pdf.write(4, number)
            pdf.char_vpos = "LINE"
            pdf.write(4, f" {note}\n")
    pdf.output(str(path))
    return path


def test_a_pages_footnotes_are_a_chunk_of_their_own_and_markers_leave_the_words(
    tmp_path: Path, embedder
):
    loaded = load(make_footnoted_pdf(tmp_path / "footnoted.pdf"))
    page = loaded.pages[1]
    assert "amended by law, as the port authority" in page.text
    assert "ahead of the plan. The new berth" in page.text
    body = page.text[: page.breaks[0]]
    assert "Public Law" not in body and "Annual Report 2019" not in body

    chunks = Splitter(embedder.count_tokens, max_tokens=200, overlap_tokens=40).split([page])
    texts = [chunk.text for chunk in chunks]
    # together, not one short chunk per footnote that a topic's search would rank first
    assert texts == [
        BODY.replace("{8}", "").replace("{9}", ""),
        " ".join(f"{number} {note}" for number, note in NOTES.items()),
    ]
    assert {chunk.page for chunk in chunks} == {2}


def test_a_quote_next_to_a_blanked_marker_is_boxed_on_the_page(tmp_path: Path):
    path = make_footnoted_pdf(tmp_path / "footnoted.pdf")
    page = load(path).pages[0]
    quote = "amended by law, as the port authority"
    start = page.text.index(quote)
    plain = np.asarray(render_page(path, page))
    marked = np.asarray(render_page(path, page, (start, start + len(quote))))
    changed_rows = np.flatnonzero((plain != marked).any(axis=(1, 2)))
    assert 0 < len(changed_rows) < 40  # one line of text boxed, at 108 dpi


def test_contents_page_dot_leaders_do_not_make_many_chunks(tmp_path: Path, embedder):
    from conftest import make_pdf

    entries = [f"Section {i} on port traffic {'.' * 80} {i + 1}" for i in range(40)]
    page = load(make_pdf(tmp_path / "contents.pdf", ["Contents\n" + "\n".join(entries)])).pages[0]
    assert ".." not in page.text
    assert "Section 0 on port traffic 1 Section 1 on port traffic 2" in page.text
    chunks = Splitter(embedder.count_tokens, max_tokens=200, overlap_tokens=40).split([page])
    assert len(chunks) <= 3


def test_figures_of_a_table_in_small_type_are_not_taken_for_footnote_markers(tmp_path: Path):
    """A statement set in 8 pt under 11 pt body text: "6,015" is a figure, not "6," and a
    marker 015 after a comma."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    pdf.multi_cell(0, 6, BODY.replace("{8}", "").replace("{9}", "") + "\n")
    pdf.set_font("helvetica", size=8)
    pdf.multi_cell(0, 4, "Balances at November 29, 2019 $ 6,015 $ 14,828 $ (10,188)\n")
    pdf.set_font("helvetica", size=11)
    pdf.multi_cell(0, 6, "The statement above is audited.")
    pdf.output(str(tmp_path / "statement.pdf"))
    text = load(tmp_path / "statement.pdf").pages[0].text
    assert "Balances at November 29, 2019 $ 6,015 $ 14,828 $ (10,188)" in text
