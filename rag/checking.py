"""`rag check`: verify a store against itself, its source files and its model; repair what can be.

Each backend checks its own storage (`DocumentStore.check`: for SQLite + FAISS, SQLite's
integrity, FTS5, leftover files, the stored vectors and the FAISS file; for PostgreSQL, the
stored vectors and the indexes) and rebuilds what derives from it. Then, for any backend: does the
configured model still give the stored vectors, and are the source files unchanged? Those are
reported with what to do about them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.embedding import Embedder
from rag.errors import CorruptIndexError, IndexMismatchError
from rag.ingesting import embedded_as_now, embedded_title
from rag.models import sha256_of
from rag.store import DocumentStore, Finding, StoreCheck

MODEL_SAMPLE = 8  # chunks embedded again to check the model still gives the stored vectors
MIN_MODEL_AGREEMENT = 0.9  # smallest cosine between a stored and a recomputed vector
LISTED = 5  # files named in one finding

__all__ = ["CheckReport", "Finding", "check_index"]


@dataclass
class CheckReport:
    """What `check_index` looked at and found."""

    checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def remaining(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.repaired]

    @property
    def ok(self) -> bool:
        return not self.remaining


def _names(paths: list[str]) -> str:
    more = f" and {len(paths) - LISTED} more" if len(paths) > LISTED else ""
    return ", ".join(paths[:LISTED]) + more


class _Checker:
    """The checks that are the same for every backend, recorded into a `StoreCheck`."""

    def __init__(self, store: DocumentStore, embedder: Embedder, result: StoreCheck) -> None:
        self.store = store
        self.embedder = embedder
        self.result = result

    def found(self, check: str, problem: str, fix: str) -> None:
        self.result.found(check, problem, fix)

    def model(self) -> None:
        """Check that the configured model still computes the stored vectors (on a sample)."""
        invalid = self.result.invalid_chunks
        with self.store.snapshot():
            # vectors of an earlier preparation embedded other text; the next ingest redoes them
            documents = {
                d.id: d for d in self.store.documents() if embedded_as_now(d.prepared_with)
            }
            ids = [i for i in self.store.chunk_ids(sorted(documents)) if i not in invalid]
            ids = ids[:: max(1, len(ids) // MODEL_SAMPLE)][:MODEL_SAMPLE]
            passages = self.store.passages(ids)
            if not passages:
                return
            stored = self.store.vectors([p.chunk_id for p in passages])
        again = self.embedder.embed_passages(
            [
                (embedded_title(p.title, p.file, documents[p.document_id].source), p.text)
                for p in passages
            ]
        )
        agreement = float(np.min(np.sum(stored * again, axis=1)))
        if agreement >= MIN_MODEL_AGREEMENT:
            return
        self.found(
            "model",
            f"the model '{self.store.model}' no longer gives the stored vectors (cosine "
            f"{agreement:.2f} on {len(passages)} chunks): the index was built with another "
            "version of it",
            "ingest again into a new index folder",
        )

    def sources(self) -> None:
        missing: list[str] = []
        changed: list[str] = []
        for document in self.store.documents():
            source = Path(document.source)
            if not source.is_absolute():
                continue  # a document given as text, not read from a file
            try:
                if sha256_of(source) != document.content_hash:
                    changed.append(document.file)
            except FileNotFoundError:
                missing.append(document.file)
            except OSError as error:
                missing.append(f"{document.file} ({error.strerror or error})")
        if missing:
            self.found(
                "sources",
                f"{len(missing)} source files are gone or unreadable: {_names(missing)}",
                "restore them, or `rag remove` them (their text stays citable until then)",
            )
        if changed:
            self.found(
                "sources",
                f"{len(changed)} source files changed since they were indexed: {_names(changed)}",
                "`rag ingest` them again to update the index",
            )


def check_index(
    open_store: Callable[[], DocumentStore], embedder: Embedder, repair: bool = False
) -> CheckReport:
    """Verify the store `open_store` opens; with `repair`, fix what can be fixed."""
    report = CheckReport(checked=["open"])
    try:
        store = open_store()
    except (CorruptIndexError, IndexMismatchError) as error:
        check = "model" if isinstance(error, IndexMismatchError) else "open"
        report.findings.append(
            Finding(check, str(error), "use another index folder, or ingest again into a new one")
        )
        return report
    result = StoreCheck(repair)
    try:
        result = store.check(repair)
        checker = _Checker(store, embedder, result)
        if result.readable:
            result.checked.append("model")
            checker.model()
            result.checked.append("sources")
            checker.sources()
    except CorruptIndexError as error:
        step = result.checked[-1] if result.checked else "open"
        result.found(step, str(error), "move the index folder away and ingest again")
    report.checked += result.checked
    report.findings += result.findings
    return report
