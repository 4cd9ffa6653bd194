"""Cosine thresholds of another embedding model, chosen to mean what the default model's mean.

The similarity thresholds (`min_relevance`, `min_sentence_relevance`, `timeline_min_relevance`,
`disagree_min_similarity`) were set for all-MiniLM-L6-v2, whose cosines run higher than
EmbeddingGemma's. Each is carried over by quantile: the share of a dev set's similarities
that fall below the threshold under the default model is found, and the other model's
threshold is its similarity at that same share.

- `min_relevance` (the gate before answering): each question's best dense similarity, each
  model over its own index (what the gate reads), all questions of the split.
- `min_sentence_relevance` and `timeline_min_relevance` (question or topic against a
  sentence): the very same (question, candidate sentence) pairs embedded by both models, the
  candidates taken from the default index's passages as the extractive answerer takes them.
- `disagree_min_similarity` (sentence against sentence): pairs of those candidate sentences
  from different documents.

    .venv/bin/python benchmarks/calibrate_thresholds.py --fast-index <default index> \\
        --quality-index <index built with --preset quality> [--split dev]
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from rag.answering import Candidate, candidate_sentences
from rag.embedding import Embedder
from rag.evaluation.datasets import load_questions, only_split
from rag.library import Library
from rag.settings import Settings, load_settings

QUESTIONS = Path(__file__).resolve().parent / "questions" / "paraphrase.jsonl"


def carried_over(threshold: float, ours: np.ndarray, theirs: np.ndarray) -> tuple[float, float]:
    """The share of `ours` below `threshold`, and the value of `theirs` at that share."""
    share = float(np.mean(ours < threshold))
    return share, float(np.quantile(theirs, share))


def cross_document_similarities(candidates: list[Candidate], embedder: Embedder) -> list[float]:
    """Cosines between candidate sentences of different documents."""
    if len(candidates) < 2:
        return []
    vectors = embedder.embed([c.text for c in candidates])
    return [
        float(vectors[i] @ vectors[j])
        for i, j in itertools.combinations(range(len(candidates)), 2)
        if candidates[i].passage.document_id != candidates[j].passage.document_id
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast-index", type=Path, required=True)
    parser.add_argument("--quality-index", type=Path, required=True)
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--out", type=Path, help="write the similarities as JSON here")
    args = parser.parse_args()

    fast = Library(load_settings(index_dir=args.fast_index, preset="fast"))
    quality = Library(load_settings(index_dir=args.quality_index, preset="quality"))
    items = only_split(load_questions(args.questions, []), args.split).items
    gate: dict[str, list[float]] = {"fast": [], "quality": []}
    sentence: dict[str, list[float]] = {"fast": [], "quality": []}
    pair: dict[str, list[float]] = {"fast": [], "quality": []}
    libraries = {"fast": fast, "quality": quality}
    for number, item in enumerate(items, start=1):
        retrieved = {name: library.retrieve(item.question) for name, library in libraries.items()}
        for name, passages in retrieved.items():
            gate[name].append(max((p.dense_similarity or 0.0 for p in passages), default=0.0))
        for name, library in libraries.items():  # the same sentences: the fast index's
            candidates = candidate_sentences(item.question, retrieved["fast"], library.embedder)
            sentence[name].extend(c.similarity for c in candidates)
            pair[name].extend(cross_document_similarities(candidates, library.embedder))
        print(f"{number}/{len(items)}", flush=True, end="\r")
    defaults = Settings()
    rows = [
        ("min_relevance", defaults.min_relevance, gate, "best passage, own index"),
        ("min_sentence_relevance", defaults.min_sentence_relevance, sentence, "question-sentence"),
        ("timeline_min_relevance", defaults.timeline_min_relevance, sentence, "question-sentence"),
        ("disagree_min_similarity", defaults.disagree_min_similarity, pair, "sentence-sentence"),
    ]
    print(f"\n{args.questions.name} {args.split}: {len(items)} questions")
    print("| setting | pairs | fast value | share below | quality value |")
    print("|---|---|---|---|---|")
    for setting, value, values, kind in rows:
        ours, theirs = np.array(values["fast"]), np.array(values["quality"])
        share, carried = carried_over(value, ours, theirs)
        print(f"| `{setting}` | {kind}, {len(ours)} | {value} | {share:.3f} | {carried:.3f} |")
    if args.out:
        args.out.write_text(json.dumps({"gate": gate, "sentence": sentence, "pair": pair}))
    fast.close()
    quality.close()


if __name__ == "__main__":
    main()
