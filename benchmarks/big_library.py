"""Ingest of a big library: files/s, peak memory and memory as the library grows, and the
speed-up of parsing in worker processes over one process.

    .venv/bin/python benchmarks/big_library.py [--files 2000] [--workers 2] [--corpus corpus]
        [--folder /tmp/big-library] [--sample-every 100]

Makes `--files` distinct one-page PDFs of corpus text (`make_files`: small files, so that
embedding 2,000 of them fits in minutes on 2 cores). Then, in this order:
1. parses them all with `rag.loading.load` in this process, then through the ingest's reader
   pool of `--workers` processes (parsing only: the part the pool runs);
2. ingests the folder into a new index with the default settings (`Library.ingest`, the path
   of `rag ingest`), sampling the resident memory of this process and its children every
   `--sample-every` files.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from rag.ingesting import _ReaderPool
from rag.library import Library
from rag.loading import PdfReading, load
from rag.settings import load_settings

WINDOW_CHARS = 700  # text per file: one or two chunks of the default 200 tokens


def make_files(corpus: Path, count: int, folder: Path) -> list[Path]:
    """`count` one-page PDFs, each holding the next WINDOW_CHARS of the corpus PDFs' text (cut
    at a space; the text taken again from the start when it runs out) under its file number,
    so that every file has its own contents."""
    from fpdf import FPDF

    text = " ".join(page.text for path in sorted(corpus.glob("*.pdf")) for page in load(path).pages)
    text = text.encode("latin-1", "replace").decode("latin-1")  # the PDF's core font
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    at = 0
    for i in range(count):
        end = text.find(" ", at + WINDOW_CHARS)
        end = len(text) if end < 0 else end
        pdf = FPDF()
        pdf.set_font("helvetica", size=11)
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Library file {i}. {text[at:end].strip()}")
        target = folder / f"{i:05}.pdf"
        pdf.output(str(target))
        files.append(target)
        at = 0 if end >= len(text) else end
    return files


def resident_mb() -> float:
    """Resident memory of this process and its children (the reader pool), in MB."""
    process = psutil.Process()
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return round(total / 2**20, 1)


def parse_speed(files: list[Path], workers: int) -> dict[str, float]:
    started = time.perf_counter()
    pages = sum(len(load(path).pages) for path in files)
    serial = time.perf_counter() - started
    load_serial = os.getloadavg()[0]
    started = time.perf_counter()
    pool = _ReaderPool(workers, PdfReading())
    try:
        with ThreadPoolExecutor(workers) as threads:
            parallel_pages = sum(len(f.pages) for f in threads.map(pool.load, files))
    finally:
        pool.close()
    parallel = time.perf_counter() - started
    assert parallel_pages == pages
    return {
        "one_process_files_per_s": round(len(files) / serial, 1),
        "pool_files_per_s": round(len(files) / parallel, 1),
        "speed_up": round(serial / parallel, 2),
        "load_average_after_one_process": load_serial,
        "load_average_after_pool": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--folder", type=Path, default=Path("/tmp/big-library"))
    parser.add_argument("--sample-every", type=int, default=100)
    args = parser.parse_args()
    shutil.rmtree(args.folder, ignore_errors=True)
    files = make_files(args.corpus, args.files, args.folder / "files")
    result: dict[str, object] = {"files": args.files, "workers": args.workers}
    result["parsing"] = parse_speed(files, args.workers)

    samples: list[dict[str, float]] = []
    started = time.perf_counter()

    def progress(file: str, done: int, total: int) -> None:
        if done % args.sample_every == 0 or done == total:
            seconds = time.perf_counter() - started
            samples.append({"files": done, "seconds": round(seconds, 1), "rss_mb": resident_mb()})

    library = Library(load_settings(index_dir=args.folder / "index"))
    try:
        report = library.ingest([args.folder / "files"], progress=progress)
    finally:
        library.close()
    seconds = time.perf_counter() - started
    assert len(report.indexed) == args.files, report.skipped
    result["ingest"] = {
        "pages": report.pages,
        "chunks": report.chunks,
        "seconds": round(seconds, 1),
        "files_per_s": round(args.files / seconds, 2),
        "chunks_per_s": round(report.chunks / seconds, 1),
        "peak_rss_mb_main": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "peak_rss_mb_largest_child": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024,
        "rss_samples": samples,
        "load_average_at_end": os.getloadavg(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
