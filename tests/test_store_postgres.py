"""The PostgreSQL store against a real server: the protocol's conformance suite, then its own
guarantees (one-line errors, the HNSW and GIN indexes in use, `rag check`)."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import psycopg
import pytest
from conftest import ROOT
from reliability import rag_command

from rag.errors import MissingIndexError, StoreUnavailableError
from rag.settings import PostgresSettings, load_settings
from rag.store import NewDocument, open_store
from rag.store.postgres import PostgresStore
from rag.store.testing import (
    DIM,
    MODEL,
    DocumentStoreTests,
    StoreOpener,
    assert_bm25,
    make_document,
    unit,
)


@pytest.fixture
def database(postgres_database: str) -> str:
    return postgres_database


class TestPostgresStore(DocumentStoreTests):
    @pytest.fixture
    def open_store(self, database: str) -> StoreOpener:
        def opener(*, model: str = MODEL, dimension: int | None = DIM, create: bool = True):
            return PostgresStore(database, model, dimension, create=create)

        return opener


def test_open_store_picks_postgres_by_url(database: str) -> None:
    settings = load_settings(store=database)
    store = open_store(settings, MODEL, DIM, create=True)
    try:
        assert isinstance(store, PostgresStore)
        assert store.stats().location == database
    finally:
        store.close()


def test_an_unreachable_server_is_one_line(tmp_path) -> None:
    url = f"postgresql://nobody:secret@/nothing?host={tmp_path}&port=5999"
    with pytest.raises(StoreUnavailableError) as raised:
        PostgresStore(url, MODEL, DIM, create=True)
    message = str(raised.value)
    assert "cannot reach the PostgreSQL server" in message and "\n" not in message
    assert "secret" not in message and "nobody:***@" in message


def test_the_cli_names_an_unreachable_server_in_one_line(tmp_path) -> None:
    url = f"postgresql://nobody:secret@/nothing?host={tmp_path}"
    ran = subprocess.run(
        rag_command("status", "--store", url), cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 1 and ran.stdout == ""
    assert ran.stderr.startswith("rag: error: cannot reach the PostgreSQL server of ")
    assert ran.stderr.count("\n") == 1 and "secret" not in ran.stderr


def test_index_on_the_command_line_wins_over_rag_store(tmp_path) -> None:
    environment = {**os.environ, "RAG_STORE": f"postgresql://nobody@/x?host={tmp_path}"}
    ran = subprocess.run(
        rag_command("status", "--index", str(tmp_path / "folder")),
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 1 and "no index at" in ran.stderr, ran.stderr


def test_an_empty_database_is_no_library(database: str) -> None:
    with pytest.raises(MissingIndexError, match="rag ingest --store"):
        PostgresStore(database, MODEL, create=False)


def test_a_server_without_pgvector_is_named(database: str, monkeypatch) -> None:
    store = PostgresStore(database, MODEL, DIM, create=True)
    store.close()
    with psycopg.connect(database, autocommit=True) as db:
        db.execute("DROP TABLE rag_chunks, rag_pages, rag_documents, rag_meta")
        db.execute("DROP EXTENSION vector")
        db.execute("CREATE ROLE plain_user LOGIN")
        db.execute("GRANT ALL ON SCHEMA public TO plain_user")
    plain = database.replace("postgres:", "plain_user:", 1)
    assert plain != database
    with pytest.raises(StoreUnavailableError, match="CREATE EXTENSION vector"):
        PostgresStore(plain, MODEL, DIM, create=True)


def query_plan(db: psycopg.Connection, query: str, params: tuple = ()) -> str:
    """PostgreSQL's plan for a query, as one line."""
    return " ".join(row[0] for row in db.execute(f"EXPLAIN {query}", params))


def dense_search_plan(db: psycopg.Connection) -> str:
    return query_plan(
        db,
        "SELECT id FROM rag_chunks ORDER BY embedding <#> %s::vector LIMIT 5",
        (str(unit(1).tolist()),),
    )


def test_searches_use_the_hnsw_and_gin_indexes(database: str) -> None:
    store = PostgresStore(database, MODEL, DIM, create=True)
    try:
        for i in range(40):
            store.put_document(make_document(f"/lib/{i}.txt", [f"Port number {i}."], seed=i))
        with psycopg.connect(database, autocommit=True) as db:
            db.execute("SET enable_seqscan = off")  # as on a large table
            db.execute("ANALYZE rag_chunks")
            assert "rag_chunks_embedding" in (plan := dense_search_plan(db)), plan
            plan = query_plan(db, "SELECT id FROM rag_chunks WHERE terms ?| ARRAY['port']")
            assert "rag_chunks_terms" in plan, plan
        assert len(store.search_dense(unit(3), k=40)) == 40
    finally:
        store.close()


