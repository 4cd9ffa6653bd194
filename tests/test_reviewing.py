"""The reviewer's table and its Markdown and CSV exports."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rag.records import NOT_IN_LIBRARY, Answer, Citation, Sentence
from rag.reviewing import CSV_COLUMNS, review_csv, review_markdown, review_rows, write_review


def citation(n: int, quote: str, page: int | None) -> Citation:
    return Citation(
        n=n,
        chunk_id=100 + n,
        document=f"Report {n}",
        file=f"r{n}.pdf",
        page=page,
        quote=quote,
        chunk_start=5,
        chunk_end=5 + len(quote),
        page_start=50,
        page_end=50 + len(quote),
    )


ANSWER = Answer(
    question="What did the port handle?",
    text="The port handled 5 | 6 tons [1][2]. It closed in 1999 [2]. Trade then moved inland.",
    refused=False,
    mode="local",
    citations=[
        citation(1, "The port handled 5 | 6 tons.", 3),
        citation(2, "It closed in 2001.", None),
    ],
    sentences=[
        Sentence("The port handled 5 | 6 tons [1][2].", [1, 2], "supported"),
        Sentence("It closed in 1999 [2].", [2], "unsupported"),
        Sentence("Trade then moved inland.", [], "uncited"),
    ],
)


def test_rows_pair_each_sentence_with_each_citation():
    rows = review_rows(ANSWER)
    assert [(r.sentence, r.citation.n if r.citation else None, r.verdict) for r in rows] == [
        (1, 1, "supported"),
        (1, 2, "supported"),
        (2, 2, "unsupported"),
        (3, None, "uncited"),
    ]
    assert rows[0].text == "The port handled 5 | 6 tons."
    assert [r.flagged for r in rows] == [False, False, True, True]


def test_markdown_marks_unsupported_and_uncited_sentences():
    text = review_markdown(ANSWER)
    lines = text.splitlines()
    assert "**Question:** What did the port handle?" in lines
    table = [line for line in lines if line.startswith("| ")]
    assert table[0] == "| # | Sentence | Verdict | Cite | Source | Quoted words |"
    assert table[1] == (
        "| 1 | The port handled 5 \\| 6 tons. | supported | [1] | Report 1 (r1.pdf, p. 3) "
        "| “The port handled 5 \\| 6 tons.” |"
    )
    assert "| 2 | It closed in 1999. | **NOT SUPPORTED** | [2] | Report 2 (r2.pdf) |" in table[3]
    assert table[4] == "| 3 | Trade then moved inland. | **NO CITATION** | — | — | — |"


def test_csv_round_trips_with_exact_spans():
    rows = list(csv.DictReader(io.StringIO(review_csv(ANSWER))))
    assert list(rows[0]) == CSV_COLUMNS
    assert rows[0]["quote"] == "The port handled 5 | 6 tons." and rows[0]["page"] == "3"
    assert (rows[0]["chunk_id"], rows[0]["page_start"], rows[0]["page_end"]) == ("101", "50", "78")
    assert rows[2]["verdict"] == "unsupported" and rows[2]["page"] == ""
    assert rows[3]["verdict"] == "uncited" and rows[3]["citation"] == "" and rows[3]["quote"] == ""


def test_refusal_has_nothing_to_review(tmp_path: Path):
    refused = Answer(question="Who won in 2030?", text=NOT_IN_LIBRARY, refused=True, mode="local")
    assert review_rows(refused) == []
    assert "nothing to check" in review_markdown(refused)
    assert review_csv(refused).splitlines() == [",".join(CSV_COLUMNS)]
    written = write_review(refused, tmp_path / "out", "csv")
    assert written.name == "citation-review.csv" and written.read_text().startswith("sentence,")
