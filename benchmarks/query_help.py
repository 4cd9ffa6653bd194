"""Query-side help from the local model, measured per component on one half of a question set.

For each answerable question, the evidence-page ranking of the first 10 passages by:

- `none`: the library's retrieval as it is (`Library.retrieve`);
- `hypothetical`: HyDE (Gao et al., 2022): the local model writes a short report passage
  that answers the question; the dense search uses the mean of the question's and that
  passage's vectors, the lexical search the question;
- `hypothetical_lexical`: the same, with the passage's words added to the lexical query;
- `reformulations`: the model rewrites the question three times in other words; the four
  questions' rankings are fused by reciprocal rank (k = 60);
- `rerank`: the first `--rerank` passages of `none` reordered by the model's probability that
  the passage answers the question (its yes/no logits, as `answer_check = "model"` reads
  them), the rest left in place;
- `rerank_fused`: those passages ordered by reciprocal-rank fusion of the retrieval's order
  and the model's (computed from the same probabilities, no further model calls).

Prints page Hit@1, Hit@5 and MRR@10 per method and the model's seconds per question, and
writes every question's rankings, texts and probabilities (JSON, resumable: questions already
in it are not asked again).

    .venv/bin/python benchmarks/query_help.py benchmarks/questions/paraphrase.jsonl \
        --split dev --index /tmp/fast --out results/query-help-dev.json

Choose on dev; read test once.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from rag.answering import neutralise
from rag.embedding import QUERY, TextEmbedder
from rag.evaluation.datasets import QAItem, QASet, load_dataset, only_split
from rag.evaluation.metrics import hit_at_k, mrr_at_k
from rag.evaluation.runners import eval_library, evidence_pages, ingest_dataset, page_ranking
from rag.generation import yes_probability
from rag.library import Library
from rag.records import Passage
from rag.retrieval import retrieve
from rag.settings import load_settings

DEPTH = 10
RRF_K = 60
METHODS = (
    "none",
    "hypothetical",
    "hypothetical_lexical",
    "reformulations",
    "rerank",
    "rerank_fused",
)

HYPOTHETICAL_SYSTEM = (
    "You write the passage of a government or company report that answers a question. Write "
    "two or three factual sentences in a report's style, with the names, figures and dates "
    "such a report would give. Write the passage only."
)
REFORMULATIONS_SYSTEM = """Rewrite the user's question three times, each time in other words a \
report might use: synonyms, the full or official names of the places, institutions and things \
it names, and a different construction. Reply with three numbered lines and nothing else.

Example:
Question: How many troops does the Pentagon keep in Japan?
1. How many U.S. military personnel are stationed in Japan?
2. What is the size of the American armed forces' presence in Japan?
3. How large is the Department of Defense's troop deployment in Japan?"""
_NUMBERING = re.compile(r"^\s*(?:\d+[.)]\s*)?(?:Question:\s*)?")
RELEVANT_SYSTEM = (
    "You check whether a passage from a report answers a question. Reply with one word: yes or "
    "no. Say yes only if the passage gives the information the question asks for."
)


class QueryVector:
    """An embedder whose query vector is replaced by a given one; passages as before."""

    def __init__(self, embedder: TextEmbedder, vector: np.ndarray) -> None:
        self.embedder = embedder
        self.vector = vector

    def embed(self, texts: list[str], prompt_name: str | None = None) -> np.ndarray:
        if prompt_name == QUERY:
            return np.stack([self.vector] * len(texts))
        return self.embedder.embed(texts, prompt_name=prompt_name)


def ask(chat: BaseChatModel, system: str, human: str, max_tokens: int) -> str:
    reply = chat.invoke(
        [SystemMessage(system), HumanMessage(neutralise(human))],
        max_tokens=max_tokens,
        temperature=0,
    )
    return reply.text.strip()


def hypothetical_passage(chat: BaseChatModel, question: str) -> str:
    return ask(chat, HYPOTHETICAL_SYSTEM, f"Question: {question}", 120)


def reformulations(chat: BaseChatModel, question: str) -> list[str]:
    reply = ask(chat, REFORMULATIONS_SYSTEM, f"Question: {question}", 150)
    lines = [_NUMBERING.sub("", line).strip() for line in reply.splitlines()]
    return [line for line in lines if len(line) > 10][:3]


def relevance(chat: BaseChatModel, question: str, passage: Passage) -> float:
    prompt = (
        f"Question: {question}\n\n"
        f'Passage (from "{passage.title}"):\n{passage.text}\n\n'
        "Does the passage answer the question?"
    )
    return yes_probability(chat, RELEVANT_SYSTEM, neutralise(prompt))


def with_hypothetical(library: Library, question: str, passage: str, lexical: str) -> list[Passage]:
    """Retrieval with the mean of the question's and the passage's vectors as the dense query."""
    embedder = library.embedder
    vectors = embedder.embed([question, passage], prompt_name=QUERY)
    mean = vectors.mean(axis=0)
    return retrieve(
        library.store(),
        QueryVector(embedder, mean / np.linalg.norm(mean)),
        library.settings,
        lexical,
        k=DEPTH,
    )


