"""The store's vector index at small scale: the approximate kind above a (lowered) threshold,
memory-mapped bases, and additions that never rewrite the base file."""

from __future__ import annotations

import re
from pathlib import Path

import faiss
import numpy as np
import pytest
from conftest import settings_for

from rag.library import Library
from rag.records import Chunk, Page
from rag.store import NewDocument
from rag.store.sqlite_faiss import SqliteFaissStore
from rag.store.vector_index import FLAT, IVF, IndexPlan, kind_of

DIM = 16
SMALL = IndexPlan(ann_threshold=400, nprobe=8, mmap_from_bytes=0, delta_minimum=40)


def clustered(count: int, seed: int) -> np.ndarray:
    """Unit vectors around 20 centres, as real embeddings cluster by topic."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, DIM))
    vectors = centres[rng.integers(0, 20, count)] + 0.3 * rng.standard_normal((count, DIM))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def document(name: str, vectors: np.ndarray) -> NewDocument:
    texts = [f"{name} passage {i} about topic {i % 7}." for i in range(len(vectors))]
    page = " ".join(texts)
    chunks, cursor = [], 0
    for ordinal, text in enumerate(texts):
        start = page.index(text, cursor)
        chunks.append(Chunk(ordinal, 1, start, start + len(text), text, 6))
        cursor = start + len(text)
    return NewDocument(
        source=f"/lib/{name}.txt",
        file=f"{name}.txt",
        title=name,
        format="text",
        content_hash=name,
        size=len(page),
        pages=[Page(1, page, page)],
        chunks=chunks,
        vectors=vectors,
        prepared_with="test",
    )


def faiss_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("vectors.*.faiss"))


def open_store(folder: Path, plan: IndexPlan = SMALL, **kw) -> SqliteFaissStore:
    return SqliteFaissStore(folder, "test-model", DIM, plan=plan, **kw)


def fill(store: SqliteFaissStore, documents: int, per_document: int, seed: int) -> np.ndarray:
    vectors = clustered(documents * per_document, seed)
    for number in range(documents):
        rows = vectors[number * per_document : (number + 1) * per_document]
        store.put_document(document(f"doc{seed}-{number}", rows))
    return vectors


def test_large_index_is_approximate_memory_mapped_and_recalls_exact_results(tmp_path):
    store = open_store(tmp_path / "index")
    fill(store, documents=10, per_document=60, seed=1)
    store.close()
    reader = open_store(tmp_path / "index", create=False)
    (base,) = faiss_files(tmp_path / "index")
    loaded = faiss.read_index(str(base))
    assert kind_of(loaded) == IVF and loaded.ntotal == 600
    queries = clustered(30, seed=9)
    exact = open_store(tmp_path / "exact", plan=IndexPlan())
    fill(exact, documents=10, per_document=60, seed=1)
    recall = np.mean(
        [
            len(
                {h.chunk_id for h in reader.search_dense(q, 10)}
                & {h.chunk_id for h in exact.search_dense(q, 10)}
            )
            / 10
            for q in queries
        ]
    )
    assert recall >= 0.9
    assert not reader._dirty  # the base came from its file, memory-mapped (mmap_from_bytes=0)
    only = reader.find_documents("doc1-3.txt")[0]
    hits = reader.search_dense(queries[0], 10, document_ids=[only.id])
    assert hits and {p.file for p in reader.passages([h.chunk_id for h in hits])} == {"doc1-3.txt"}
    reader.close()
    exact.close()


def test_small_index_stays_exact(tmp_path):
    store = open_store(tmp_path / "index")
    fill(store, documents=3, per_document=20, seed=2)
    store.close()
    (base,) = faiss_files(tmp_path / "index")
    assert kind_of(faiss.read_index(str(base))) == FLAT


def test_adding_or_removing_a_document_leaves_the_base_file_alone(tmp_path):
    folder = tmp_path / "index"
    store = open_store(folder)
    fill(store, documents=10, per_document=60, seed=3)
    store.close()
    (base,) = faiss_files(folder)
    stamp = base.stat().st_mtime_ns

    writer = open_store(folder, plan=IndexPlan(400, 8, 0, delta_minimum=100))  # 65 changes: few
    added = writer.put_document(document("late", clustered(5, seed=4)))
    gone = writer.find_documents("doc3-0.txt")[0]
    writer.remove_document(gone.id)
    writer.close()
    assert faiss_files(folder) == [base] and base.stat().st_mtime_ns == stamp

    reader = open_store(folder, create=False)
    late_vector = clustered(5, seed=4)[0]
    top = reader.search_dense(late_vector, 1)[0]
    assert reader.passages([top.chunk_id])[0].file == "late.txt"
    assert top.score == pytest.approx(1.0, abs=1e-5)  # the delta layer is exact
    found = {
        p.file for p in reader.passages([h.chunk_id for h in reader.search_dense(late_vector, 600)])
    }
    assert "doc3-0.txt" not in found and added.chunks == 5
    assert reader.stats().chunks == 600 - 60 + 5
    reader.close()


def test_a_new_base_is_written_once_the_layers_outgrow_the_old_one(tmp_path):
    folder = tmp_path / "index"
    store = open_store(folder)
    fill(store, documents=10, per_document=60, seed=5)
    store.close()
    (first,) = faiss_files(folder)
    writer = open_store(folder)
    fill(writer, documents=1, per_document=60, seed=6)  # 60 > delta_minimum 40 and 5% of 600
    writer.close()
    (second,) = faiss_files(folder)
    assert second != first
    reader = open_store(folder, create=False)
    assert len(reader.search_dense(clustered(1, seed=7)[0], 5)) == 5
    assert (
        reader._index is not None
        and reader._index.changes == 0
        and not reader._dirty
        and reader.stats().chunks == 660
    )
    reader.close()


def test_library_takes_the_threshold_from_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_FAISS__NPROBE", "3")
    library = Library(settings_for(tmp_path / "index", faiss={"ann_threshold": 7}))
    try:
        store = library.store(create=True)
        assert isinstance(store, SqliteFaissStore)
        assert (store.plan.ann_threshold, store.plan.nprobe) == (7, 3)
    finally:
        library.close()


def test_per_question_statements_use_indexes_never_a_table_scan(tmp_path):
    store = open_store(tmp_path / "index", plan=IndexPlan())
    fill(store, documents=3, per_document=20, seed=8)
    document_info = store.documents()[0]
    query = clustered(1, seed=9)[0]
    store.search_dense(query, 5)  # the first search loads the vectors: a whole pass, once
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    hits = store.search_dense(query, 5, document_ids=[document_info.id])
    store.search_lexical("passage about topic", 5)
    store.search_lexical("passage about topic", 5, document_ids=[document_info.id])
    ids = [hit.chunk_id for hit in hits]
    store.passages(ids)
    store.vectors(ids)
    store.document_by_source(document_info.source)
    store.page(document_info.id, 1)
    store._db.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) >= 8
    for statement in selects:
        plan = [row[3] for row in store._db.execute("EXPLAIN QUERY PLAN " + statement)]
        scans = [step for step in plan if re.match(r"SCAN (c|d|chunks|documents|pages)\b", step)]
        assert not scans, (statement, plan)
    store.close()
