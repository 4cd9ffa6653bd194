"""The conformance suite of the `DocumentStore` protocol: every backend passes these classes.

A backend's test module subclasses them and gives them an `open_store` fixture: a callable
`open_store(model=MODEL, dimension=DIM, create=True) -> DocumentStore` that opens a store at one
location kept for the whole test (empty at its start), so that opening it again reaches the same
data (a second connection, as a second process would have). The suite closes what it opens.

    class TestMyStore(DocumentStoreTests):
        @pytest.fixture
        def open_store(self, tmp_path): ...

(Haystack's `haystack/testing/document_store.py` pattern.) Backend-specific behaviour is tested in
the backend's own test file.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np
import pytest

from rag.errors import DocumentNotFoundError, IndexMismatchError, MissingIndexError
from rag.records import Chunk, Page
from rag.store import DocumentStore, NewDocument
from rag.text import content_words, lexical_terms

DIM = 8
MODEL = "test-model"


class StoreOpener(Protocol):
    def __call__(
        self, *, model: str = MODEL, dimension: int | None = DIM, create: bool = True
    ) -> DocumentStore: ...


def unit(seed: int, dimension: int = DIM) -> np.ndarray:
    """A random unit vector, the same for the same seed."""
    vector = np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)
    return vector / np.linalg.norm(vector)


def make_document(
    source: str,
    texts: list[str],
    seed: int = 0,
    content_hash: str = "h1",
    pages: int = 1,
) -> NewDocument:
    """A document whose chunks are `texts`, spread over `pages` numbered pages, with the
    vectors unit(seed), unit(seed + 1), ..."""
    per_page = [texts[i::pages] for i in range(pages)]
    page_records, chunks = [], []
    for number, page_texts in enumerate(per_page, 1):
        page_text = " ".join(page_texts)
        page_records.append(Page(number if pages > 1 else None, page_text, page_text))
        cursor = 0
        for text in page_texts:
            start = page_text.index(text, cursor)
            cursor = start + len(text)
            chunks.append((texts.index(text), number if pages > 1 else None, start, text))
    chunks.sort()
    return NewDocument(
        source=source,
        file=Path(source).name,
        title=f"Title of {Path(source).stem}",
        format="text",
        content_hash=content_hash,
        size=sum(len(t) for t in texts),
        pages=page_records,
        chunks=[
            Chunk(ordinal, page, start, start + len(text), text, len(text.split()))
            for ordinal, page, start, text in chunks
        ],
        vectors=np.stack([unit(seed + i) for i in range(len(texts))]).reshape(-1, DIM),
        prepared_with="chunks of 8 words",
    )


def bm25_scores(chunks: list[str], question: str) -> list[float]:
    """SQLite FTS5's bm25() of each chunk for the content words of `question` (k1 = 1.2,
    b = 0.75; each word a phrase; IDF floored at 1e-6), in FTS5's order of operations."""
    terms = lexical_terms(chunks)
    phrases = [t for word in lexical_terms(content_words(question)) for t in word]
    average = sum(len(t) for t in terms) / len(terms)
    idf = []
    for phrase in phrases:
        hits = sum(phrase in t for t in terms)
        x = math.log((len(terms) - hits + 0.5) / (hits + 0.5))
        idf.append(x if x > 0 else 1e-6)
    scores = []
    for chunk_terms in terms:
        score = 0.0
        for phrase, weight in zip(phrases, idf, strict=True):
            tf = float(chunk_terms.count(phrase))
            score += weight * (
                (tf * (1.2 + 1.0)) / (tf + 1.2 * (1 - 0.75 + 0.75 * len(chunk_terms) / average))
            )
        scores.append(score)
    return scores


def assert_bm25(store: DocumentStore, question: str, document_ids: list[int] | None = None) -> None:
    """The store's lexical hits are the chunks with a query term, ranked by `bm25_scores`
    (ties by chunk id), with those scores."""
    with store.snapshot():
        ids = store.chunk_ids()
        passages = store.passages(ids)
        hits = store.search_lexical(question, k=100, document_ids=document_ids)
    scores = bm25_scores([p.text for p in passages], question)
    expected = sorted(
        (
            (-score, p.chunk_id)
            for p, score in zip(passages, scores, strict=True)
            if score > 0 and (document_ids is None or p.document_id in document_ids)
        ),
    )
    assert [h.chunk_id for h in hits] == [i for _, i in expected]
    assert [h.score for h in hits] == pytest.approx([-s for s, _ in expected], rel=1e-12)


