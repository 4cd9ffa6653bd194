"""Reports in Spanish, French and Russian (benchmarks/questions/multilingual/): found by a
question in English or in their own language, and quoted in their own language."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, settings_for

from rag.answering import EXTRACTIVE, candidate_sentences
from rag.embedding import Embedder
from rag.ingesting import IngestReport
from rag.library import Library
from rag.records import Passage

REPORTS = ROOT / "benchmarks" / "questions" / "multilingual"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Library, IngestReport]]:
    library = Library(settings_for(tmp_path_factory.mktemp("multilingual"), answer_check="words"))
    report = library.ingest([REPORTS])
    assert len(report.indexed) == 3, report
    yield library, report
    library.close()


@pytest.fixture(scope="module")
def multilingual(ingested: tuple[Library, IngestReport]) -> Library:
    return ingested[0]


def test_ingest_notes_reports_in_languages_the_default_model_was_not_made_for(
    ingested: tuple[Library, IngestReport],
):
    library, report = ingested
    assert library.embedder.languages == {"en"}  # all-MiniLM-L6-v2's model card
    assert sorted(report.other_languages) == [
        ("canal-de-panama.md", "es"),
        ("transsibirskaya-magistral.md", "ru"),
        ("tunnel-sous-la-manche.md", "fr"),
    ]
    notes = report.language_notes()
    assert any(note.startswith("canal-de-panama.md is written in Spanish") for note in notes)


@pytest.mark.parametrize(
    ("question", "file", "quoted"),
    [
        (
            "When did Panama take over running the canal from the United States?",
            "canal-de-panama.md",
            "31 de diciembre de 1999",
        ),
        (
            "Quand un poids lourd a-t-il pris feu pour la première fois dans l'ouvrage ?",
            "tunnel-sous-la-manche.md",
            "18 novembre 1996",
        ),
    ],
)
def test_a_report_is_quoted_in_its_own_language(
    multilingual: Library, question: str, file: str, quoted: str
):
    answer = multilingual.ask(question, mode=EXTRACTIVE)
    assert not answer.refused
    assert answer.citations[0].file == file
    assert quoted in answer.citations[0].quote


def test_a_question_in_a_reports_language_finds_it_first(multilingual: Library):
    for question, file in [
        ("¿Por qué se abandonó el primer proyecto francés del canal?", "canal-de-panama.md"),
        ("Какой объект завершил строительство дороги?", "transsibirskaya-magistral.md"),
    ]:
        assert Path(multilingual.retrieve(question)[0].file).name == file


def _passage(chunk_id: int, text: str) -> Passage:
    return Passage(chunk_id, chunk_id, "Report", "report.md", None, 0, len(text), text, 1.0)


def test_a_sentence_in_another_language_than_an_english_question_is_scored_with_the_gap(
    embedder: Embedder,
):
    """`other_language_gap` lifts the similarity of sentences in another language than an
    English question, by exactly the gap, and of no other sentence; a question asked in
    another language gets no gap (it was measured for English questions only)."""
    spanish = _passage(1, "La ampliación del canal se inauguró el 26 de junio de 2016.")
    english = _passage(2, "The expanded canal opened to ships on June 26, 2016.")
    for question, lifted in [
        ("When did the expanded Panama Canal open?", {1}),
        ("¿Cuándo se inauguró la ampliación del canal?", set()),
    ]:
        plain = candidate_sentences(question, [spanish, english], embedder)
        gapped = candidate_sentences(question, [spanish, english], embedder, 0.056)
        for before, after in zip(plain, gapped, strict=True):
            gap = 0.056 if before.passage.chunk_id in lifted else 0.0
            assert after.similarity == pytest.approx(before.similarity + gap, abs=1e-6)
            assert after.score == pytest.approx(before.score + gap, abs=1e-6)
