"""Conformance suite for the document-store protocol; every store implementation must pass."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexMismatchError, MissingIndexError
from rag.records import Chunk, Page
from rag.store import NewDocument
from rag.store.sqlite_faiss import SqliteFaissStore, lexical_query

DIM = 8


def open_sqlite_faiss(directory: Path, model: str = "test-model", dimension: int = DIM, **kw):
    return SqliteFaissStore(directory, model, dimension, **kw)


STORES = [pytest.param(open_sqlite_faiss, id="sqlite_faiss")]


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def document(source: str, texts: list[str], seed: int = 0, content_hash: str = "h1") -> NewDocument:
    page_text = " ".join(texts)
    chunks, cursor = [], 0
    for ordinal, text in enumerate(texts):
        start = page_text.index(text, cursor)
        chunks.append(Chunk(ordinal, 1, start, start + len(text), text, len(text.split())))
        cursor = start + len(text)
    vectors = np.stack([unit(seed + i) for i in range(len(texts))])
    return NewDocument(
        source=source,
        file=Path(source).name,
        title=f"Title of {Path(source).stem}",
        format="text",
        content_hash=content_hash,
        size=len(page_text),
        pages=[Page(1, page_text, page_text)],
        chunks=chunks,
        vectors=vectors,
        prepared_with="chunks of 8 words",
    )


@pytest.fixture(params=STORES)
def open_store(request, tmp_path):
    opened = []

    def factory(**kw):
        store = request.param(tmp_path / "index", **kw)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        with contextlib.suppress(Exception):
            store.close()


def test_put_then_search_dense_and_lexical(open_store):
    store = open_store()
    info = store.put_document(
        document("/lib/ports.txt", ["Callao is a port.", "Paita lies north."], seed=1)
    )
    assert (info.chunks, info.pages, info.file) == (2, 1, "ports.txt")
    hits = store.search_dense(unit(2), k=2)
    assert hits[0].chunk_id == store.passages([h.chunk_id for h in hits])[0].chunk_id
    assert store.passages([hits[0].chunk_id])[0].text == "Paita lies north."
    lexical = store.search_lexical("Which ports?", k=5)  # porter stemming: ports -> port
    assert [store.passages([h.chunk_id])[0].text for h in lexical] == ["Callao is a port."]


def test_replacing_a_document_swaps_its_chunks_atomically(open_store):
    store = open_store()
    first = store.put_document(document("/lib/a.txt", ["Old text one.", "Old text two."], seed=1))
    second = store.put_document(document("/lib/a.txt", ["New text."], seed=5, content_hash="h2"))
    assert [d.id for d in store.documents()] == [second.id] != [first.id]
    assert store.stats().chunks == 1
    assert store.search_lexical("old", k=5) == []
    assert [h.chunk_id for h in store.search_dense(unit(1), k=5)] == [
        h.chunk_id for h in store.search_lexical("new", k=5)
    ]


def test_remove_deletes_from_sqlite_faiss_and_fts(open_store):
    store = open_store()
    keep = store.put_document(document("/lib/keep.txt", ["Keep this."], seed=1))
    gone = store.put_document(document("/lib/gone.txt", ["Remove this."], seed=2))
    store.remove_document(gone.id)
    assert [d.id for d in store.documents()] == [keep.id]
    assert store.search_lexical("remove", k=5) == []
    assert len(store.search_dense(unit(2), k=5)) == 1


def test_filter_by_document(open_store):
    store = open_store()
    a = store.put_document(document("/lib/a.txt", ["Port of Callao."], seed=1))
    b = store.put_document(document("/lib/b.txt", ["Port of Paita."], seed=2))
    assert {h.chunk_id for h in store.search_dense(unit(1), k=5, document_ids=[b.id])} == {
        h.chunk_id for h in store.search_lexical("port", k=5, document_ids=[b.id])
    }
    assert len(store.search_lexical("port", k=5, document_ids=[a.id, b.id])) == 2


def test_documents_keep_how_they_were_prepared(open_store):
    store = open_store()
    stored = store.put_document(document("/lib/a.txt", ["Some text."]))
    assert stored.prepared_with == "chunks of 8 words"
    assert store.document_by_source("/lib/a.txt").prepared_with == "chunks of 8 words"
    assert [d.prepared_with for d in store.documents()] == ["chunks of 8 words"]


def test_persists_and_reopens(open_store, tmp_path):
    store = open_store()
    store.put_document(document("/lib/a.txt", ["Persistent words."], seed=3))
    store.close()
    reopened = open_store(create=False)
    assert reopened.search_dense(unit(3), k=1)[0].score == pytest.approx(1.0, abs=1e-5)
    assert reopened.find_documents("a.txt")[0].title == "Title of a"


def test_refuses_another_model_or_dimension(open_store):
    store = open_store()
    store.put_document(document("/lib/a.txt", ["Words."]))
    store.close()
    with pytest.raises(IndexMismatchError, match="test-model"):
        open_store(model="other-model")
    with pytest.raises(IndexMismatchError):
        open_store(dimension=DIM * 2)


def test_missing_index_is_reported(open_store):
    with pytest.raises(MissingIndexError, match="rag ingest"):
        open_store(create=False)


def test_failed_write_leaves_previous_state(open_store):
    store = open_store()
    store.put_document(document("/lib/a.txt", ["Original text."], seed=1))
    broken = document("/lib/a.txt", ["Replacement text."], seed=2)
    broken = NewDocument(**{**vars(broken), "vectors": np.zeros((3, DIM), np.float32)})
    with pytest.raises(ValueError):
        store.put_document(broken)
    assert [
        p.text for p in store.passages([h.chunk_id for h in store.search_lexical("original", 5)])
    ] == ["Original text."]


# -- the SQLite + FAISS store's own guarantees -------------------------------------------------


def test_faiss_file_missing_or_damaged_is_rebuilt_from_sqlite(tmp_path):
    store = open_sqlite_faiss(tmp_path / "index")
    store.put_document(document("/lib/a.txt", ["Alpha.", "Beta."], seed=1))
    store.close()
    faiss_files = list((tmp_path / "index").glob("vectors.*.faiss"))
    assert len(faiss_files) == 1
    faiss_files[0].write_bytes(b"not a faiss index")
    reopened = open_sqlite_faiss(tmp_path / "index")
    assert reopened.search_dense(unit(2), k=1)[0].score == pytest.approx(1.0, abs=1e-5)
    faiss_files[0].unlink()
    reopened.close()
    again = open_sqlite_faiss(tmp_path / "index")
    assert len(again.search_dense(unit(1), k=5)) == 2
    again.close()


def test_a_reader_sees_a_writers_committed_changes(tmp_path):
    writer = open_sqlite_faiss(tmp_path / "index")
    reader = open_sqlite_faiss(tmp_path / "index", create=False)
    assert reader.search_dense(unit(1), k=5) == []
    writer.put_document(document("/lib/a.txt", ["Fresh."], seed=1))  # not yet flushed
    assert len(reader.search_dense(unit(1), k=5)) == 1
    writer.close()
    reader.close()


def test_lexical_query_quotes_words_and_drops_stopwords():
    assert lexical_query('What is "AND" the NEAR port*?') == '"near" OR "port"'
    assert lexical_query("the of and") == ""


def test_a_version_1_index_is_upgraded_and_its_documents_marked_unprepared(tmp_path):
    store = open_sqlite_faiss(tmp_path / "index")
    store.put_document(document("/lib/a.txt", ["Old words."], seed=3))
    store.close()
    with sqlite3.connect(tmp_path / "index" / "library.sqlite") as db:  # as version 1 wrote it
        db.execute("ALTER TABLE documents DROP COLUMN prepared_with")
        db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    db.close()
    upgraded = open_sqlite_faiss(tmp_path / "index", create=False)
    try:
        assert [d.prepared_with for d in upgraded.documents()] == [""]
        assert upgraded.search_dense(unit(3), k=1)[0].score == pytest.approx(1.0, abs=1e-5)
        upgraded.put_document(document("/lib/a.txt", ["New words."], seed=4, content_hash="h2"))
        assert upgraded.document_by_source("/lib/a.txt").prepared_with == "chunks of 8 words"
    finally:
        upgraded.close()
    again = open_sqlite_faiss(tmp_path / "index", create=False)  # upgraded once, not twice
    assert again.stats().documents == 1
    again.close()
