"""The ingest pipeline: files prepared ahead of the embedder, chunks of several files embedded
together, each file stored on its own; the outcome is that of one file at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import make_pdf, settings_for

from rag import ingesting, loading
from rag.ingesting import _ahead, embedded_title
from rag.library import Library

TOPICS = [
    "cocaine seizures in Peru",
    "seabed mining of nodules",
    "the Strait of Hormuz",
    "foreign holdings of debt",
    "biometric identification",
]


def write_library(folder: Path) -> list[str]:
    folder.mkdir()
    for number, topic in enumerate(TOPICS):
        text = f"Report {number} on {topic}.\n\n" + f"This paragraph is about {topic}. " * (
            8 + 30 * number
        )
        (folder / f"{number}-report.txt").write_text(text)
    (folder / "5-empty.txt").write_text("")
    (folder / "6-broken.pdf").write_bytes(b"%PDF-1.7 this is not a PDF")
    return [f"{number}-report.txt" for number in range(len(TOPICS))]


@pytest.mark.parametrize("batch_chunks", [1, 3, 10_000])
def test_ingest_stores_every_file_as_if_one_at_a_time(tmp_path, monkeypatch, batch_chunks):
    monkeypatch.setattr(ingesting, "EMBED_BATCH_CHUNKS", batch_chunks)
    expected = write_library(tmp_path / "library")
    library = Library(settings_for(tmp_path / "index"))
    seen: list[tuple[str, int, int]] = []
    report = library.ingest([tmp_path / "library"], progress=lambda *step: seen.append(step))
    try:
        assert report.indexed == expected
        assert sorted(file for file, _ in report.skipped) == ["5-empty.txt", "6-broken.pdf"]
        assert [step[1] for step in seen] == list(range(len(expected) + 3))  # 7 files, then done
        store = library.store()
        assert store.stats().chunks == report.chunks > len(TOPICS)
        probe = library.embedder.embed(["report"])[0]
        for document in store.documents():
            ids = [h.chunk_id for h in store.search_dense(probe, 1000, [document.id])]
            assert len(ids) == document.chunks
            title = embedded_title(document.title, document.file, document.source)
            own = library.embedder.embed_passages([(title, p.text) for p in store.passages(ids)])
            # int8 vectors depend a little on the batch a text shares; still the same model.
            assert np.sum(store.vectors(ids) * own, axis=1).min() >= 0.98
        again = library.ingest([tmp_path / "library"])
        assert (again.indexed, again.unchanged, again.chunks) == ([], expected, 0)
    finally:
        library.close()


def test_ahead_keeps_a_bounded_number_of_items_in_flight():
    submitted: list[int] = []

    def work(item: int) -> int:
        submitted.append(item)
        return item * item

    with ThreadPoolExecutor(max_workers=1) as pool:
        consumed = []
        for item, future in _ahead(pool, work, list(range(10)), depth=3):
            assert future.result() == item * item
            consumed.append(item)
            assert len(submitted) <= item + 1 + 3  # never more than 3 beyond the one in hand
    assert consumed == list(range(10))


def test_documents_split_under_other_settings_are_split_again(tmp_path):
    write_library(tmp_path / "library")
    default = Library(settings_for(tmp_path / "index"))
    report = default.ingest([tmp_path / "library"])
    default.close()
    assert len(report.indexed) == len(TOPICS)

    smaller = Library(settings_for(tmp_path / "index", chunk_tokens=60, chunk_overlap_tokens=10))
    try:
        before = {d.file: d.chunks for d in smaller.store().documents()}
        again = smaller.ingest([tmp_path / "library"])
        assert again.indexed == report.indexed and again.unchanged == []
        after = {d.file: d for d in smaller.store().documents()}
        assert all(after[f].chunks >= before[f] for f in before)
        assert sum(d.chunks for d in after.values()) > sum(before.values())
        assert {d.prepared_with for d in after.values()} == {
            ".txt loader 1, preparation 3, chunks of 60 tokens overlapping by 10"
        }
        assert smaller.ingest([tmp_path / "library"]).unchanged == report.indexed
    finally:
        smaller.close()


def test_a_new_loader_version_reads_again_only_the_files_of_that_loader(tmp_path, monkeypatch):
    folder = tmp_path / "library"
    write_library(folder)
    make_pdf(folder / "7-fish.pdf", ["Cod live in cold water.", "Herring swim in shoals."])
    library = Library(settings_for(tmp_path / "index"))
    try:
        first = library.ingest([folder])
        assert "7-fish.pdf" in first.indexed
        monkeypatch.setitem(loading.LOADER_VERSIONS, ".pdf", loading.loader_version(".pdf") + 1)
        again = library.ingest([folder])
        assert again.indexed == ["7-fish.pdf"]
        assert sorted(again.unchanged) == sorted(f for f in first.indexed if f != "7-fish.pdf")
    finally:
        library.close()


def test_the_embedded_title_names_a_file_its_title_does_not():
    assert embedded_title(
        "0001018724-20-000004", "10k/AMAZON_2019_10K.pdf", "/lib/10k/AMAZON_2019_10K.pdf"
    ) == ("0001018724-20-000004 (AMAZON_2019_10K)")
    assert embedded_title("Report R47324 on seabed mining", "R47324.pdf", "/lib/R47324.pdf") == (
        "Report R47324 on seabed mining"
    )
    assert embedded_title(
        "GAO-06-1046, Grants Management", "gao-06-1046.pdf", "/lib/gao-06-1046.pdf"
    ) == ("GAO-06-1046, Grants Management")
    long_title = "An Overview of Everything " * 8
    kept = embedded_title(long_title, "R48883v4.pdf", "/lib/R48883v4.pdf")
    assert kept.endswith(" (R48883v4)") and len(kept) <= 120
    assert embedded_title("Title of a claim", "4983", "text:4983") == "Title of a claim"


@pytest.mark.parametrize("when", ["at ingest", "afterwards", "never"])
def test_sentences_embedded_beforehand_leave_an_answer_only_its_question_to_embed(
    tmp_path: Path, when: str
):
    from unittest.mock import patch

    from conftest import SEED, SEED_QUESTION

    index = tmp_path / "index"
    library = Library(settings_for(index))
    library.ingest([SEED], embed_sentences=when == "at ingest")
    if when == "afterwards":  # as `rag serve` does for a library indexed without them
        library.save_sentence_vectors()
    library.close()
    assert (index / "sentence-vectors.sqlite").is_file() == (when != "never")

    reopened = Library(settings_for(index))
    embedder = reopened.embedder
    real_embed = embedder.embed
    asked: list[str] = []

    def counting(texts: list[str], prompt_name: str | None = None) -> np.ndarray:
        asked.extend(texts)
        return real_embed(texts, prompt_name)

    with patch.object(embedder, "embed", counting):
        answer = reopened.ask(SEED_QUESTION, mode="extractive")
    reopened.close()
    assert "7.6 metric tons" in answer.text
    if when == "never":
        assert len(asked) > 2
    else:  # the search's query, and the question against the saved sentences
        assert asked == [SEED_QUESTION, SEED_QUESTION]


def test_saving_sentence_vectors_stops_when_asked(tmp_path: Path):
    import threading

    from conftest import SEED

    library = Library(settings_for(tmp_path / "index"))
    library.ingest([SEED], embed_sentences=False)
    stop = threading.Event()
    stop.set()
    library.save_sentence_vectors(stop)
    library.close()
    assert not (tmp_path / "index" / "sentence-vectors.sqlite").exists()


def test_the_sentence_vectors_of_removed_and_replaced_documents_are_forgotten(tmp_path: Path):
    import sqlite3

    from rag.answering import quotable_texts

    folder = tmp_path / "library"
    folder.mkdir()
    sentences = {
        name: [f"The {name} report states fact number {n} about {topic}." for n in range(4)]
        for name, topic in [("first", "nodules"), ("second", "tankers"), ("third", "warheads")]
    }
    for name, lines in sentences.items():
        (folder / f"{name}.txt").write_text(" ".join(lines))
    index = tmp_path / "index"
    library = Library(settings_for(index, library_paths=[folder]))
    library.ingest(embed_sentences=True)

    def saved() -> int:
        with sqlite3.connect(index / "sentence-vectors.sqlite") as db:
            return db.execute("SELECT count(*) FROM vectors").fetchone()[0]

    def needed() -> int:
        store = library.store()
        return len(
            {text for p in store.passages(store.chunk_ids()) for text in quotable_texts(p.text)}
        )

    assert saved() == needed() == 12
    library.remove("first.txt")  # forgotten at once
    (folder / "first.txt").unlink()
    assert saved() == needed() == 8
    (folder / "second.txt").write_text("The second report now says something else entirely.")
    library.ingest(embed_sentences=True)  # the old version's vectors stay until the next walk
    library.ask("What does the third report say about warheads?", mode="extractive")
    assert saved() > needed() == 5
    library.save_sentence_vectors()  # as `rag serve` does at start
    assert saved() == needed() == 5
    library.close()
