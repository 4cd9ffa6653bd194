"""Time to produce a briefing, and the sample briefing under docs/examples/.

    .venv/bin/python benchmarks/briefing.py [--topic "seabed mining"] [--sections 5]
        [--mode local] [--index index] [--examples docs/examples]

Builds one briefing through `rag.briefing.build_briefing` (the path of `rag brief`), with the
local model loaded beforehand so that the time is the briefing's own: planning, one answer per
section with its citation check, assembling. Prints the time of each step as JSON and writes
the briefing as <topic>-briefing.md and .pdf into the examples folder.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from rag.briefing import build_briefing
from rag.exporting import export
from rag.library import Library
from rag.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", default="seabed mining")
    parser.add_argument("--sections", type=int, default=5)
    parser.add_argument("--mode", default="local", choices=["extractive", "local", "openai"])
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--examples", type=Path, default=Path("docs/examples"))
    args = parser.parse_args()
    library = Library(load_settings(index_dir=args.index))
    steps: list[tuple[str, float]] = []
    try:
        library.embedder.embed(["warm up"])
        if args.mode != "extractive":
            library.chat_model(args.mode).invoke("Say OK.", max_tokens=1)
        started = time.perf_counter()

        def progress(step: str, done: int, total: int) -> None:
            steps.append((step, round(time.perf_counter() - started, 1)))

        briefing = build_briefing(
            library, args.topic, args.sections, mode=args.mode, progress=progress
        )
        seconds = time.perf_counter() - started
    finally:
        library.close()
    args.examples.mkdir(parents=True, exist_ok=True)
    stem = "-".join(args.topic.lower().split()) + "-briefing"
    for suffix in (".md", ".pdf"):
        export(briefing, args.examples / f"{stem}{suffix}")
    print(
        json.dumps(
            {
                "topic": args.topic,
                "mode": args.mode,
                "sections_asked": args.sections,
                "sections": len(briefing.sections),
                "references": len(briefing.references),
                "unanswered": len(briefing.unanswered),
                "dropped_sentences": briefing.dropped_sentences,
                "seconds": round(seconds, 1),
                "steps": steps,
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
