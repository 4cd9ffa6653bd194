from pathlib import Path

import docx
import pypdfium2 as pdfium
import pytest
from conftest import make_pdf

from rag.errors import UnreadableFileError
from rag.loading import load, without_running_lines


def test_text_encodings(tmp_path: Path):
    (tmp_path / "utf16.txt").write_bytes("Café report\nBody".encode("utf-16"))
    (tmp_path / "latin1.txt").write_bytes("Café report\nBody".encode("latin-1"))
    for name in ("utf16.txt", "latin1.txt"):
        loaded = load(tmp_path / name)
        assert loaded.title == "Café report"
        assert loaded.pages[0].text == "Café report\nBody"
        assert loaded.pages[0].number is None


def test_binary_data_named_txt_is_refused(tmp_path: Path):
    path = tmp_path / "blob.txt"
    path.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(UnreadableFileError, match="blob.txt: binary data"):
        load(path)


def test_markdown_title_is_the_first_heading(tmp_path: Path):
    path = tmp_path / "notes.md"
    path.write_text("Intro line\n\n# Seabed mining\n\nText about nodules.")
    loaded = load(path)
    assert loaded.title == "Seabed mining"
    assert "Text about nodules." in loaded.pages[0].text


def test_html_keeps_main_text_and_drops_scripts_styles_navigation(tmp_path: Path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Port report</title><style>p{color:red}</style></head><body>"
        "<nav>Home | About</nav><header>Site banner</header>"
        "<main><h1>Ports</h1><p>Callao is the main port.</p><script>alert('x')</script>"
        "<p>Paita is in the north.</p></main><footer>Copyright</footer></body></html>"
    )
    loaded = load(path)
    text = loaded.pages[0].text
    assert loaded.title == "Port report"
    assert "Callao is the main port." in text and "Paita is in the north." in text
    for noise in ("Home", "banner", "alert", "color", "Copyright"):
        assert noise not in text


def test_pdf_pages_keep_their_numbers(tmp_path: Path):
    path = make_pdf(tmp_path / "two.pdf", ["First page about fish.", "Second page about ports."])
    loaded = load(path)
    assert [page.number for page in loaded.pages] == [1, 2]
    assert loaded.pages[1].text == "Second page about ports."


def test_running_headers_and_footers_are_blanked_after_the_first_page():
    pages = [
        "Fish Report\nJune 2026\nAbout fish.\nPage 1",
        "Fish Report\nContents\nPage 2",
        "Fish Report\nCod live in cold water.\nPage 3",
        "Fish Report\nFish Report\nHerring swim in shoals.\nPage 4",
    ]
    blanked = without_running_lines(pages)
    assert blanked[0] == pages[0]  # the title page keeps its title
    assert [len(text) for text in blanked] == [len(text) for text in pages]
    assert blanked[2].split() == ["Cod", "live", "in", "cold", "water."]
    assert blanked[3].split() == ["Herring", "swim", "in", "shoals."]
    assert blanked[1].split() == ["Contents"]
    two_pages = ["Fish Report\nAbout fish.", "Fish Report\nAbout cod."]
    assert without_running_lines(two_pages) == two_pages  # too few pages to tell
    brief = ["Fish Report\nAbout fish.", "Fish Report\nCod swim.", "Fish Report\nEels too."]
    assert [text.split() for text in without_running_lines(brief)[1:]] == [
        ["Cod", "swim."],
        ["Eels", "too."],
    ]  # a three-page brief's title atop its later pages


def test_running_lines_numbered_in_roman_numerals_are_blanked_with_the_arabic_ones():
    pages = [
        "Fish Report\nJune 2026",
        "Contents\nLetter 1\nPage i GAO-07-283 Fish",
        "This is a work of the U.S. government.\nPage ii GAO-07-283 Fish",
        "PART I\nCod live in cold water.\nPage 1 GAO-07-283 Fish",
        "PART I\nHerring swim in shoals.\nPage 2 GAO-07-283 Fish",
        "PART II\nI saw six vivid fish.\nPage 3 GAO-07-283 Fish",
    ]
    blanked = [text.split() for text in without_running_lines(pages)]
    assert blanked[1:] == [
        ["Contents", "Letter", "1"],
        ["This", "is", "a", "work", "of", "the", "U.S.", "government."],
        ["Cod", "live", "in", "cold", "water."],
        ["Herring", "swim", "in", "shoals."],
        ["I", "saw", "six", "vivid", "fish."],  # words of i, v and x are words in the body
    ]


def test_pdf_running_header_is_out_of_the_page_text(tmp_path: Path):
    bodies = [
        "Cover: the fish of the North Sea.",
        "Cod live in cold water.",
        "Herring swim in shoals.",
    ]
    path = make_pdf(
        tmp_path / "fish.pdf",
        [f"North Sea Fish Survey\n{body}\nPage {n}" for n, body in enumerate(bodies, 1)],
    )
    pages = load(path).pages
    assert pages[0].text == "North Sea Fish Survey Cover: the fish of the North Sea. Page 1"
    assert [page.text for page in pages[1:]] == bodies[1:]
    extracted = pdfium.PdfDocument(path)[1].get_textpage().get_text_bounded()
    assert extracted.startswith("North Sea Fish Survey")
    header, footer = "North Sea Fish Survey", "Page 2"
    blanked = extracted.replace(header, " " * len(header)).replace(footer, " " * len(footer))
    assert pages[1].raw_text == blanked  # the same offsets as PDFium's text


def test_pdf_encrypted_with_empty_password_opens(tmp_path: Path):
    path = make_pdf(tmp_path / "locked.pdf", ["Readable despite encryption."], password="")
    assert load(path).pages[0].text == "Readable despite encryption."


def test_pdf_with_a_real_password_is_reported(tmp_path: Path):
    path = make_pdf(tmp_path / "secret.pdf", ["Hidden."], password="pw")
    with pytest.raises(UnreadableFileError, match="secret.pdf: .*password"):
        load(path)


def test_corrupt_pdf_is_reported(tmp_path: Path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage")
    with pytest.raises(UnreadableFileError, match="broken.pdf: not a readable PDF"):
        load(path)


def test_docx_paragraphs_tables_and_title(tmp_path: Path):
    document = docx.Document()
    document.add_heading("Space Force primer", level=1)
    document.add_paragraph("The Space Force was established in 2019.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Guardians"
    table.rows[0].cells[1].text = "9,400"
    path = tmp_path / "primer.docx"
    document.save(str(path))
    loaded = load(path)
    assert loaded.title == "Space Force primer"
    assert "established in 2019." in loaded.pages[0].text
    assert "Guardians | 9,400" in loaded.pages[0].text


def test_not_a_docx_and_unsupported_types_are_reported(tmp_path: Path):
    fake = tmp_path / "fake.docx"
    fake.write_text("plain text")
    with pytest.raises(UnreadableFileError, match="fake.docx: not a Word .docx"):
        load(fake)
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG")
    with pytest.raises(UnreadableFileError, match="photo.png: unsupported file type"):
        load(image)
