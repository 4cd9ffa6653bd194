"""Tables in PDFs and Word files: found, stored as Markdown under their caption, a question about
one cell answered by quoting its row, and the row's cells boxed on the PDF page."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from conftest import SHARED_DATA, settings_for
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from PIL import ImageChops

from rag.answering import EXTRACTIVE, AnswerChain
from rag.library import Library
from rag.loading import PdfReading, load
from rag.pdftables import TABLE_CAPTION, _unparted
from rag.tables import embedding_text, table_rows
from rag.viewing import render_page

SPENDING = [
    ("Programme", "2022", "2023"),
    ("Coastal patrol", "1,250", "1,410"),
    ("Harbour dredging", "3,875", "4,020"),
    ("Lighthouse upkeep", "612", "598"),
]
INTRODUCTION = (
    "The agency's annual report sets out its spending on each programme. The figures below "
    "were audited by the inspector general and are final for the years shown."
)
CAPTION = "Table 2. Spending by programme, in thousands of dollars"
AFTER = "Dredging costs rose because two harbours silted up after the spring storms."
FLEET = [
    ("Vessel", "Home port", "Built"),
    ("Santa Rosa", "Chimbote", "1987"),
    ("Inca", "Paita", "1992"),
    ("Amazonas", "Iquitos", "2004"),
]


def make_table_pdf(path: Path) -> Path:
    """A page of prose, a caption, a ruled table (fpdf2 draws each cell's borders), more prose."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    pdf.multi_cell(0, 6, INTRODUCTION)
    pdf.ln(4)
    pdf.cell(0, 6, CAPTION, new_x="LMARGIN", new_y="NEXT")
    with pdf.table() as table:
        for cells in SPENDING:
            row = table.row()
            for cell in cells:
                row.cell(cell)
    pdf.ln(4)
    pdf.multi_cell(0, 6, AFTER)
    pdf.output(str(path))
    return path


def make_table_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_paragraph("The fishing fleet of the northern ports is listed in Table 1.")
    document.add_paragraph("Table 1. Vessels of the fleet and where they are based")
    table = document.add_table(rows=len(FLEET), cols=3)
    for row, cells in zip(table.rows, FLEET, strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_paragraph("Older vessels are being replaced under the 2019 programme.")
    document.save(str(path))
    return path


def test_a_ruled_pdf_table_is_markdown_under_its_caption_and_not_in_the_prose(tmp_path: Path):
    page = load(make_table_pdf(tmp_path / "spending.pdf")).pages[0]
    prose, tables = page.text.split("\n\n" + CAPTION + "\n")
    assert prose.startswith(INTRODUCTION) and prose.endswith(AFTER)
    assert "3,875" not in prose  # the cells are read once, as a table
    assert tables == (
        "| Programme | 2022 | 2023 |\n| --- | --- | --- |\n| Coastal patrol | 1,250 | 1,410 |\n"
        "| Harbour dredging | 3,875 | 4,020 |\n| Lighthouse upkeep | 612 | 598 |"
    )
    assert page.breaks == (len(prose),)  # the tables are chunks of their own


def test_with_pdf_tables_off_the_cells_stay_in_the_page_text(tmp_path: Path):
    page = load(make_table_pdf(tmp_path / "spending.pdf"), PdfReading(tables=False)).pages[0]
    assert "|" not in page.text and not page.breaks
    assert "Harbour dredging 3,875 4,020" in page.text
    assert page.text.startswith(INTRODUCTION) and page.text.endswith(AFTER)


def test_turning_pdf_tables_off_or_on_reads_the_pdfs_again(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    make_table_pdf(tmp_path / "docs" / "spending.pdf")
    (tmp_path / "docs" / "notes.txt").write_text("Dredging is paid from the harbour fund.")
    for tables, indexed in [(True, 2), (False, 1), (False, 0), (True, 1)]:
        library = Library(settings_for(tmp_path / "index", pdf_tables=tables))
        try:
            report = library.ingest([tmp_path / "docs"])
            assert len(report.indexed) == indexed, (tables, report.indexed)
            store = library.store()
            pdf = next(d for d in library.documents() if d.file == "spending.pdf")
            text = store.stored_document(pdf.id).pages[0].text
        finally:
            library.close()
        assert ("| Harbour dredging | 3,875 | 4,020 |" in text) == tables, text


def test_a_pdf_without_ruled_tables_is_read_as_before(tmp_path: Path):
    from conftest import make_pdf

    text = "Coastal patrol 1,250 1,410\nHarbour dredging 3,875 4,020"
    page = load(make_pdf(tmp_path / "plain.pdf", [text])).pages[0]
    assert page.text == "Coastal patrol 1,250 1,410 Harbour dredging 3,875 4,020"
    assert page.raw_text.strip() == text.replace("\n", "\r\n")


def test_table_rows_read_with_their_header():
    text = (
        "Before.\n\nTable 2.\n| Programme | 2022 | 2023 |\n| --- | --- | --- |\n"
        "| Coastal patrol | 1,250 | |\n| Pipe \\| dock | 7 | 8 |\n\n| not | a table |"
    )
    rows = list(table_rows(text))
    assert [text[row.start : row.end] for row in rows] == [
        "| Coastal patrol | 1,250 | |",
        "| Pipe \\| dock | 7 | 8 |",
    ]
    assert [row.statement for row in rows] == [
        "Coastal patrol | 2022: 1,250",
        "Pipe | dock | 2022: 7 | 2023: 8",
    ]


@pytest.fixture(scope="module")
def tables_library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    folder = tmp_path_factory.mktemp("tables")
    make_table_pdf(folder / "spending.pdf")
    make_table_docx(folder / "fleet.docx")
    make_open_table_pdf(folder / "holdings.pdf")
    library = Library(settings_for(folder / "index"))
    report = library.ingest([folder])
    assert sorted(report.indexed) == ["fleet.docx", "holdings.pdf", "spending.pdf"]
    yield library
    library.close()


@pytest.mark.parametrize(
    ("question", "file", "row", "says"),
    [
        (
            "How much did the agency spend on harbour dredging in 2023?",
            "spending.pdf",
            "| Harbour dredging | 3,875 | 4,020 |",
            "Harbour dredging | 2022: 3,875 | 2023: 4,020",
        ),
        (
            "What is the home port of the Santa Rosa?",
            "fleet.docx",
            "| Santa Rosa | Chimbote | 1987 |",
            "Santa Rosa | Home port: Chimbote | Built: 1987",
        ),
        (  # the year is in the head of a table set beside another year's
            "How much of the federal debt did Mainland China hold in December 2021?",
            "holdings.pdf",
            "| Mainland China | $1,040.3 | 13.44% |",
            "Mainland China | December 2021 Amount: $1,040.3 | December 2021 Share: 13.44%",
        ),
    ],
)
def test_a_question_about_a_cell_is_answered_by_quoting_its_row(
    tables_library: Library, question: str, file: str, row: str, says: str
):
    answer = tables_library.ask(question, mode=EXTRACTIVE)
    assert not answer.refused, answer
    first = answer.citations[0]
    assert (first.file, first.quote) == (file, row)
    assert answer.sentences[0].text == f"{says} [1]"


def test_a_generated_answer_about_a_cell_cites_its_row(tables_library: Library):
    library = tables_library
    question = "How much did the agency spend on harbour dredging in 2023?"
    passages = library.retrieve(question)
    n = next(n for n, p in enumerate(passages, 1) if "| Harbour dredging |" in p.text)
    model = FakeListChatModel(  # a model that cites the passage holding the table
        responses=[f"The agency spent 4,020 thousand dollars on harbour dredging in 2023. [{n}]"]
        + ["yes"] * 3  # the citation's judge, then whether it answers the question
    )
    chain = AnswerChain(
        lambda query, ids: library.retrieve(query, document_ids=ids),
        library.embedder,
        # a scripted model states no claims
        library.settings.model_copy(update={"generated_answer_check": "words"}),
        lambda mode: model,
    )
    answer = chain.invoke(library.request(question, "local"))
    assert not answer.refused, answer
    assert [(c.file, c.quote) for c in answer.citations] == [
        ("spending.pdf", "| Harbour dredging | 3,875 | 4,020 |")
    ]


def highlighted(library: Library, question: str) -> tuple[Path, int, tuple[int, int, int, int]]:
    """The PDF that the extractive answer's first citation quotes, the width in pixels of its
    rendered page, and the box on that page that the quote's highlight changes."""
    answer = library.ask(question, mode=EXTRACTIVE)
    citation = answer.citations[0]
    store = library.store()
    passage = store.passages([citation.chunk_id])[0]
    page = store.page(passage.document_id, citation.page)
    path = Path(store.document(passage.document_id).source)
    plain = render_page(path, page)
    boxed = render_page(path, page, (citation.page_start, citation.page_end))
    return path, plain.width, ImageChops.difference(plain, boxed).getbbox() or (0, 0, 0, 0)


def test_the_source_viewer_boxes_the_cells_of_a_quoted_row(tables_library: Library):
    path, width, (left, top, right, bottom) = highlighted(
        tables_library, "How much did the agency spend on harbour dredging in 2023?"
    )
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        (table,) = pdf.pages[0].find_tables()
        pdf_width = pdf.pages[0].width
        x0, row_top, x1, row_bottom = table.rows[2].bbox
    scale = width / pdf_width  # the highlight covers the row's cells, and only them
    assert abs(left - x0 * scale) < 6 and abs(right - x1 * scale) < 6
    assert abs(top - row_top * scale) < 6 and abs(bottom - row_bottom * scale) < 6


def test_the_source_viewer_boxes_the_cells_of_a_quoted_open_table_row(tables_library: Library):
    path, width, (left, top, right, bottom) = highlighted(
        tables_library, "How much of the federal debt did Mainland China hold in December 2021?"
    )
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        words = pdf.pages[0].extract_words()
        pdf_width = pdf.pages[0].width
    amount = next(w for w in words if w["text"] == "$1,040.3")
    row = [w for w in words if abs(w["top"] - amount["top"]) < 2 and w["x0"] > pdf_width / 2]
    assert [w["text"] for w in row] == ["Mainland", "China", "$1,040.3", "13.44%"]
    scale = width / pdf_width  # the right-hand table's row, from its label to its share
    assert abs(left - min(w["x0"] for w in row) * scale) < 6
    assert abs(right - max(w["x1"] for w in row) * scale) < 6
    assert abs(top - min(w["top"] for w in row) * scale) < 8
    assert abs(bottom - max(w["bottom"] for w in row) * scale) < 8


def test_table_rows_are_embedded_without_pipes_or_the_line_under_the_header():
    text = "Table 2. Spending\n| Programme | 2022 |\n| --- | --- |\n| Patrol | 1,250 |\n\nA | B."
    assert embedding_text(text) == "Table 2. Spending\nProgramme 2022\nPatrol 1,250\n\nA | B."


def test_a_word_table_is_headed_by_the_paragraph_that_introduces_it(tmp_path: Path):
    text = load(make_table_docx(tmp_path / "fleet.docx")).pages[0].text
    assert text.startswith(
        "The fishing fleet of the northern ports is listed in Table 1.\n\n"
        "Table 1. Vessels of the fleet and where they are based\n"
        "| Vessel | Home port | Built |\n| --- | --- | --- |\n| Santa Rosa | Chimbote | 1987 |"
    )


def test_columns_empty_in_every_row_are_dropped():
    from rag.pdftables import _without_empty_columns

    box = (0.0, 0.0, 1.0, 1.0)
    rows = (("", "Q4", "", "2022"), ("", "U.S.", "", "$12,516"))
    cells = ((None, box, None, box), (box, box, box, box))
    assert _without_empty_columns(rows, cells) == (
        (("Q4", "2022"), ("U.S.", "$12,516")),
        ((box, box), (box, box)),
    )


HOLDINGS_CAPTION = "Table 3. Foreign holders of federal debt, by country"
HOLDINGS = [  # two years set side by side, as CRS sets them
    ("Japan", "$1,185.5", "12.79%", "Japan", "$1,300.8", "16.81%"),
    ("United Kingdom", "$866.0", "9.34%", "Mainland China", "$1,040.3", "13.44%"),
    ("Mainland China", "$683.5", "7.37%", "United Kingdom", "$649.3", "8.39%"),
]
COLUMN_LEFTS = (20, 62, 94, 112, 154, 186)  # millimetres


def make_open_table_pdf(
    path: Path,
    rule_from: float = 20,
    side_by_side: bool = True,
    holdings: Sequence[tuple[str, ...]] = HOLDINGS,
) -> Path:
    """Prose, a caption, and a table of `holdings` drawn with rules across only (above it,
    under its header, below it): a label over two lines in its last row; with `side_by_side`,
    two years' tables next to each other under "December 2025" and "December 2021". Rules
    start at `rule_from` millimetres (past the labels: rules over the figures only)."""
    from fpdf import FPDF

    columns = COLUMN_LEFTS if side_by_side else COLUMN_LEFTS[:3]
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=10)
    pdf.multi_cell(0, 5, INTRODUCTION)
    pdf.ln(3)
    pdf.cell(0, 5, HOLDINGS_CAPTION, new_x="LMARGIN", new_y="NEXT")
    top = pdf.get_y() + 1
    right = 200 if side_by_side else 120

    def rule(y: float) -> None:
        pdf.line(rule_from, y, right, y)

    def line(y: float, cells: tuple[str, ...]) -> None:
        for x, text in zip(columns, cells, strict=False):
            if text:
                pdf.text(x, y, text)

    rule(top)
    y = top + 5
    if side_by_side:  # each year centred over its amount and share
        for left, year in [(COLUMN_LEFTS[1], "December 2025"), (COLUMN_LEFTS[4], "December 2021")]:
            pdf.text(left + 22 - pdf.get_string_width(year) / 2, y, year)
        y += 6
    line(y, ("Country", "Amount", "Share") * 2)
    rule(y + 2)
    y += 8
    for row in holdings:
        line(y, row if side_by_side else row[:3])
        y += 7
    line(y, ("All other", "", "", "All other") if side_by_side else ("All other",))
    line(y + 2, ("", "$7,500.0", "100%", "", "$5,900.0", "100%"))
    line(y + 4, ("countries", "", "", "countries"))
    rule(y + 6)
    pdf.set_xy(10, y + 12)
    pdf.multi_cell(0, 5, AFTER)
    pdf.output(str(path))
    return path


def test_an_open_pdf_table_is_read_from_where_its_words_stand(tmp_path: Path):
    page = load(make_open_table_pdf(tmp_path / "holdings.pdf", side_by_side=False)).pages[0]
    prose, tables = page.text.split("\n\n" + HOLDINGS_CAPTION + "\n")
    assert prose.startswith(INTRODUCTION) and prose.endswith(AFTER)
    assert "$866.0" not in prose
    assert tables == (
        "| Country | Amount | Share |\n| --- | --- | --- |\n| Japan | $1,185.5 | 12.79% |\n"
        "| United Kingdom | $866.0 | 9.34% |\n| Mainland China | $683.5 | 7.37% |\n"
        "| All other countries | $7,500.0 | 100% |"
    )


def test_figures_among_a_labels_words_leave_an_open_table_a_table(tmp_path: Path):
    """A balance sheet's "Other assets, net of amortization of $503 and $482" is a label with
    figures in it, not two columns set too close to part."""
    label = "Net of $53 and $48"
    holdings = [*HOLDINGS, (label, "$1,826", "2.03%")]
    pdf = make_open_table_pdf(tmp_path / "holdings.pdf", side_by_side=False, holdings=holdings)
    text = load(pdf).pages[0].text
    assert f"| {label} | $1,826 | 2.03% |" in text


@pytest.mark.parametrize(
    ("cell", "unparted"),
    [
        ("1,826 2,027", True),
        ("19 %$ 4,262", True),
        ("$ 42 $ 88", True),
        ("(283) $ (15,008)", True),
        ("Other assets, net of accumulated amortization of $503 and $482", False),
        ("Common stock, par value $5.00 – 1,200,000,000 shares authorized", False),
        ("$ 1,826", False),
    ],
)
def test_a_cell_is_columns_too_close_to_part_when_two_figures_stand_side_by_side(
    cell: str, unparted: bool
):
    assert _unparted(cell) is unparted


@pytest.mark.parametrize(
    ("line", "caption"),
    [
        ("Table 2. Spending by programme", True),
        ("TABLE 1", True),
        ("Tableau 3. Dépenses", True),
        ("Table of Contents PART II Item 8", False),
        ("Table des matières", False),
    ],
)
def test_a_table_caption_is_not_a_table_of_contents_line(line: str, caption: bool):
    assert bool(TABLE_CAPTION.match(line)) is caption


def test_tables_set_side_by_side_are_read_as_two_under_their_spanning_heads(tmp_path: Path):
    text = load(make_open_table_pdf(tmp_path / "holdings.pdf")).pages[0].text
    tables = text.split("\n\n" + HOLDINGS_CAPTION + "\n")[1:]
    assert tables == [
        f"| Country | December {year} Amount | December {year} Share |\n| --- | --- | --- |\n"
        + "\n".join(f"| {' | '.join(row)} |" for row in rows)
        for year, rows in [
            (2025, [*(r[:3] for r in HOLDINGS), ("All other countries", "$7,500.0", "100%")]),
            (2021, [*(r[3:] for r in HOLDINGS), ("All other countries", "$5,900.0", "100%")]),
        ]
    ]


def test_figures_whose_labels_lie_outside_the_rules_stay_in_the_text(tmp_path: Path):
    pdf = make_open_table_pdf(tmp_path / "holdings.pdf", rule_from=55, side_by_side=False)
    text = load(pdf).pages[0].text
    assert "|" not in text and "Japan $1,185.5 12.79%" in text


def test_prose_between_long_rules_is_not_a_table(tmp_path: Path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=10)
    for _ in range(3):
        pdf.line(10, pdf.get_y(), 200, pdf.get_y())
        pdf.ln(2)
        pdf.multi_cell(0, 5, f"{INTRODUCTION} {AFTER} It cost 1,250 in 2022 and 1,410 in 2023.")
        pdf.ln(2)
    pdf.line(10, pdf.get_y(), 200, pdf.get_y())
    pdf.output(str(tmp_path / "ruled-prose.pdf"))
    text = load(tmp_path / "ruled-prose.pdf").pages[0].text
    assert "|" not in text and text.count(AFTER) == 3


def test_a_crs_table_of_two_years_side_by_side_is_read_as_two_tables():
    """Table 2 of the CRS report on foreign holdings of federal debt: rules across only, the
    December 2025 and December 2021 holders side by side, labels over four lines."""
    text = load(Path(__file__).parent.parent / "corpus" / "RS22331v53.pdf").pages[5].text
    assert (
        "| Country | December 2021 Amount Held ($ billions) | December 2021 Percentage of All "
        "Foreign Holdings in Federal Debt |"
    ) in text
    assert "| Mainland China | $1,040.3 | 13.44% |" in text
    assert "| Mainland China | $683.5 | 7.37% |" in text
    assert (
        "| Total top 10 countries of foreign investors in federal debt | $4,961.2 | 64.09% |"
    ) in text


FINANCEBENCH_PDFS = SHARED_DATA / "financebench" / "pdfs"


@pytest.mark.skipif(not FINANCEBENCH_PDFS.is_dir(), reason="no ../shared/data beside the repo")
def test_a_10k_balance_sheet_whose_labels_hold_figures_is_read_as_a_table():
    """Boeing's 2018 statement of financial position: rules across under its totals, and
    labels such as "Other assets, net of accumulated amortization of $503 and $482"."""
    import pypdfium2 as pdfium

    from rag.pdftables import TableFinder, table_kinds

    path = FINANCEBENCH_PDFS / "BOEING_2018_10K.pdf"
    pdf = pdfium.PdfDocument(path)
    finder = TableFinder(path)
    try:
        (table,) = finder.tables(51, table_kinds(pdf[51]))
    finally:
        finder.close()
        pdf.close()
    assert table.rows[0] == ("December 31,", "2018", "2017")
    assert ("Property, plant and equipment, net", "12,645", "12,672") in table.rows
    assert ("Other assets, net of accumulated amortization of $503 and $482", "1,826", "2,027") in (
        table.rows
    )
