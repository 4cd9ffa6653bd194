"""Retrieval of TAT-QA answers (tables and paragraphs of annual reports) through the HTML
loader: does a retrieved passage hold the answer?

    .venv/bin/python benchmarks/tatqa.py ../shared/data/tatqa/tatqa_dataset_dev.json
        [--limit 100] [--k 5] [--index .cache/tatqa-index] [--answers]

Each context (one table and its paragraphs) is written as an HTML page, `<table>` first,
then its paragraphs, and the folder is ingested (so a second run only retrieves). For each
span or multi-span question: Hit@k when a top-k passage of the question's own page holds
every answer span (cells as written, e.g. "2,386"); with `--answers`, also whether the
sentences of the extractive answer that cite that page say every answer span (a table row
is said with its column names, so "2018" of "in which year..." can be in it). Printed by where the answer is
(table, text, table-text). Run it under two versions of `rag/` to compare loaders.
"""

from __future__ import annotations

import argparse
import html
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from rag.library import Library
from rag.retrieval import retrieve
from rag.settings import load_settings


def write_pages(contexts: list[dict[str, Any]], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for context in contexts:
        table = context["table"]["table"]
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
            for row in table
        )
        paragraphs = "".join(
            f"<p>{html.escape(p['text'])}</p>"
            for p in sorted(context["paragraphs"], key=lambda p: p["order"])
        )
        uid = context["table"]["uid"]
        page = f"<html><body><main><table>{rows}</table>{paragraphs}</main></body></html>"
        (folder / f"{uid}.html").write_text(page, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--limit", type=int, default=100, help="contexts taken, in file order")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--index", type=Path, default=Path(".cache/tatqa-index"))
    parser.add_argument(
        "--answers", action="store_true", help="also answer each question extractively"
    )
    args = parser.parse_args()
    contexts = json.loads(args.dataset.read_text(encoding="utf-8"))[: args.limit]
    pages = args.index / "pages"
    write_pages(contexts, pages)
    # retrieval only: nothing quotes the sentences
    library = Library(
        load_settings(index_dir=args.index / "index", embed_sentences_at_ingest=False)
    )
    report = library.ingest([pages])
    store = library.store()
    hits: dict[str, list[int]] = defaultdict(list)
    answered: dict[str, list[int]] = defaultdict(list)  # the answer says the answer spans
    for context in contexts:
        file = f"{context['table']['uid']}.html"
        for question in context["questions"]:
            if question["answer_type"] not in ("span", "multi-span"):
                continue
            answers = (
                question["answer"] if isinstance(question["answer"], list) else [question["answer"]]
            )
            passages = retrieve(
                store, library.embedder, library.settings, question["question"], k=args.k
            )
            own = " ".join(p.text for p in passages if p.file == file)
            found = all(str(answer).strip() in own for answer in answers)
            hits[question["answer_from"]].append(int(found))
            if args.answers:
                reply = library.ask(question["question"], mode="extractive")
                own_citations = {c.n for c in reply.citations if c.file == file}
                said = " ".join(s.text for s in reply.sentences if own_citations & set(s.citations))
                answered[question["answer_from"]].append(
                    int(all(str(answer).strip() in said for answer in answers))
                )
    library.close()
    print(
        json.dumps(
            {
                "contexts": len(contexts),
                "indexed_now": len(report.indexed),
                "chunk_tokens": library.settings.chunk_tokens,
                f"hit@{args.k}": {
                    source: {"questions": len(found), "hit": round(sum(found) / len(found), 3)}
                    for source, found in sorted(hits.items())
                },
                "extractive answer says it": {
                    source: round(sum(found) / len(found), 3)
                    for source, found in sorted(answered.items())
                },
            }
        )
    )


if __name__ == "__main__":
    main()
