"""`rag ingest --ray`: loading, splitting and embedding on a local Ray instance (loopback only)
give the same chunks and vectors as the in-process ingest."""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest
from conftest import ROOT, settings_for
from reliability import open_library, rag_command, write_version

from rag.answering import quotable_texts
from rag.distributing import LOOPBACK_ONLY, ingest_on_ray
from rag.library import Library
from rag.store import DocumentStore

pytestmark = pytest.mark.slow  # a local Ray instance starts per test module


@pytest.fixture
def ray_folder() -> Iterator[Path]:
    """A short folder in /tmp for Ray's sockets and logs (unix socket paths are short)."""
    folder = Path(tempfile.mkdtemp(prefix="ray-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def ray_environment(folder: Path) -> dict[str, str]:
    """Ray's settings for a test instance: its files in `folder`, and its authentication token
    given, so that Ray does not write one to ~/.ray/auth_token."""
    return {"RAY_TMPDIR": str(folder), "RAY_AUTH_TOKEN": secrets.token_hex(16)}


@pytest.fixture
def local_ray(ray_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv(LOOPBACK_ONLY, "0")  # read when ray is first imported
    for name, value in ray_environment(ray_folder).items():
        monkeypatch.setenv(name, value)
    import ray

    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(ray_folder))
    try:
        yield ray_folder
    finally:
        ray.shutdown()


def listening_addresses(folder: Path) -> set[str]:
    """The addresses Ray's processes (those started with `folder`) listen on."""
    pids = {
        process.pid
        for process in psutil.process_iter(["cmdline"])
        if str(folder) in " ".join(process.info["cmdline"] or [])
    }
    pids.add(os.getpid())
    return {
        connection.laddr.ip
        for connection in psutil.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN and connection.pid in pids
    }


def assert_same_library(ours: DocumentStore, theirs: DocumentStore) -> None:
    """The same documents, pages, chunks (texts and spans) and vectors (to 1e-6)."""
    documents = ours.documents()
    assert [d.source for d in documents] == [d.source for d in theirs.documents()]
    for document in documents:
        mine = ours.stored_document(document.id)
        other = theirs.stored_document(theirs.find_documents(document.source)[0].id)
        assert (mine.title, mine.content_hash, mine.prepared_with) == (
            other.title,
            other.content_hash,
            other.prepared_with,
        )
        assert mine.pages == other.pages
        assert mine.chunks == other.chunks
        assert np.allclose(mine.vectors, other.vectors, atol=1e-6, rtol=0), document.file


@pytest.mark.slow
def test_the_default_library_on_ray_equals_in_process(
    library_index: Path, local_ray: Path, tmp_path: Path
) -> None:
    assert listening_addresses(local_ray) <= {"127.0.0.1", "::ffff:127.0.0.1", "::1"}
    library = Library(settings_for(tmp_path / "index"))
    try:
        report = ingest_on_ray(library, [ROOT / "corpus", ROOT / "seeds"], "auto")
        assert not report.skipped and report.chunks > 1000
        with open_library(library_index) as in_process:
            assert_same_library(in_process.store(), library.store())
            assert_same_sentence_vectors(in_process, library)
    finally:
        library.close()


def saved_sentence_vectors(library: Library) -> dict[bytes, np.ndarray]:
    with sqlite3.connect(library.saved_vectors.path) as db:
        rows = db.execute("SELECT key, vector FROM vectors").fetchall()
    return {key: np.frombuffer(vector, np.float32) for key, vector in rows}


def assert_same_sentence_vectors(in_process: Library, on_ray: Library) -> None:
    """Ray saved a vector for every quotable sentence of the library, as in-process ingest
    did (whose file also holds the questions other tests asked)."""
    store = on_ray.store()
    texts = {text for p in store.passages(store.chunk_ids()) for text in quotable_texts(p.text)}
    ours = saved_sentence_vectors(in_process)
    theirs = saved_sentence_vectors(on_ray)
    assert len(theirs) == len(texts) > 4000
    assert theirs.keys() <= ours.keys()
    assert all(np.allclose(theirs[key], ours[key], atol=1e-6, rtol=0) for key in theirs)


def test_rag_ingest_ray_auto_starts_a_local_instance(tmp_path: Path, ray_folder: Path) -> None:
    folder = tmp_path / "library"
    write_version(folder, 3, 0)
    (folder / "empty.txt").write_bytes(b"")
    environment = {**os.environ, **ray_environment(ray_folder)}
    command = rag_command("ingest", str(folder), "--ray", "auto", "--quiet")
    ray_index = tmp_path / "ray-index"
    ran = subprocess.run(
        [*command, "--index", str(ray_index)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stderr
    assert "4 files: 3 indexed, 0 unchanged, 1 skipped" in ran.stdout, ran.stdout
    assert "skipped empty.txt: empty file" in ran.stdout
    with open_library(tmp_path / "index") as in_process:
        in_process.ingest([folder])
        with open_library(ray_index) as on_ray:
            assert_same_library(in_process.store(), on_ray.store())
    again = subprocess.run(
        [*command, "--index", str(ray_index)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "0 indexed, 3 unchanged" in again.stdout, again.stdout + again.stderr
