"""Load: many concurrent clients asking the running app through its API endpoint `ask`.

Starts `rag serve` (extractive answers) on a copy of an existing index and a free loopback
port, then has CLIENTS gradio_client clients, each in its own thread, ask QUESTIONS questions in
total (the project's question set, in turn). It reports errors, replies that are not a valid
`rag ask --json` object, latency percentiles (seconds from a call to its reply) and throughput.
With `--store URL --servers 2`, two `rag serve` processes share the library in that PostgreSQL
database (not copied) and client i asks server i mod 2. With `--generating`, one more client
keeps the local model answering (`generator="local"`) all the while, and its answers are
reported apart: the clients' extractive answers must not wait behind it. With `--http`, the
clients are not gradio_client objects in threads but one asyncio loop making the same two HTTP
calls a page makes (POST the question, read the server-sent events): 20 gradio_client clients
take a large share of the two cores the server runs on, where users' browsers are elsewhere.

    .venv/bin/python benchmarks/load.py --index index [--clients 20] [--questions 200] [--out load.json]
    .venv/bin/python benchmarks/load.py --store postgresql://... --servers 2
    .venv/bin/python benchmarks/load.py --index index --clients 20 --questions 100 --generating
    .venv/bin/python benchmarks/load.py --index index --clients 20 --questions 20 --http
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import itertools
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from gradio_client import Client

from rag.records import NOT_IN_LIBRARY

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "benchmarks" / "questions" / "library.jsonl"
ANSWER_KEYS = {"answer", "refused", "mode", "citations", "sentences", "removed_markers"}
CITATION_KEYS = {
    "n",
    "document",
    "file",
    "page",
    "quote",
    "chunk_id",
    "chunk_start",
    "chunk_end",
    "page_start",
    "page_end",
}
START_SECONDS = 300
# With --generating, the clients start this long after the local model began an answer: it is
# then reading its prompt (about 15 s on two cores), as a model mostly is when a user asks.
GENERATING_HEAD_START = 3.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h: a signal the kernel sends a process when its parent ends


@dataclass
class Result:
    """What a load run measured. `latencies` are seconds per answered call."""

    clients: int
    questions: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    refused: int = 0
    generated: list[float] = field(default_factory=list)  # seconds per local answer meanwhile

    def summary(self) -> dict[str, float | int]:
        ordered = sorted(self.latencies)
        return {
            "clients": self.clients,
            "questions": self.questions,
            "answered": len(ordered),
            "errors": len(self.errors),
            "invalid": len(self.invalid),
            "refused": self.refused,
            "seconds": round(self.seconds, 2),
            "per_second": round(len(ordered) / self.seconds, 2) if self.seconds else 0.0,
            "p50_s": round(statistics.median(ordered), 3) if ordered else 0.0,
            "p95_s": round(percentile(ordered, 0.95), 3) if ordered else 0.0,
            "max_s": round(ordered[-1], 3) if ordered else 0.0,
            "local_answers": len(self.generated),
            "local_median_s": round(statistics.median(self.generated), 1)
            if self.generated
            else 0.0,
        }


def percentile(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile of sorted values."""
    return ordered[max(0, math.ceil(len(ordered) * share) - 1)]


def reply_problem(reply: object) -> str | None:
    """Why `reply` is not a valid `rag ask --json` object (cited answer or refusal), else None."""
    if not isinstance(reply, dict) or set(reply) != ANSWER_KEYS:
        return f"not an answer object: {str(reply)[:200]}"
    citations = reply["citations"]
    if reply["refused"]:
        if reply["answer"] != NOT_IN_LIBRARY or citations:
            return f"a refusal with text or citations: {reply['answer'][:200]}"
        return None
    if not citations:
        return f"an answer without citations: {reply['answer'][:200]}"
    if any(set(c) != CITATION_KEYS or not c["quote"] for c in citations):
        return f"a citation without its fields or quote: {citations}"
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", reply["answer"])}
    if markers != {c["n"] for c in citations}:
        return f"markers {sorted(markers)} do not match citations in: {reply['answer'][:200]}"
    return None


