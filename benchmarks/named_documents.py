"""`named_documents` at scale: the documents a question names, in a library of many documents.

A folder store of `--documents` one-chunk documents named as FinanceBench's filings are
(`COMPANY_YEAR_10K.pdf`, companies from ../shared/data/financebench/pdfs, years 2010-2024),
then for each company a question naming it and a year. Timed per question, in the same run:

- reading every document's identity words for the question (what retrieval did before the
  index: `named_documents` over the store's document list);
- retrieval's `_named`: the store's generation (the document list is read again only when it
  has changed), then the cached `DocumentNames` index;
- `store.documents()` alone, which `_named` read for every question before the generation.

    .venv/bin/python benchmarks/named_documents.py [--documents 10000] [--folder /tmp/named]
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rag.records import Chunk, Page
from rag.retrieval import _named, named_documents
from rag.settings import load_settings
from rag.store import NewDocument
from rag.store.sqlite_faiss import SqliteFaissStore

FILINGS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "financebench" / "pdfs"
DIMENSION = 384


def companies() -> list[str]:
    return sorted({path.name.split("_")[0] for path in FILINGS.glob("*.pdf")})


def filing(number: int, company: str, rng: np.random.Generator) -> NewDocument:
    text = f"Item {number}. The company reported revenue and costs for the year."
    vector = rng.normal(size=(1, DIMENSION)).astype(np.float32)
    name = f"{number}/{company}_{2010 + number % 15}_10K.pdf"
    return NewDocument(
        source=f"/filings/{name}",
        file=name,
        title=f"Form 10-K {number}",
        format="pdf",
        content_hash=str(number),
        size=len(text),
        pages=[Page(1, text, text)],
        chunks=[Chunk(0, 1, 0, len(text), text, len(text) // 4)],
        vectors=vector / np.linalg.norm(vector),
        prepared_with="benchmark",
    )


def per_question_ms(run: Callable[[str], Any], questions: list[str]) -> float:
    began = time.perf_counter()
    for question in questions:
        run(question)
    return (time.perf_counter() - began) / len(questions) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/rag-named-documents"))
    args = parser.parse_args()
    names = companies()
    if not names:
        raise SystemExit(f"no FinanceBench PDFs under {FILINGS}")
    random.seed(0)
    rng = np.random.default_rng(0)
    shutil.rmtree(args.folder, ignore_errors=True)
    store = SqliteFaissStore(args.folder, "benchmark", DIMENSION, create=True)
    try:
        store.put_documents(filing(n, random.choice(names), rng) for n in range(args.documents))
        store.flush()
        settings = load_settings()
        questions = [
            f"How much revenue did {company.title()} report in {2010 + n % 15}?"
            for n, company in enumerate(names)
        ]
        _named(store, settings, questions[0], None)  # the index is built once, then cached
        rounds = [
            (
                per_question_ms(lambda q: named_documents(q, store.documents()), questions),
                per_question_ms(lambda q: _named(store, settings, q, None), questions),
                per_question_ms(lambda q: store.documents(), questions),
            )
            for _ in range(3)
        ]
        print(f"{args.documents} documents, {len(questions)} questions; ms per question, 3 rounds")
        print("every document's words | _named (cached list, index) | store.documents() alone")
        for every, cached, listing in rounds:
            print(f"{every:22.1f} | {cached:27.1f} | {listing:23.1f}")
    finally:
        store.close()
        shutil.rmtree(args.folder, ignore_errors=True)


if __name__ == "__main__":
    main()
