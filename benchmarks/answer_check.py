"""The extractive model check's threshold curve on one half of a question set.

For each question, the `answer_check_candidates` most similar candidate sentences get the local
model's probability of answering (`rag.answering.answer_probability`, as `answer_check =
"model"` asks it); then every threshold in the grid is applied as `checked_sentences` applies
`min_answer_probability`. Prints correct (an accepted answer string in a quoted sentence),
false refusals and unanswerable questions refused per threshold, and writes the
probabilities (JSON, resumable: questions already in it are not asked again).

    .venv/bin/python benchmarks/answer_check.py benchmarks/questions/paraphrase.jsonl \
        --split dev --out results/answer-check-dev.json

Choose the threshold on dev; read test once.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rag.answering import answer_probability, candidate_sentences
from rag.evaluation.datasets import QASet, load_dataset, only_split
from rag.evaluation.metrics import contains_accepted
from rag.evaluation.runners import eval_library, ingest_dataset
from rag.settings import load_settings

THRESHOLDS = [round(0.05 * n, 2) for n in range(1, 12)]


def probabilities(dataset: QASet, out: Path) -> list[dict[str, Any]]:
    """Each question's candidates, best first by similarity, with the model's probability."""
    settings = load_settings()
    library = eval_library(settings, dataset, None)
    ingest_dataset(library, dataset, None)
    rows: list[dict[str, Any]] = json.loads(out.read_text()) if out.exists() else []
    done = {row["id"] for row in rows}
    chat = library.chat_model("local")
    try:
        for item in dataset.items:
            if item.id in done:
                continue
            passages = library.retrieve(item.question)
            candidates = sorted(
                candidate_sentences(item.question, passages, library.embedder),
                key=lambda c: -c.score,
            )[: settings.answer_check_candidates]
            rows.append(
                {
                    "id": item.id,
                    "unanswerable": item.unanswerable,
                    "relevant": library.chain.relevant(passages),
                    "candidates": [
                        {
                            "text": c.text,
                            "probability": answer_probability(chat, item.question, c),
                            "answers": contains_accepted(c.text, item.answers),
                        }
                        for c in candidates
                    ],
                }
            )
            out.write_text(json.dumps(rows, indent=1))
            print(f"{item.id}: {len(rows)} of {len(dataset.items)}", flush=True)
    finally:
        library.close()
    return rows


def curve(rows: list[dict[str, Any]]) -> list[tuple[float, float, float, float]]:
    """(threshold, correct, false refusals, unanswerable refused) per threshold."""
    answerable = [row for row in rows if not row["unanswerable"]]
    unanswerable = [row for row in rows if row["unanswerable"]]
    result = []
    for threshold in THRESHOLDS:

        def quoted(row: dict[str, Any], t: float = threshold) -> list[dict[str, Any]]:
            kept = [c for c in row["candidates"] if c["probability"] >= t]
            return kept if row["relevant"] else []

        correct = sum(any(c["answers"] for c in quoted(r)) for r in answerable)
        refused = sum(not quoted(r) for r in answerable)
        declined = sum(not quoted(r) for r in unanswerable)
        result.append(
            (
                threshold,
                correct / max(1, len(answerable)),
                refused / max(1, len(answerable)),
                declined / max(1, len(unanswerable)),
            )
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", choices=["dev", "test"], required=True)
    parser.add_argument("--out", type=Path, required=True, help="probabilities (JSON)")
    args = parser.parse_args()
    dataset = only_split(load_dataset(args.dataset, load_settings().library_paths), args.split)
    rows = probabilities(dataset, args.out)
    print("threshold  correct  false refusals  unanswerable refused")
    for threshold, correct, refused, declined in curve(rows):
        print(f"{threshold:9.2f}  {correct:7.3f}  {refused:14.3f}  {declined:20.3f}")


if __name__ == "__main__":
    main()