def load_questions(count: int) -> list[str]:
    """`count` questions of the project's question set, repeated in turn as needed."""
    with open(QUESTIONS, encoding="utf-8") as handle:
        questions = [json.loads(line)["question"] for line in handle if line.strip()]
    return [questions[i % len(questions)] for i in range(count)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_child(command: list[str], **popen: object) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(command)` whose process Linux kills when this one ends, however it ends
    (an exception, Ctrl+C, SIGTERM, even SIGKILL), so that no server outlives a load run."""
    parent = os.getpid()

    def die_with_parent() -> None:  # in the child, before it runs `command`
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent ended before the request took effect
            os._exit(1)

    return subprocess.Popen(command, preexec_fn=die_with_parent, **popen)  # type: ignore[call-overload]


@contextmanager
def serving(index: Path, store: str | None = None) -> Iterator[str]:
    """`rag serve` (extractive) on a copy of `index`, or on the library at `store` (shared), and
    a free loopback port; yields its URL."""
    with tempfile.TemporaryDirectory(prefix="rag-load-") as folder:
        copy = Path(folder) / "index"
        if store is None:
            shutil.copytree(index, copy)
        library = ["--store", store] if store else ["--index", str(copy)]
        port = free_port()
        log_path = Path(folder) / "serve.log"
        with open(log_path, "w+") as log:
            server = start_child(
                [
                    sys.executable,
                    "-m",
                    "rag.cli",
                    "serve",
                    *library,
                    "--port",
                    str(port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env={
                    **os.environ,
                    "RAG_GENERATOR": "extractive",
                    "GRADIO_ANALYTICS_ENABLED": "False",
                },
            )
            try:
                deadline = time.monotonic() + START_SECONDS
                while "rag: serving on" not in log_path.read_text():
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"rag serve did not start:\n{log_path.read_text()}")
                    time.sleep(0.2)
                yield f"http://127.0.0.1:{port}/"
            finally:
                server.terminate()
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.kill()


def run_load(
    urls: list[str],
    clients: int,
    questions: list[str],
    generating: bool = False,
    http: bool = False,
) -> Result:
    """Ask `questions` through `clients` concurrent clients, client i taking every i-th one and
    asking server i mod len(urls); with `generating`, one more client asks the local model of
    the first server in a loop meanwhile (the seconds each took go to `generated`)."""
    result = Result(clients=clients, questions=len(questions))
    for url in urls:
        warm = Client(url, verbose=False, download_files=False)
        warm.predict(questions[0], api_name="/ask")  # loads the embedding model; not timed
    done = threading.Event()
    model_loaded = threading.Event()

    def generate() -> None:
        client = Client(urls[0], verbose=False, download_files=False)
        client.predict("Say yes.", "local", api_name="/ask")  # loads the model; not timed
        model_loaded.set()
        for question in itertools.cycle(questions):
            started = time.perf_counter()
            client.predict(question, "local", api_name="/ask")
            result.generated.append(time.perf_counter() - started)
            if done.is_set():
                return

    generator = threading.Thread(target=generate, daemon=True)
    if generating:
        generator.start()
        model_loaded.wait()
        time.sleep(GENERATING_HEAD_START)
    started = time.perf_counter()
    if http:
        asyncio.run(ask_over_http(urls, clients, questions, result))
    else:
        ask_with_gradio_clients(urls, clients, questions, result)
    result.seconds = time.perf_counter() - started
    done.set()
    if generating:
        generator.join()
    return result


def record(result: Result, question: str, reply: object, elapsed: float) -> None:
    result.latencies.append(elapsed)
    result.refused += bool(isinstance(reply, dict) and reply.get("refused"))
    if problem := reply_problem(reply):
        result.invalid.append(f"{question}: {problem}")


def ask_with_gradio_clients(
    urls: list[str], clients: int, questions: list[str], result: Result
) -> None:
    """Client i, a gradio_client in its own thread, asks every i-th question of server i mod
    len(urls), all clients starting together."""
    lock = threading.Lock()

    def connect(i: int) -> Client:
        return Client(urls[i % len(urls)], verbose=False, download_files=False)

    # Every client connects first, as a user's page is open before they ask: connecting (the
    # app's config and API info) is not part of an answer's time, and 20 connections made
    # while the first answers run would take the two cores from them.
    with ThreadPoolExecutor(clients) as pool:
        connected = list(pool.map(connect, range(clients)))
    start_together = threading.Barrier(clients)

    def client_work(i: int) -> None:
        client = connected[i]
        start_together.wait()
        for question in questions[i::clients]:
            started = time.perf_counter()
            try:
                reply = client.predict(question, api_name="/ask")
            except Exception as error:  # any failure of a call is what a load test counts
                with lock:
                    result.errors.append(f"{question}: {type(error).__name__}: {error}")
                continue
            with lock:
                record(result, question, reply, time.perf_counter() - started)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client_work, range(clients)))


async def ask_once_over_http(http: httpx.AsyncClient, url: str, question: str) -> object:
    """One call of the app's `ask` endpoint as a page makes it: POST the question, then read
    the server-sent events until the reply. `None`: the app's default generator."""
    posted = await http.post(f"{url}gradio_api/call/ask", json={"data": [question, None]})
    posted.raise_for_status()
    event = ""
    async with http.stream("GET", f"{url}gradio_api/call/ask/{posted.json()['event_id']}") as sse:
        async for line in sse.aiter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "error":
                raise RuntimeError(f"the app answered with an error: {line[6:200]}")
            elif line.startswith("data: ") and event == "complete":
                return json.loads(line.removeprefix("data: "))[0]
    raise RuntimeError("the event stream ended without a reply")


async def ask_over_http(
    urls: list[str], clients: int, questions: list[str], result: Result
) -> None:
    """Client i asks every i-th question of server i mod len(urls) over plain HTTP, all
    clients starting together in one event loop."""

    async def client_work(http: httpx.AsyncClient, i: int) -> None:
        for question in questions[i::clients]:
            started = time.perf_counter()
            try:
                reply = await ask_once_over_http(http, urls[i % len(urls)], question)
            except Exception as error:  # any failure of a call is what a load test counts
                result.errors.append(f"{question}: {type(error).__name__}: {error}")
                continue
            record(result, question, reply, time.perf_counter() - started)

    limits = httpx.Limits(max_connections=2 * clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        await asyncio.gather(*(client_work(http, i) for i in range(clients)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--index", type=Path, default=ROOT / "index", help="index to serve (copied)"
    )
    parser.add_argument("--store", help="a postgresql:// library the servers share (not copied)")
    parser.add_argument("--servers", type=int, default=1, help="rag serve processes")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument(
        "--generating", action="store_true", help="keep the local model answering meanwhile"
    )
    parser.add_argument(
        "--http", action="store_true", help="plain HTTP clients in one event loop (see above)"
    )
    parser.add_argument(
        "--out", type=Path, help="write the summary, errors and invalid replies here"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers as Ctrl+C does
    with ExitStack() as stack:
        urls = [stack.enter_context(serving(args.index, args.store)) for _ in range(args.servers)]
        result = run_load(
            urls, args.clients, load_questions(args.questions), args.generating, args.http
        )
    summary = result.summary()
    print(json.dumps({"load_average": os.getloadavg()}))
    print(json.dumps(summary))
    for problem in result.errors + result.invalid:
        print(problem, file=sys.stderr)
    if args.out:
        report = {**summary, "error_messages": result.errors, "invalid_replies": result.invalid}
        args.out.write_text(json.dumps(report, indent=1))
    return 1 if result.errors or result.invalid else 0


if __name__ == "__main__":
    sys.exit(main())
