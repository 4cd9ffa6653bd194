"""Ingest of many files: parsed in worker processes with the same result as in one process,
a file that crashes its reader is the only one skipped, and a cancelled ingest keeps what it
stored and resumes from there."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from conftest import make_pdf, settings_for

from rag.errors import UnreadableFileError
from rag.ingesting import MIN_FILES_FOR_PROCESSES, _ReaderPool
from rag.library import Library
from rag.loading import PdfReading, load
from rag.records import LoadedFile


def write_files(folder: Path, count: int) -> None:
    folder.mkdir()
    for i in range(count):
        if i % 3 == 0:
            make_pdf(folder / f"report-{i:02}.pdf", [f"Port {i} handled {i * 7} ships.", "Fish."])
        else:
            (folder / f"note-{i:02}.txt").write_text(f"Note {i}: the quay at berth {i} is {i}0 m.")


def chunks_by_file(library: Library) -> dict[str, list[tuple[int | None, int, str]]]:
    """file -> its chunks (page, start, text), in order."""
    store = library.store()
    chunks: dict[str, list[tuple[int | None, int, str]]] = {}
    for passage in store.passages(store.chunk_ids()):
        chunks.setdefault(passage.file, []).append((passage.page, passage.start, passage.text))
    return {file: sorted(found, key=lambda c: (c[0] or 0, c[1])) for file, found in chunks.items()}


def test_files_read_in_worker_processes_are_stored_as_read_in_one(tmp_path: Path):
    write_files(tmp_path / "docs", MIN_FILES_FOR_PROCESSES + 4)
    stored = []
    for workers in (2, 1):
        library = Library(settings_for(tmp_path / f"index-{workers}", ingest_workers=workers))
        try:
            report = library.ingest([tmp_path / "docs"])
            assert len(report.indexed) == MIN_FILES_FOR_PROCESSES + 4, report.skipped
            stored.append((chunks_by_file(library), report.chunks))
        finally:
            library.close()
    assert stored[0] == stored[1]


def read_or_crash(path: Path, pdf: PdfReading) -> LoadedFile:
    """A reader that kills its process on files named crash*, as a parser's crash would."""
    if path.name.startswith("crash"):
        os._exit(70)
    return load(path, pdf)


def test_a_file_that_crashes_its_reader_is_the_one_reported(tmp_path: Path):
    for name in ("crash.txt", "good.txt"):
        (tmp_path / name).write_text(f"{name} holds a sentence about ports.")
    pool = _ReaderPool(2, PdfReading(), read=read_or_crash)
    try:
        with pytest.raises(UnreadableFileError, match="crash.txt: its reader crashed"):
            pool.load(tmp_path / "crash.txt")
        assert pool.load(tmp_path / "good.txt").title == "good.txt holds a sentence about ports."
    finally:
        pool.close()


def test_a_cancelled_ingest_keeps_what_it_stored_and_resumes(tmp_path: Path):
    write_files(tmp_path / "docs", 12)
    library = Library(settings_for(tmp_path / "index", ingest_workers=1))
    cancel = threading.Event()

    def progress(file: str, done: int, total: int) -> None:
        if done == 5:
            cancel.set()

    try:
        first = library.ingest([tmp_path / "docs"], progress, cancel)
        assert first.cancelled and len(first.indexed) == 6  # set during the 6th: it is stored
        assert {d.file for d in library.documents()} == set(first.indexed)
        second = library.ingest([tmp_path / "docs"])
    finally:
        library.close()
    assert not second.cancelled
    assert sorted(second.unchanged) == sorted(first.indexed)
    assert len(second.indexed) + len(second.unchanged) == 12


def test_ctrl_c_stops_rag_ingest_after_a_file_and_a_rerun_goes_on(tmp_path: Path):
    import signal
    import subprocess
    import sys

    from conftest import ROOT

    folder = tmp_path / "docs"
    folder.mkdir()
    sentence = "The quay at berth {i} was dredged to {i} metres in the year {i} of the plan. "
    for i in range(300):
        (folder / f"note-{i:03}.txt").write_text(sentence.format(i=i) * 25)  # ~3 chunks each
    index = str(tmp_path / "index")
    command = [sys.executable, "-m", "rag.cli", "ingest", str(folder), "--index", index]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_INGEST_WORKERS": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )
    assert process.stderr is not None
    seen = ""
    while "note-" not in seen:  # the progress bar names a file: the ingest runs
        piece = process.stderr.read(80)
        assert piece, f"rag ingest ended before its progress bar: {seen}"
        seen = seen[-80:] + piece
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    assert "stopped: the files indexed so far stay" in output
    indexed = int(output.split(" indexed")[0].rsplit(" ", 1)[-1])
    assert 0 < indexed < 300

    again = subprocess.run(
        [*command, "--quiet"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    assert f"{300 - indexed} indexed, {indexed} unchanged, 0 skipped" in again.stdout, again.stdout
