"""`rag ingest --ray ADDRESS`: files loaded, split and embedded on Ray workers, stored here.

The driver (this process) finds the files, skips those the store holds unchanged (content hash),
and writes each document to the configured store in its own transaction, as an in-process
ingest does. Ray tasks load and split one file each, then embed the chunks of the same groups of
files an in-process ingest embeds together (up to `EMBED_BATCH_CHUNKS` chunks, in file order),
so the chunks and vectors are the same; with `embed_sentences_at_ingest`, they also embed each
new sentence and table row on its own, and the driver saves those vectors beside the library as
an in-process ingest does. Workers need the project installed and the files at the
same paths (one machine, or shared storage). Ray moves arguments and results between driver and
workers with its own serialisation (cloudpickle, which can run code): use a cluster you trust,
as whoever can submit to it runs code anyway. Nothing here reads files that way.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.answering import quotable_texts
from rag.embedding import Embedder, SentenceVectors, get_embedder
from rag.errors import RagError, UnreadableFileError
from rag.ingesting import (
    EMBED_BATCH_CHUNKS,
    IngestReport,
    Progress,
    SourceFile,
    check_size,
    discover,
    embedded_title,
    split_file,
)
from rag.loading import PdfReading, load
from rag.models import sha256_of
from rag.splitting import Splitter
from rag.store import NewDocument

if TYPE_CHECKING:
    from rag.library import Library

LOAD_AHEAD_PER_CPU = 2  # files being loaded and split per Ray CPU, ahead of the embedder
EMBED_AHEAD = 2  # groups being embedded while the driver stores earlier ones
AUTO = "auto"
LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray's servers listen on 127.0.0.1


@dataclass(frozen=True)
class Recipe:
    """What a worker needs to load, split and embed as this process would."""

    embedding_model: str
    batch_size: int
    cache_dir: Path
    backend: str
    threads: int | None
    chunk_tokens: int
    overlap_tokens: int
    max_file_bytes: int
    pdf: PdfReading  # OCR (its languages and cache shared with in-process ingest), tables

    def embedder(self) -> Embedder:
        return get_embedder(
            self.embedding_model, self.batch_size, self.cache_dir, self.backend, self.threads
        )


def recipe_for(library: Library) -> Recipe:
    """How `library` loads, splits and embeds files (its settings, its ingest's PDF reading)."""
    ingestor = library._ingestor()
    settings = library.settings
    return Recipe(
        settings.embedding_model,
        settings.embedding_batch_size,
        settings.model_cache_dir,
        settings.embedding_backend,
        settings.embedding_threads,
        ingestor.splitter.max_tokens,
        ingestor.splitter.overlap_tokens,
        ingestor.max_file_bytes,
        ingestor.pdf,
    )


def prepare_file(
    recipe: Recipe, source: SourceFile, digest: str, size: int, prepared_with: str
) -> NewDocument | str:
    """The file loaded and split, without vectors; or why it cannot be read."""
    path = source.path
    try:
        check_size(path, size, recipe.max_file_bytes)
        embedder = recipe.embedder()
        splitter = Splitter(embedder.count_tokens, recipe.chunk_tokens, recipe.overlap_tokens)
        return split_file(source, load(path, recipe.pdf), splitter, digest, size, prepared_with)
    except UnreadableFileError as error:
        return str(error).removeprefix(f"{path}: ")


def embed_group(recipe: Recipe, documents: list[NewDocument]) -> np.ndarray:
    """The vectors of the chunks of `documents`, embedded in one call as in-process ingest does."""
    return recipe.embedder().embed_passages(
        [
            (embedded_title(document.title, document.file, document.source), chunk.text)
            for document in documents
            for chunk in document.chunks
        ]
    )


def embed_sentences(recipe: Recipe, texts: list[str]) -> np.ndarray:
    """The vectors of sentences and table rows, each embedded on its own as answers do."""
    return SentenceVectors(recipe.embedder(), capacity=0).embed(texts)


def connect(address: str, temp_dir: Path | None = None) -> bool:
    """Connect to the Ray cluster at `address`; `auto`: the one this machine runs, else a new
    local instance bound to loopback. True when this call started the instance."""
    import ray

    if ray.is_initialized():
        return False
    if address != AUTO:
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as error:
            raise RagError(f"--ray {address}: cannot connect to a Ray cluster ({error})") from error
        return False
    try:
        ray.init(address=AUTO, logging_level=logging.ERROR, log_to_driver=False)
        return False
    except ConnectionError:
        pass
    ray.init(
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=str(temp_dir) if temp_dir else None,
        logging_level=logging.ERROR,
        log_to_driver=False,
    )
    return True


def ingest_on_ray(
    library: Library,
    paths: list[Path],
    address: str,
    progress: Progress | None = None,
    temp_dir: Path | None = None,
) -> IngestReport:
    """Ingest `paths` into `library`'s store, loading, splitting and embedding on Ray."""
    if address == AUTO:  # read when Ray is imported: a local instance then binds to loopback
        os.environ.setdefault(LOOPBACK_ONLY, "0")
    try:
        import ray
    except ImportError as error:
        raise RagError("--ray needs Ray: pip install 'rag[ray]'") from error

    ingestor = library._ingestor()
    recipe = recipe_for(library)
    report = IngestReport()
    started = time.perf_counter()
    sources = list(discover(paths, ingestor.exclude, report))
    started_here = connect(address, temp_dir)
    prepare = ray.remote(prepare_file)
    embed = ray.remote(embed_group)
    embed_new_sentences = ray.remote(embed_sentences)
    saved = library.saved_vectors if library.settings.embed_sentences_at_ingest else None
    groups: deque[tuple[list[NewDocument], Any, Any]] = deque()

    def submit(documents: list[NewDocument]) -> None:
        """Embed a group's chunks, and its sentences not saved yet, on Ray."""
        new: dict[bytes, str] = {}  # key -> sentence, for those not saved yet
        if saved is not None:
            texts = (t for d in documents for c in d.chunks for t in quotable_texts(c.text))
            keyed = {saved.key(text, None): text for text in texts}
            known = saved.get(list(keyed))
            new = {key: text for key, text in keyed.items() if key not in known}
        sentence_vectors = (
            embed_new_sentences.remote(recipe_ref, list(new.values())) if new else None
        )
        groups.append(
            (documents, embed.remote(recipe_ref, documents), (list(new), sentence_vectors))
        )

    def store_groups(keep: int) -> None:
        while len(groups) > keep:
            documents, vectors_ref, (keys, sentence_vectors) = groups.popleft()
            vectors = ray.get(vectors_ref)
            if saved is not None and keys:
                saved.put(dict(zip(keys, ray.get(sentence_vectors), strict=True)))
            offset = 0
            for document in documents:
                count = len(document.chunks)
                ingestor.store.put_document(
                    replace(document, vectors=vectors[offset : offset + count])
                )
                offset += count
                report.indexed.append(document.file)
                report.pages += len(document.pages)
                report.chunks += count

    try:
        recipe_ref = ray.put(recipe)
        cpus = ray.cluster_resources().get("CPU", 1)  # type: ignore[no-untyped-call]
        ahead = LOAD_AHEAD_PER_CPU * max(1, int(cpus))
        pending: list[NewDocument] = []
        for done, (source, outcome) in enumerate(
            _prepared(ingestor, prepare, recipe_ref, sources, ahead)
        ):
            if progress:
                progress(source.file, done, len(sources))
            if outcome is None:
                report.unchanged.append(source.file)
                continue
            prepared = ray.get(outcome) if not isinstance(outcome, str) else outcome
            if isinstance(prepared, str):
                if ingestor.store.document_by_source(str(source.path.resolve())) is not None:
                    prepared += " (the version indexed before is kept)"
                report.skipped.append((source.file, prepared))
                continue
            pending.append(prepared)
            if sum(len(p.chunks) for p in pending) >= EMBED_BATCH_CHUNKS:
                submit(pending)
                pending = []
                store_groups(keep=EMBED_AHEAD)
        if pending:
            submit(pending)
        store_groups(keep=0)
    finally:
        if started_here:
            ray.shutdown()
    ingestor.store.flush()
    if progress:
        progress("", len(sources), len(sources))
    report.seconds = time.perf_counter() - started
    return report


def _prepared(
    ingestor: Any, prepare: Any, recipe_ref: Any, sources: list[SourceFile], ahead: int
) -> Iterator[tuple[SourceFile, Any]]:
    """(source, its preparation) in order: None when the store holds it unchanged, a reason
    when it cannot be read, else a Ray reference to the prepared document; `ahead` in flight."""
    waiting: deque[tuple[SourceFile, Any]] = deque()
    for source in sources:
        path = source.path
        prepared_with = ingestor._prepared_with(ingestor.reader(path.suffix.lower()))
        try:
            size = path.stat().st_size
            digest = sha256_of(path)
        except OSError as error:
            waiting.append((source, str(error.strerror or error)))
        else:
            if ingestor._up_to_date(str(path.resolve()), digest, prepared_with):
                waiting.append((source, None))
            else:
                waiting.append(
                    (source, prepare.remote(recipe_ref, source, digest, size, prepared_with))
                )
        while len(waiting) > ahead:
            yield waiting.popleft()
    yield from waiting