class _Opened:
    """Every store a test opened, closed at its end."""

    @pytest.fixture
    def opened(self, open_store: StoreOpener) -> Iterator[StoreOpener]:
        stores: list[DocumentStore] = []

        def opener(
            *, model: str = MODEL, dimension: int | None = DIM, create: bool = True
        ) -> DocumentStore:
            store = open_store(model=model, dimension=dimension, create=create)
            stores.append(store)
            return store

        yield opener
        for store in reversed(stores):
            store.close()

    @pytest.fixture
    def store(self, opened: StoreOpener) -> DocumentStore:
        return opened()


class WritingTests(_Opened):
    """Putting, replacing and removing documents."""

    def test_put_then_search_dense_and_lexical(self, store: DocumentStore) -> None:
        info = store.put_document(
            make_document("/lib/ports.txt", ["Callao is a port.", "Paita lies north."], seed=1)
        )
        assert (info.chunks, info.pages, info.file, info.title) == (
            2,
            1,
            "ports.txt",
            "Title of ports",
        )
        hits = store.search_dense(unit(2), k=2)
        assert [p.text for p in store.passages([h.chunk_id for h in hits])] == [
            "Paita lies north.",
            "Callao is a port.",
        ]
        assert hits[0].score == pytest.approx(1.0, abs=1e-5) and hits[0].score > hits[1].score
        lexical = store.search_lexical("Which ports?", k=5)  # stemmed: ports -> port
        assert [p.text for p in store.passages([h.chunk_id for h in lexical])] == [
            "Callao is a port."
        ]

    def test_replacing_a_document_swaps_its_chunks_atomically(self, store: DocumentStore) -> None:
        first = store.put_document(
            make_document("/lib/a.txt", ["Old text one.", "Old text two."], seed=1)
        )
        second = store.put_document(
            make_document("/lib/a.txt", ["New text."], seed=5, content_hash="h2")
        )
        assert [d.id for d in store.documents()] == [second.id] != [first.id]
        assert store.document_by_source("/lib/a.txt") == second
        assert second.content_hash == "h2" and store.stats().chunks == 1
        assert store.search_lexical("old", k=5) == []
        assert [h.chunk_id for h in store.search_dense(unit(1), k=5)] == [
            h.chunk_id for h in store.search_lexical("new", k=5)
        ]
        with pytest.raises(DocumentNotFoundError):
            store.document(first.id)

    def test_a_failed_write_leaves_the_previous_version(self, store: DocumentStore) -> None:
        store.put_document(make_document("/lib/a.txt", ["Original text."], seed=1))
        good = make_document("/lib/a.txt", ["Replacement text.", "More."], seed=2)
        broken = NewDocument(**{**vars(good), "vectors": good.vectors[:1]})  # 1 vector, 2 chunks
        with pytest.raises(ValueError):
            store.put_document(broken)
        hits = store.search_lexical("original", 5)
        assert [p.text for p in store.passages([h.chunk_id for h in hits])] == ["Original text."]
        assert store.search_lexical("replacement", 5) == []
        assert store.stats().chunks == 1

    def test_remove_deletes_chunks_from_every_search(self, store: DocumentStore) -> None:
        keep = store.put_document(make_document("/lib/keep.txt", ["Keep this."], seed=1))
        gone = store.put_document(make_document("/lib/gone.txt", ["Remove this."], seed=2))
        gone_chunks = store.chunk_ids([gone.id])
        store.remove_document(gone.id)
        assert [d.id for d in store.documents()] == [keep.id]
        assert store.search_lexical("remove", k=5) == []
        assert [h.chunk_id for h in store.search_dense(unit(2), k=5)] == store.chunk_ids()
        assert store.passages(gone_chunks) == []
        assert store.stats().documents == 1

    def test_removing_an_unknown_id_says_so_and_changes_nothing(self, store: DocumentStore) -> None:
        store.put_document(make_document("/lib/a.txt", ["Words."]))
        with pytest.raises(DocumentNotFoundError, match="12345"):
            store.remove_document(12345)
        assert store.stats().documents == 1

    def test_documents_keep_how_they_were_prepared(self, store: DocumentStore) -> None:
        stored = store.put_document(make_document("/lib/a.txt", ["Some text."]))
        assert stored.prepared_with == "chunks of 8 words"
        found = store.document_by_source("/lib/a.txt")
        assert found is not None and found.prepared_with == "chunks of 8 words"
        assert [d.prepared_with for d in store.documents()] == ["chunks of 8 words"]

    def test_every_write_changes_the_generation_and_no_read_does(
        self, store: DocumentStore
    ) -> None:
        seen = [store.generation()]
        store.put_document(make_document("/lib/a.txt", ["One."], seed=1))
        seen.append(store.generation())
        store.documents(), store.search_dense(unit(1), k=1), store.search_lexical("One", k=1)
        assert store.generation() == seen[-1]
        replaced = store.put_document(make_document("/lib/a.txt", ["Two."], seed=2))
        seen.append(store.generation())
        store.put_documents([make_document("/lib/b.txt", ["Three."], seed=3)])
        seen.append(store.generation())
        store.remove_document(replaced.id)
        seen.append(store.generation())
        with pytest.raises(DocumentNotFoundError):
            store.remove_document(replaced.id)
        assert store.generation() == seen[-1]
        assert len(set(seen)) == len(seen)

    def test_a_stored_document_copies_with_its_ids(self, opened: StoreOpener) -> None:
        store = opened()
        store.put_document(make_document("/lib/a.txt", ["First words."], seed=1))
        put = store.put_document(make_document("/lib/b.txt", ["Two.", "Three."], seed=2, pages=2))
        copy = store.stored_document(put.id)
        assert copy.document_id == put.id and copy.chunk_ids == tuple(store.chunk_ids([put.id]))
        assert [c.text for c in copy.chunks] == ["Two.", "Three."]
        assert [p.number for p in copy.pages] == [1, 2]
        assert np.allclose(copy.vectors, np.stack([unit(2), unit(3)]), atol=1e-6)
        assert (copy.source, copy.content_hash, copy.prepared_with) == (
            "/lib/b.txt",
            "h1",
            "chunks of 8 words",
        )
        store.remove_document(put.id)
        again = store.put_document(copy)  # as `rag migrate` puts it into another store
        assert again == put and store.chunk_ids([put.id]) == list(copy.chunk_ids or ())
        assert store.passages(list(copy.chunk_ids or ()))[1].text == "Three."
        later = store.put_document(make_document("/lib/c.txt", ["Later."], seed=9))
        assert later.id > put.id and min(store.chunk_ids([later.id])) > max(copy.chunk_ids or ())
        with pytest.raises(DocumentNotFoundError):
            store.stored_document(999)

    def test_put_documents_stores_each_as_put_document_would(self, store: DocumentStore) -> None:
        replaced = store.put_document(make_document("/lib/a.txt", ["Old words."], seed=1))
        before = store.chunk_ids()
        stored = store.put_documents(
            iter(
                [
                    make_document("/lib/a.txt", ["New port words.", "Copper."], 2, "h2"),
                    make_document("/lib/b.txt", ["Port policy.", "Tin.", "Lima."], 4, pages=3),
                    make_document("/lib/c.txt", ["Early version."], seed=7),
                    make_document("/lib/c.txt", ["Late version of c."], seed=8, content_hash="h3"),
                ]
            )
        )
        assert stored == store.documents()
        assert [(d.file, d.chunks, d.pages, d.content_hash) for d in stored] == [
            ("a.txt", 2, 1, "h2"),
            ("b.txt", 3, 3, "h1"),
            ("c.txt", 1, 1, "h3"),
        ]
        assert replaced.id not in {d.id for d in stored}
        ids = store.chunk_ids()
        assert min(ids) > max(before)
        texts = [
            "New port words.",
            "Copper.",
            "Port policy.",
            "Tin.",
            "Lima.",
            "Late version of c.",
        ]
        assert [p.text for p in store.passages(ids)] == texts  # ids in the order written
        assert store.page(stored[1].id, 2).text == "Tin."
        assert np.allclose(store.vectors(ids[2:5]), np.stack([unit(4), unit(5), unit(6)]))
        assert [p.text for p in store.passages([store.search_dense(unit(8), 1)[0].chunk_id])] == [
            "Late version of c."
        ]
        assert_bm25(store, "port policy copper version")
        store.flush()
        assert store.check().findings == []
        later = store.put_document(make_document("/lib/d.txt", ["Later."], seed=9))
        assert later.id > max(d.id for d in stored)
        assert min(store.chunk_ids([later.id])) > max(ids)

    def test_put_documents_keeps_the_ids_given(self, store: DocumentStore) -> None:
        put = [
            store.put_document(make_document(f"/lib/{name}.txt", [f"{name} one.", "Two."], seed))
            for seed, name in enumerate(["a", "b", "c"])
        ]
        ids = store.chunk_ids()
        copies = [store.stored_document(d.id) for d in put]
        for document in put:
            store.remove_document(document.id)
        assert store.put_documents(copies) == put  # as `rag migrate` copies a library
        assert store.chunk_ids() == ids
        assert [p.text for p in store.passages(ids)][::2] == ["a one.", "b one.", "c one."]
        later = store.put_document(make_document("/lib/d.txt", ["Later."], seed=9))
        assert later.id > put[-1].id and min(store.chunk_ids([later.id])) > max(ids)

    def test_a_failed_bulk_load_leaves_every_document_whole(self, store: DocumentStore) -> None:
        store.put_document(make_document("/lib/a.txt", ["Alpha port."], seed=1))
        good = make_document("/lib/b.txt", ["Beta port.", "More."], seed=2)
        broken = NewDocument(**{**vars(good), "source": "/lib/c.txt", "vectors": good.vectors[:1]})
        with pytest.raises(ValueError):
            store.put_documents([good, broken])
        documents = store.documents()
        # PostgreSQL writes none of them (one transaction), the folder store each before `broken`
        assert [d.file for d in documents] in (["a.txt"], ["a.txt", "b.txt"])
        assert sum(d.chunks for d in documents) == len(store.chunk_ids())
        assert_bm25(store, "port")
        store.flush()
        assert store.check().findings == []


