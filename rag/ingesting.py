"""Files into the store: discover, skip unchanged, load, split, embed, store; report what happened."""

from __future__ import annotations

import fnmatch
import hashlib
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from itertools import accumulate
from pathlib import Path
from typing import TypeVar

import numpy as np

from rag.embedding import TITLE_CONTEXT_CHARS, Embedder
from rag.errors import UnreadableFileError
from rag.loading import SUPPORTED_SUFFIXES, PdfReading, load, loader_version
from rag.models import sha256_of
from rag.normalising import normalised_text
from rag.records import LoadedFile, Page
from rag.splitting import Splitter
from rag.store import DocumentStore, NewDocument
from rag.text import language

CHECKPOINT_SECONDS = 30.0
PREFETCH_FILES = 4  # files loaded and split ahead of the embedder, per reading process
MIN_FILES_FOR_PROCESSES = 8  # fewer files are read in this process (starting workers costs)
EMBED_BATCH_CHUNKS = 512  # chunks of several files embedded in one call, ordered by length
T = TypeVar("T")
R = TypeVar("R")
TEXT_BATCH_CHUNKS = 256  # chunks of in-memory documents embedded together
TEXT_SOURCE_PREFIX = "text:"
# Raise it when normalising, splitting or what is embedded of a chunk changes (a loader's own
# changes raise its version in rag.loading): documents prepared under another version are then
# prepared again by the next ingest. 2: chunks are embedded with their document's title and,
# for files, name; 3: Markdown table rows embedded without their pipes (rag.tables).
PREPARATION_VERSION = 3


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest and the name it is shown under (relative to the folder given)."""

    path: Path
    file: str


@dataclass(frozen=True)
class TextDocument:
    """A document given as text rather than as a file, e.g. an entry of an evaluation corpus.

    It is stored under `file` = `id` and source `text:<id>`; ingesting the same id again with
    the same title and text costs nothing, with another text replaces it.
    """

    id: str
    title: str
    text: str

    @property
    def source(self) -> str:
        return TEXT_SOURCE_PREFIX + self.id

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(f"{self.title}\0{self.text}".encode()).hexdigest()


# The vectors of a document loaded and split, until its batch is embedded.
_NO_VECTORS = np.empty((0, 0), dtype=np.float32)
LANGUAGE_NAMES = {
    "ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "fr": "French",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish",
    "pt": "Portuguese", "ru": "Russian", "tr": "Turkish", "uk": "Ukrainian", "zh": "Chinese",
}  # fmt: skip
LANGUAGE_SAMPLE = 100_000  # characters of a document read to tell its language (~13 ms)
MIN_LANGUAGE_SAMPLE = 200  # a shorter text's language is not told reliably: it is not judged


@dataclass
class IngestReport:
    """What an ingest run did."""

    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    pages: int = 0
    chunks: int = 0
    seconds: float = 0.0
    cancelled: bool = False  # stopped before the end; what was stored stays
    # (file, ISO 639-1 code): indexed, but in a language the embedding model was not made for
    other_languages: list[tuple[str, str]] = field(default_factory=list)

    @property
    def files_seen(self) -> int:
        return len(self.indexed) + len(self.unchanged) + len(self.skipped)

    def language_notes(self) -> list[str]:
        """A line for each document in a language the embedding model was not made for."""
        return [
            f"{file} is written in {LANGUAGE_NAMES.get(code, code)}, which the embedding model "
            "was not made for: questions will rarely find it. The quality preset's model reads "
            'it (--preset quality, or preset = "quality" in rag.toml).'
            for file, code in self.other_languages
        ]


Progress = Callable[[str, int, int], None]  # (file, files done, files in all)


def _excluded(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def discover(paths: list[Path], exclude: list[str], report: IngestReport) -> Iterator[SourceFile]:
    """The supported files under `paths`; anything else is recorded in `report.skipped`."""
    for root in paths:
        if not root.exists():
            report.skipped.append((str(root), "no such file or folder"))
            continue
        if root.is_file():
            yield SourceFile(root, root.name)
            continue
        resolved_root = root.resolve()
        for folder, folders, names in os.walk(root):
            folders[:] = sorted(d for d in folders if not _excluded(d, exclude))
            for name in folders:  # os.walk does not follow links to folders; say so for these
                link = Path(folder) / name
                if link.is_symlink() and not link.resolve().is_relative_to(resolved_root):
                    relative = link.relative_to(root).as_posix()
                    report.skipped.append((relative, "symbolic link to outside the folder"))
            for name in sorted(names):
                path = Path(folder) / name
                relative = path.relative_to(root).as_posix()
                if _excluded(name, exclude):
                    continue
                if path.is_symlink() and not path.resolve().is_relative_to(resolved_root):
                    report.skipped.append((relative, "symbolic link to outside the folder"))
                elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
                    report.skipped.append((relative, f"unsupported file type '{path.suffix}'"))
                else:
                    yield SourceFile(path, relative)


def _ahead(
    pool: Executor, work: Callable[[T], R], items: list[T], depth: int
) -> Iterator[tuple[T, Future[R]]]:
    """(item, future of work(item)) in order, keeping `depth` items submitted ahead."""
    waiting: deque[tuple[T, Future[R]]] = deque()
    upcoming = iter(items)
    for item in upcoming:
        waiting.append((item, pool.submit(work, item)))
        if len(waiting) > depth:
            yield waiting.popleft()
    yield from waiting


class _ReaderPool:
    """Loads files in `workers` processes (parsing is CPU-bound and holds the GIL). A file
    whose reader kills its process (a crash in a parser) is read again alone, so that it is
    the one file reported, and the pool is made anew."""

    def __init__(
        self,
        workers: int,
        pdf: PdfReading,
        read: Callable[[Path, PdfReading], LoadedFile] = load,
    ) -> None:
        self.workers = workers
        self.pdf = pdf
        self.read = read  # a module-level function: the workers import it by name
        self._lock = threading.Lock()
        self._pool = self._new_pool(workers)

    @staticmethod
    def _new_pool(workers: int) -> ProcessPoolExecutor:
        # spawn: the parent has threads (embedding, the prefetcher), which fork would copy
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    def load(self, path: Path) -> LoadedFile:
        with self._lock:
            pool = self._pool
        try:
            return pool.submit(self.read, path, self.pdf).result()
        except BrokenProcessPool:
            pass
        except RuntimeError:  # submitted to a pool that another thread found broken and shut
            if pool is self._pool:
                raise
        with self._lock:
            if self._pool is pool:
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool(self.workers)
        with self._new_pool(1) as alone:
            try:
                return alone.submit(self.read, path, self.pdf).result()
            except BrokenProcessPool as error:
                raise UnreadableFileError(
                    f"{path}: its reader crashed (a damaged or hostile file)"
                ) from error

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class Ingestor:
    """Brings files into a store, one atomic document write at a time."""

    def __init__(
        self,
        store: DocumentStore,
        embedder: Embedder,
        splitter: Splitter,
        *,
        exclude: list[str],
        max_file_bytes: int,
        pdf: PdfReading | None = None,
        workers: int = 1,
        on_stored: Callable[[NewDocument], None] | None = None,
        languages: frozenset[str] | None = None,
    ) -> None:
        self.store = store
        self.languages = languages  # those the embedding model reads; None: any
        self.on_stored = on_stored  # called with each document once it is stored
        self.embedder = embedder
        self.splitter = splitter
        self.exclude = exclude
        self.max_file_bytes = max_file_bytes
        self.pdf = pdf or PdfReading()
        self.workers = workers
        self._readers: _ReaderPool | None = None  # during an ingest of many files

    def _prepared_with(self, reader: str) -> str:
        """How a document is now prepared, as recorded with it: `reader` names the loader."""
        return (
            f"{reader}, preparation {PREPARATION_VERSION}, chunks of {self.splitter.max_tokens} "
            f"tokens overlapping by {self.splitter.overlap_tokens}"
        )

    def reader(self, suffix: str) -> str:
        """The loader that reads files with `suffix` and, for PDFs, how it reads them."""
        variant = self.pdf.variant() if suffix == ".pdf" else ""
        return f"{suffix} loader {loader_version(suffix)}{variant}"

    def _up_to_date(self, source: str, content_hash: str, prepared_with: str) -> bool:
        """Whether `source` is stored with this content, prepared as it now would be."""
        existing = self.store.document_by_source(source)
        return (
            existing is not None
            and existing.content_hash == content_hash
            and existing.prepared_with == prepared_with
        )

    def ingest(
        self,
        paths: list[Path],
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> IngestReport:
        """Index every supported file under `paths`; unreadable files are skipped and reported.

        Worker threads hash, load and split the next files while this thread embeds (with
        many files, each thread has the file parsed in a process of its own); the chunks of
        several files are embedded together (ordered by length) and each file is then stored
        in its own transaction. At most PREFETCH_FILES files per worker wait to be embedded.
        """
        report = IngestReport()
        sources = list(discover(paths, self.exclude, report))
        return self.ingest_files(sources, progress, report, cancel)

    def ingest_files(
        self,
        sources: list[SourceFile],
        progress: Progress | None = None,
        report: IngestReport | None = None,
        cancel: threading.Event | None = None,
    ) -> IngestReport:
        """Index these files (see `ingest`), adding to `report` if given. With many files,
        `workers` processes read them; `cancel`, once set, stops before the next file (the
        files stored so far stay; an ingest of the same files later goes on from there)."""
        report = report or IngestReport()
        started = time.perf_counter()
        pending = _Pending(self.store, self.embedder, report, EMBED_BATCH_CHUNKS, self.on_stored)
        workers = self.workers if len(sources) >= MIN_FILES_FOR_PROCESSES else 1
        self._readers = _ReaderPool(workers, self.pdf) if workers > 1 else None
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rag-prepare")
        try:
            for done, (source, outcome) in enumerate(
                _ahead(pool, self._prepare, sources, PREFETCH_FILES * workers)
            ):
                if cancel is not None and cancel.is_set():
                    report.cancelled = True  # the files prepared so far are still stored
                    break
                if progress:
                    progress(source.file, done, len(sources))
                try:
                    prepared = outcome.result()
                except UnreadableFileError as error:
                    reason = _reason(error, source.path)
                    if self.store.document_by_source(str(source.path.resolve())) is not None:
                        reason += " (the version indexed before is kept)"
                    report.skipped.append((source.file, reason))
                    continue
                if prepared is None:
                    report.unchanged.append(source.file)
                    continue
                self._note_language(prepared, report)
                pending.add(prepared)
            pending.store_all()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if self._readers is not None:
                self._readers.close()
                self._readers = None
        self.store.flush()
        if progress and not report.cancelled:
            progress("", len(sources), len(sources))
        report.seconds = time.perf_counter() - started
        return report

    def _note_language(self, document: NewDocument, report: IngestReport) -> None:
        """Record a document written in a language the embedding model does not read: it is
        indexed, but a question will rarely find it."""
        if self.languages is None:
            return
        read_before = accumulate((len(page.text) + 1 for page in document.pages), initial=0)
        sample = [
            page.text
            for page, read in zip(document.pages, read_before, strict=False)
            if read < LANGUAGE_SAMPLE
        ]
        text = " ".join(sample)[:LANGUAGE_SAMPLE]
        if len(text) < MIN_LANGUAGE_SAMPLE:
            return
        written_in = language(text)
        if written_in not in self.languages:
            report.other_languages.append((document.file, written_in))

    def _prepare(self, source: SourceFile) -> NewDocument | None:
        """The file loaded and split; None when the index holds it unchanged."""
        path = source.path
        try:
            size = path.stat().st_size
            check_size(path, size, self.max_file_bytes)
            digest = sha256_of(path)
        except OSError as error:
            raise UnreadableFileError(f"{path}: {error.strerror or error}") from error
        suffix = path.suffix.lower()
        prepared_with = self._prepared_with(self.reader(suffix))
        if self._up_to_date(str(path.resolve()), digest, prepared_with):
            return None
        loaded = load(path, self.pdf) if self._readers is None else self._readers.load(path)
        return split_file(source, loaded, self.splitter, digest, size, prepared_with)

    def ingest_texts(
        self, documents: Sequence[TextDocument], progress: Progress | None = None
    ) -> IngestReport:
        """Index in-memory documents, embedding the chunks of many documents per batch."""
        report = IngestReport()
        started = time.perf_counter()
        pending = _Pending(self.store, self.embedder, report, TEXT_BATCH_CHUNKS, self.on_stored)
        prepared_with = self._prepared_with("text")
        for done, document in enumerate(documents):
            if progress:
                progress(document.id, done, len(documents))
            if self._up_to_date(document.source, document.content_hash, prepared_with):
                report.unchanged.append(document.id)
                continue
            raw = document.text
            page = Page(number=None, text=normalised_text(raw, keep_line_breaks=True), raw_text=raw)
            chunks = self.splitter.split([page])
            if not chunks:
                report.skipped.append((document.id, "no text to index"))
                continue
            prepared = NewDocument(
                source=document.source,
                file=document.id,
                title=document.title,
                format="text",
                content_hash=document.content_hash,
                size=len(document.text.encode()),
                pages=[page],
                chunks=chunks,
                vectors=_NO_VECTORS,
                prepared_with=prepared_with,
            )
            self._note_language(prepared, report)
            pending.add(prepared)
        pending.store_all()
        self.store.flush()
        if progress:
            progress("", len(documents), len(documents))
        report.seconds = time.perf_counter() - started
        return report


def check_size(path: Path, size: int, max_file_bytes: int) -> None:
    """Refuse, naming the file, an empty file or one over `max_file_bytes`."""
    if size == 0:
        raise UnreadableFileError(f"{path}: empty file")
    if size > max_file_bytes:
        raise UnreadableFileError(f"{path}: {size:,} bytes is over the limit of {max_file_bytes:,}")


def split_file(
    source: SourceFile,
    loaded: LoadedFile,
    splitter: Splitter,
    digest: str,
    size: int,
    prepared_with: str,
) -> NewDocument:
    """A loaded file split into chunks: a document waiting for its vectors."""
    chunks = splitter.split(loaded.pages)
    if not chunks:
        raise UnreadableFileError(f"{source.path}: no text to index")
    return NewDocument(
        source=str(source.path.resolve()),
        file=source.file,
        title=loaded.title,
        format=loaded.format,
        content_hash=digest,
        size=size,
        pages=loaded.pages,
        chunks=chunks,
        vectors=_NO_VECTORS,
        prepared_with=prepared_with,
    )


class _Pending:
    """Documents waiting for their vectors: embedded together once they hold `batch_chunks`
    chunks, each then stored atomically; the store is checkpointed every CHECKPOINT_SECONDS."""

    def __init__(
        self,
        store: DocumentStore,
        embedder: Embedder,
        report: IngestReport,
        batch_chunks: int,
        on_stored: Callable[[NewDocument], None] | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.report = report
        self.batch_chunks = batch_chunks
        self.on_stored = on_stored
        self.documents: list[NewDocument] = []
        self.last_checkpoint = time.perf_counter()

    def add(self, document: NewDocument) -> None:
        self.documents.append(document)
        if sum(len(d.chunks) for d in self.documents) >= self.batch_chunks:
            self.store_all()
        if time.perf_counter() - self.last_checkpoint > CHECKPOINT_SECONDS:
            self.store.flush()
            self.last_checkpoint = time.perf_counter()

    def store_all(self) -> None:
        """Embed the chunks of all waiting documents in one call, then store each atomically."""
        passages = [
            (embedded_title(document.title, document.file, document.source), chunk.text)
            for document in self.documents
            for chunk in document.chunks
        ]
        vectors = self.embedder.embed_passages(passages)
        offset = 0
        for document in self.documents:
            count = len(document.chunks)
            self.store.put_document(replace(document, vectors=vectors[offset : offset + count]))
            if self.on_stored is not None:
                self.on_stored(document)
            offset += count
            self.report.indexed.append(document.file)
            self.report.pages += len(document.pages)
            self.report.chunks += count
        self.documents = []


def embedded_as_now(prepared_with: str) -> bool:
    """Whether a document recorded as `prepared_with` had its chunks embedded as they now are."""
    return f", preparation {PREPARATION_VERSION}," in prepared_with


def embedded_title(title: str, file: str, source: str) -> str:
    """What is embedded with each chunk to say which document it is from: the title, and for a
    file its name, which often says what the title does not ("0001018724-20-000004" is the
    title of AMAZON_2019_10K.pdf). In-memory documents are named by an id, which says nothing."""
    if source.startswith(TEXT_SOURCE_PREFIX):
        return title
    stem = Path(file).stem
    if stem.lower() in title.lower():
        return title
    room = max(0, TITLE_CONTEXT_CHARS - len(stem) - 3)  # a long title gives way to the name
    return f"{title[:room].rstrip()} ({stem})"


def _reason(error: UnreadableFileError, path: Path) -> str:
    """The error's message without the leading path, which the report shows already."""
    message = str(error)
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
