"""Comparison tables: each question answered from each document alone, and the three exports."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT

from rag.comparing import (
    MAX_QUESTIONS,
    NOT_IN_DOCUMENT,
    Comparison,
    cell_text,
    clean_questions,
    compare,
    compare_cells,
    export_comparison,
    to_markdown,
)
from rag.errors import ExportError, RagError
from rag.library import Library
from rag.settings import load_settings

SEABED = ["IF12608v18.pdf", "R47324v18.pdf"]
QUESTIONS = [
    "What is the International Seabed Authority?",
    "Has the United States ratified UNCLOS?",
    "How many exploration contracts has the ISA approved?",
]
OFF_TOPIC = "What is the recipe for sourdough bread?"


@pytest.fixture(scope="module")
def seabed(library_index: Path) -> Comparison:
    library = Library(load_settings(index_dir=library_index))
    try:
        return compare(library, SEABED, [*QUESTIONS, OFF_TOPIC], mode="extractive")
    finally:
        library.close()


def test_every_cell_cites_its_own_document(seabed: Comparison):
    assert [d.file for d in seabed.documents] == SEABED
    assert seabed.complete and len(seabed.cells) == 2 * 4
    for cell in seabed.cells:
        assert {c.file for c in cell.citations} <= {cell.document.file}, cell
        if cell.question != OFF_TOPIC:
            assert cell.found and cell.citations, (cell.document.file, cell.question)
            assert all(c.quote in cell.answer.text for c in cell.citations)
            assert all(cell_text(cell).count(c.quote) == 1 for c in cell.citations)  # not again
    for document in seabed.documents:
        off = seabed.cell(document.id, OFF_TOPIC)
        assert off is not None and not off.found and off.text == NOT_IN_DOCUMENT


def test_exports_keep_file_page_and_quote(seabed: Comparison, tmp_path: Path):
    from openpyxl import load_workbook

    paths = {suffix: tmp_path / f"table{suffix}" for suffix in (".md", ".csv", ".xlsx")}
    for path in paths.values():
        export_comparison(seabed, path)
    quotes = [(c.file, c.page, c.quote) for cell in seabed.cells for c in cell.citations]
    markdown = paths[".md"].read_text()
    assert markdown == to_markdown(seabed)
    with paths[".csv"].open(newline="") as file:
        listed = {
            (r["cited file"], int(r["page"]), r["quote"]) for r in csv.DictReader(file) if r["n"]
        }
    assert listed == set(quotes)
    workbook = load_workbook(paths[".xlsx"])
    grid = [[cell.value for cell in row] for row in workbook["Table"].iter_rows()]
    assert grid[0][1:] == [f"{d.title} ({d.file})" for d in seabed.documents]
    assert [row[0] for row in grid[1:]] == seabed.questions
    cited = [[cell.value for cell in row] for row in workbook["Citations"].iter_rows(min_row=2)]
    assert {(r[5], r[6], r[7]) for r in cited if r[4] is not None} == set(quotes)
    for cited_file, page, quote in quotes:
        assert quote.replace("|", "\\|") in markdown and f"{cited_file}, page {page}" in markdown
        assert any(quote in (value or "") for row in grid for value in row)


def test_cancel_stops_before_the_next_cell(library: Library):
    cancel = threading.Event()
    cells = []
    for cell in compare_cells(library, SEABED, QUESTIONS, mode="extractive", cancel=cancel):
        cells.append(cell)
        cancel.set()
    assert len(cells) == 1


def test_bad_input_is_refused():
    with pytest.raises(RagError, match="give at least one question"):
        clean_questions(["  ", ""])
    with pytest.raises(RagError, match=f"at most {MAX_QUESTIONS}"):
        clean_questions([f"question {i}?" for i in range(MAX_QUESTIONS + 1)])
    assert clean_questions(["a?", " a? ", "b?"]) == ["a?", "b?"]
    empty = Comparison([], ["a?"], "extractive", [])
    with pytest.raises(ExportError, match=r"\.md, \.csv, \.xlsx"):
        export_comparison(empty, Path("/tmp/table.txt"))


def rag(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
        timeout=300,
    )


def test_cli_errors_are_one_line(library_index: Path):
    index = ["--index", str(library_index), "--extractive"]
    too_many = [arg for i in range(11) for arg in ("--question", f"q{i}?")]
    cases = {
        "no document 'nosuch.pdf'": ["--docs", "nosuch.pdf", "--question", "q?"],
        "give at least one question": ["--docs", SEABED[0]],
        "at most 10": ["--docs", SEABED[0], *too_many],
        "choose at least one document": ["--question", "q?"],
        "end the file name in": ["--docs", SEABED[0], "--question", "q?", "--out", "t.txt"],
    }
    for message, args in cases.items():
        result = rag("compare", *index, *args)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_cli_streams_cells_and_writes_xlsx(library_index: Path, tmp_path: Path):
    out = tmp_path / "seabed.xlsx"
    result = rag(
        "compare", "--index", str(library_index), "--extractive", "--docs", *SEABED,
        "--question", QUESTIONS[0], "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    first, second = (result.stdout.index(f"\n{file}\nQ: ") for file in SEABED)
    assert first < second  # each cell as it is answered
    assert "compare: 100%" in result.stderr and "2/2" in result.stderr  # the progress bar
    assert out.is_file() and "2 documents" in result.stdout


def test_app_streams_the_table_and_offers_three_exports(library: Library):
    from ui.app import App

    app = App(library)
    ids = [str(library.find_document(file).id) for file in SEABED]
    steps = list(app.compare(ids, f"{QUESTIONS[0]}\n\n{OFF_TOPIC}\n", "extractive"))
    assert [step[1] for step in steps[:-1]] == [
        f"Answered {n} of 4 cells\u2026" if n else "Answering 0 of 4 cells\u2026" for n in range(5)
    ]
    table, status, *files = steps[-1]
    assert status == "Done: 4 cells." and table.count("<tr>") == 1 + 2
    assert table.count("Not in this document.") == 2
    assert [Path(f["value"]).suffix for f in files] == [".md", ".csv", ".xlsx"]
    error, *_ = next(iter(app.compare(ids, "", "extractive")))
    assert "give at least one question" in error


@pytest.mark.model
def test_a_cell_answered_by_the_local_model_cites_its_document(library: Library):
    comparison = compare(library, SEABED[1:], QUESTIONS[1:2], mode="local")
    [cell] = comparison.cells
    assert cell.answer.mode == "local" and cell.document.file == SEABED[1]
    assert {c.file for c in cell.citations} <= {SEABED[1]}
    assert cell.found == bool(cell.citations)
