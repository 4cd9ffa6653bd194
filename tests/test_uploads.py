"""Uploads: names that cannot escape the folder, type/size/content checks, ingest and removal."""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
from conftest import ROOT, make_pdf, settings_for

from rag.errors import UnreadableFileError
from rag.library import Library
from rag.loading import SUPPORTED_SUFFIXES
from rag.uploads import (
    KIND_OF_SUFFIX,
    MAX_NAME_CHARS,
    SUPPORTED_KINDS,
    safe_file_name,
    save_upload,
)

if TYPE_CHECKING:
    import gradio as gr

NO_PROGRESS = cast("gr.Progress", lambda *_, **__: None)  # what the app reports progress to


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\Windows\\evil.MD", "evil.md"),
        ("/absolute/path/notes.txt", "notes.txt"),
        (".bashrc.txt", "bashrc.txt"),
        ("..", "upload"),
        ("", "upload"),
        ("name\x00with\x1fcontrols.txt", "namewithcontrols.txt"),
        ("Résumé <draft>?.docx", "Résumé _draft.docx"),
        ("ends with dots...", "ends with dots"),
    ],
)
def test_safe_file_name(given: str, safe: str):
    assert safe_file_name(given) == safe


def test_long_names_are_cut_keeping_the_suffix():
    name = safe_file_name("x" * 500 + ".pdf")
    assert len(name) == MAX_NAME_CHARS and name.endswith("x.pdf")


@pytest.mark.parametrize(
    "name", ["../../escape.txt", "..\\..\\escape.txt", "/tmp/escape.txt", "....txt"]
)
def test_saved_uploads_stay_in_the_folder(tmp_path: Path, name: str):
    source = tmp_path / "incoming"
    source.write_text("The harbour master keeps the tide tables.")
    folder = tmp_path / "uploads"
    saved = save_upload(source, name, folder, max_bytes=1000)
    assert saved.parent == folder.resolve()
    assert saved.read_text() == source.read_text()


def test_refusals_name_the_file_and_say_why(tmp_path: Path):
    folder = tmp_path / "uploads"
    program = tmp_path / "tool"
    program.write_bytes(b"MZ\x90\x00binary")
    with pytest.raises(
        UnreadableFileError, match=r"tool\.exe: files '\.exe' cannot be indexed; upload PDF"
    ):
        save_upload(program, "tool.exe", folder, max_bytes=1000)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableFileError, match=r"empty\.txt: the file is empty"):
        save_upload(empty, "empty.txt", folder, max_bytes=1000)
    big = tmp_path / "big"
    big.write_bytes(b"a" * 3 * 2**20)
    with pytest.raises(
        UnreadableFileError, match=r"big\.txt: 3\.0 MB is over the upload limit of 2\.0 MB"
    ):
        save_upload(big, "big.txt", folder, max_bytes=2 * 2**20)
    fake = tmp_path / "fake"
    fake.write_text("just text, not a PDF")
    with pytest.raises(UnreadableFileError, match=r"fake\.pdf: not a PDF"):
        save_upload(fake, "fake.pdf", folder, max_bytes=1000)
    with pytest.raises(UnreadableFileError, match=r"fake\.docx: not a Word \.docx file"):
        save_upload(fake, "fake.docx", folder, max_bytes=1000)
    assert not folder.exists() or not any(folder.iterdir())


def test_same_name_other_content_gets_a_new_name(tmp_path: Path):
    folder = tmp_path / "uploads"
    first, second = tmp_path / "a", tmp_path / "b"
    first.write_text("First version of the notes.")
    second.write_text("Second, different version of the notes.")
    saved_first = save_upload(first, "notes.txt", folder, max_bytes=1000)
    assert save_upload(first, "notes.txt", folder, max_bytes=1000) == saved_first
    saved_second = save_upload(second, "notes.txt", folder, max_bytes=1000)
    assert saved_second.name == "notes-2.txt"
    assert saved_first.read_text() == "First version of the notes."


def test_add_uploads_indexes_good_files_and_keeps_no_bad_ones(tmp_path: Path):
    library = Library(settings_for(tmp_path / "index"))
    notes = tmp_path / "incoming-notes"
    notes.write_text(
        "# Lighthouse notes\n\nThe Quellport lighthouse was built in 1887 by Ada Moravec."
    )
    broken = tmp_path / "incoming-broken"
    broken.write_bytes(b"%PDF-1.4 truncated")
    paper = make_pdf(tmp_path / "incoming.pdf", ["Tide tables for Quellport harbour, spring 1990."])
    try:
        report = library.add_uploads(
            [(notes, "notes.md"), (broken, "broken.pdf"), (paper, "../tides.pdf"), (notes, "x.exe")]
        )
        assert report.indexed == ["notes.md", "tides.pdf"]
        skipped = dict(report.skipped)
        assert skipped["broken.pdf"].startswith("not a readable PDF")
        assert "cannot be indexed" in skipped["x.exe"]
        folder = library.upload_folder()
        assert sorted(p.name for p in folder.iterdir()) == ["notes.md", "tides.pdf"]
        assert {d.file for d in library.documents()} == {"notes.md", "tides.pdf"}

        again = library.add_uploads([(notes, "notes.md")])
        assert again.unchanged == ["notes.md"] and again.chunks == 0

        removed = library.discard("notes.md")
        assert removed.file == "notes.md" and not (folder / "notes.md").exists()
        assert [d.file for d in library.documents()] == ["tides.pdf"]
    finally:
        library.close()


