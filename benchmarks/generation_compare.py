"""Generated answers of several code trees or settings, timed and scored in one run.

    .venv/bin/python benchmarks/generation_compare.py --index INDEX --out runs.jsonl \
        --side before=/tmp/old-tree --side after=. \
        --side focus=.:RAG_GENERATOR_FOCUS=true,RAG_CONTEXT_SENTENCES=2 \
        [--library 8] [--paraphrase 12] [--unanswerable 4]

Each side is a worker process (this script with `--worker`) running `Library.ask_stream` with
the local model of the tree on its PYTHONPATH (an older tree: `git archive REV | tar -x -C
DIR`) and the RAG_* settings given after the colon; the model is loaded and warmed before the
clock starts. Every question is asked of every side in rotating order, so that the machine's
load falls on all alike. Questions: the first answerable ones of `library.jsonl`, then the
first answerable and unanswerable dev questions of `paraphrase.jsonl` (never test). One index
serves all (`--index`: the default library's, which holds both sets' documents). Writes one
JSON line per answer (resumable) and prints, per side, the medians of the time to the evidence,
the first generated token and the checked answer, the characters the model read, and correct /
wrong / refused counts (correct: an accepted answer string in the answer).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

QUESTIONS = Path(__file__).resolve().parent / "questions"


def worker(index: str) -> None:
    """Answer questions read from stdin (JSON lines), one JSON line of timings each."""
    from rag.library import Library
    from rag.settings import load_settings

    library = Library(load_settings(index_dir=Path(index)))
    library.chat_model("local").invoke("Say OK.", max_tokens=1)
    library.ask("How much cocaine was seized near Trujillo?", mode="extractive")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        started = time.perf_counter()
        evidence = first = read = None
        event: Any  # an older tree streams other types than this one
        answer: Any = None
        for event in library.ask_stream(json.loads(line)["question"], mode="local"):
            kind = type(event).__name__  # str pieces and no Evidence in a tree before issue 18
            if kind == "Evidence" and evidence is None:
                evidence = time.perf_counter() - started
                read = sum(len(p.text) + len(p.title) for p in event.passages)
            elif (isinstance(event, str) or kind == "TextPiece") and first is None:
                first = time.perf_counter() - started
            answer = event
        done = time.perf_counter() - started
        read = read or sum(len(p.text) + len(p.title) for p in answer.passages)
        timings = {"evidence_s": evidence, "first_s": first, "done_s": done, "read_chars": read}
        print(json.dumps({**timings, "answer": answer.to_json()}), flush=True)


def questions(library: int, paraphrase: int, unanswerable: int) -> list[dict[str, Any]]:
    def read(name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (QUESTIONS / name).read_text().splitlines()]

    asked = [q for q in read("library.jsonl") if not q["unanswerable"]][:library]
    dev = [q for q in read("paraphrase.jsonl") if q.get("split") == "dev"]
    asked += [q for q in dev if not q["unanswerable"]][:paraphrase]
    return asked + [q for q in dev if q["unanswerable"]][:unanswerable]


def start(side: str, index: str) -> subprocess.Popen[str]:
    """The worker of `side` ("TREE" or "TREE:NAME=VALUE,..."), once its model is warm."""
    tree, _, assignments = side.partition(":")
    settings = dict(pair.split("=", 1) for pair in assignments.split(",") if pair)
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--worker", "--index", index],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(tree).resolve()), **settings},
    )
    assert process.stdin is not None and process.stdout is not None
    if not json.loads(process.stdout.readline()).get("ready"):
        raise RuntimeError(f"{side}: the worker did not start")
    return process


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from rag.citations import strip_markers
    from rag.evaluation.metrics import contains_accepted

    counts = {"correct": 0, "wrong": 0, "refused_answerable": 0, "refused_unanswerable": 0}
    for row in rows:
        answer, item = row["answer"], row["item"]
        if item["unanswerable"]:
            counts["refused_unanswerable"] += answer["refused"]
        elif answer["refused"]:
            counts["refused_answerable"] += 1
        elif contains_accepted(strip_markers(answer["answer"]), item["answers"]):
            counts["correct"] += 1
        else:
            counts["wrong"] += 1
    medians = {
        key: round(statistics.median(values), 2)
        for key in ("evidence_s", "first_s", "done_s", "read_chars")
        if (values := [row[key] for row in rows if row[key] is not None])
    }
    return {"questions": len(rows), **medians, **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, help="an index holding both sets' documents")
    parser.add_argument("--side", action="append", default=[], help="NAME=TREE[:RAG_X=v,...]")
    parser.add_argument("--out", type=Path, default=Path("generation-compare.jsonl"))
    parser.add_argument("--library", type=int, default=8)
    parser.add_argument("--paraphrase", type=int, default=12)
    parser.add_argument("--unanswerable", type=int, default=4)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.index)
        return
    sides = dict(side.split("=", 1) for side in args.side)
    workers = {name: start(side, args.index) for name, side in sides.items()}
    rows = (
        [json.loads(line) for line in args.out.read_text().splitlines()]
        if args.out.exists()
        else []
    )
    done = {(row["side"], row["item"]["id"]) for row in rows}
    names = list(workers)
    with args.out.open("a") as out:
        for k, item in enumerate(questions(args.library, args.paraphrase, args.unanswerable)):
            for name in names[k % len(names) :] + names[: k % len(names)]:
                if (name, item["id"]) in done:
                    continue
                process = workers[name]
                assert process.stdin is not None and process.stdout is not None
                load = os.getloadavg()[0]
                process.stdin.write(json.dumps({"question": item["question"]}) + "\n")
                process.stdin.flush()
                row = {**json.loads(process.stdout.readline()), "side": name, "item": item}
                row["load1"] = load
                out.write(json.dumps(row) + "\n")
                out.flush()
                rows.append(row)
                print(name, item["id"], round(row["done_s"], 1), flush=True)
    for process in workers.values():
        assert process.stdin is not None
        process.stdin.close()
        process.wait()
    for name in names:
        print(name, json.dumps(summary([row for row in rows if row["side"] == name])))


if __name__ == "__main__":
    main()