class ReadingTests(_Opened):
    """Pages, passages, vectors, statistics, filters and awkward texts."""

    def test_page_by_number(self, store: DocumentStore) -> None:
        paged = store.put_document(make_document("/lib/p.pdf", ["One.", "Two.", "Three."], pages=3))
        plain = store.put_document(make_document("/lib/t.txt", ["Only page."]))
        assert store.page(paged.id, 2).text == "Two."
        assert store.page(paged.id, 3).number == 3
        assert store.page(plain.id, None).text == "Only page."
        with pytest.raises(DocumentNotFoundError):
            store.page(paged.id, 4)
        with pytest.raises(DocumentNotFoundError):
            store.page(plain.id, 1)

    def test_the_chunks_of_some_pages_of_a_document(self, store: DocumentStore) -> None:
        texts = ["Page one a.", "Page two a.", "Page three a.", "Page one b.", "Page two b."]
        info = store.put_document(make_document("/lib/a.txt", texts, seed=1, pages=3))
        store.put_document(make_document("/lib/b.txt", ["Other page one."], seed=9, pages=1))
        chunks = store.page_chunk_ids(info.id, {1, 3})
        assert [p.text for p in store.passages(chunks)] == [
            "Page one a.",
            "Page three a.",
            "Page one b.",
        ]
        assert chunks == sorted(chunks)
        assert store.page_chunk_ids(info.id, {7}) == []

    def test_passages_keep_the_order_asked_and_skip_unknown_ids(self, store: DocumentStore) -> None:
        info = store.put_document(make_document("/lib/a.txt", ["Alpha.", "Beta.", "Gamma."]))
        ids = store.chunk_ids()
        assert ids == sorted(ids) and len(ids) == 3
        passages = store.passages([ids[2], 999_999, ids[0]])
        assert [p.text for p in passages] == ["Gamma.", "Alpha."]
        first = passages[1]
        assert (first.document_id, first.title, first.file, first.page) == (
            info.id,
            "Title of a",
            "a.txt",
            None,
        )
        assert (first.start, first.end) == (0, 6)
        assert store.passages([]) == []

    def test_vectors_in_the_order_asked(self, store: DocumentStore) -> None:
        store.put_document(make_document("/lib/a.txt", ["Alpha.", "Beta."], seed=4))
        ids = store.chunk_ids()
        vectors = store.vectors([ids[1], ids[0]])
        assert vectors.shape == (2, DIM) and vectors.dtype == np.float32
        assert np.allclose(vectors, np.stack([unit(5), unit(4)]), atol=1e-6)
        with pytest.raises(KeyError):
            store.vectors([ids[0], 999_999])

    def test_stats_count_what_is_stored(self, store: DocumentStore) -> None:
        empty = store.stats()
        assert (empty.documents, empty.pages, empty.chunks) == (0, 0, 0)
        store.put_document(make_document("/lib/p.pdf", ["One.", "Two.", "Three."], pages=3))
        store.put_document(make_document("/lib/t.txt", ["Only page."]))
        stats = store.stats()
        assert (stats.documents, stats.pages, stats.chunks) == (2, 4, 4)
        assert (stats.model, stats.dimension) == (MODEL, DIM)
        assert stats.bytes_on_disk > 0 and stats.location

    def test_document_by_id_and_references(self, store: DocumentStore) -> None:
        info = store.put_document(make_document("/lib/sub/a.txt", ["Words."]))
        assert store.document(info.id) == info
        for reference in (str(info.id), "a.txt", "/lib/sub/a.txt", "Title of a"):
            assert store.find_documents(reference) == [info]
        assert store.find_documents("b.txt") == []
        with pytest.raises(DocumentNotFoundError):
            store.document(info.id + 1000)

    def test_filters_by_document_ids(self, store: DocumentStore) -> None:
        a = store.put_document(make_document("/lib/a.txt", ["Port of Callao."], seed=1))
        b = store.put_document(make_document("/lib/b.txt", ["Port of Paita."], seed=2))
        only_b = store.chunk_ids([b.id])
        assert [h.chunk_id for h in store.search_dense(unit(1), k=5, document_ids=[b.id])] == (
            only_b
        )
        assert [h.chunk_id for h in store.search_lexical("port", k=5, document_ids=[b.id])] == (
            only_b
        )
        assert len(store.search_lexical("port", k=5, document_ids=[a.id, b.id])) == 2
        assert store.search_dense(unit(1), k=5, document_ids=[]) == []
        assert store.search_lexical("port", k=5, document_ids=[]) == []
        assert store.search_dense(unit(1), k=5, document_ids=[a.id + b.id + 100]) == []

    def test_lexical_search_ignores_query_syntax_and_stopwords(self, store: DocumentStore) -> None:
        store.put_document(make_document("/lib/a.txt", ["The port is near Lima."]))
        assert len(store.search_lexical('What is "AND" the NEAR port*? (OR) -x', k=5)) == 1
        assert store.search_lexical("the of and", k=5) == []
        assert store.search_lexical("", k=5) == []

    def test_lexical_scores_are_fts5_bm25(self, store: DocumentStore) -> None:
        texts = {
            "/lib/a.txt": [
                "The port of Callao ships copper. Copper prices rose.",
                "Copper and tin.",
            ],
            "/lib/b.txt": ["Policies on ports: the port authority sets port fees."],
            "/lib/c.txt": ["A policy for fishing.", "Nothing relevant here at all, just words."],
        }
        infos = {
            source: store.put_document(make_document(source, t)) for source, t in texts.items()
        }
        question = "Which port policy? Copper policies"  # two words with the stem 'polici'
        assert_bm25(store, question)
        keep = [infos["/lib/a.txt"].id, infos["/lib/c.txt"].id]
        assert_bm25(store, question, keep)  # IDF still over every chunk
        store.put_document(make_document("/lib/b.txt", ["Port, port, port and policy."]))
        store.remove_document(infos["/lib/c.txt"].id)
        assert_bm25(store, question)
        long_word = "x" * 70  # longer than a PostgreSQL name
        store.put_document(make_document("/lib/d.txt", [f"The {long_word} port.", "Port."]))
        assert_bm25(store, f"{long_word} port")

    def test_unicode_and_very_long_texts(self, store: DocumentStore) -> None:
        long_text = " ".join(f"word{i}" for i in range(40_000)) + " Zanzibar."
        texts = ["Åland's façade: naïve café — 東京 emoji 🚢 ok.", long_text]
        info = store.put_document(make_document("/lib/ünï €.txt", texts, seed=3))
        assert store.find_documents("ünï €.txt") == [info]
        ids = store.chunk_ids()
        assert [p.text for p in store.passages(ids)] == texts
        assert store.page(info.id, None).text == " ".join(texts)
        assert [h.chunk_id for h in store.search_lexical("façade", 5)] == [ids[0]]
        assert [h.chunk_id for h in store.search_lexical("zanzibar", 5)] == [ids[1]]


