"""FinanceBench retrieval with PDF table detection off and on, for all questions and for those
whose evidence page holds a table.

    .venv/bin/python benchmarks/financebench_tables.py [--data ../shared/data/financebench] \
        [--folder /tmp/financebench-tables] [--out results.json]

Ingests the dataset's PDFs into two fresh indexes that differ only in the setting `pdf_tables`
(off: ruled tables stay in the page text, as before issue 15; on: each is kept as a Markdown
table), one after the other, and scores evidence-page Hit@k and MRR@10 of each on the questions
whose PDF is present. "Table questions" are those with an evidence page on which the table
finder kept a table (read from the index with tables on): the questions the change can move.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from rag.evaluation.datasets import QASet, load_dataset
from rag.evaluation.runners import HIT_KS, evaluate, evidence_pages, ingest_dataset
from rag.library import Library
from rag.pdftables import TABLES_MARK
from rag.settings import load_settings

FIGURES = [f"hit@{k}" for k in HIT_KS] + ["mrr@10"]


def pages_with_tables(library: Library, dataset: QASet) -> set[tuple[str, int | None]]:
    """The questions' evidence pages on which `library` stores a table."""
    store = library.store()
    ids = {document.file: document.id for document in library.documents()}
    return {
        (file, page)
        for item in dataset.items
        for file, page in evidence_pages(item)
        if file in ids and TABLES_MARK in store.page(ids[file], page).raw_text
    }


def run(dataset: QASet, folder: Path, tables: bool) -> tuple[Library, dict[str, Any]]:
    """A fresh index of the dataset read with `pdf_tables` = `tables`, and its scores."""
    index = folder / f"pdf-tables-{'on' if tables else 'off'}"
    shutil.rmtree(index, ignore_errors=True)
    settings = load_settings().model_copy(
        update={
            "index_dir": index,
            "store": None,
            "pdf_tables": tables,
            "embed_sentences_at_ingest": False,  # retrieval only: nothing quotes them
        }
    )
    library = Library(settings)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    ingested = ingest_dataset(library, dataset)
    ingest_seconds = time.perf_counter() - started
    report = evaluate(library, dataset, mode="retrieval")
    return library, {
        "pdf_tables": tables,
        "chunks": ingested.chunks,
        "skipped": ingested.skipped,
        "ingest_seconds": round(ingest_seconds, 1),
        "load_average_before": load_before,
        "rows": report.rows,
    }


def scores(rows: list[dict[str, Any]], ids: set[str] | None = None) -> dict[str, float]:
    chosen = [row for row in rows if ids is None or row["id"] in ids]
    return {
        figure: round(sum(row[figure] for row in chosen) / len(chosen), 4) for figure in FIGURES
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/financebench"))
    parser.add_argument("--folder", type=Path, default=Path("/tmp/financebench-tables"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    dataset = load_dataset(args.data, [])
    assert isinstance(dataset, QASet)
    runs = []
    table_pages: set[tuple[str, int | None]] = set()
    for tables in (False, True):
        library, result = run(dataset, args.folder, tables)
        if tables:
            table_pages = pages_with_tables(library, dataset)
        library.close()
        runs.append(result)
    table_ids = {item.id for item in dataset.items if evidence_pages(item) & table_pages}
    print(
        f"{len(dataset.items)} questions; {len(table_ids)} with a found table on an evidence page"
    )
    print("| pdf_tables | questions | chunks | ingest (s) | " + " | ".join(FIGURES) + " |")
    print("|---" * (4 + len(FIGURES)) + "|")
    for result in runs:
        for label, ids in (("all", None), ("table questions", table_ids)):
            figures = scores(result["rows"], ids)
            print(
                f"| {'on' if result['pdf_tables'] else 'off'} | {label} | {result['chunks']:,} | "
                f"{result['ingest_seconds']} | "
                + " | ".join(str(figures[f]) for f in FIGURES)
                + " |"
            )
    if args.out:
        args.out.write_text(
            json.dumps({"table_questions": sorted(table_ids), "runs": runs}, indent=1)
        )


if __name__ == "__main__":
    main()