def test_discard_leaves_files_outside_the_upload_folder(tmp_path: Path):
    outside = tmp_path / "mine.txt"
    outside.write_text("A file the user keeps elsewhere about the Quellport ferry timetable.")
    library = Library(settings_for(tmp_path / "index"))
    try:
        library.ingest([outside])
        library.discard("mine.txt")
        assert outside.exists() and library.documents() == []
    finally:
        library.close()


def test_app_upload_names_each_bad_file_and_leaves_the_index_unchanged(tmp_path: Path):
    """The app's upload handler, given a corrupt PDF, a binary .txt, an empty and an over-size
    file, names each with its reason and changes neither the index nor the upload folder."""
    from ui.app import App

    library = Library(settings_for(tmp_path / "index", max_upload_bytes=4096))
    kept = tmp_path / "kept.txt"
    kept.write_text("The Quellport ferry sails twice a day to the island of Varn.")
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + random.Random(7).randbytes(3000))
    (incoming / "binary.txt").write_bytes(random.Random(8).randbytes(3000))
    (incoming / "empty.txt").write_bytes(b"")
    (incoming / "big.txt").write_text("tide " * 1000)
    reasons = {
        "corrupt.pdf": "not a readable PDF",
        "binary.txt": "binary data, not text",
        "empty.txt": "the file is empty",
        "big.txt": "4.9 KB is over the upload limit of 4.0 KB",
    }
    try:
        library.ingest([kept])
        before = (library.documents(), library.status())
        *_, message, cleared = App(library).upload(
            [str(incoming / name) for name in reasons], None, progress=NO_PROGRESS
        )
        lines = message.split("\n\n")
        assert len(lines) == len(reasons) and cleared is None
        for name, reason in reasons.items():
            line = next(line for line in lines if line.startswith(f"Could not add **{name}**: "))
            assert reason in line, line
        assert (library.documents(), library.status()) == before
        folder = library.upload_folder()
        assert not folder.exists() or not any(folder.iterdir())
    finally:
        library.close()


def test_a_path_traversal_name_is_saved_and_indexed_inside_the_upload_folder(tmp_path: Path):
    library = Library(settings_for(tmp_path / "library" / "index"))
    source = tmp_path / "incoming"
    source.write_text("The Varn island ferry timetable changed in May 2021.")
    try:
        report = library.add_uploads([(source, "../../etc/passwd.txt")])
        assert report.indexed == ["passwd.txt"] and not report.skipped
        assert [p.name for p in library.upload_folder().iterdir()] == ["passwd.txt"]
        assert [d.source for d in library.documents()] == [
            str(library.upload_folder() / "passwd.txt")
        ]
        assert not (tmp_path / "etc").exists() and not (tmp_path / "library" / "etc").exists()
    finally:
        library.close()


def test_app_upload_and_removal_refresh_every_document_picker(tmp_path: Path):
    """After an upload the new document can be chosen in the chat, library and briefing pickers;
    after its removal it is gone from all three, and other chosen documents stay chosen."""
    from ui.app import App

    library = Library(settings_for(tmp_path / "index"))
    kept = tmp_path / "kept.txt"
    kept.write_text("The Quellport ferry sails twice a day to the island of Varn.")
    added = tmp_path / "added.txt"
    added.write_text("The Varn lighthouse was rebuilt in 1911 after a winter storm.")
    try:
        library.ingest([kept])
        [kept_id] = [str(d.id) for d in library.documents()]
        app = App(library)
        _, _, chat, remove, brief, message, _ = app.upload(
            [str(added)], [kept_id], [kept_id], progress=NO_PROGRESS
        )
        [added_id] = [str(d.id) for d in library.documents() if d.file == "added.txt"]
        for picker in (chat, remove, brief):
            assert {value for _, value in picker["choices"]} == {kept_id, added_id}
        assert chat["value"] == [kept_id] and brief["value"] == [kept_id]
        assert "Added **added.txt**" in message
        _, _, chat, remove, brief, message = app.remove(added_id, [added_id], [kept_id, added_id])
        for picker in (chat, remove, brief):
            assert [value for _, value in picker["choices"]] == [kept_id]
        assert chat["value"] == [] and brief["value"] == [kept_id]
    finally:
        library.close()


def test_app_upload_names_a_report_in_a_language_the_model_was_not_made_for(tmp_path: Path):
    from ui.app import App

    library = Library(settings_for(tmp_path / "index"))
    report = ROOT / "benchmarks" / "questions" / "multilingual" / "tunnel-sous-la-manche.md"
    try:
        *_, message, _ = App(library).upload([str(report)], None, progress=NO_PROGRESS)
        added, note = message.split("\n\n")
        assert added == "Added **tunnel-sous-la-manche.md**."
        assert note.startswith("tunnel-sous-la-manche.md is written in French"), note
    finally:
        library.close()


def test_every_suffix_the_loaders_read_is_named_in_refusals_and_the_upload_help():
    assert set(KIND_OF_SUFFIX) == SUPPORTED_SUFFIXES
    assert SUPPORTED_KINDS == "PDF, Word, PowerPoint, Excel, CSV, EPUB, HTML, Markdown or text"
