"""The reviewer's table of an answer: each sentence, its citations, quoted words and verdict,
exported as Markdown or CSV."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rag.citations import strip_markers
from rag.records import Answer, Citation, Verdict

ExportFormat = Literal["md", "csv"]
VERDICT_LABELS: dict[Verdict, str] = {
    "supported": "supported",
    "weak": "weak support",
    "unsupported": "NOT SUPPORTED",
    "uncited": "NO CITATION",
}
CSV_COLUMNS = [
    "sentence",
    "text",
    "verdict",
    "citation",
    "document",
    "file",
    "page",
    "quote",
    "chunk_id",
    "page_start",
    "page_end",
]


@dataclass(frozen=True)
class ReviewRow:
    """One sentence of an answer with one of its citations (or none, for an uncited one)."""

    sentence: int  # 1-based position of the sentence in the answer
    text: str  # the sentence without its citation markers
    verdict: Verdict
    citation: Citation | None

    @property
    def flagged(self) -> bool:
        """Whether a reviewer must look at this sentence: unsupported or without a citation."""
        return self.verdict in ("unsupported", "uncited")


def review_rows(answer: Answer) -> list[ReviewRow]:
    """One row per (sentence, citation) pair; a sentence without citations gets one row."""
    by_number = {citation.n: citation for citation in answer.citations}
    rows: list[ReviewRow] = []
    for position, sentence in enumerate(answer.sentences, start=1):
        text = strip_markers(sentence.text).strip()
        cited = [by_number[n] for n in sentence.citations if n in by_number]
        cells: list[Citation | None] = [*cited] or [None]
        rows.extend(ReviewRow(position, text, sentence.verdict, c) for c in cells)
    return rows


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, pipes escaped."""
    return re.sub(r"\s+", " ", text).replace("|", "\\|").strip()


def review_markdown(answer: Answer) -> str:
    """The review as a Markdown document: question, answer, then the sentence table."""
    lines = [
        "# Citation review",
        "",
        f"**Question:** {_cell(answer.question)}",
        "",
        f"**Answer** ({answer.mode}): {_cell(answer.text)}",
        "",
    ]
    rows = review_rows(answer)
    if not rows:
        lines.append("_The answer states nothing to check (not in the library)._")
        return "\n".join(lines) + "\n"
    lines += [
        "| # | Sentence | Verdict | Cite | Source | Quoted words |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        citation = row.citation
        source = quote = "—"
        if citation is not None:
            page = f", p. {citation.page}" if citation.page is not None else ""
            source = _cell(f"{citation.document} ({citation.file}{page})")
            quote = f"“{_cell(citation.quote)}”"
        verdict = VERDICT_LABELS[row.verdict]
        lines.append(
            f"| {row.sentence} | {_cell(row.text)} | {f'**{verdict}**' if row.flagged else verdict} "
            f"| {f'[{citation.n}]' if citation else '—'} | {source} | {quote} |"
        )
    return "\n".join(lines) + "\n"


def review_csv(answer: Answer) -> str:
    """The review as CSV, one row per (sentence, citation), with the citation's exact span."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in review_rows(answer):
        c = row.citation
        writer.writerow(
            [
                row.sentence,
                row.text,
                row.verdict,
                *(
                    [
                        c.n,
                        c.document,
                        c.file,
                        "" if c.page is None else c.page,
                        c.quote,
                        c.chunk_id,
                        c.page_start,
                        c.page_end,
                    ]
                    if c
                    else [""] * 8
                ),
            ]
        )
    return out.getvalue()


def write_review(answer: Answer, folder: Path, export: ExportFormat) -> Path:
    """Write the review of `answer` to `folder` as citation-review.md or .csv; return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"citation-review.{export}"
    text = review_markdown(answer) if export == "md" else review_csv(answer)
    path.write_text(text, encoding="utf-8")
    return path
