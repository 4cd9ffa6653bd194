"""`rag check`, and index files validated on open: tampered, foreign or truncated index files
give a clear one-line error (or, for the derived FAISS file, a rebuild), never a crash."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import cast

import faiss
import numpy as np
import pytest
from conftest import ROOT
from reliability import open_library, rag_command, write_version

QUESTION = "How much copper did Callao move in week 2?"


def rag(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(rag_command(*args), cwd=ROOT, capture_output=True, text=True, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stderr.strip().count("\n") == 0
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.fixture
def small_index(tmp_path: Path) -> tuple[Path, Path]:
    """(folder of three reports, its index), built in this process."""
    folder, index = tmp_path / "library", tmp_path / "index"
    write_version(folder, 3, 0)
    with open_library(index) as library:
        library.ingest([folder])
    return folder, index


def faiss_file(index: Path) -> Path:
    (path,) = index.glob("vectors.*.faiss")
    return path


def findings(report) -> dict[str, tuple[str, bool]]:
    return {f.check: (f.problem, f.repaired) for f in report.findings}


def test_check_reports_tampering_and_repairs_what_it_can(small_index):
    folder, index = small_index
    with open_library(index) as library:
        assert library.check().ok
    base = faiss_file(index)
    base.write_bytes(base.read_bytes()[:100])
    (index / "vectors.0.faiss").write_bytes(b"an old base")
    (index / "vectors.1.x1y2.faiss.tmp").write_bytes(b"a crash's leftover")
    with sqlite3.connect(index / "library.sqlite") as db:
        chunk_id, text = db.execute("SELECT id, text FROM chunks ORDER BY id LIMIT 1").fetchone()
        db.execute(
            "INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES('delete', ?, ?)",
            (chunk_id, text),
        )
        db.execute(
            "UPDATE chunks SET vector=? WHERE id=(SELECT max(id) FROM chunks)",
            (np.full(384, 0.5, np.float32).tobytes(),),
        )
    (folder / "report-1.txt").write_text("Rewritten since it was indexed.")
    (folder / "report-2.txt").unlink()

    with open_library(index) as library:
        found = findings(library.check())
        assert set(found) == {"fts5", "files", "vectors", "faiss", "sources"}
        assert not any(repaired for _, repaired in found.values())
        assert "disagrees with the chunk table" in found["fts5"][0]
        assert "vectors.0.faiss" in found["files"][0] and "x1y2.faiss.tmp" in found["files"][0]
        assert "norm 9.798, not 1" in found["vectors"][0] and "report-2.txt" in found["vectors"][0]
        assert f"{base.name} is unreadable" in found["faiss"][0]

        repaired = library.check(repair=True)
        assert {f.check for f in repaired.findings if f.repaired} == {"fts5", "files", "faiss"}
        assert {f.check for f in repaired.remaining} == {"vectors", "sources"}
        sources = [f.problem for f in repaired.remaining if f.check == "sources"]
        assert any("gone" in p and "report-2.txt" in p for p in sources)
        assert any("changed" in p and "report-1.txt" in p for p in sources)
        hits = library.store().search_lexical(text.split(":")[1].split(".")[0], 5)
        assert chunk_id in {hit.chunk_id for hit in hits}  # the FTS5 index is whole again
    assert [p.name for p in index.iterdir() if "faiss" in p.name] == [base.name]

    cli = rag("check", "--index", str(index))
    assert cli.returncode == 1 and "problems remaining: 3" in cli.stdout, cli.stdout + cli.stderr
    assert re.search(r"PROBLEM +sources: 1 source files are gone", cli.stdout)


def test_check_finds_a_faiss_file_with_other_vectors_and_a_changed_model(small_index):
    folder, index = small_index
    base = cast(faiss.IndexIDMap2, faiss.read_index(str(faiss_file(index))))
    ids = faiss.vector_to_array(base.id_map)
    forged = faiss.IndexIDMap2(faiss.IndexFlatIP(base.d))
    vectors = np.random.default_rng(3).standard_normal((len(ids), base.d)).astype(np.float32)
    forged.add_with_ids(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), ids)
    faiss.write_index(forged, str(faiss_file(index)))
    with open_library(index) as library:
        found = findings(library.check())
        assert set(found) == {"faiss"}
        assert f"differ from SQLite's for {len(ids)} chunks" in found["faiss"][0]
        assert library.check(repair=True).ok
        assert library.check().ok

    with sqlite3.connect(index / "library.sqlite") as db:  # as if another model had made them
        rows = db.execute("SELECT id, vector FROM chunks").fetchall()
        for chunk_id, blob in rows:
            rolled = np.roll(np.frombuffer(blob, np.float32), 7)
            db.execute("UPDATE chunks SET vector=? WHERE id=?", (rolled.tobytes(), chunk_id))
    with open_library(index) as library:
        found = findings(library.check(repair=True))
        assert "no longer gives the stored vectors" in found["model"][0]
        assert not found["model"][1]

    with sqlite3.connect(index / "library.sqlite") as db:  # as an earlier rag recorded them
        db.execute("UPDATE documents SET prepared_with=''")
    with open_library(index) as library:  # their vectors are the next ingest's to redo
        assert "model" not in findings(library.check())


def test_check_on_clean_index_exits_zero(small_index):
    _, index = small_index
    result = rag("check", "--index", str(index))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems remain" in result.stdout
    assert "checked:  open, sqlite, fts5, files, vectors, faiss, model, sources" in result.stdout


def test_tampered_or_foreign_index_files_give_one_line_errors(tmp_path: Path, small_index):
    _, good = small_index
    index = tmp_path / "tampered"

    index.mkdir()
    (index / "library.sqlite").write_bytes(os.urandom(8192))
    before = hashlib.sha256((index / "library.sqlite").read_bytes()).hexdigest()
    assert_one_line_error(rag("status", "--index", str(index)), "is not a readable index")
    assert_one_line_error(
        rag("ingest", str(tmp_path / "nothing"), "--index", str(index)), "is not a readable index"
    )
    assert hashlib.sha256((index / "library.sqlite").read_bytes()).hexdigest() == before

    (index / "library.sqlite").unlink()
    with sqlite3.connect(index / "library.sqlite") as db:
        db.execute("CREATE TABLE users(name TEXT, password TEXT)")
        db.execute("INSERT INTO users VALUES ('ana', 'x')")
    db.close()
    foreign = (index / "library.sqlite").read_bytes()
    assert_one_line_error(
        rag("ingest", str(tmp_path / "nothing"), "--index", str(index)),
        "SQLite database of another program (tables: users)",
    )
    assert (index / "library.sqlite").read_bytes() == foreign  # not even switched to WAL

    (index / "library.sqlite").write_bytes(b"")
    assert_one_line_error(rag("status", "--index", str(index)), "no index at", "is empty")

    data = (good / "library.sqlite").read_bytes()
    (index / "library.sqlite").write_bytes(data[: len(data) // 2])
    assert_one_line_error(rag("status", "--index", str(index)), "not a readable index")

    (index / "library.sqlite").write_bytes(data)
    with sqlite3.connect(index / "library.sqlite") as db:
        db.execute("UPDATE meta SET value='many' WHERE key='dimension'")
    db.close()
    assert_one_line_error(rag("status", "--index", str(index)), "its dimension is 'many'")

    (index / "library.sqlite").write_bytes(data)
    with sqlite3.connect(index / "library.sqlite") as db:
        db.execute("DROP TABLE chunks_fts")
    db.close()
    assert_one_line_error(rag("status", "--index", str(index)), "tables chunks_fts are missing")


def test_damaged_sqlite_pages_give_one_line_errors(small_index):
    _, index = small_index
    database = index / "library.sqlite"
    with sqlite3.connect(database) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(database.read_bytes())
    pages = len(data) // page_size
    for page in range(pages // 2, pages):  # chunks and FTS5 data; the documents table survives
        data[page * page_size : page * page_size + 100] = os.urandom(100)
    database.write_bytes(bytes(data))
    assert rag("status", "--documents", "--index", str(index)).returncode == 0
    asked = rag("ask", QUESTION, "--extractive", "--index", str(index))
    assert_one_line_error(asked, "is damaged (database disk image is malformed)", "rag check")
    checked = rag("check", "--index", str(index))
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    assert re.search(r"PROBLEM  sqlite: .*damaged", checked.stdout), checked.stdout


def test_a_foreign_faiss_file_is_rebuilt_not_trusted(small_index):
    _, index = small_index
    path = faiss_file(index)
    wrong = faiss.IndexIDMap2(faiss.IndexFlatIP(16))
    wrong.add_with_ids(np.eye(16, dtype=np.float32)[:3], np.arange(3, dtype=np.int64))
    faiss.write_index(wrong, str(path))
    checked = rag("check", "--index", str(index))
    assert "its vectors have 16 dimensions, the index 384" in checked.stdout, checked.stdout
    path.write_bytes(path.read_bytes()[:40])  # truncated
    asked = rag("ask", QUESTION, "--extractive", "--json", "--index", str(index))
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["citations"][0]["file"].startswith("report-")


def test_no_code_can_run_from_index_or_model_files():
    """No deserialiser that can run code: pickle and its kin, torch.load, remote model code."""
    forbidden = re.compile(
        r"\b(c?pickle|dill|joblib|shelve|marshal)\b|torch\.load|allow_dangerous_deserialization"
        r"|allow_pickle\s*=\s*True|trust_remote_code\s*=\s*True"
    )
    sources = [*(ROOT / "rag").rglob("*.py"), *(ROOT / "ui").rglob("*.py")]
    assert len(sources) > 10
    offending = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if forbidden.search(line)
    ]
    assert not offending, offending
