"""Time from `rag serve` to a usable page, and to the first streamed token in the browser.

Starts `rag serve` on an existing index (a copy, so the run changes nothing), opens it in
Debian's headless Chromium and measures, per run:
  serving   seconds from starting `rag serve` until it says it is serving
  usable    seconds from starting `rag serve` until the page shows its question box
  evidence  seconds from pressing Enter on the seed question until its evidence (quoted
            sentences, documents, pages) shows (cold: asked as soon as the page is usable,
            while the models may still be loading)
  first     seconds until the first generated word shows
  done      seconds until that answer is final (citations bound, checked)
  warm_evidence / warm_first / warm_done   the same for the seed question asked again in a new
            conversation
and, as a baseline without the app, `Library.ask_stream` in this process after `warm_up()`:
  library_evidence / library_first / library_done   seconds to its evidence, to its first
            piece of text and to the final answer

    .venv/bin/python benchmarks/ui_latency.py --index /tmp/index [--runs 3] [--generator local]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
SEED_QUESTION = "How much cocaine did the Peruvian police seize near Trujillo in 2014?"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANSWERS = "#chat .message.bot:not(.pending)"
HAS_EVIDENCE = f"""() => {{
    const last = [...document.querySelectorAll({ANSWERS!r})].pop();
    return last && (last.querySelector('.evidence q') || last.querySelector('.answer-meta'));
}}"""
HAS_TEXT = f"""() => {{
    const last = [...document.querySelectorAll({ANSWERS!r})].pop();
    const generated = last && last.querySelector('.generated');
    return last && ((generated && generated.innerText.trim()) || last.querySelector('.answer-meta'));
}}"""
IS_FINAL = f"""() => {{
    const last = [...document.querySelectorAll({ANSWERS!r})].pop();
    return last && last.querySelector('.answer-meta');
}}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ask_and_time(page: Page, question: str) -> tuple[float, float, float]:
    """Seconds to the evidence, to the first generated text and to the final answer."""
    page.locator("#question textarea").fill(question)
    started = time.perf_counter()
    page.locator("#question textarea").press("Enter")
    page.wait_for_function(HAS_EVIDENCE, timeout=600_000, polling=20)
    evidence = time.perf_counter() - started
    page.wait_for_function(HAS_TEXT, timeout=600_000, polling=20)
    first = time.perf_counter() - started
    print(
        f"  evidence after {evidence:.1f} s, text after {first:.1f} s", file=sys.stderr, flush=True
    )
    page.wait_for_function(IS_FINAL, timeout=600_000, polling=50)
    return evidence, first, time.perf_counter() - started


def start_server(index: Path, port: int, generator: str) -> tuple[subprocess.Popen, float]:
    """`rag serve` on `index`; returns it once it says it is serving, with the seconds taken."""
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "serve", "--index", str(index), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "RAG_GENERATOR": generator},
    )
    lines: list[str] = []
    serving = threading.Event()

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            lines.append(line)
            if line.startswith("rag: serving on"):
                serving.set()

    threading.Thread(target=read, daemon=True).start()
    while not serving.wait(0.05):
        if server.poll() is not None or time.perf_counter() - started > 300:
            server.kill()
            raise RuntimeError("rag serve did not start:\n" + "".join(lines))
    return server, time.perf_counter() - started


def one_run(browser, index: Path, generator: str) -> dict[str, float]:
    port = free_port()
    started = time.perf_counter()
    server, serving = start_server(index, port, generator)
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/")
        page.locator("#question textarea").wait_for(timeout=120_000)
        usable = time.perf_counter() - started
        evidence, first, done = ask_and_time(page, SEED_QUESTION)
        page.locator("#new-conversation").click()
        page.wait_for_function(f"() => !document.querySelector({ANSWERS!r})")
        warm_evidence, warm_first, warm_done = ask_and_time(page, SEED_QUESTION)
        page.close()
        return {
            "serving": serving,
            "usable": usable,
            "evidence": evidence,
            "first": first,
            "done": done,
            "warm_evidence": warm_evidence,
            "warm_first": warm_first,
            "warm_done": warm_done,
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def library_baseline(index: Path, generator: str) -> dict[str, float]:
    """Seconds to the evidence, to the first piece and to the final answer of
    `Library.ask_stream`, warm."""
    from rag.answering import Evidence, TextPiece
    from rag.library import Library
    from rag.settings import load_settings

    library = Library(load_settings(index_dir=index, generator=generator))
    try:
        library.warm_up()
        started = time.perf_counter()
        evidence: float | None = None
        first: float | None = None
        for event in library.ask_stream(SEED_QUESTION):
            if evidence is None and isinstance(event, Evidence):
                evidence = time.perf_counter() - started
            if first is None and isinstance(event, TextPiece) and event.text.strip():
                first = time.perf_counter() - started
        done = time.perf_counter() - started
        return {
            "library_evidence": done if evidence is None else evidence,
            "library_first": done if first is None else first,
            "library_done": done,
        }
    finally:
        library.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="an existing index folder")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--generator", default="local", choices=["local", "extractive", "openai"])
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        for run in range(args.runs):
            index = Path(folder) / f"index-{run}"
            shutil.copytree(args.index, index)
            results.append(one_run(browser, index, args.generator))
            results[-1].update(library_baseline(index, args.generator))
            print(json.dumps({k: round(v, 2) for k, v in results[-1].items()}), flush=True)
        browser.close()
    medians = {key: statistics.median(r[key] for r in results) for key in results[0]}
    print("median", json.dumps({k: round(v, 2) for k, v in medians.items()}))
    print(f"load average after the runs: {os.getloadavg()}")


if __name__ == "__main__":
    main()
