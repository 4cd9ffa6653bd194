"""Files into the store: discover, skip unchanged, load, split, embed, store; report what happened."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag.embedding import Embedder
from rag.errors import UnreadableFileError
from rag.loading import SUPPORTED_SUFFIXES, load
from rag.splitting import Splitter
from rag.store import DocumentStore, NewDocument

CHECKPOINT_SECONDS = 30.0


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest and the name it is shown under (relative to the folder given)."""

    path: Path
    file: str


@dataclass
class IngestReport:
    """What an ingest run did."""

    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    pages: int = 0
    chunks: int = 0
    seconds: float = 0.0

    @property
    def files_seen(self) -> int:
        return len(self.indexed) + len(self.unchanged) + len(self.skipped)


Progress = Callable[[str, int, int], None]  # (file, files done, files in all)


def _excluded(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def discover(
    paths: list[Path], exclude: list[str], report: IngestReport
) -> Iterator[SourceFile]:
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


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


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
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.splitter = splitter
        self.exclude = exclude
        self.max_file_bytes = max_file_bytes

    def ingest(self, paths: list[Path], progress: Progress | None = None) -> IngestReport:
        """Index every supported file under `paths`; unreadable files are skipped and reported."""
        report = IngestReport()
        started = last_checkpoint = time.perf_counter()
        sources = list(discover(paths, self.exclude, report))
        for done, source in enumerate(sources):
            if progress:
                progress(source.file, done, len(sources))
            try:
                self._ingest_file(source, report)
            except UnreadableFileError as error:
                report.skipped.append((source.file, _reason(error, source.path)))
            if time.perf_counter() - last_checkpoint > CHECKPOINT_SECONDS:
                self.store.flush()
                last_checkpoint = time.perf_counter()
        self.store.flush()
        if progress:
            progress("", len(sources), len(sources))
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_file(self, source: SourceFile, report: IngestReport) -> None:
        path = source.path
        try:
            size = path.stat().st_size
            if size == 0:
                raise UnreadableFileError(f"{path}: empty file")
            if size > self.max_file_bytes:
                raise UnreadableFileError(
                    f"{path}: {size:,} bytes is over the limit of {self.max_file_bytes:,}"
                )
            digest = content_hash(path)
        except OSError as error:
            raise UnreadableFileError(f"{path}: {error.strerror or error}") from error
        absolute = str(path.resolve())
        existing = self.store.document_by_source(absolute)
        if existing is not None and existing.content_hash == digest:
            report.unchanged.append(source.file)
            return
        loaded = load(path)
        chunks = self.splitter.split(loaded.pages)
        if not chunks:
            raise UnreadableFileError(f"{path}: no text to index")
        vectors = self.embedder.embed([chunk.text for chunk in chunks])
        self.store.put_document(
            NewDocument(
                source=absolute,
                file=source.file,
                title=loaded.title,
                format=loaded.format,
                content_hash=digest,
                size=size,
                pages=loaded.pages,
                chunks=chunks,
                vectors=vectors,
            )
        )
        report.indexed.append(source.file)
        report.pages += len(loaded.pages)
        report.chunks += len(chunks)


def _reason(error: UnreadableFileError, path: Path) -> str:
    """The error's message without the leading path, which the report shows already."""
    message = str(error)
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message
