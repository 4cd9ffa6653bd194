"""Where sources disagree: made documents that disagree, agree, or differ only in year or unit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.briefing import reference_line
from rag.cli import main
from rag.disagreeing import NO_DISAGREEMENT, figures, find_disagreements, negated
from rag.exporting import export, to_markdown
from rag.ingesting import TextDocument
from rag.library import Library
from rag.settings import load_settings

COAST = (
    "The northern fishing ports of Atlantis depend on cod. Boats leave Port Verde before dawn "
    "in the season, and the catch is sold at the harbour market the same morning. "
)
DOCUMENTS = [
    TextDocument(
        "ministry.txt",
        "Atlantis fisheries review",
        COAST + "The Atlantis cod fleet landed 4,200 tonnes of cod in 2023. "
        "The marine reserve off Atlantis covers 4,500 square kilometers.",
    ),
    TextDocument(
        "union.txt",
        "Atlantis fishermen's survey",
        COAST + "The Atlantis cod fleet landed 5,900 tonnes of cod in 2023. "
        "The marine reserve off Atlantis covers 1,737 square miles.",
    ),
    TextDocument(
        "census.txt",
        "Atlantis fisheries census",
        COAST + "The Atlantis cod fleet landed 4,200 tonnes of cod in 2023, the census found.",
    ),
    TextDocument(
        "history.txt",
        "A history of Atlantis fishing",
        COAST + "The Atlantis cod fleet landed 7,100 tonnes of cod in 2019.",
    ),
]
TOPIC = "Atlantis cod landings"


@pytest.fixture(scope="module")
def atlantis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    library = Library(load_settings(index_dir=tmp_path_factory.mktemp("atlantis")))
    report = library.ingest_texts(DOCUMENTS)
    assert len(report.indexed) == len(DOCUMENTS)
    yield library
    library.close()


def test_a_disagreeing_pair_is_found_with_both_citations(atlantis: Library):
    result = find_disagreements(
        atlantis, TOPIC, documents=["ministry.txt", "union.txt"], mode="extractive"
    )
    assert len(result.conflicts) == 1
    conflict = result.conflicts[0]
    assert (conflict.first.file, conflict.second.file) == ("ministry.txt", "union.txt")
    assert (conflict.first_words, conflict.second_words) == (
        "4,200 tonnes of cod",
        "5,900 tonnes of cod",
    )
    assert conflict.first.quote == "The Atlantis cod fleet landed 4,200 tonnes of cod in 2023."
    assert conflict.second.quote == "The Atlantis cod fleet landed 5,900 tonnes of cod in 2023."
    assert "same measure" in conflict.why and "2023" in conflict.why
    assert [conflict.first.n, conflict.second.n] == [1, 2]
    # the reserve's areas differ only in unit: set aside, not reported
    assert result.set_aside.get("different units", 0) >= 1
    markdown = to_markdown(result)
    assert conflict.first.quote in markdown and conflict.second.quote in markdown


def test_an_agreeing_pair_reports_nothing(atlantis: Library):
    result = find_disagreements(
        atlantis, TOPIC, documents=["ministry.txt", "census.txt"], mode="extractive"
    )
    assert result.compared >= 1 and not result.found
    assert NO_DISAGREEMENT in to_markdown(result)


def test_figures_of_different_years_are_not_a_conflict(atlantis: Library):
    result = find_disagreements(
        atlantis, TOPIC, documents=["ministry.txt", "history.txt"], mode="extractive"
    )
    assert not result.found and result.set_aside.get("different years", 0) >= 1


def test_the_whole_library_finds_each_conflicting_pair_once(atlantis: Library):
    result = find_disagreements(atlantis, TOPIC, mode="extractive")
    pairs = {(c.first.file, c.second.file) for c in result.conflicts}
    assert pairs == {("ministry.txt", "union.txt"), ("census.txt", "union.txt")}


def test_a_cancelled_search_says_so(atlantis: Library):
    stop = threading.Event()
    stop.set()
    result = find_disagreements(
        atlantis, TOPIC, documents=["ministry.txt", "union.txt"], mode="extractive", cancel=stop
    )
    assert result.cancelled and not result.found
    assert "Cancelled: not every pair was judged." in to_markdown(result)


def test_off_topic_finds_nothing(atlantis: Library):
    result = find_disagreements(atlantis, "nuclear weapons in Russia", mode="extractive")
    assert not result.found and result.compared == 0


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("The fleet landed 4,200 tonnes of cod in 2023.", [(4200, ("tonn", "cod"))]),
        ("covers 1.7 million square miles.", [(1.7e6, ("squar", "mile"))]),
        ("just under 25 percent of world oil consumption", [(25, ("%", "world", "oil"))]),
        ("provided $4.9 billion in low-interest loans", [(4.9e9, ("$", "low-interest", "loan"))]),
        ("issued 31 contracts, of which 17 are in the CCZ", [(31, ("contract",))]),
        ("Section 27 of the Act (P.L. 66-261), the 31st session, a 2025 report", []),
        ("On January 31, 2026, the ISA met", []),
    ],
)
def test_figures_and_what_they_measure(
    sentence: str, expected: list[tuple[float, tuple[str, ...]]]
):
    assert [(f.value, f.unit) for f in figures(sentence)] == expected


def test_only_a_pair_with_one_negation_can_be_opposite_claims():
    assert negated("The United States has not ratified the convention.")
    assert negated("It can't vote, and cannot apply for a contract.")
    assert not negated("The United States has ratified the convention.")
    assert not negated("Nothing in the notes on Norway.")  # words holding "no" are not negations


def test_cli(atlantis: Library, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    index = ["--index", str(atlantis.settings.index_dir)]
    assert main(["disagree", *index, " ", "--extractive"]) == 1
    assert main(["disagree", *index, TOPIC, "--docs", "nosuch.txt", "--extractive"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "rag: error: the topic is empty",
        "rag: error: no document 'nosuch.txt' in the index (see `rag status --documents`)",
    ]
    out = tmp_path / "atlantis.md"
    args = ["disagree", *index, TOPIC, "--docs", "ministry.txt", "union.txt", "--extractive"]
    assert main([*args, "--quiet", "--out", str(out)]) == 0
    assert "5,900 tonnes of cod" in capsys.readouterr().out
    assert "union.txt" in out.read_text()
    assert main([*args, "--quiet", "--out", str(tmp_path / "atlantis.txt")]) == 1
    assert "end the file name in .md, .docx, .pdf" in capsys.readouterr().err


def test_a_report_exports_to_word_and_pdf_with_both_quotes_cited(atlantis: Library, tmp_path):
    import docx
    import pypdfium2

    result = find_disagreements(
        atlantis, TOPIC, documents=["ministry.txt", "union.txt"], mode="extractive"
    )
    [conflict] = result.conflicts
    export(result, tmp_path / "cod.docx")
    export(result, tmp_path / "cod.pdf")
    word = docx.Document(str(tmp_path / "cod.docx"))
    headings = [p.text for p in word.paragraphs if p.style and p.style.name == "Heading 1"]
    assert headings == ["1. 4,200 tonnes of cod \u2194 5,900 tonnes of cod"]
    text = "\n".join(p.text for p in word.paragraphs)
    pdf = pypdfium2.PdfDocument(str(tmp_path / "cod.pdf"))
    pdf_text = " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    for citation in (conflict.first, conflict.second):
        line = f"[{citation.n}] {reference_line(citation)}"
        assert line in text and line in to_markdown(result)
        assert citation.quote in " ".join(pdf_text.split())


@pytest.mark.model
def test_the_local_model_confirms_figures_and_finds_opposite_claims(tmp_path: Path):
    library = Library(load_settings(index_dir=tmp_path / "index"))
    try:
        library.ingest_texts(
            [
                *DOCUMENTS[:2],
                TextDocument(
                    "for.txt",
                    "Atlantis and the sea treaty: note A",
                    COAST + "Atlantis has ratified the sea treaty and is a party to it.",
                ),
                TextDocument(
                    "against.txt",
                    "Atlantis and the sea treaty: note B",
                    COAST + "Atlantis has not ratified the sea treaty and is not a party to it.",
                ),
            ]
        )
        figures_found = find_disagreements(
            library, TOPIC, documents=["ministry.txt", "union.txt"], mode="local"
        )
        claims = find_disagreements(
            library, "Atlantis sea treaty", documents=["for.txt", "against.txt"], mode="local"
        )
    finally:
        library.close()
    assert [(c.kind, c.first_words) for c in figures_found.conflicts] == [
        ("figure", "4,200 tonnes of cod")
    ]
    [claim] = claims.conflicts
    assert claim.kind == "claim" and {claim.first.file, claim.second.file} == {
        "for.txt",
        "against.txt",
    }
    assert "not ratified" in claim.second.quote + claim.first.quote


def test_a_report_without_conflicts_says_what_was_compared_and_how():
    from rag.disagreeing import Disagreements

    none_found = Disagreements("cod", "extractive", ["A (a.txt)", "B (b.txt)"], [], compared=4)
    text = to_markdown(none_found)
    assert "Compared 4 pairs of statements about the same thing from 2 documents" in text
    assert "each checked by the figure rule." in text and "shown" not in text
    assert text.rstrip().endswith(NO_DISAGREEMENT)
