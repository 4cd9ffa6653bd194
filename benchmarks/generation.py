"""Time to first token and total time of generated answers with the local model.

    .venv/bin/python benchmarks/generation.py [--questions 10] [--index index]

Asks the first N answerable questions of the project question set through `Library.ask_stream`
(the same path as `rag ask`), in one process with the model loaded once, and reports the median
and p90 of the time to the first streamed piece and of the total time, which includes the
citation check (numbers and names, then the model as yes/no judge of every cited sentence).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import date
from pathlib import Path

from rag.library import Library
from rag.records import Answer
from rag.settings import load_settings

QUESTIONS = Path(__file__).resolve().parent / "questions" / "library.jsonl"


def timed_answer(library: Library, question: str) -> tuple[float, float, bool]:
    started = time.perf_counter()
    first = None
    for piece in library.ask_stream(question, mode="local"):
        if isinstance(piece, str) and first is None:
            first = time.perf_counter() - started
        answer = piece
    total = time.perf_counter() - started
    assert isinstance(answer, Answer)
    return first if first is not None else total, total, answer.refused


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--index", type=Path, default=None)
    args = parser.parse_args()
    items = [json.loads(line) for line in QUESTIONS.read_text().splitlines()]
    questions = [i["question"] for i in items if not i["unanswerable"]][: args.questions]
    library = Library(load_settings(index_dir=args.index))
    library.chat_model("local")  # assemble and load the model before timing
    library.ask(questions[0], mode="extractive")
    firsts, totals, refused = [], [], 0
    for question in questions:
        first, total, was_refused = timed_answer(library, question)
        firsts.append(first)
        totals.append(total)
        refused += was_refused
        print(f"{first:6.1f} s first, {total:6.1f} s total  {question[:70]}", flush=True)
    library.close()
    print(
        json.dumps(
            {
                "date": date.today().isoformat(),
                "questions": len(questions),
                "first_piece_median_s": round(statistics.median(firsts), 1),
                "first_piece_p90_s": round(percentile(firsts, 0.9), 1),
                "total_median_s": round(statistics.median(totals), 1),
                "total_p90_s": round(percentile(totals, 0.9), 1),
                "refused": refused,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
