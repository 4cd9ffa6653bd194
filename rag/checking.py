"""`rag check`: verify an index against itself, its source files and its model; repair what can be.

SQLite is the source of truth. What derives from it (the FAISS file, the FTS5 index) and files a
crash left behind are repaired; a damaged SQLite file, invalid stored vectors, a model that no
longer gives the stored vectors, and source files that are gone or have changed are reported
with what to do about them.
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
from rag.store.sqlite_faiss import SqliteFaissStore

MODEL_SAMPLE = 8  # chunks embedded again to check the model still gives the stored vectors
MIN_MODEL_AGREEMENT = 0.9  # smallest cosine between a stored and a recomputed vector
LISTED = 5  # files named in one finding


@dataclass(frozen=True)
class Finding:
    """One problem found: which check found it, what it is, and what was or must be done."""

    check: str
    problem: str
    action: str  # what was done when `repaired`, else what the user can do
    repaired: bool = False


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
    def __init__(self, store: SqliteFaissStore, embedder: Embedder, repair: bool) -> None:
        self.store = store
        self.embedder = embedder
        self.repair = repair
        self.report = CheckReport(checked=["open"])

    def found(self, check: str, problem: str, fix: str, repair: Callable[[], str] | None) -> None:
        """Record a problem; with --repair, run `repair`, which says what it did."""
        if self.repair and repair is not None:
            self.report.findings.append(Finding(check, problem, repair(), repaired=True))
        else:
            hint = "; `rag check --repair` does it" if repair is not None else ""
            self.report.findings.append(Finding(check, problem, fix + hint))

    def sqlite(self) -> bool:
        """SQLite's integrity check; the other checks only make sense when it passes."""
        problems = self.store.sqlite_problems()
        if problems:
            self.found(
                "sqlite",
                "the database file is damaged: " + "; ".join(problems[:3]),
                "move the index folder away and ingest again",
                None,
            )
        return not problems

    def fts5(self) -> None:
        problem = self.store.lexical_index_problem()
        if problem:

            def rebuild() -> str:
                self.store.rebuild_lexical_index()
                return "rebuilt the FTS5 index from the chunk table"

            self.found("fts5", problem, "rebuild the FTS5 index", rebuild)

    def vectors(self, problems: dict[int, str]) -> None:
        if not problems:
            return
        sample = ", ".join(f"chunk {i}: {why}" for i, why in list(problems.items())[:3])
        files = sorted({passage.file for passage in self.store.passages(list(problems))})
        self.found(
            "vectors",
            f"{len(problems)} stored vectors are invalid ({sample}) in {_names(files)}",
            "`rag remove` those documents and `rag ingest` them again",
            None,
        )

    def model(self, invalid: set[int]) -> None:
        """Check that the configured model still computes the stored vectors (on a sample)."""
        with self.store.snapshot():
            ids = [i for i in self.store.chunk_ids() if i not in invalid]
            ids = ids[:: max(1, len(ids) // MODEL_SAMPLE)][:MODEL_SAMPLE]
            # vectors of an earlier preparation embedded other text; the next ingest redoes them
            documents = {
                d.id: d for d in self.store.documents() if embedded_as_now(d.prepared_with)
            }
            passages = [p for p in self.store.passages(ids) if p.document_id in documents]
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
            None,
        )

    def faiss(self) -> None:
        problem = self.store.faiss_file_problem()
        if problem:

            def rebuild() -> str:
                self.store.rebuild_faiss_file()
                return "rebuilt the FAISS file from SQLite"

            self.found(
                "faiss", problem, "rebuild it from SQLite (reading the index does too)", rebuild
            )

    def files(self) -> None:
        stale = self.store.stale_files()
        if stale:

            def remove() -> str:
                removed = self.store.remove_stale_files()
                return f"removed {len(removed)} files"

            names = _names([path.name for path in stale])
            self.found(
                "files", f"files left by a crash or an older writer: {names}", "remove them", remove
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
                None,
            )
        if changed:
            self.found(
                "sources",
                f"{len(changed)} source files changed since they were indexed: {_names(changed)}",
                "`rag ingest` them again to update the index",
                None,
            )


def check_index(
    open_store: Callable[[], SqliteFaissStore], embedder: Embedder, repair: bool = False
) -> CheckReport:
    """Verify the index `open_store` opens; with `repair`, fix what can be fixed."""
    try:
        store = open_store()
    except (CorruptIndexError, IndexMismatchError) as error:
        check = "model" if isinstance(error, IndexMismatchError) else "open"
        report = CheckReport(checked=["open"])
        report.findings.append(
            Finding(check, str(error), "use another index folder, or ingest again into a new one")
        )
        return report
    checker = _Checker(store, embedder, repair)
    checked = checker.report.checked
    try:
        checked.append("sqlite")
        if not checker.sqlite():
            return checker.report
        checked.append("fts5")
        checker.fts5()
        checked.append("files")
        checker.files()
        invalid = store.vector_problems()
        checked.append("vectors")
        checker.vectors(invalid)
        checked.append("model")
        checker.model(set(invalid))
        checked.append("faiss")
        checker.faiss()
        checked.append("sources")
        checker.sources()
    except CorruptIndexError as error:
        checker.found(checked[-1], str(error), "move the index folder away and ingest again", None)
    return checker.report
