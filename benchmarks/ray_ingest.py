"""Ingest throughput: in-process against `rag ingest --ray auto` (a local Ray instance).

Each run is a fresh `rag ingest` process into a new index folder of the default library
(corpus/ and seeds/), timed from start to exit (Ray's start and its workers' model loads
included), with the load average before it, since other work on the machine changes the figures.

    .venv/bin/python benchmarks/ray_ingest.py [--runs 1] [--out ray.json]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ingest(extra: list[str]) -> dict[str, float | str]:
    """One `rag ingest` of the default library into a new folder; its time and chunks."""
    with tempfile.TemporaryDirectory(prefix="rag-ray-bench-") as folder:
        load = os.getloadavg()[0]
        environment = {
            **os.environ,
            "RAY_TMPDIR": str(Path(folder) / "ray"),
            "RAY_AUTH_TOKEN": secrets.token_hex(16),  # else Ray writes ~/.ray/auth_token
        }
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "rag.cli", "ingest", "--quiet", "--index", folder, *extra],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = time.perf_counter() - began
        shutil.rmtree(Path(folder) / "ray", ignore_errors=True)
    chunks = int(done.stdout.split(" chunks in ")[0].rsplit(" ", 1)[1])
    return {
        "how": " ".join(extra) or "in-process",
        "seconds": round(seconds, 1),
        "chunks": chunks,
        "chunks_per_s": round(chunks / seconds, 1),
        "load_before": round(load, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = []
    for _ in range(args.runs):
        for extra in ([], ["--ray", "auto"]):
            results.append(ingest(extra))
            print(json.dumps(results[-1]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
