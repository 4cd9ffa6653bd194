"""Folders that keep the library current: files added, changed, renamed or deleted under a
watched folder are ingested or removed a moment later (watchdog events, debounced).

Editors that save through a temporary file (write `x.tmp`, rename it over `x`) cause one
ingest of `x` once the events settle; their temporary and lock files are never read. A
watched folder that is gone or empty (an unmounted drive) deletes nothing: its documents are
kept and a line says so.
"""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rag.ingesting import IngestReport, SourceFile, discover
from rag.loading import SUPPORTED_SUFFIXES

if TYPE_CHECKING:
    from watchdog.events import FileSystemEvent
    from watchdog.observers.api import BaseObserver

    from rag.library import Library

DEBOUNCE_SECONDS = 2.0  # a path is handled once no event has come for it for this long
# Editors' temporary, backup and lock files: "~$report.docx", ".~lock.x#", "x~", "x.swp",
# "x.tmp", "x.part", "x.crdownload", vim's "4913", gedit's ".goutputstream-ABC".
_TEMPORARY = re.compile(
    r"^(~\$|\.~lock\.|\.goutputstream-)|~$|\.(swp|swx|swo|tmp|temp|part|partial|crdownload)$"
    r"|^4913$",
    re.IGNORECASE,
)

Report = Callable[[str], None]  # receives one line per change


def is_temporary(name: str) -> bool:
    """Whether a file name is an editor's or a download's temporary file."""
    return bool(_TEMPORARY.search(name))


class Watcher:
    """Watches folders for a Library; `start` begins, `stop` ends (a daemon thread handles
    the changes, one batch at a time, through the Library)."""

    def __init__(
        self,
        library: Library,
        folders: list[Path],
        report: Report,
        debounce_seconds: float = DEBOUNCE_SECONDS,
    ) -> None:
        self.library = library
        self.roots = [folder.resolve() for folder in folders]
        self.report = report
        self.debounce_seconds = debounce_seconds
        self._pending: dict[Path, float] = {}  # path -> time of its last event
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer: BaseObserver | None = None

    def start(self) -> None:
        """Index what changed in the folders while nobody watched (new and changed files),
        then watch them."""
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                watcher._event(event)

        observer = Observer()
        for root in self.roots:
            if root.is_dir():
                observer.schedule(Handler(), str(root), recursive=True)
                self.report(f"watching {root}")
            else:
                self.report(f"not watching {root}: no such folder")
        observer.start()
        self._observer = observer
        self._handle_files([root for root in self.roots if root.is_dir()])
        self._thread = threading.Thread(target=self._run, name="rag-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; changes not handled yet are dropped (the next start finds them)."""
        self._stopping.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
        if self._thread is not None:
            self._thread.join()

    def _event(self, event: FileSystemEvent) -> None:
        if event.event_type not in ("created", "modified", "deleted", "moved", "closed"):
            return
        if event.is_directory and event.event_type == "modified":
            return  # a file in it changed, and has its own event
        paths = [event.src_path, getattr(event, "dest_path", "")]
        now = time.monotonic()
        with self._lock:
            for path in paths:
                if path:
                    self._pending[Path(str(path))] = now
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.debounce_seconds / 4)
            self._wake.clear()
            now = time.monotonic()
            with self._lock:
                due = [p for p, t in self._pending.items() if now - t >= self.debounce_seconds]
                for path in due:
                    del self._pending[path]
            if due:
                try:
                    self._handle(due)
                except Exception as error:  # the watcher outlives any one failure
                    self.report(f"error: {type(error).__name__}: {error}")

    def _root_of(self, path: Path) -> Path | None:
        return next((root for root in self.roots if path.is_relative_to(root)), None)

    def _handle(self, paths: list[Path]) -> None:
        """Ingest the paths that are now files or folders; remove the documents of the others."""
        present: list[Path] = []
        gone: list[Path] = []
        for path in sorted(paths):
            root = self._root_of(path)
            if root is None or path == root or self._ignored(path, root):
                continue
            (present if path.exists() else gone).append(path)
        self._handle_files(present)
        self._remove(gone)

    def _ignored(self, path: Path, root: Path) -> bool:
        parts = path.relative_to(root).parts
        exclude = self.library.settings.exclude
        return any(
            is_temporary(part) or any(fnmatch.fnmatch(part, pattern) for pattern in exclude)
            for part in parts
        )

    def _handle_files(self, paths: list[Path]) -> None:
        """Ingest the supported files among `paths` (folders: the files under them)."""
        sources: list[SourceFile] = []
        for path in paths:
            root = self._root_of(path)
            if root is None:
                continue
            if path.is_dir():
                found = discover([path], self.library.settings.exclude, IngestReport())
                sources += [
                    SourceFile(s.path, s.path.relative_to(root).as_posix())
                    for s in found
                    if not is_temporary(s.path.name)
                ]
            elif path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
                sources.append(SourceFile(path, path.relative_to(root).as_posix()))
        if not sources:
            return
        result = self.library.ingest_files(sources)
        for file in result.indexed:
            self.report(f"indexed {file}")
        for file, reason in result.skipped:
            self.report(f"skipped {file}: {reason}")

    def _remove(self, paths: list[Path]) -> None:
        """Remove the documents of deleted files (and of the files under deleted folders),
        unless their watched folder is gone or empty: then nothing is removed."""
        if not paths:
            return
        kept: set[Path] = set()
        sources: list[str] = []
        documents = self.library.documents()
        for path in paths:
            root = self._root_of(path)
            if root is None:
                continue
            if not root.is_dir() or next(root.iterdir(), None) is None:
                kept.add(root)
                continue
            prefix = f"{path}/"
            sources += [
                d.source for d in documents if d.source == str(path) or d.source.startswith(prefix)
            ]
        for root in sorted(kept):
            self.report(f"{root} is gone or empty (unmounted?): its documents are kept")
        for document in self.library.remove_sources(sources):
            self.report(f"removed {document.file}")
