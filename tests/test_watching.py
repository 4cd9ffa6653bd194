"""A watched folder keeps the library current: add, change, rename through an editor's
temporary file, delete; a folder that disappears deletes nothing. Real files, real watchdog
events, the real embedding model."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT, settings_for

from rag.errors import DocumentNotFoundError
from rag.library import Library
from rag.watching import Watcher, is_temporary

WAIT_SECONDS = 30


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_SECONDS} s: {what}")
        time.sleep(0.1)


def stored(library: Library) -> dict[str, str]:
    """file -> its text, of every document in the index ({} while the watcher's thread
    removes a document listed a moment before)."""
    store = library.store(create=True)
    try:
        return {d.file: store.page(d.id, None).text for d in library.documents()}
    except DocumentNotFoundError:
        return {}


@pytest.fixture
def watched(tmp_path: Path):
    folder = tmp_path / "watched"
    (folder / "sub").mkdir(parents=True)
    (folder / "before.txt").write_text("Paita ships fish meal to China.")
    library = Library(settings_for(tmp_path / "index"))
    lines: list[str] = []
    watcher = Watcher(library, [folder], lines.append, debounce_seconds=0.5)
    watcher.start()
    yield folder, library, lines
    watcher.stop()
    library.close()


def test_added_changed_renamed_and_deleted_files_follow_the_folder(watched):
    folder, library, lines = watched
    assert stored(library) == {"before.txt": "Paita ships fish meal to China."}  # at start

    (folder / "sub" / "new.md").write_text("# Ilo\n\nIlo ships copper.")
    wait_for(lambda: "indexed sub/new.md" in lines, "a new file is indexed")
    assert "sub/new.md" in stored(library)

    # An editor's save: write a temporary file, then rename it over the document.
    (folder / "sub" / ".new.md.swp").write_text("swap")
    (folder / "sub" / "new.md.tmp").write_text("# Ilo\n\nIlo ships zinc.")
    os.replace(folder / "sub" / "new.md.tmp", folder / "sub" / "new.md")
    wait_for(lambda: stored(library).get("sub/new.md") == "# Ilo\n\nIlo ships zinc.", "a change")

    os.rename(folder / "before.txt", folder / "after.txt")
    wait_for(lambda: set(stored(library)) == {"after.txt", "sub/new.md"}, "a rename")

    (folder / "sub" / "new.md").unlink()
    wait_for(lambda: "removed sub/new.md" in lines, "a deletion")
    assert set(stored(library)) == {"after.txt"}
    assert not any(".swp" in line or ".tmp" in line for line in lines), lines


def test_a_folder_that_disappears_deletes_nothing(watched, tmp_path: Path):
    folder, library, lines = watched
    (folder / "sub" / "deep.txt").write_text("Callao has a container terminal.")
    wait_for(lambda: "sub/deep.txt" in stored(library), "a new file is indexed")

    shutil.move(folder, tmp_path / "elsewhere")  # as an unmounted drive: every file gone
    time.sleep(2)
    shutil.rmtree(tmp_path / "elsewhere")
    folder.mkdir()  # an empty mount point left behind
    time.sleep(2)

    assert set(stored(library)) == {"before.txt", "sub/deep.txt"}
    assert not any(line.startswith("removed") for line in lines), lines


def test_editors_temporary_files_are_recognised():
    for name in ["~$report.docx", ".~lock.report.docx#", "report.docx~", ".report.md.swp",
                 "report.pdf.part", "4913", "x.crdownload", ".goutputstream-ABC12"]:  # fmt: skip
        assert is_temporary(name), name
    for name in ["report.docx", "swap.md", "4913.txt", "tmp.pdf"]:
        assert not is_temporary(name), name


def test_rag_watch_command_indexes_a_new_file_and_stops_on_interrupt(tmp_path: Path):
    folder = tmp_path / "watched"
    folder.mkdir()
    index = tmp_path / "index"
    command = [sys.executable, "-m", "rag.cli", "watch", str(folder), "--index", str(index)]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        # a shell's background job (a CI run started with &) ignores Ctrl+C, and a child
        # inherits that: give the watcher the terminal's default, as a user's shell does
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    killer = threading.Timer(120, process.kill)  # a hung watcher fails the test, not the run
    killer.start()
    try:
        output = []
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "ready" in line:
                (folder / "note.txt").write_text("Chancay opened in 2024.")
            if "indexed note.txt" in line:
                break
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=WAIT_SECONDS)
    finally:
        killer.cancel()
        process.kill()
    assert any("indexed note.txt" in line for line in output), output
    assert "stopped" in rest and process.returncode == 0


def test_the_app_watches_its_watch_folders_and_shows_the_changes(tmp_path: Path, capfd):
    from ui.app import App

    folder = tmp_path / "watched"
    folder.mkdir()
    (folder / "first.txt").write_text("Pisco exports grapes.")
    library = Library(settings_for(tmp_path / "index", watch_folders=[folder]))
    try:
        app = App(library)
        watcher = app.watch()
        try:
            wait_for(lambda: "indexed first.txt" in app.watch_log(), "the folder indexed at start")
            (folder / "second.txt").write_text("Salaverry handles bulk grain.")
            wait_for(lambda: "indexed second.txt" in app.watch_log(), "a line in the app's log")
            assert f"watching {folder.resolve()}" in app.watch_log()
            assert "indexed second.txt" in capfd.readouterr().err  # the server's log
        finally:
            watcher.stop()
    finally:
        library.close()
