"""`rag migrate`: copy a library between stores (folder <-> PostgreSQL) without embedding again.

Documents are copied with their ids, pages, chunk ids, spans and vectors, so that citations and
`rag ask` answers stay the same, through the target's bulk load (`put_documents`): into
PostgreSQL one transaction that builds the indexes once at the end (all or nothing), into a
folder one transaction per document. Run again after an interruption, a copy skips the
documents already in the target, unchanged (an interrupted copy into PostgreSQL left none there,
so it starts over).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rag.errors import RagError
from rag.records import DocumentInfo
from rag.store import DocumentStore, NewDocument

Progress = Callable[[str, int, int], None]  # (file, done, total)


@dataclass
class MigrateReport:
    copied: int = 0
    already_there: int = 0
    chunks: int = 0
    seconds: float = 0.0


def _same(a: DocumentInfo, b: DocumentInfo) -> bool:
    fields = ("id", "source", "content_hash", "prepared_with", "pages", "chunks")
    return all(getattr(a, name) == getattr(b, name) for name in fields)


def migrate(
    source: DocumentStore, target: DocumentStore, progress: Progress | None = None
) -> MigrateReport:
    """Copy every document of `source` into `target` (empty, or a copy this function left
    unfinished) with the same ids and vectors."""
    started = time.perf_counter()
    with source.snapshot():
        documents = source.documents()
        first_chunk = {d.id: min(source.chunk_ids([d.id]), default=0) for d in documents}
    by_id = {document.id: document for document in documents}
    foreign = [d for d in target.documents() if d.id not in by_id or by_id[d.id].source != d.source]
    if foreign:
        names = ", ".join(d.file for d in foreign[:5])
        raise RagError(
            f"the target already holds {len(foreign)} documents that are not this library's "
            f"({names}); migrate into an empty folder or database"
        )
    in_target = {d.id: d for d in target.documents()}
    report = MigrateReport()
    # in the order their chunks were written, so that chunk ids keep growing in the target
    ordered = sorted(documents, key=lambda d: (first_chunk[d.id], d.id))

    def copies() -> Iterator[NewDocument]:
        for done, document in enumerate(ordered, 1):
            existing = in_target.get(document.id)
            if existing is not None and _same(existing, document):
                report.already_there += 1
            else:
                yield source.stored_document(document.id)
                report.copied += 1
                report.chunks += document.chunks
            if progress is not None:
                progress(document.file, done, len(ordered))

    target.put_documents(copies())
    target.flush()
    report.seconds = time.perf_counter() - started
    return report
