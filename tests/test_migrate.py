"""`rag migrate`: the default library copied to PostgreSQL and back to a folder without embedding
again, resumable. PostgreSQL holds the same documents, chunk ids, texts and vectors, and gives the
same `rag ask --json` answers to the project's question set as the folder it came from (it ranks
words as FTS5 does: the same terms, BM25), and so does the copy back."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, settings_for
from reliability import open_library as opened
from reliability import rag_command

from rag.library import Library
from rag.store import open_store
from rag.store.migrating import migrate

QUESTIONS = [
    json.loads(line)["question"]
    for line in (ROOT / "benchmarks" / "questions" / "library.jsonl").read_text().splitlines()
]


def rag(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(rag_command(*args), cwd=ROOT, capture_output=True, text=True, timeout=600)


def answers_one(library: Library, question: str) -> dict[str, object]:
    """What `rag ask QUESTION --extractive --json` prints (it prints `to_json()`)."""
    return library.ask(question, mode="extractive").to_json()


def answers(library: Library) -> list[dict[str, object]]:
    return [answers_one(library, question) for question in QUESTIONS]


@pytest.mark.slow
def test_migrating_to_postgres_and_back_keeps_every_answer(
    library_index: Path, postgres_database: str, tmp_path: Path
) -> None:
    database = postgres_database
    with opened(library_index) as library:
        before = answers(library)
        documents = library.documents()
    moved = rag("migrate", "--index", str(library_index), "--to", database, "--quiet")
    assert moved.returncode == 0, moved.stderr
    assert f"{len(documents)} documents copied" in moved.stdout

    asked = rag("ask", QUESTIONS[0], "--extractive", "--json", "--store", database)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout) == before[0]
    in_postgres = Library(settings_for(tmp_path / "unused", store=database))
    try:
        assert answers(in_postgres) == before
        assert in_postgres.documents() == documents
        source = Library(settings_for(library_index))
        try:
            ids = source.store().chunk_ids()
            assert in_postgres.store().chunk_ids() == ids
            assert in_postgres.store().passages(ids) == source.store().passages(ids)
            assert (in_postgres.store().vectors(ids) == source.store().vectors(ids)).all()
        finally:
            source.close()
    finally:
        in_postgres.close()

    back = tmp_path / "back"
    moved = rag("migrate", "--store", database, "--to", str(back), "--quiet")
    assert moved.returncode == 0, moved.stderr
    with opened(back) as library:
        assert answers(library) == before
        assert library.check().ok


def test_an_interrupted_migration_resumes(library_index: Path, tmp_path: Path) -> None:
    with opened(library_index) as library:
        source = library.store()
        target = open_store(
            settings_for(tmp_path / "copy"), source.model, source.dimension, create=True
        )

        def interrupt(file: str, done: int, total: int) -> None:
            if done == 5:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            migrate(source, target, interrupt)
        assert len(target.documents()) == 5
        report = migrate(source, target)
        assert (report.already_there, report.copied) == (5, len(source.documents()) - 5)
        assert target.documents() == source.documents()
        ids = source.chunk_ids()
        assert target.chunk_ids() == ids
        assert (target.vectors(ids[::50]) == source.vectors(ids[::50])).all()
        target.close()
