"""The default store: SQLite (documents, chunks, vectors, FTS5) with a FAISS search structure.

SQLite is the source of truth, vectors included, and every change is one SQLite transaction
that also bumps a generation counter. The FAISS file `vectors.<generation>.faiss` is derived: a
base holding the chunks of that generation, exact below `IndexPlan.ann_threshold` chunks and
IVF-SQ8 above (see `rag.store.vector_index`), memory-mapped when large. A reader at generation G
opens the newest base of a generation <= G and layers on it, from SQLite, the chunks added since
(chunk ids only grow, so they are the ids above the base's largest) and the ids removed since.
Adding a file thus writes only its SQLite rows; a new base is written (atomically) when there is
none or the layers outgrow a fraction of it, and rebuilt from SQLite whenever the newest base is
missing, damaged or disagrees with the chunk table. A crash at any moment thus leaves the
previous committed state readable, and readers always search the vectors of the very snapshot
they read chunk rows from.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.errors import (
    CorruptIndexError,
    DocumentNotFoundError,
    IndexMismatchError,
    MissingIndexError,
)
from rag.records import Chunk, DocumentInfo, Page, Passage
from rag.store import Hit, NewDocument, StoreCheck, StoreStats
from rag.store.vector_index import (
    FLAT,
    IVF,
    IndexPlan,
    LayeredIndex,
    build,
    ids_of,
    index_kind,
    kind_of,
    new_flat,
    training_size,
)
from rag.store.vector_index import read as read_index_file
from rag.text import LEXICAL_TOKENIZER, content_words

SCHEMA_VERSION = "2"  # 2: documents.prepared_with
DATABASE_NAME = "library.sqlite"
_FAISS_FILE = re.compile(r"^vectors\.(\d+)\.faiss$")
_TEMPORARY_FILE = re.compile(r"^vectors\.(\d+)\.(?:.*\.)?faiss\.tmp$")
_TABLES = frozenset(["meta", "documents", "pages", "chunks", "chunks_fts"])

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL UNIQUE,
    file TEXT NOT NULL,
    title TEXT NOT NULL,
    format TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    added_at TEXT NOT NULL,
    prepared_with TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS documents_file ON documents(file);
CREATE TABLE IF NOT EXISTS pages(
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    number INTEGER,
    text TEXT NOT NULL,
    raw_text TEXT NOT NULL,
    PRIMARY KEY(document_id, ordinal)
);
CREATE TABLE IF NOT EXISTS chunks(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    page INTEGER,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    token_count INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_document ON chunks(document_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, content='chunks', content_rowid='id', tokenize='{LEXICAL_TOKENIZER}'
);
CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""

_DOCUMENT_COLUMNS = """d.id, d.file, d.source, d.title, d.format, d.content_hash, d.pages,
    (SELECT count(*) FROM chunks c WHERE c.document_id = d.id), d.added_at, d.prepared_with"""


def lexical_query(text: str) -> str:
    """An FTS5 query matching any content word of `text` (each quoted, so never a syntax error)."""
    return " OR ".join(f'"{word}"' for word in content_words(text))


def _names(items: list[str], listed: int = 5) -> str:
    more = f" and {len(items) - listed} more" if len(items) > listed else ""
    return ", ".join(items[:listed]) + more


def _inserted_id(cursor: sqlite3.Cursor) -> int:
    assert cursor.lastrowid is not None  # an INSERT sets it
    return cursor.lastrowid


def _passage(row: tuple[Any, ...]) -> Passage:
    """A passage from (chunk id, document id, title, file, page, start, end, text)."""
    chunk_id, document_id, title, file, page, start, end, text = row
    return Passage(chunk_id, document_id, title, file, page, start, end, text, score=0.0)


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class SqliteFaissStore:
    """A store in one folder: `library.sqlite` plus `vectors.<generation>.faiss`."""

    def __init__(
        self,
        directory: Path,
        model: str,
        dimension: int | None = None,
        *,
        create: bool = True,
        plan: IndexPlan | None = None,
    ):
        """Open (or with `create`, make) the index; `dimension` None takes the stored one;
        `plan` says from what size the vector index is approximate (default: IndexPlan())."""
        if create and dimension is None:
            raise ValueError("creating an index needs the vector dimension")
        self.directory = Path(directory)
        self.model = model
        self.dimension: int = dimension or 0  # 0 until read from the index
        database = self.directory / DATABASE_NAME
        if not database.exists() and not create:
            raise MissingIndexError(
                f"no index at {self.directory}: run `rag ingest` first (or set --index)"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.plan = plan or IndexPlan()
        self._index: LayeredIndex | None = None
        self._index_generation = -1
        self._dirty = False  # the base in memory has no file yet
        self._changed = False  # this object has written vectors since it opened
        self._ids = np.zeros(0, dtype=np.int64)
        self._ids_generation = -1
        self._in_snapshot = False
        self._db = sqlite3.connect(
            database, isolation_level=None, check_same_thread=False, timeout=60
        )
        try:
            self._check_is_ours(database, create)  # before anything writes to the file
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._initialise(create)
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise CorruptIndexError(
                f"{database} is not a readable index ({error}); move it away and ingest again"
            ) from error
        except (CorruptIndexError, IndexMismatchError, MissingIndexError):
            self._db.close()
            raise

    # -- set-up and validation -------------------------------------------------------------

    def _check_is_ours(self, database: Path, create: bool) -> None:
        """Refuse an SQLite file of another program (never add tables to it) or an empty one."""
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        if not tables and not create:
            raise MissingIndexError(
                f"no index at {self.directory}: {database.name} is empty; run `rag ingest` "
                "first (or set --index)"
            )
        if tables and "meta" not in tables:
            listed = ", ".join(sorted(tables)[:5])
            raise CorruptIndexError(
                f"{database} is an SQLite database of another program (tables: {listed}), not "
                "an index of rag; choose another index folder with --index"
            )
        if tables and not tables >= _TABLES:
            missing = ", ".join(sorted(_TABLES - tables))
            raise CorruptIndexError(
                f"{database} is damaged: its tables {missing} are missing; move it away and "
                "ingest again"
            )

    def _initialise(self, create: bool) -> None:
        if create:
            with self._lock:
                self._db.executescript(_SCHEMA)  # idempotent; runs outside any transaction
            with self._write() as db:
                db.executemany(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
                    [
                        ("schema_version", SCHEMA_VERSION),
                        ("embedding_model", self.model),
                        ("dimension", str(self.dimension)),
                        ("generation", "0"),
                    ],
                )
        with self._lock:
            meta = dict(self._db.execute("SELECT key, value FROM meta"))
        if meta.get("schema_version") == "1":
            self._upgrade_from_version_1()
            meta["schema_version"] = SCHEMA_VERSION
        with self._lock:
            self._check_meta(meta)

    def _upgrade_from_version_1(self) -> None:
        """Version 1 did not record how documents were prepared: they record "" (unknown), so
        the next ingest prepares them again with the current settings."""
        with self._write() as db:
            version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if version != ("1",):  # another process upgraded it meanwhile
                return
            db.execute("ALTER TABLE documents ADD COLUMN prepared_with TEXT NOT NULL DEFAULT ''")
            db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (SCHEMA_VERSION,))

    def _check_meta(self, meta: dict[str, str]) -> None:
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise CorruptIndexError(
                f"index at {self.directory} has layout version {meta.get('schema_version')!r}, "
                f"this program reads version {SCHEMA_VERSION}"
            )
        for key in ("dimension", "generation"):
            if not (meta.get(key) or "").isdigit():
                raise CorruptIndexError(
                    f"index at {self.directory} is damaged: its {key} is {meta.get(key)!r}, "
                    "not a number; move it away and ingest again"
                )
        stored_model, stored_dimension = meta.get("embedding_model"), meta.get("dimension")
        if not self.dimension and stored_dimension is not None:
            self.dimension = int(stored_dimension)
        if stored_model != self.model or stored_dimension != str(self.dimension):
            raise IndexMismatchError(
                f"index at {self.directory} holds vectors of model '{stored_model}' "
                f"({stored_dimension}-d) but the configured model is '{self.model}' "
                f"({self.dimension}-d); use another index folder or re-ingest into a new one"
            )

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def _damage_reported(self) -> Iterator[None]:
        """SQLite's errors about a damaged or foreign file, as a CorruptIndexError."""
        try:
            yield
        except sqlite3.DatabaseError as error:
            damaged = type(error) is sqlite3.DatabaseError or str(error).startswith("no such ")
            if not damaged:
                raise
            raise CorruptIndexError(
                f"the index at {self.directory} is damaged ({error}); run `rag check`, or move "
                "it away and ingest again"
            ) from error

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._damage_reported():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Hold one read transaction: every read inside sees the same committed state, never a
        writer's half-done change, whatever other processes commit meanwhile. Snapshots nest."""
        with self._lock:
            if self._in_snapshot:
                yield
                return
            with self._damage_reported():
                self._db.execute("BEGIN")
                self._in_snapshot = True
                try:
                    yield
                finally:
                    self._in_snapshot = False
                    self._db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """The connection, inside a snapshot."""
        with self.snapshot():
            yield self._db

    def _generation(self) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])

    def _bump_generation(self, db: sqlite3.Connection) -> int:
        generation = self._generation() + 1
        db.execute("UPDATE meta SET value=? WHERE key='generation'", (str(generation),))
        return generation

    # -- the FAISS structure ---------------------------------------------------------------

    def _faiss_path(self, generation: int) -> Path:
        return self.directory / f"vectors.{generation}.faiss"

    def _new_index(self) -> faiss.Index:
        return new_flat(self.dimension)

    def _chunk_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def _chunk_ids(self) -> np.ndarray:
        """Every chunk id, ascending; read once per generation (each write bumps it)."""
        generation = self._generation()
        if self._ids_generation != generation:
            rows = self._db.execute("SELECT id FROM chunks ORDER BY id")
            self._ids = np.fromiter((row[0] for row in rows), dtype=np.int64)
            self._ids_generation = generation
        return self._ids

    def _index_file_problem(self, index: faiss.Index) -> str | None:
        """Why a FAISS structure read from a file cannot serve this snapshot, if it cannot."""
        if kind_of(index) is None:
            return f"it holds a {type(index).__name__}, not an IndexIDMap2 of this store's kinds"
        if index.d != self.dimension:
            return f"its vectors have {index.d} dimensions, the index {self.dimension}"
        in_file = ids_of(index)
        stored = self._chunk_ids()
        # Chunks up to the base's largest id existed when it was written: all must be in it.
        older = stored[: np.searchsorted(stored, in_file.max(initial=0), side="right")]
        if not np.isin(older, in_file).all():
            return f"its {index.ntotal} ids lack some of the {older.size} chunk ids in SQLite"
        return None

    def _base_generation(self, generation: int) -> int | None:
        """The newest generation <= `generation` that has a FAISS file, if any."""
        found = [
            int(match.group(1))
            for match in map(_FAISS_FILE.match, os.listdir(self.directory))
            if match and int(match.group(1)) <= generation
        ]
        return max(found, default=None)

    def _load_index_file(self, generation: int) -> tuple[faiss.Index | None, str | None]:
        """The FAISS base of `generation` from its file, or None and why not."""
        path = self._faiss_path(generation)
        if not path.exists():
            return None, f"{path.name} is missing"
        try:
            index = read_index_file(path, self.plan)
        except (RuntimeError, MemoryError) as error:
            return None, f"{path.name} is unreadable ({str(error).splitlines()[0][:120]})"
        problem = self._index_file_problem(index)
        return (None, f"{path.name}: {problem}") if problem else (index, None)

    def _read_index_file(self, generation: int) -> faiss.Index | None:
        return self._load_index_file(generation)[0]

    def _stored_vectors(self, batch_rows: list[tuple[int, bytes]]) -> np.ndarray:
        """The vectors of (id, blob) rows; a blob of the wrong size means a damaged index."""
        row_bytes = self.dimension * 4
        wrong = [row[0] for row in batch_rows if len(row[1]) != row_bytes]
        if wrong:
            raise CorruptIndexError(
                f"the index at {self.directory} is damaged: chunks {wrong[:5]} have vectors of "
                f"the wrong size; run `rag check`, or move it away and ingest again"
            )
        blob = b"".join(row[1] for row in batch_rows)
        return np.frombuffer(blob, dtype=np.float32).reshape(len(batch_rows), self.dimension)

    def _vector_batches(self, after_id: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of the chunks with ids above `after_id`, in batches."""
        rows = self._db.execute(
            "SELECT id, vector FROM chunks WHERE id > ? ORDER BY id", (after_id,)
        )
        while batch := rows.fetchmany(4096):
            yield np.array([row[0] for row in batch], dtype=np.int64), self._stored_vectors(batch)

    def _rebuild_index(self) -> faiss.Index:
        """A base of every chunk, of the kind the chunk count calls for."""
        count = self._chunk_count()
        sample = None
        if index_kind(count, self.plan) == IVF:
            rows = self._db.execute(
                "SELECT id, vector FROM chunks ORDER BY random() LIMIT ?", (training_size(count),)
            ).fetchall()
            sample = self._stored_vectors(rows)
        return build(self.dimension, count, self.plan, sample, self._vector_batches())

    def _layers(self, generation: int) -> LayeredIndex | None:
        """The newest base <= `generation` from its file, with SQLite's later changes on top."""
        base_generation = self._base_generation(generation)
        if base_generation is None:
            return None
        base = self._read_index_file(base_generation)
        if base is None:
            return None
        in_base = ids_of(base)
        layers = LayeredIndex.over(base, base_generation, int(in_base.max(initial=0)))
        layers.removed.update(np.setdiff1d(in_base, self._chunk_ids()).tolist())
        for ids, vectors in self._vector_batches(after_id=layers.base_max_id):
            layers.add(ids, vectors)
        return layers

    def _sync_index(self, generation: int) -> None:
        if self._index is not None and self._index_generation == generation:
            return
        layers = self._layers(generation)
        self._dirty = layers is None
        if layers is None:
            layers = LayeredIndex.over(self._rebuild_index(), generation, self._max_chunk_id())
        self._index = layers
        self._index_generation = generation

    def _max_chunk_id(self) -> int:
        """The largest chunk id ever given (AUTOINCREMENT never gives it again)."""
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='chunks'").fetchone()
        return int(row[0]) if row else 0

    def flush(self) -> None:
        """Write a new FAISS base (atomically) if the one in memory has no file, or if this
        object's changes have grown the layers past `plan`'s share of the base; drop old files.
        """
        with self._lock:
            if self._index is None:
                return
            outgrown = self._changed and self._index.needs_new_base(self.plan)
            if not (self._dirty or outgrown):
                return
            if self._index.changes:  # fold the layers into a new base of the current kind
                with self._read():
                    generation = self._generation()
                    self._index = LayeredIndex.over(
                        self._rebuild_index(), generation, self._max_chunk_id()
                    )
                    self._index_generation = generation
            path = self._faiss_path(self._index_generation)
            # A name of its own: another process may be writing this generation's file too.
            descriptor, name = tempfile.mkstemp(
                dir=self.directory, prefix=f"{path.stem}.", suffix=".faiss.tmp"
            )
            os.close(descriptor)
            faiss.write_index(self._index.base, name)
            with open(name, "rb+") as handle:
                os.fsync(handle.fileno())
            try:
                os.replace(name, path)
            except FileNotFoundError:
                return  # `rag check --repair` took it for a crash's leftover; rebuilt when read
            _fsync_directory(self.directory)
            self._dirty = self._changed = False
            self._remove_stale_files(self._index_generation)

    def _stale_files(self, generation: int) -> list[Path]:
        """FAISS files of generations before the newest base <= `generation` (a crash's or an
        older writer's), and temporary files up to `generation`; never a newer writer's."""
        base = self._base_generation(generation)
        stale = []
        for candidate in self.directory.iterdir():
            match = _FAISS_FILE.match(candidate.name) or _TEMPORARY_FILE.match(candidate.name)
            if match is None or int(match.group(1)) > generation:
                continue
            if base is None or candidate != self._faiss_path(base):
                stale.append(candidate)
        return stale

    def _remove_stale_files(self, generation: int) -> None:
        for candidate in self._stale_files(generation):
            candidate.unlink(missing_ok=True)

    # -- writing -------------------------------------------------------------------------------

    def put_document(self, document: NewDocument) -> DocumentInfo:
        if document.vectors.shape != (len(document.chunks), self.dimension):
            raise ValueError(
                f"{document.file}: {document.vectors.shape} vectors for {len(document.chunks)} "
                f"chunks of dimension {self.dimension}"
            )
        vectors = np.ascontiguousarray(document.vectors, dtype=np.float32)
        with self._write() as db:
            self._sync_index(self._generation())
            old_ids = self._delete_document_rows(db, source=document.source)
            cursor = db.execute(
                """INSERT INTO documents(id, source, file, title, format, content_hash, size,
                pages, added_at, prepared_with) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    document.document_id,
                    document.source,
                    document.file,
                    document.title,
                    document.format,
                    document.content_hash,
                    document.size,
                    len(document.pages),
                    document.added_at or datetime.now(UTC).isoformat(timespec="seconds"),
                    document.prepared_with,
                ),
            )
            document_id = _inserted_id(cursor)
            db.executemany(
                "INSERT INTO pages(document_id, ordinal, number, text, raw_text) VALUES (?,?,?,?,?)",
                [
                    (document_id, ordinal, page.number, page.text, page.raw_text)
                    for ordinal, page in enumerate(document.pages)
                ],
            )
            new_ids = []
            keep_ids = document.chunk_ids or (None,) * len(document.chunks)
            for chunk, vector, chunk_id in zip(document.chunks, vectors, keep_ids, strict=True):
                cursor = db.execute(
                    """INSERT INTO chunks(id, document_id, ordinal, page, start, end, text,
                    token_count, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        chunk_id,
                        document_id,
                        chunk.ordinal,
                        chunk.page,
                        chunk.start,
                        chunk.end,
                        chunk.text,
                        chunk.token_count,
                        vector.tobytes(),
                    ),
                )
                new_ids.append(_inserted_id(cursor))
            generation = self._bump_generation(db)
            stored = self._document(document_id)
        self._apply_to_index(generation, removed=old_ids, added=(new_ids, vectors))
        return stored

    def put_documents(self, documents: Iterable[NewDocument]) -> list[DocumentInfo]:
        """Each document in its own transaction, as `put_document` writes it: SQLite takes
        rows fast, and the FAISS base is built once, at `flush`."""
        stored: dict[str, DocumentInfo] = {}
        for document in documents:
            stored.pop(document.source, None)  # a later version replaces it
            stored[document.source] = self.put_document(document)
        return list(stored.values())

    def remove_document(self, document_id: int) -> None:
        with self._write() as db:
            self._sync_index(self._generation())
            row = db.execute("SELECT source FROM documents WHERE id=?", (document_id,)).fetchone()
            if row is None:
                raise DocumentNotFoundError(f"no document with id {document_id} in the index")
            removed = self._delete_document_rows(db, source=row[0])
            generation = self._bump_generation(db)
        self._apply_to_index(generation, removed=removed, added=None)

    def _delete_document_rows(self, db: sqlite3.Connection, source: str) -> list[int]:
        row = db.execute("SELECT id FROM documents WHERE source=?", (source,)).fetchone()
        if row is None:
            return []
        ids = [r[0] for r in db.execute("SELECT id FROM chunks WHERE document_id=?", (row[0],))]
        db.execute("DELETE FROM chunks WHERE document_id=?", (row[0],))
        db.execute("DELETE FROM pages WHERE document_id=?", (row[0],))
        db.execute("DELETE FROM documents WHERE id=?", (row[0],))
        return ids

    def _apply_to_index(
        self,
        generation: int,
        removed: list[int],
        added: tuple[list[int], np.ndarray] | None,
    ) -> None:
        """Bring the in-memory FAISS structure from `generation - 1` to `generation`."""
        with self._lock:
            self._changed = True
            if self._index is None or self._index_generation != generation - 1:
                self._index = None  # another writer got in between: reload on next read
                return
            self._index.remove(removed)
            if added:
                self._index.add(np.array(added[0], dtype=np.int64), added[1])
            self._index_generation = generation

    # -- reading -------------------------------------------------------------------------------

    def _document(self, document_id: int) -> DocumentInfo:
        row = self._db.execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents d WHERE d.id=?", (document_id,)
        ).fetchone()
        if row is None:
            raise DocumentNotFoundError(f"no document with id {document_id} in the index")
        return DocumentInfo(*row)

    def document(self, document_id: int) -> DocumentInfo:
        with self._read():
            return self._document(document_id)

    def stored_document(self, document_id: int) -> NewDocument:
        with self._read():
            row = self._db.execute(
                """SELECT source, file, title, format, content_hash, size, prepared_with, added_at
                FROM documents WHERE id=?""",
                (document_id,),
            ).fetchone()
            if row is None:
                raise DocumentNotFoundError(f"no document with id {document_id} in the index")
            pages = self._db.execute(
                "SELECT number, text, raw_text FROM pages WHERE document_id=? ORDER BY ordinal",
                (document_id,),
            ).fetchall()
            chunks = self._db.execute(
                """SELECT id, ordinal, page, start, end, text, token_count, vector FROM chunks
                WHERE document_id=? ORDER BY ordinal""",
                (document_id,),
            ).fetchall()
        source, file, title, format_, content_hash, size, prepared_with, added_at = row
        vectors = self._stored_vectors([(c[0], c[7]) for c in chunks])
        return NewDocument(
            source=source,
            file=file,
            title=title,
            format=format_,
            content_hash=content_hash,
            size=size,
            pages=[Page(*page) for page in pages],
            chunks=[Chunk(*c[1:7]) for c in chunks],
            vectors=vectors.copy(),
            prepared_with=prepared_with,
            document_id=document_id,
            chunk_ids=tuple(c[0] for c in chunks),
            added_at=added_at,
        )

    def document_by_source(self, source: str) -> DocumentInfo | None:
        with self._read():
            row = self._db.execute(
                f"SELECT {_DOCUMENT_COLUMNS} FROM documents d WHERE d.source=?", (source,)
            ).fetchone()
        return DocumentInfo(*row) if row else None

    def documents(self) -> list[DocumentInfo]:
        with self._read():
            rows = self._db.execute(
                f"SELECT {_DOCUMENT_COLUMNS} FROM documents d ORDER BY d.file, d.id"
            ).fetchall()
        return [DocumentInfo(*row) for row in rows]

    def generation(self) -> int:
        with self._read():
            return self._generation()

    def find_documents(self, reference: str) -> list[DocumentInfo]:
        matches = []
        for document in self.documents():
            names = {document.file, Path(document.file).name, document.source, document.title}
            if reference == str(document.id) or reference in names:
                matches.append(document)
        return matches

    def page_chunk_ids(self, document_id: int, pages: Collection[int]) -> list[int]:
        numbers = sorted(pages)
        marks = ",".join("?" * len(numbers))
        with self._read():
            rows = self._db.execute(
                f"SELECT id FROM chunks WHERE document_id=? AND page IN ({marks}) ORDER BY id",
                [document_id, *numbers],
            ).fetchall()
        return [int(row[0]) for row in rows]

    def _allowed_chunk_ids(self, document_ids: list[int]) -> np.ndarray:
        marks = ",".join("?" * len(document_ids))
        rows = self._db.execute(
            f"SELECT id FROM chunks WHERE document_id IN ({marks}) ORDER BY id", document_ids
        ).fetchall()
        return np.array([row[0] for row in rows], dtype=np.int64)

    def search_dense(
        self, vector: np.ndarray, k: int, document_ids: list[int] | None = None
    ) -> list[Hit]:
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dimension)
        with self._read():
            self._sync_index(self._generation())
            allowed = None
            if document_ids is not None:
                allowed = self._allowed_chunk_ids(document_ids)
                if allowed.size == 0:
                    return []
            assert self._index is not None  # _sync_index made it
            scores, ids = self._index.search(query, k, allowed, self.plan)
        return [Hit(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]

    def search_lexical(
        self, query: str, k: int, document_ids: list[int] | None = None
    ) -> list[Hit]:
        match = lexical_query(query)
        if not match:
            return []
        sql = "SELECT f.rowid, bm25(chunks_fts) AS score FROM chunks_fts f"
        parameters: list[object] = [match]
        if document_ids is None:
            sql += " WHERE chunks_fts MATCH ?"
        else:  # the join costs a row lookup per match: only when filtering by document
            sql += " JOIN chunks c ON c.id = f.rowid WHERE chunks_fts MATCH ?"
            sql += f" AND c.document_id IN ({','.join('?' * len(document_ids))})"
            parameters.extend(document_ids)
        sql += " ORDER BY score, f.rowid LIMIT ?"
        parameters.append(k)
        with self._read():
            rows = self._db.execute(sql, parameters).fetchall()
        return [Hit(int(rowid), -float(score)) for rowid, score in rows]  # bm25(): lower is better

    def passages(self, chunk_ids: list[int]) -> list[Passage]:
        if not chunk_ids:
            return []
        marks = ",".join("?" * len(chunk_ids))
        with self._read():
            rows = self._db.execute(
                f"""SELECT c.id, c.document_id, d.title, d.file, c.page, c.start, c.end, c.text
                FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})""",
                chunk_ids,
            ).fetchall()
        by_id = {row[0]: row for row in rows}
        return [_passage(by_id[i]) for i in chunk_ids if i in by_id]

    def vectors(self, chunk_ids: list[int]) -> np.ndarray:
        marks = ",".join("?" * len(chunk_ids))
        with self._read():
            rows = dict(
                self._db.execute(f"SELECT id, vector FROM chunks WHERE id IN ({marks})", chunk_ids)
            )
        missing = [i for i in chunk_ids if i not in rows]
        if missing:
            raise KeyError(f"chunk ids not in the index: {missing}")
        return self._stored_vectors([(i, rows[i]) for i in chunk_ids])

    def page(self, document_id: int, page: int | None) -> Page:
        with self._read():
            row = self._db.execute(
                "SELECT number, text, raw_text FROM pages WHERE document_id=? AND number IS ?",
                (document_id, page),
            ).fetchone()
        if row is None:
            raise DocumentNotFoundError(f"document {document_id} has no page {page}")
        return Page(*row)

    def stats(self) -> StoreStats:
        with self._read():
            documents, pages = self._db.execute(
                "SELECT count(*), coalesce(sum(pages), 0) FROM documents"
            ).fetchone()
            chunks = self._chunk_count()
        return StoreStats(
            str(self.directory.resolve()),
            documents,
            pages,
            chunks,
            self.model,
            self.dimension,
            self._bytes_on_disk(),
        )

    def _bytes_on_disk(self) -> int:
        size = 0
        for path in self.directory.iterdir():
            # a temporary file that another process has just renamed or removed
            with contextlib.suppress(FileNotFoundError):
                size += path.stat().st_size if path.is_file() else 0
        return size

    # -- checking and repair (`rag check`) ------------------------------------------------------

    def check(self, repair: bool = False) -> StoreCheck:
        """SQLite's integrity, FTS5 against the chunk table, files left by crashes, the stored
        vectors, and the FAISS file against SQLite; with `repair`, rebuild FTS5 and the FAISS
        file from SQLite and remove the leftovers."""
        result = StoreCheck(repair)
        result.checked.append("sqlite")
        problems = self._sqlite_problems()
        if problems:
            result.readable = False
            result.found(
                "sqlite",
                "the database file is damaged: " + "; ".join(problems[:3]),
                "move the index folder away and ingest again",
            )
            return result
        result.checked.append("fts5")
        problem = self._lexical_index_problem()
        if problem:
            result.found("fts5", problem, "rebuild the FTS5 index", self._rebuild_lexical_index)
        result.checked.append("files")
        stale = self.stale_files()
        if stale:
            names = _names([path.name for path in stale])
            result.found(
                "files",
                f"files left by a crash or an older writer: {names}",
                "remove them",
                lambda: f"removed {len(self.remove_stale_files())} files",
            )
        result.checked.append("vectors")
        invalid = self._vector_problems()
        result.invalid_chunks = set(invalid)
        if invalid:
            sample = ", ".join(f"chunk {i}: {why}" for i, why in list(invalid.items())[:3])
            files = sorted({passage.file for passage in self.passages(list(invalid))})
            result.found(
                "vectors",
                f"{len(invalid)} stored vectors are invalid ({sample}) in {_names(files)}",
                "`rag remove` those documents and `rag ingest` them again",
            )
        result.checked.append("faiss")
        problem = self.faiss_file_problem()
        if problem:

            def rebuild() -> str:
                self.rebuild_faiss_file()
                return "rebuilt the FAISS file from SQLite"

            result.found(
                "faiss", problem, "rebuild it from SQLite (reading the index does too)", rebuild
            )
        return result

    def chunk_ids(self, document_ids: list[int] | None = None) -> list[int]:
        """The chunk ids of these documents (None: of all), ascending."""
        with self._read():
            if document_ids is None:
                return [int(i) for i in self._chunk_ids()]
            return [int(i) for i in self._allowed_chunk_ids(document_ids)]

    def _sqlite_problems(self) -> list[str]:
        """What SQLite's own integrity check finds wrong in the database file."""
        with self._read():
            rows = [row[0] for row in self._db.execute("PRAGMA integrity_check(10)")]
        return [] if rows == ["ok"] else rows

    def _lexical_index_problem(self) -> str | None:
        """Why the FTS5 index disagrees with the chunk table, if it does."""
        try:
            with self._write() as db:
                db.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES('integrity-check', 1)")
        except CorruptIndexError as error:
            return f"the FTS5 index disagrees with the chunk table ({error.__cause__})"
        return None

    def _rebuild_lexical_index(self) -> str:
        with self._write() as db:
            db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES('rebuild')")
        return "rebuilt the FTS5 index from the chunk table"

    def _vector_problems(self, tolerance: float = 1e-3) -> dict[int, str]:
        """Chunk id -> what is wrong with its stored vector: size, non-finite values or norm."""
        problems: dict[int, str] = {}
        row_bytes = self.dimension * 4
        with self._read():
            rows = self._db.execute("SELECT id, vector FROM chunks ORDER BY id")
            while batch := rows.fetchmany(4096):
                sized = []
                for chunk_id, blob in batch:
                    if len(blob) != row_bytes:
                        problems[chunk_id] = f"{len(blob)} bytes, not {row_bytes}"
                    else:
                        sized.append((chunk_id, blob))
                if not sized:
                    continue
                vectors = self._stored_vectors(sized)
                finite = np.isfinite(vectors).all(axis=1)
                norms = np.linalg.norm(np.where(np.isfinite(vectors), vectors, 0), axis=1)
                for (chunk_id, _), ok, norm in zip(sized, finite, norms, strict=True):
                    if not ok:
                        problems[chunk_id] = "values that are not finite numbers"
                    elif abs(norm - 1.0) > tolerance:
                        problems[chunk_id] = f"norm {norm:.3f}, not 1"
        return problems

    def faiss_file_problem(self) -> str | None:
        """Why the FAISS file that readers start from does not mirror SQLite, if it does not:
        missing, unreadable, of another kind or dimension, lacking ids, or (for an exact base,
        whose vectors are SQLite's own) holding other vectors."""
        with self._read():
            generation = self._generation()
            base_generation = self._base_generation(generation)
            if base_generation is None:
                return f"no FAISS file for generation {generation} or before"
            base, problem = self._load_index_file(base_generation)
            if base is None or kind_of(base) != FLAT:
                return problem  # an approximate base holds quantized vectors: ids only
            in_base = ids_of(base)
            rows = self._db.execute(
                "SELECT id, vector FROM chunks WHERE id <= ? ORDER BY id",
                (int(in_base.max(initial=0)),),
            ).fetchall()
            try:
                in_sqlite = self._stored_vectors(rows)
            except CorruptIndexError:
                return "cannot be compared: SQLite holds vectors of the wrong size"
        order = np.argsort(in_base)
        in_file = np.asarray(
            faiss.rev_swig_ptr(faiss.downcast_index(base.index).get_xb(), base.ntotal * base.d)
        ).reshape(base.ntotal, base.d)[order]
        still_stored = np.isin(in_base[order], [row[0] for row in rows])
        differing = ~np.isclose(in_file[still_stored], in_sqlite, atol=1e-6).all(axis=1)
        if differing.any():
            return f"its vectors differ from SQLite's for {int(differing.sum())} chunks"
        return None

    def rebuild_faiss_file(self) -> None:
        """Rebuild the FAISS base from SQLite and write its file for the current generation."""
        with self._lock:
            with self._read():
                generation = self._generation()
                self._index = LayeredIndex.over(
                    self._rebuild_index(), generation, self._max_chunk_id()
                )
                self._index_generation = generation
            self._dirty = True
            self.flush()

    def stale_files(self) -> list[Path]:
        """Files that no reader needs: FAISS bases older than the newest one at or before the
        current generation, and temporary files (a crash's, or those of a flush under way,
        which then leaves its base to be rebuilt)."""
        with self._read():
            generation = self._generation()
            keep = self._base_generation(generation)
        stale = []
        for candidate in self.directory.iterdir():
            base = _FAISS_FILE.match(candidate.name)
            temporary = _TEMPORARY_FILE.match(candidate.name)
            if (
                base
                and keep is not None
                and int(base.group(1)) < keep
                or temporary
                and int(temporary.group(1)) <= generation
            ):
                stale.append(candidate)
        return stale

    def remove_stale_files(self) -> list[Path]:
        """Remove the files `stale_files` names; return them."""
        stale = self.stale_files()
        for path in stale:
            path.unlink(missing_ok=True)
        return stale

    def close(self) -> None:
        with self._lock:
            self.flush()
            self._db.close()
