"""Parsing many files in worker processes against one process: files/s and peak memory.

    .venv/bin/python benchmarks/parse_parallel.py [--files 200] [--workers 2] [--corpus corpus]

Makes `--files` distinct files from the corpus PDFs (a copy with a unique comment appended
after %%EOF, so that each has its own content hash) and reads them all with
`rag.loading.load`, first in this process, then through the ingest's reader pool
(`--workers` spawn-started processes, as `rag ingest` uses for 8 files or more), fed by as
many threads. Prints JSON: seconds, files/s, the speed-up, and the peak resident memory of
this process and of the largest worker (ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rag.ingesting import _ReaderPool
from rag.loading import PdfReading, load


def make_files(corpus: Path, count: int, folder: Path) -> list[Path]:
    sources = sorted(corpus.glob("*.pdf"))
    files = []
    for i in range(count):
        target = folder / f"{i:05}-{sources[i % len(sources)].name}"
        shutil.copyfile(sources[i % len(sources)], target)
        with open(target, "ab") as handle:
            handle.write(f"\n% copy {i}\n".encode())
        files.append(target)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        files = make_files(args.corpus, args.files, Path(folder))
        started = time.perf_counter()
        pages = sum(len(load(path).pages) for path in files)
        serial = time.perf_counter() - started
        started = time.perf_counter()
        pool = _ReaderPool(args.workers, PdfReading())
        try:
            with ThreadPoolExecutor(args.workers) as threads:
                parallel_pages = sum(len(f.pages) for f in threads.map(pool.load, files))
        finally:
            pool.close()
        parallel = time.perf_counter() - started
    assert parallel_pages == pages
    print(
        json.dumps(
            {
                "files": args.files,
                "pages": pages,
                "workers": args.workers,
                "one_process_s": round(serial, 1),
                "one_process_files_per_s": round(args.files / serial, 1),
                "pool_s": round(parallel, 1),
                "pool_files_per_s": round(args.files / parallel, 1),
                "speed_up": round(serial / parallel, 2),
                "peak_rss_mb_main": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                "peak_rss_mb_largest_worker": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                // 1024,
                "load_average_1min_before_end": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
