"""The SQLite + FAISS store: the protocol's conformance suite, then this backend's own guarantees."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from rag.store.sqlite_faiss import SqliteFaissStore, lexical_query
from rag.store.testing import DIM, MODEL, DocumentStoreTests, StoreOpener, unit
from rag.store.testing import make_document as document


def open_sqlite_faiss(directory: Path, model: str = MODEL, dimension: int | None = DIM, **kw):
    return SqliteFaissStore(directory, model, dimension, **kw)


class TestSqliteFaissStore(DocumentStoreTests):
    @pytest.fixture
    def open_store(self, tmp_path: Path) -> StoreOpener:
        def opener(*, model: str = MODEL, dimension: int | None = DIM, create: bool = True):
            return SqliteFaissStore(tmp_path / "index", model, dimension, create=create)

        return opener


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
