"""The extractive model checks' curves on one half of a question set.

For each question, the `answer_check_candidates` most similar candidate sentences get the local
model's probability of answering (`rag.answering.answer_probability`, as `answer_check =
"model"` asks it), or with `--check likelihood` how much each raises the model's likelihood
of the question (`rag.answering.question_explained`, as `answer_check = "likelihood"` reads
it); with `--check claim`, the sentences the words check quotes at the claim check's bar
(`min_claim_sentence_relevance`) get the probability that each supports its answer stated in
the question's words (`rag.answering.claim_support`). Then every threshold in the grid is
applied as `checked_sentences` applies `min_answer_probability` (or
`supported_claims` `min_claim_support`), or every margin as `best_explaining` applies
`likelihood_margin` once the words check answers. Prints correct (an accepted answer string in
a quoted sentence), false refusals and unanswerable questions refused per value (the words
check's own choice first, with `likelihood`), and writes the scores (JSON, resumable:
questions already in it are not asked again).

    .venv/bin/python benchmarks/answer_check.py benchmarks/questions/paraphrase.jsonl \
        --split dev --check likelihood --out results/answer-likelihood-dev.json

Choose the threshold or margin on dev; read test once.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.answering import (
    answer_probability,
    candidate_sentences,
    claim_support,
    question_explained,
    select_sentences,
)
from rag.evaluation.datasets import QASet, load_dataset, only_split
from rag.evaluation.metrics import contains_accepted
from rag.evaluation.runners import eval_library, ingest_dataset
from rag.generation import ChatLlamaCpp
from rag.settings import load_settings

THRESHOLDS = [round(0.05 * n, 2) for n in range(1, 12)]
# what each check scores a candidate by
SCORE = {"model": "probability", "claim": "support", "likelihood": "gain"}
MARGINS = [0.0, 0.1, 0.2, 0.3, 0.5, 1.0]
Row = dict[str, Any]


def scores(dataset: QASet, out: Path, check: str) -> list[Row]:
    """Each question's candidates, best first by similarity, with the model's probability
    (`check` "model") or the question's likelihood gain ("likelihood"), and whether the words
    check quotes each."""
    settings = load_settings()
    library = eval_library(settings, dataset, None)
    ingest_dataset(library, dataset, None)
    rows: list[Row] = json.loads(out.read_text()) if out.exists() else []
    done = {row["id"] for row in rows}
    chat = library.chat_model("local")
    assert isinstance(chat, ChatLlamaCpp)
    try:
        for item in dataset.items:
            if item.id in done:
                continue
            passages = library.retrieve(item.question)
            every = candidate_sentences(item.question, passages, library.embedder)
            candidates = sorted(every, key=lambda c: -c.score)[: settings.answer_check_candidates]
            quoted_by_words = select_sentences(every, settings, settings.min_sentence_relevance)
            if check == "model":
                values = [answer_probability(chat, item.question, c) for c in candidates]
            elif check == "claim":  # what the words check quotes, at the claim check's bar
                candidates = select_sentences(
                    every, settings, settings.sentence_relevance_bar("claim")
                )
                values = [claim_support(chat, item.question, c) for c in candidates]
            else:
                values = question_explained(chat.log_probabilities, item.question, candidates)
            rows.append(
                {
                    "id": item.id,
                    "unanswerable": item.unanswerable,
                    "relevant": library.chain.relevant(passages),
                    "candidates": [
                        {
                            "text": c.text,
                            SCORE[check]: value,
                            "answers": contains_accepted(c.text, item.answers),
                            "words": c in quoted_by_words,
                        }
                        for c, value in zip(candidates, values, strict=True)
                    ],
                }
            )
            out.write_text(json.dumps(rows, indent=1))
            print(f"{item.id}: {len(rows)} of {len(dataset.items)}", flush=True)
    finally:
        library.close()
    return rows


Quoted = Callable[[Row], list[Row]]  # the candidates a rule quotes for a question's row


def figures(rows: list[Row], quoted: Quoted) -> tuple[float, float, float]:
    """(correct, false refusals, unanswerable refused) when `quoted` picks the sentences."""
    answerable = [row for row in rows if not row["unanswerable"]]
    unanswerable = [row for row in rows if row["unanswerable"]]
    correct = sum(any(c["answers"] for c in quoted(r)) for r in answerable)
    refused = sum(not quoted(r) for r in answerable)
    declined = sum(not quoted(r) for r in unanswerable)
    return (
        correct / max(1, len(answerable)),
        refused / max(1, len(answerable)),
        declined / max(1, len(unanswerable)),
    )


def curve(rows: list[Row], score: str = "probability") -> list[tuple[float, float, float, float]]:
    """(threshold, correct, false refusals, unanswerable refused) per threshold of each
    candidate's `score`."""

    def at(threshold: float) -> Quoted:
        def quoted(row: Row) -> list[Row]:
            kept = [c for c in row["candidates"] if c[score] >= threshold]
            return kept if row["relevant"] else []

        return quoted

    return [(t, *figures(rows, at(t))) for t in THRESHOLDS]


def margin_curve(rows: list[Row]) -> list[tuple[float, float, float, float]]:
    """(margin, correct, false refusals, unanswerable refused) per likelihood margin; the
    words check decides whether to answer, as `answer_check = "likelihood"` does."""

    def within(margin: float) -> Quoted:
        def quoted(row: Row) -> list[Row]:
            if not any(c["words"] for c in row["candidates"]):
                return []
            best = max(c["gain"] for c in row["candidates"])
            return [c for c in row["candidates"] if c["gain"] >= best - margin]

        return quoted

    return [(m, *figures(rows, within(m))) for m in MARGINS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", choices=["dev", "test"], required=True)
    parser.add_argument("--check", choices=list(SCORE), default="model")
    parser.add_argument("--out", type=Path, required=True, help="scores (JSON)")
    args = parser.parse_args()
    dataset = only_split(load_dataset(args.dataset, load_settings().library_paths), args.split)
    rows = scores(dataset, args.out, args.check)
    if args.check in ("model", "claim"):
        print("threshold  correct  false refusals  unanswerable refused")
        values = curve(rows, SCORE[args.check])
    else:
        correct, refused, declined = figures(
            rows, lambda r: [c for c in r["candidates"] if c["words"]]
        )
        print("margin     correct  false refusals  unanswerable refused")
        print(f"{'words':>9}  {correct:7.3f}  {refused:14.3f}  {declined:20.3f}")
        values = margin_curve(rows)
    for value, correct, refused, declined in values:
        print(f"{value:9.2f}  {correct:7.3f}  {refused:14.3f}  {declined:20.3f}")


if __name__ == "__main__":
    main()
