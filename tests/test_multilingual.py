"""Reports in Spanish, French and Russian (benchmarks/questions/multilingual/): found by a
question in English or in their own language, and quoted in their own language."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, settings_for

from rag.answering import EXTRACTIVE
from rag.library import Library

REPORTS = ROOT / "benchmarks" / "questions" / "multilingual"


@pytest.fixture(scope="module")
def multilingual(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    library = Library(settings_for(tmp_path_factory.mktemp("multilingual"), answer_check="words"))
    report = library.ingest([REPORTS])
    assert len(report.indexed) == 3, report
    yield library
    library.close()


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