def test_two_questions_get_their_own_lexical_results(database: str) -> None:
    store = PostgresStore(database, MODEL, DIM, create=True)
    try:
        store.put_document(make_document("/lib/a.txt", ["Copper left Callao.", "Tin left Paita."]))
        copper = store.passages([h.chunk_id for h in store.search_lexical("copper?", 5)])
        tin = store.passages([h.chunk_id for h in store.search_lexical("How much tin?", 5)])
        assert [p.text for p in copper] == ["Copper left Callao."]
        assert [p.text for p in tin] == ["Tin left Paita."]
    finally:
        store.close()


def test_check_finds_and_repairs_a_dropped_index_and_bad_vectors(database: str) -> None:
    store = PostgresStore(database, MODEL, DIM, create=True)
    try:
        store.put_document(make_document("/lib/a.txt", ["Alpha.", "Beta."], seed=1))
        with psycopg.connect(database, autocommit=True) as db:
            db.execute("DROP INDEX rag_chunks_embedding")
            db.execute(
                "UPDATE rag_chunks SET embedding = %s::vector WHERE ordinal = 1",
                (str((2 * unit(5)).tolist()),),
            )
        found = {f.check: f for f in store.check().findings}
        assert set(found) == {"indexes", "vectors"}
        assert "rag_chunks_embedding" in found["indexes"].problem
        assert "norm 2.000, not 1" in found["vectors"].problem
        assert "a.txt" in found["vectors"].problem
        repaired = store.check(repair=True)
        assert [f.check for f in repaired.findings if f.repaired] == ["indexes"]
        assert len(repaired.invalid_chunks) == 1
        assert [f.check for f in store.check().findings] == ["vectors"]
        hits = store.search_dense(unit(1), k=1)
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    finally:
        store.close()


def test_check_finds_and_recounts_wrong_term_totals(database: str) -> None:
    store = PostgresStore(database, MODEL, DIM, create=True)
    try:
        store.put_document(make_document("/lib/a.txt", ["Alpha port.", "Beta port."], seed=1))
        before = store.search_lexical("alpha port", 5)
        with psycopg.connect(database, autocommit=True) as db:
            db.execute("UPDATE rag_term_totals SET chunks = 7")
        assert [f.check for f in store.check().findings] == ["terms"]
        assert store.search_lexical("alpha port", 5) != before
        assert [f.check for f in store.check(repair=True).findings if f.repaired] == ["terms"]
        assert store.check().findings == []
        assert store.search_lexical("alpha port", 5) == before
    finally:
        store.close()


def test_a_library_of_layout_1_is_upgraded_in_place(database: str) -> None:
    """Layout 1 ranked words with an English tsvector; opening it gives each chunk its terms."""
    store = PostgresStore(database, MODEL, DIM, create=True)
    texts = ["Technology ports ship copper.", "A port policy.", "Policies on technology."]
    store.put_document(make_document("/lib/a.txt", texts))
    expected = store.search_lexical("technology port policies", 5)
    store.close()
    with psycopg.connect(database, autocommit=True) as db:  # as version 1 made it
        db.execute("DROP TABLE rag_term_totals")
        db.execute("DROP FUNCTION rag_count_terms CASCADE")
        db.execute("ALTER TABLE rag_chunks DROP COLUMN terms, DROP COLUMN term_count")
        db.execute(
            "ALTER TABLE rag_chunks ADD COLUMN lexemes tsvector "
            "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
        )
        db.execute("UPDATE rag_meta SET value = '1' WHERE key = 'schema_version'")
    store = PostgresStore(database, MODEL, create=False)
    try:
        assert store.search_lexical("technology port policies", 5) == expected
        assert store.check().findings == []
        store.put_document(make_document("/lib/b.txt", ["Copper."], seed=4))
        assert_bm25(store, "technology port copper")
    finally:
        store.close()


def test_vectors_round_trip_exactly(database: str) -> None:
    store = PostgresStore(database, MODEL, DIM, create=True)
    try:
        document = make_document("/lib/a.txt", ["One.", "Two.", "Three."], seed=11)
        store.put_document(document)
        assert np.array_equal(store.vectors(store.chunk_ids()), document.vectors)
    finally:
        store.close()


def test_a_dropped_connection_fails_one_call_then_reconnects(database: str) -> None:
    store = PostgresStore(database, MODEL, DIM, create=True)
    try:
        store.put_document(make_document("/lib/a.txt", ["Alpha."], seed=1))
        with psycopg.connect(database, autocommit=True) as admin:  # as a server restart would
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(StoreUnavailableError, match="failed") as raised:
            store.documents()
        assert "\n" not in str(raised.value)
        assert [d.file for d in store.documents()] == ["a.txt"]
        store.put_document(make_document("/lib/b.txt", ["Beta."], seed=2))
        assert len(store.search_dense(unit(1), k=5)) == 2
    finally:
        store.close()


