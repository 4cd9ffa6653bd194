"""Helpers of the reliability tests: the `rag` command as a measured subprocess, file makers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, settings_for

from rag.library import Library

# Without these capabilities root, like any user, is refused files that its mode bits forbid.
DROP_FILE_PERMISSION_OVERRIDE = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]


@dataclass(frozen=True)
class Run:
    """A finished `rag` subprocess: exit status, output, its own peak memory, and wall time."""

    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    seconds: float


@contextmanager
def open_library(index: Path) -> Iterator[Library]:
    library = Library(settings_for(index))
    try:
        yield library
    finally:
        library.close()


def rag_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rag.cli", *args]


def run_measured(
    command: list[str], env: dict[str, str] | None = None, timeout: float = 300
) -> Run:
    """Run `command` to its end; its peak RSS comes from wait4, so it is this process alone."""
    started = time.perf_counter()
    with open(os.devnull, "rb") as stdin, _Capture() as out, _Capture() as err:
        process = subprocess.Popen(
            command,
            stdin=stdin,
            stdout=out.handle,
            stderr=err.handle,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        return Run(process.returncode, out.text(), err.text(), usage.ru_maxrss / 1024, seconds)


class _Capture:
    """A temporary file that a subprocess writes to and the test reads afterwards."""

    def __enter__(self) -> _Capture:
        import tempfile

        self.handle = tempfile.TemporaryFile()
        return self

    def text(self) -> str:
        self.handle.seek(0)
        return self.handle.read().decode(errors="replace")

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def without_permission_override(command: list[str]) -> list[str]:
    """`command` run so that file permissions bind it, even when the tests run as root."""
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot drop root's file-permission override")
    return [*DROP_FILE_PERMISSION_OVERRIDE, *command]


def write_zip_bomb(path: Path, unpacked_mb: int = 300) -> Path:
    """A .docx-named zip whose document part inflates about 1,000-fold."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            block = b" " * (1 << 20)
            for _ in range(unpacked_mb):
                part.write(block)
    return path


def report_text(number: int, version: int) -> str:
    """A report of a few chunks whose every version has its own marker word."""
    marker = f"marker{number}v{version}"
    paragraphs = [
        f"Report {number}, version {version}, section {section}: {marker}. The port of "
        f"Callao moved {number * 1000 + section * 10 + version} tonnes of copper concentrate "
        f"in week {section}, while vessels from Paita carried zinc, fish meal and grapes. " * 3
        for section in range(4)
    ]
    return "\n\n".join(paragraphs)


def write_version(folder: Path, files: int, version: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(files):
        (folder / f"report-{number}.txt").write_text(report_text(number, version))


def expected_chunks(tmp_path: Path, files: int, versions: int) -> dict[str, list[str]]:
    """content hash -> the chunk texts, in order, that each version of each report gives."""
    expected: dict[str, list[str]] = {}
    for version in range(versions):
        folder, index = tmp_path / f"reference-{version}", tmp_path / f"reference-{version}-index"
        write_version(folder, files, version)
        with open_library(index) as library:
            library.ingest([folder])
            for document, passages in chunks_by_document(library.store()).items():
                expected[document.content_hash] = [passage.text for passage in passages]
    return expected


def chunks_by_document(store) -> dict:  # DocumentInfo -> its Passages in order; one snapshot
    with store.snapshot():
        documents = {document.id: document for document in store.documents()}
        found: dict[int, list] = {document_id: [] for document_id in documents}
        for passage in store.passages(store.chunk_ids()):
            found[passage.document_id].append(passage)
    return {documents[document_id]: passages for document_id, passages in found.items()}


def dense_ids(store) -> list[int]:
    """Every chunk id the FAISS side holds for the current snapshot, ascending."""
    probe = np.full(store.dimension, store.dimension**-0.5, dtype=np.float32)
    return sorted(hit.chunk_id for hit in store.search_dense(probe, len(store.chunk_ids()) + 10))


def assert_consistent(store, expected: dict[str, list[str]]) -> dict:
    """In one snapshot: FAISS and SQLite hold the same chunk ids, and every document is one
    complete version of its file. Returns DocumentInfo -> its Passages."""
    with store.snapshot():
        assert dense_ids(store) == store.chunk_ids()
        found = chunks_by_document(store)
    for document, passages in found.items():
        assert [passage.text for passage in passages] == expected[document.content_hash]
        assert document.chunks == len(passages)
    return found
