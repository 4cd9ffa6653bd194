"""Incremental ingest: re-ingesting an unchanged library, and adding one file to it.

    .venv/bin/python benchmarks/incremental.py [--repeats 3] [--out results.json]

Every step runs in a fresh process, as `rag ingest` would: `ingest_s` is the time of
`Library.ingest` there (model load included, Python imports not), `wall_s` the whole process.
Steps: first ingest of the default library (corpus/ and seeds/) into a new index; re-ingest of
the unchanged library (`--repeats` times); adding one more file (a copy of a corpus PDF under a
new name) to that index; and the same file ingested alone into an empty index, to show that
adding it costs what the file costs, not what the library costs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = [ROOT / "corpus", ROOT / "seeds"]
EXTRA = ROOT / "corpus" / "IF12608v18.pdf"


def child(index: Path, paths: list[Path]) -> None:
    """Ingest `paths` into `index` and print the timing and the report as JSON."""
    from rag.library import Library
    from rag.settings import load_settings

    began = time.perf_counter()
    library = Library(load_settings(index_dir=index))
    report = library.ingest(paths)
    library.close()
    print(
        json.dumps(
            {
                "ingest_s": time.perf_counter() - began,
                "indexed": len(report.indexed),
                "unchanged": len(report.unchanged),
                "chunks": report.chunks,
            }
        )
    )


def step(index: Path, paths: list[Path]) -> dict:
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(index), *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - began
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.paths)
        return
    with tempfile.TemporaryDirectory(prefix="rag-incremental-") as folder:
        work = Path(folder)
        extra = work / "new"
        extra.mkdir()
        shutil.copy(EXTRA, extra / "added-report.pdf")
        results = {"first": step(work / "index", LIBRARY)}
        unchanged = [step(work / "index", LIBRARY) for _ in range(args.repeats)]
        results["unchanged"] = {
            key: statistics.median(run[key] for run in unchanged) for key in ("ingest_s", "wall_s")
        }
        results["add_one_file"] = step(work / "index", [extra])
        results["one_file_alone"] = step(work / "alone", [extra])
        for key in ("ingest_s", "wall_s"):
            results[f"unchanged_share_{key}"] = results["unchanged"][key] / results["first"][key]
        print(json.dumps(results, indent=2))
        if args.out:
            args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
