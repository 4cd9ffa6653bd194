"""Slides, spreadsheets, CSV and EPUB: real files made here, read by `rag.loading.load`."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from rag.errors import UnreadableFileError
from rag.loading import load
from rag.tables import TABLE_BLOCK_CHARS, markdown_blocks


def make_pptx(path: Path) -> Path:
    """Two slides: a title with a bullet list and speaker notes; a table."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
    first.shapes.title.text = "Port traffic 2023"
    first.placeholders[1].text_frame.text = "Callao handled 2.3 million containers"
    first.notes_slide.notes_text_frame.text = "Mention the new Chancay terminal."
    second = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    second.shapes.title.text = "Exports by port"
    rows = [("Port", "Tonnes"), ("Paita", "1,200"), ("Ilo", "800")]
    shape = second.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            shape.table.cell(r, c).text = value
    deck.save(str(path))
    return path


def test_pptx_one_page_per_slide_with_notes_and_tables(tmp_path: Path):
    loaded = load(make_pptx(tmp_path / "deck.pptx"))
    assert loaded.format == "pptx"
    assert loaded.title == "Port traffic 2023"
    assert [page.number for page in loaded.pages] == [1, 2]
    first, second = (page.text for page in loaded.pages)
    assert first == (
        "Port traffic 2023\n\nCallao handled 2.3 million containers\n\n"
        "Speaker notes:\nMention the new Chancay terminal."
    )
    assert second == (
        "Exports by port\n\n| Port | Tonnes |\n| --- | --- |\n| Paita | 1,200 |\n| Ilo | 800 |"
    )