def fused_pages(rankings: list[list[Passage]]) -> list[tuple[str, int | None]]:
    """Pages by reciprocal-rank fusion of passage rankings (a chunk scores once per ranking)."""
    scores: dict[int, float] = {}
    by_id: dict[int, Passage] = {}
    for ranking in rankings:
        for rank, passage in enumerate(ranking, start=1):
            scores[passage.chunk_id] = scores.get(passage.chunk_id, 0.0) + 1 / (RRF_K + rank)
            by_id[passage.chunk_id] = passage
    best = sorted(scores, key=lambda chunk: -scores[chunk])[:DEPTH]
    return page_ranking([by_id[chunk] for chunk in best])


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def question_row(
    library: Library, chat: BaseChatModel, item: QAItem, methods: list[str], rerank: int
) -> dict[str, Any]:
    """One question's rankings by `none` and the `methods` asked for, with what the model wrote
    and the seconds it took."""
    question = item.question
    base = library.retrieve(question, k=DEPTH)
    row: dict[str, Any] = {
        "id": item.id,
        "evidence": sorted([file, page] for file, page in evidence_pages(item)),
        "seconds": {"none": 0.0},
        "rankings": {"none": page_ranking(base)},
    }
    if "hypothetical" in methods:
        passage, seconds = timed(lambda: hypothetical_passage(chat, question))
        row["hypothetical"] = passage
        row["seconds"] |= {"hypothetical": seconds, "hypothetical_lexical": seconds}
        row["rankings"] |= {
            "hypothetical": page_ranking(with_hypothetical(library, question, passage, question)),
            "hypothetical_lexical": page_ranking(
                with_hypothetical(library, question, passage, f"{question} {passage}")
            ),
        }
    if "reformulations" in methods:
        rewritten, seconds = timed(lambda: reformulations(chat, question))
        row["reformulations"] = rewritten
        row["seconds"]["reformulations"] = seconds
        row["rankings"]["reformulations"] = fused_pages(
            [base] + [library.retrieve(q, k=DEPTH) for q in rewritten]
        )
    if "rerank" in methods:
        first = base[:rerank]
        probabilities, seconds = timed(lambda: [relevance(chat, question, p) for p in first])
        order = sorted(range(len(first)), key=lambda i: -probabilities[i])
        row["probabilities"] = probabilities
        row["seconds"] |= {"rerank": seconds, "rerank_fused": seconds}
        row["rankings"]["rerank"] = page_ranking([first[i] for i in order] + base[rerank:])
        row["rankings"]["rerank_fused"] = rerank_fused(row)
    return row


def collect(
    dataset: QASet, index: str | None, out: Path, methods: list[str], rerank: int
) -> list[dict[str, Any]]:
    settings = load_settings()
    library = eval_library(settings, dataset, index)
    ingest_dataset(library, dataset, None)
    rows: list[dict[str, Any]] = json.loads(out.read_text()) if out.exists() else []
    done = {row["id"] for row in rows}
    chat = library.chat_model("local")
    try:
        for item in dataset.items:
            if item.unanswerable or item.id in done:
                continue
            rows.append(question_row(library, chat, item, methods, rerank))
            out.write_text(json.dumps(rows, indent=1))
            print(f"{item.id}: {len(rows)} done", flush=True)
    finally:
        library.close()
    return rows


def rerank_fused(row: dict[str, Any]) -> list[list[Any]]:
    """The `none` ranking with its first passages reordered by RRF of their retrieval rank
    and their rank by the model's probability."""
    base, probabilities = row["rankings"]["none"], row["probabilities"]
    count = len(probabilities)
    by_probability = sorted(range(count), key=lambda i: -probabilities[i])
    model_rank = {i: rank for rank, i in enumerate(by_probability, start=1)}
    fused = sorted(range(count), key=lambda i: -(1 / (RRF_K + i + 1) + 1 / (RRF_K + model_rank[i])))
    return [base[i] for i in fused] + base[count:]


def report(rows: list[dict[str, Any]]) -> None:
    print(f"{len(rows)} answerable questions")
    print("method                Hit@1   Hit@5  MRR@10  model s/question (mean)")
    for method in METHODS:
        if not rows or any(method not in row["rankings"] for row in rows):
            continue
        hits1, hits5, mrr = [], [], []
        for row in rows:
            ranking = [tuple(page) for page in row["rankings"][method]]
            relevant = {tuple(page) for page in row["evidence"]}
            hits1.append(hit_at_k(ranking, relevant, 1))
            hits5.append(hit_at_k(ranking, relevant, 5))
            mrr.append(mrr_at_k(ranking, relevant, DEPTH))
        seconds = np.mean([row["seconds"][method] for row in rows])
        print(
            f"{method:20s}  {np.mean(hits1):.4f}  {np.mean(hits5):.4f}  {np.mean(mrr):.4f}"
            f"  {seconds:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", choices=["dev", "test"], required=True)
    parser.add_argument("--index", help="an index folder (default: the dataset's cached index)")
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=["hypothetical", "reformulations", "rerank"],
        default=["hypothetical", "reformulations", "rerank"],
    )
    parser.add_argument("--rerank", type=int, default=5, help="passages the model reorders")
    parser.add_argument("--out", type=Path, required=True, help="per-question results (JSON)")
    args = parser.parse_args()
    dataset = only_split(load_dataset(args.dataset, load_settings().library_paths), args.split)
    report(collect(dataset, args.index, args.out, args.methods, args.rerank))


if __name__ == "__main__":
    main()