WORDS = "port copper tin policy ship cargo fee lima callao paita coast trade tax route".split()


def library_documents(count: int = 30, per_document: int = 5) -> list[NewDocument]:
    """Documents of random sentences over a few words, with fixed dates (to compare stores)."""
    rng = np.random.default_rng(3)
    documents = []
    for number in range(count):
        texts = [
            " ".join(rng.choice(WORDS, int(rng.integers(4, 12)))).capitalize() + f" {number}-{i}."
            for i in range(per_document)
        ]
        document = make_document(f"/lib/{number}.txt", texts, seed=number * per_document)
        documents.append(replace(document, added_at="2026-11-29T09:00:00+00:00"))
    return documents


def test_a_bulk_loaded_library_answers_as_one_written_a_document_at_a_time(
    database: str, another_postgres_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = PostgresSettings(exact_below=0)  # the HNSW index, not an exact scan
    one_by_one = PostgresStore(database, MODEL, DIM, create=True, config=config)
    bulk = PostgresStore(another_postgres_database, MODEL, DIM, create=True, config=config)
    try:
        documents = library_documents()
        for document in documents:
            one_by_one.put_document(document)
        with caplog.at_level(logging.INFO, logger="rag.store.postgres"):
            stored = bulk.put_documents(iter(documents))
        (record,) = [r for r in caplog.records if hasattr(r, "indexes_s")]
        assert "indexes over 150 chunks built" in record.getMessage()
        assert [d.file for d in stored] == [d.file for d in documents]
        assert sorted(stored, key=lambda d: (d.file, d.id)) == bulk.documents()
        assert bulk.documents() == one_by_one.documents()
        ids = one_by_one.chunk_ids()
        assert bulk.chunk_ids() == ids
        assert bulk.passages(ids) == one_by_one.passages(ids)
        assert np.array_equal(bulk.vectors(ids), one_by_one.vectors(ids))
        some = [d.id for d in stored[::4]]
        for seed in range(100, 110):
            assert bulk.search_dense(unit(seed), 10) == one_by_one.search_dense(unit(seed), 10)
            assert bulk.search_dense(unit(seed), 5, some) == one_by_one.search_dense(
                unit(seed), 5, some
            )
        for question in ("copper port policy", "Which ships pay the fee at Callao?", "tin 7-3"):
            assert bulk.search_lexical(question, 20) == one_by_one.search_lexical(question, 20)
            assert bulk.search_lexical(question, 5, some) == one_by_one.search_lexical(
                question, 5, some
            )
        assert_bm25(bulk, "copper port policy", some)  # (at most 100 hits)
        for store in (one_by_one, bulk):
            assert store.check().findings == []
        with psycopg.connect(another_postgres_database, autocommit=True) as db:
            db.execute("SET enable_seqscan = off")  # as on a large table
            assert "rag_chunks_embedding" in (plan := dense_search_plan(db)), plan
    finally:
        one_by_one.close()
        bulk.close()


def test_readers_wait_for_a_bulk_load_which_is_all_or_nothing(database: str) -> None:
    store = PostgresStore(database, MODEL, DIM, create=True)
    try:
        first = store.put_document(make_document("/lib/a.txt", ["Alpha port."], seed=1))
        seen: list[set[str]] = []

        def documents(broken: bool) -> Iterator[NewDocument]:
            yield make_document("/lib/b.txt", ["Beta port."], seed=2)
            with psycopg.connect(database, autocommit=True) as reader:
                reader.execute("SET lock_timeout = '200ms'")
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    reader.execute("SELECT count(*) FROM rag_chunks")  # waits for the commit
            with psycopg.connect(database, autocommit=True) as reader:
                seen.append(
                    {
                        row[0]
                        for row in reader.execute(
                            "SELECT indexname FROM pg_indexes WHERE tablename = 'rag_chunks'"
                        )
                    }
                )
            if broken:
                raise ValueError("the source of the documents failed")
            yield make_document("/lib/c.txt", ["Gamma port."], seed=3)

        with pytest.raises(ValueError, match="source of the documents"):
            store.put_documents(documents(broken=True))
        assert store.documents() == [first]
        assert store.check().findings == []
        assert [h.chunk_id for h in store.search_lexical("port", 5)] == store.chunk_ids()
        assert [d.file for d in store.put_documents(documents(broken=False))] == ["b.txt", "c.txt"]
        assert len(store.search_lexical("port", 5)) == 3
        assert store.check().findings == []
        assert seen[0] == seen[1] and {"rag_chunks_embedding", "rag_chunks_terms"} <= seen[0]
    finally:
        store.close()