def test_xlsx_sheets_are_pages_of_markdown_tables(tmp_path: Path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Revenue"
    for row in [("Year", "Revenue", "Margin"), (2022, 120.0, 0.25), (2023, 135.5, None)]:
        sheet.append(row)
    sheet.append(())
    sheet.append(("Region", "Staff"))
    sheet.append(("North", 12))
    workbook.create_sheet("Empty")
    workbook.create_sheet("Notes").append(("Note", "Figures are | audited"))
    sheet["C3"] = "=B3/1000"  # a formula never calculated has no cached value: an empty cell
    workbook.save(tmp_path / "book.xlsx")

    loaded = load(tmp_path / "book.xlsx")

    assert loaded.format == "xlsx" and loaded.title == "book"
    assert [page.number for page in loaded.pages] == [1, 3]  # the empty sheet has no page
    assert loaded.pages[0].text == (
        "Sheet: Revenue\n\n"
        "| Year | Revenue | Margin |\n| --- | --- | --- |\n| 2022 | 120 | 0.25 |\n| 2023 | 135.5 | |"
        "\n\n| Region | Staff |\n| --- | --- |\n| North | 12 |"
    )
    assert (
        loaded.pages[1].text == "Sheet: Notes\n\n| Note | Figures are \\| audited |\n| --- | --- |"
    )


def test_csv_is_a_markdown_table_with_the_header_repeated_in_each_block(tmp_path: Path):
    path = tmp_path / "ports.csv"
    lines = ["port;year;tonnes"] + [f"Port {i};2023;{i * 100}" for i in range(60)]
    path.write_text("\n".join(lines) + "\n\n")
    text = load(path).pages[0].text
    blocks = text.split("\n\n")
    assert len(blocks) > 2
    for block in blocks:
        assert block.startswith("| port | year | tonnes |\n| --- | --- | --- |\n| Port ")
        assert len(block) < TABLE_BLOCK_CHARS + 200
    rows = [line for block in blocks for line in block.splitlines()[2:]]
    assert rows == [f"| Port {i} | 2023 | {i * 100} |" for i in range(60)]


def test_markdown_blocks_pad_short_rows_and_keep_a_lone_header():
    assert list(markdown_blocks([["a", "b"], ["1"]], caption="Table 1")) == [
        "Table 1\n| a | b |\n| --- | --- |\n| 1 |  |"
    ]
    assert list(markdown_blocks([["a", "b"]])) == ["| a | b |\n| --- | --- |"]
    assert list(markdown_blocks([])) == []


def make_epub(path: Path, chapters: list[tuple[str, str]], title: str = "Ports of Peru") -> Path:
    """A minimal EPUB 3: container, package document and one XHTML file per chapter."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" '
            'media-type="application/oebps-package+xml"/></rootfiles></container>',
        )
        items = "".join(
            f'<item id="c{i}" href="text/ch%20{i}.xhtml" media-type="application/xhtml+xml"/>'
            for i in range(len(chapters))
        )
        spine = "".join(f'<itemref idref="c{i}"/>' for i in reversed(range(len(chapters))))
        archive.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            f'<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}'
            f"</dc:title></metadata><manifest>{items}</manifest><spine>{spine}</spine></package>",
        )
        for i, (heading, body) in enumerate(chapters):
            archive.writestr(
                f"OEBPS/text/ch {i}.xhtml",
                '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
                f"<head><title>{heading}</title></head><body><h1>{heading}</h1><p>{body}</p>"
                "</body></html>",
            )
    return path


def test_epub_chapters_in_reading_order(tmp_path: Path):
    path = make_epub(
        tmp_path / "book.epub",
        [("Callao", "Callao is the main port."), ("Paita", "Paita is in the north.")],
    )
    loaded = load(path)
    assert loaded.format == "epub" and loaded.title == "Ports of Peru"
    assert (
        loaded.pages[0].text
        == "Paita\n\nPaita is in the north.\n\nCallao\n\nCallao is the main port."
    )


def test_bad_slides_sheets_and_books_are_named(tmp_path: Path):
    for name in ("deck.pptx", "book.xlsx", "novel.epub"):
        (tmp_path / name).write_bytes(b"not a zip archive at all")
        with pytest.raises(UnreadableFileError, match=f"{name}: not .* \\(not a zip archive\\)"):
            load(tmp_path / name)
    with zipfile.ZipFile(tmp_path / "empty.epub", "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
    with pytest.raises(UnreadableFileError, match="empty.epub: not an EPUB book"):
        load(tmp_path / "empty.epub")
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/big.xml", b"0" * 50_000_000)
    with pytest.raises(UnreadableFileError, match="bomb.xlsx: refused, .* zip bomb"):
        load(bomb)
    (tmp_path / "blob.csv").write_bytes(bytes(range(256)) * 10)
    with pytest.raises(UnreadableFileError, match="blob.csv: binary data"):
        load(tmp_path / "blob.csv")


def test_a_sheet_over_the_text_limit_is_refused_while_read(tmp_path: Path, monkeypatch):
    from openpyxl import Workbook

    import rag.loading

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Big")
    for i in range(2_000):
        sheet.append([f"row {i}", "x" * 50])
    workbook.save(tmp_path / "big.xlsx")
    monkeypatch.setattr(rag.loading, "MAX_TEXT_CHARS", 20_000)
    with pytest.raises(UnreadableFileError, match="big.xlsx: refused, its text is over the limit"):
        load(tmp_path / "big.xlsx")


def test_slides_and_sheets_are_indexed_and_a_cell_is_found_with_its_header(tmp_path: Path):
    from conftest import settings_for
    from openpyxl import Workbook

    from rag.library import Library
    from rag.retrieval import retrieve

    folder = tmp_path / "docs"
    folder.mkdir()
    make_pptx(folder / "deck.pptx")
    workbook = Workbook()
    workbook.active.title = "Fleet"
    for row in [("Vessel", "Home port", "Built")] + [
        (f"Vessel {i}", f"Port {i}", 1950 + i) for i in range(40)
    ]:
        workbook.active.append(row)
    workbook.active.append(("Santa Rosa", "Chimbote", 1987))
    workbook.save(folder / "fleet.xlsx")
    library = Library(settings_for(tmp_path / "index"))
    try:
        report = library.ingest([folder])
        assert sorted(report.indexed) == ["deck.pptx", "fleet.xlsx"], report.skipped
        passages = retrieve(
            library.store(), library.embedder, library.settings, "When was the Santa Rosa built?"
        )
        # The run of rows that holds the vessel comes first, under its header row.
        assert passages[0].file == "fleet.xlsx" and passages[0].page == 1
        assert passages[0].text.startswith("| Vessel | Home port | Built |\n| --- | --- | --- |")
        assert "| Santa Rosa | Chimbote | 1987 |" in passages[0].text
        documents = {document.file: document for document in library.documents()}
        assert (documents["deck.pptx"].format, documents["deck.pptx"].pages) == ("pptx", 2)
    finally:
        library.close()


def test_html_tables_are_markdown_with_caption_and_layout_tables_are_text(tmp_path: Path):
    rows = "".join(f"<tr><td>Port {i}</td><td>{i * 10}</td></tr>" for i in range(3))
    long_cell = "Paita is in the north. " * 20
    path = tmp_path / "page.html"
    path.write_text(
        "<html><body><main><p>Ports handle cargo.</p>"
        "<table><caption>Table 2. Cargo</caption><thead><tr><th>Port</th><th>Tonnes<br>(000)"
        f"</th></tr></thead><tbody>{rows}</tbody></table><p>After the table.</p>"
        f"<table><tr><td><p>{long_cell}</p></td><td>Menu</td></tr></table></main></body></html>"
    )
    text = load(path).pages[0].text
    assert text.startswith(
        "Ports handle cargo.\n\nTable 2. Cargo\n| Port | Tonnes (000) |\n| --- | --- |\n"
        "| Port 0 | 0 |\n| Port 1 | 10 |\n| Port 2 | 20 |\n\nAfter the table."
    )
    assert text.endswith(f"{long_cell.strip()}\n\nMenu")


def test_docx_tables_are_markdown_with_their_header(tmp_path: Path):
    import docx

    document = docx.Document()
    document.add_paragraph("Table 1 gives the fleet.")
    table = document.add_table(rows=3, cols=2)
    for r, (name, built) in enumerate([("Vessel", "Built"), ("Santa Rosa", "1987"), ("Inca", "")]):
        table.rows[r].cells[0].text = name
        table.rows[r].cells[1].text = built
    document.add_paragraph("Text after.")
    document.save(str(tmp_path / "fleet.docx"))
    assert load(tmp_path / "fleet.docx").pages[0].text == (
        "Table 1 gives the fleet.\n| Vessel | Built |\n| --- | --- |\n| Santa Rosa | 1987 |\n"
        "| Inca | |\n\nText after."
    )