class PersistenceTests(_Opened):
    """Reopening, and refusing a store of another model."""

    def test_persists_and_reopens(self, opened: StoreOpener) -> None:
        store = opened()
        store.put_document(make_document("/lib/a.txt", ["Persistent words."], seed=3))
        store.flush()
        store.close()
        reopened = opened(create=False, dimension=None)
        assert reopened.dimension == DIM
        assert reopened.search_dense(unit(3), k=1)[0].score == pytest.approx(1.0, abs=1e-5)
        assert reopened.find_documents("a.txt")[0].title == "Title of a"

    def test_refuses_another_model_or_dimension(self, opened: StoreOpener) -> None:
        opened().put_document(make_document("/lib/a.txt", ["Words."]))
        with pytest.raises(IndexMismatchError, match=MODEL):
            opened(model="other-model")
        with pytest.raises(IndexMismatchError, match=f"{DIM}-d"):
            opened(dimension=DIM * 2)

    def test_a_missing_store_is_reported(self, opened: StoreOpener) -> None:
        with pytest.raises(MissingIndexError, match="rag ingest"):
            opened(create=False, dimension=None)


class ConcurrencyTests(_Opened):
    """Two connections to one store, as two processes would have."""

    def test_a_reader_sees_a_writers_committed_changes(self, opened: StoreOpener) -> None:
        writer = opened()
        reader = opened(create=False)
        assert reader.search_dense(unit(1), k=5) == []
        writer.put_document(make_document("/lib/a.txt", ["Fresh."], seed=1))  # not flushed
        assert len(reader.search_dense(unit(1), k=5)) == 1
        assert reader.document_by_source("/lib/a.txt") is not None

    def test_a_reader_sees_another_connections_write_in_the_generation(
        self, opened: StoreOpener
    ) -> None:
        writer = opened()
        reader = opened(create=False)
        before = reader.generation()
        writer.put_document(make_document("/lib/a.txt", ["Fresh."], seed=1))
        assert reader.generation() != before

    def test_a_snapshot_never_sees_a_concurrent_writer(self, opened: StoreOpener) -> None:
        writer = opened()
        writer.put_document(make_document("/lib/a.txt", ["Early one.", "Early two."], seed=1))
        reader = opened(create=False)
        written = threading.Event()

        def write() -> None:
            replacement = make_document("/lib/a.txt", ["Late."], seed=7, content_hash="h2")
            writer.put_document(replacement)
            writer.put_document(make_document("/lib/b.txt", ["Another."], seed=8))
            written.set()

        with reader.snapshot():
            before = reader.documents()
            ids = [h.chunk_id for h in reader.search_dense(unit(1), k=10)]
            thread = threading.Thread(target=write)
            thread.start()
            assert written.wait(30), "the writer was blocked by a reader"
            assert reader.documents() == before
            assert [h.chunk_id for h in reader.search_dense(unit(1), k=10)] == ids
            assert [p.text for p in reader.passages(ids)] == ["Early one.", "Early two."]
            assert sorted(h.chunk_id for h in reader.search_lexical("early", k=10)) == sorted(ids)
            assert reader.search_lexical("late", k=10) == []
            assert reader.stats().chunks == 2
        thread.join()
        assert [d.file for d in reader.documents()] == ["a.txt", "b.txt"]
        hits = reader.search_lexical("late", k=10)
        assert [p.text for p in reader.passages([h.chunk_id for h in hits])] == ["Late."]

    def test_two_writers_leave_a_consistent_library(self, opened: StoreOpener) -> None:
        first, second = opened(), opened(create=False)
        base = first.put_document(make_document("/lib/base.txt", ["Base."], seed=1))
        errors: list[BaseException] = []

        def upload() -> None:
            try:
                for i in range(10):
                    first.put_document(make_document(f"/lib/up{i}.txt", [f"Upload {i}."], i))
            except BaseException as error:  # reported below
                errors.append(error)

        thread = threading.Thread(target=upload)
        thread.start()
        second.remove_document(base.id)
        second.put_document(make_document("/lib/other.txt", ["Other."], seed=50))
        thread.join()
        assert errors == []
        for store in (first, second):
            documents = store.documents()
            assert sorted(d.file for d in documents) == sorted(
                [f"up{i}.txt" for i in range(10)] + ["other.txt"]
            )
            assert sum(d.chunks for d in documents) == len(store.chunk_ids()) == 11
            dense = store.search_dense(unit(0), k=50)
            assert sorted(h.chunk_id for h in dense) == store.chunk_ids()


class CheckTests(_Opened):
    """A backend's own check."""

    def test_a_sound_store_passes_its_check(self, store: DocumentStore) -> None:
        store.put_document(make_document("/lib/a.txt", ["Alpha.", "Beta."], seed=1))
        store.flush()
        result = store.check()
        assert result.readable and result.findings == [] and result.invalid_chunks == set()
        assert result.checked and "vectors" in result.checked


class DocumentStoreTests(
    WritingTests, ReadingTests, PersistenceTests, ConcurrencyTests, CheckTests
):
    """The whole protocol."""
