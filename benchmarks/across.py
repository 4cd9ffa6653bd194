"""Precision and recall of `rag disagree` and `rag timeline` on the gold set benchmarks/across/.

    .venv/bin/python benchmarks/across.py [--mode extractive|local|openai] [--index index]
        [--out .cache/across.json] [--part all|disagreements|timeline]

Disagreements: each case names a topic and two documents, and the pairs of them that conflict
(none for an agreeing pair, for figures of different years or units, and for the corpus cases).
The made documents of the gold file are indexed into a temporary folder; the corpus cases run
on the corpus index (`--index`, else one built into a temporary folder). A reported pair of
statements is a true positive when the case lists its pair of documents (once); every other
reported pair is a false positive. Timelines: each case names a topic, its documents and
every dated event in their prose; an event found matches a gold event when it cites the same
file, reads the same date (ISO: "2026-04-07", "2026-03", "2025") and quotes the gold words.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.disagreeing import find_disagreements
from rag.ingesting import TextDocument
from rag.library import Library
from rag.settings import load_settings
from rag.timeline import build_timeline

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "benchmarks" / "across" / "gold.json"


@dataclass
class Score:
    """Counts of true positives, false positives and false negatives."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def add(self, other: Score) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn

    def to_json(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
        }


def disagreement_case(library: Library, case: dict[str, Any], mode: str) -> dict[str, Any]:
    result = find_disagreements(library, case["topic"], documents=case["documents"], mode=mode)
    reported = [tuple(sorted((c.first.file, c.second.file))) for c in result.conflicts]
    expected = {tuple(sorted(pair)) for pair in case["conflicts"]}
    found = set(reported) & expected
    # every reported pair of statements counts: a second one for an expected pair of
    # documents, or any for a pair with no conflict, is a false positive
    score = Score(len(found), len(reported) - len(found), len(expected - found))
    return {
        "topic": case["topic"],
        "kind": case["kind"],
        "score": score,
        "reported": [
            {"first": c.first.quote, "second": c.second.quote, "why": c.why}
            for c in result.conflicts
        ],
        "set_aside": result.set_aside,
    }


def timeline_case(library: Library, case: dict[str, Any], mode: str) -> dict[str, Any]:
    timeline = build_timeline(library, case["topic"], documents=case["documents"], mode=mode)
    matched: set[int] = set()
    wrong = []
    for event in timeline.events:
        hits = [
            i
            for i, gold in enumerate(case["events"])
            if gold["file"] == event.citation.file
            and gold["date"] == event.when.iso
            and gold["contains"] in event.citation.quote
        ]
        if hits:
            matched.update(hits)
        else:
            wrong.append(f"{event.when.iso}: {event.citation.quote[:120]}")
    score = Score(len(matched), len(wrong), len(case["events"]) - len(matched))
    missed = [g for i, g in enumerate(case["events"]) if i not in matched]
    return {"topic": case["topic"], "score": score, "not_in_gold": wrong, "missed": missed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="extractive", choices=["extractive", "local", "openai"])
    parser.add_argument("--index", type=Path, default=None, help="index of corpus/ and seeds/")
    parser.add_argument("--out", type=Path, default=Path(".cache/across.json"))
    parser.add_argument(
        "--part", default="all", choices=["all", "disagreements", "timeline"], help="what to score"
    )
    args = parser.parse_args()
    gold = json.loads(GOLD.read_text(encoding="utf-8"))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rag-across-") as folder:
        made = Library(load_settings(index_dir=Path(folder) / "made"))
        made.ingest_texts([TextDocument(d["id"], d["title"], d["text"]) for d in gold["documents"]])
        corpus_dir = args.index or Path(folder) / "corpus"
        corpus = Library(load_settings(index_dir=corpus_dir))
        if args.index is None:
            corpus.ingest([ROOT / "corpus", ROOT / "seeds"])
        made_ids = {d["id"] for d in gold["documents"]}
        try:
            disagreements = [
                disagreement_case(
                    made if set(case["documents"]) <= made_ids else corpus, case, args.mode
                )
                for case in gold["disagreements"]
                if args.part in ("all", "disagreements")
            ]
            timelines = [
                timeline_case(corpus, case, args.mode)
                for case in gold["timelines"]
                if args.part in ("all", "timeline")
            ]
        finally:
            made.close()
            corpus.close()
    totals = {"disagreements": Score(), "timeline": Score()}
    for row in disagreements:
        totals["disagreements"].add(row["score"])
    for row in timelines:
        totals["timeline"].add(row["score"])
    report = {
        "mode": args.mode,
        "seconds": round(time.perf_counter() - started, 1),
        "totals": {name: score.to_json() for name, score in totals.items()},
        "disagreements": [{**row, "score": row["score"].to_json()} for row in disagreements],
        "timelines": [{**row, "score": row["score"].to_json()} for row in timelines],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    for row in disagreements:
        s = row["score"]
        print(f"disagree  {row['kind']:<16} {row['topic']:<40} tp {s.tp} fp {s.fp} fn {s.fn}")
    for row in timelines:
        s = row["score"]
        print(f"timeline  {row['topic']:<57} tp {s.tp} fp {s.fp} fn {s.fn}")
    for name, score in totals.items():
        print(
            f"{name}: precision {score.precision if score.precision is None else round(score.precision, 3)}"
            f", recall {score.recall if score.recall is None else round(score.recall, 3)}"
            f" (tp {score.tp}, fp {score.fp}, fn {score.fn}); mode {args.mode}"
        )
    print(f"{report['seconds']} s; details: {args.out}")


if __name__ == "__main__":
    main()
