"""Crash safety and concurrency of the index, with real `rag ingest` processes.

SIGKILL at many moments of an ingest (at random, right after its first commit, while it writes
the FAISS file) leaves an index that opens, whose FAISS side holds exactly SQLite's chunk ids,
whose every document is one complete version of its file and searchable; a re-run completes.
A reader searching while `rag ingest` runs in another process sees each document before or
after its commit, never between.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest
from conftest import ROOT, settings_for
from reliability import (
    assert_consistent,
    expected_chunks,
    open_library,
    write_version,
)

from rag.retrieval import retrieve
from rag.store.sqlite_faiss import SqliteFaissStore

pytestmark = pytest.mark.slow  # each test kills and restarts real ingest processes many times

FILES = 6
TRIALS = 21  # seven of each kill mode
MODES = ("at random", "after the first commit", "while writing the FAISS file")
WRITER_RUNS = 4


def generation(index: Path) -> int:
    """The index's commit counter, read as any reader would."""
    with closing(sqlite3.connect(f"file:{index / 'library.sqlite'}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])


def kill_during(command: list[str], index: Path, mode: str, delay: float) -> bool:
    """Run `command`, SIGKILL it at the moment `mode` names; False if it ended first."""
    committed = generation(index)
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    started = time.perf_counter()
    while process.poll() is None:
        if mode == MODES[0]:
            fire = time.perf_counter() - started >= delay
        elif mode == MODES[1]:
            fire = generation(index) > committed
            if fire:
                time.sleep(delay)
        else:  # its temporary file, or the file itself (the trial removed the old one)
            fire = any(name.endswith((".faiss.tmp", ".faiss")) for name in os.listdir(index))
        if fire:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return process.returncode == -signal.SIGKILL
        time.sleep(0.001)
    return False


def assert_searchable(store: SqliteFaissStore, passages: list) -> None:
    """The document's marker word finds it lexically, its first vector finds it densely."""
    found = re.search(r"marker\d+v\d+", passages[0].text)
    assert found is not None
    marker = found.group()
    ids = {passage.chunk_id for passage in passages}
    lexical = store.search_lexical(marker, 5)
    assert lexical and {hit.chunk_id for hit in lexical} <= ids, marker
    vector = store.vectors([passages[0].chunk_id])[0]
    assert store.search_dense(vector, 1)[0].chunk_id == passages[0].chunk_id


def ingest_file_by_file(folder: Path, index: Path) -> list[str]:
    """`rag ingest` with each file embedded and committed on its own, as the files of a large
    library are; small files are otherwise embedded together and committed within a
    millisecond of each other, too close for a kill to fall between them."""
    code = (
        "import sys; from rag import ingesting; from rag.cli import main; "
        "ingesting.EMBED_BATCH_CHUNKS = 1; sys.exit(main(sys.argv[1:]))"
    )
    return [sys.executable, "-c", code, "ingest", str(folder), "--index", str(index), "--quiet"]


def test_sigkill_at_many_moments_leaves_a_consistent_searchable_index(tmp_path: Path, embedder):
    expected = expected_chunks(tmp_path, FILES, versions=2)
    folder, index = tmp_path / "library", tmp_path / "index"
    write_version(folder, FILES, 0)
    command = ingest_file_by_file(folder, index)
    started = time.perf_counter()
    assert subprocess.run(command, cwd=ROOT, capture_output=True).returncode == 0
    whole_run = time.perf_counter() - started
    sources = {str((folder / f"report-{n}.txt").resolve()) for n in range(FILES)}
    rng = random.Random(2024)
    killed: Counter[str] = Counter()
    committed_in_killed_runs: set[int] = set()
    indexed = Counter({0: FILES})  # how many reports the index holds in each version
    for trial in range(TRIALS):
        version = 1 - indexed.most_common(1)[0][0]  # so that most reports must be written
        write_version(folder, FILES, version)
        mode = MODES[trial % len(MODES)]
        if mode == MODES[2]:  # no FAISS file: the ingest rebuilds and writes one at its end
            for path in index.glob("vectors.*.faiss"):
                path.unlink()
        delay = rng.uniform(0.3, 0.8 * whole_run) if mode == MODES[0] else rng.uniform(0, 0.004)
        killed[mode] += kill_during(command, index, mode, delay)

        store = SqliteFaissStore(index, embedder.name, create=False)
        try:
            found = assert_consistent(store, expected)
            assert {document.source for document in found} == sources  # nothing lost
            for passages in found.values():
                assert_searchable(store, passages)
            problem = store.faiss_file_problem()
            assert problem is None or problem.startswith("no FAISS file"), problem
            indexed = Counter(version_of(passages[0].text) for passages in found.values())
            committed_in_killed_runs.add(indexed[version])
        finally:
            store.close()

    print(f"killed per mode: {dict(killed)}; documents committed: {committed_in_killed_runs}")
    assert sum(killed.values()) >= TRIALS // 2, killed  # most trials were really killed
    assert any(0 < n < FILES for n in committed_in_killed_runs)  # some fell between commits
    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    with open_library(index) as library:
        found = assert_consistent(library.store(), expected)
        current = {d.source: d.content_hash for d in found}
        report = library.check()
    assert set(current) == sources and len(set(current.values())) == FILES
    assert {version_of(passages[0].text) for passages in found.values()} == {version}
    assert report.ok, report.findings


def test_a_reader_sees_each_document_before_or_after_its_commit(tmp_path: Path, embedder):
    files = 12
    expected = expected_chunks(tmp_path, files, versions=2)
    texts = {text for version in expected.values() for text in version}
    folder, index = tmp_path / "library", tmp_path / "index"
    write_version(folder, files, 0)
    command = ingest_file_by_file(folder, index)
    assert subprocess.run(command, cwd=ROOT, capture_output=True).returncode == 0
    failures: list[str] = []

    def write() -> None:  # another process ingests new versions of every file, again and again
        for run in range(WRITER_RUNS):
            write_version(folder, files, (run + 1) % 2)
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                failures.append(done.stderr)

    writer = threading.Thread(target=write)
    settings = settings_for(index)
    store = SqliteFaissStore(index, embedder.name, create=False)
    states: set[frozenset[tuple[str, str]]] = set()
    reads = 0
    writer.start()
    try:
        while writer.is_alive():
            found = assert_consistent(store, expected)  # ids agree, every document complete
            states.add(frozenset((d.source, d.content_hash) for d in found))
            if reads % 5 == 0:  # a question, as `rag ask` retrieves it: one snapshot
                passages = retrieve(store, embedder, settings, "How much copper did Callao move?")
                assert passages and all(passage.text in texts for passage in passages)
            reads += 1
            time.sleep(0.002)  # leave the writer a core
    finally:
        writer.join()
        store.close()
    assert not failures, failures
    mid_ingest = [
        state
        for state in states
        if len({version_of(expected[content_hash][0]) for _, content_hash in state}) > 1
    ]
    print(f"{reads} reads; {len(states)} states, {len(mid_ingest)} of them mid-ingest")
    assert reads > 50 and mid_ingest  # it read between the commits of one ingest


def version_of(chunk_text: str) -> int:
    """The version of a report that a chunk of it comes from (its marker word says)."""
    found = re.search(r"marker\d+v(\d+)", chunk_text)
    assert found is not None
    return int(found.group(1))
