"""Time to the evidence, to the first token and to the checked answer, with the local model.

    .venv/bin/python benchmarks/generation.py [--questions 10] [--index index]

Asks the first N answerable questions of the project question set through `Library.ask_stream`
(the same path as `rag ask`), in one process with the model loaded once, and reports the median
and p90 of the time to the evidence shown first, to the first generated token and to the checked
answer (the citation check: numbers and names, restated sentences, then one model call that
checks the remaining sentences and whether the answer responds), and how many answers hold an
accepted answer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import date
from pathlib import Path

from rag.answering import Evidence, TextPiece
from rag.evaluation.metrics import contains_accepted
from rag.library import Library
from rag.records import Answer
from rag.settings import load_settings

QUESTIONS = Path(__file__).resolve().parent / "questions" / "library.jsonl"


def timed_answer(library: Library, question: str) -> tuple[float, float, float, Answer]:
    """Seconds to the evidence, to the first generated piece and to the checked answer."""
    started = time.perf_counter()
    evidence = first = None
    for event in library.ask_stream(question, mode="local"):
        if isinstance(event, Evidence) and evidence is None:
            evidence = time.perf_counter() - started
        if isinstance(event, TextPiece) and first is None:
            first = time.perf_counter() - started
        answer = event
    total = time.perf_counter() - started
    assert isinstance(answer, Answer)
    return (
        evidence if evidence is not None else total,
        first if first is not None else total,
        total,
        answer,
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--index", type=Path, default=None)
    args = parser.parse_args()
    items = [json.loads(line) for line in QUESTIONS.read_text().splitlines()]
    items = [i for i in items if not i["unanswerable"]][: args.questions]
    library = Library(load_settings(index_dir=args.index))
    library.chat_model("local")  # assemble and load the model before timing
    library.ask(items[0]["question"], mode="extractive")
    evidences, firsts, totals, refused, correct = [], [], [], 0, 0
    for item in items:
        evidence, first, total, answer = timed_answer(library, item["question"])
        evidences.append(evidence)
        firsts.append(first)
        totals.append(total)
        refused += answer.refused
        correct += not answer.refused and contains_accepted(answer.text, item["answers"])
        print(
            f"{evidence:5.1f} s evidence, {first:5.1f} s first, {total:5.1f} s total  "
            f"{item['question'][:60]}",
            flush=True,
        )
    library.close()
    print(
        json.dumps(
            {
                "date": date.today().isoformat(),
                "questions": len(items),
                "evidence_median_s": round(statistics.median(evidences), 2),
                "first_piece_median_s": round(statistics.median(firsts), 1),
                "first_piece_p90_s": round(percentile(firsts, 0.9), 1),
                "total_median_s": round(statistics.median(totals), 1),
                "total_p90_s": round(percentile(totals, 0.9), 1),
                "refused": refused,
                "correct": correct,
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
