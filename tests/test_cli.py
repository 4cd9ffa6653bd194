"""The `rag` command end to end, as a user runs it (real model, real files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import cast

from conftest import ROOT, SEED, SEED_QUESTION


def rag(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_ingest_ask_reingest_change_and_remove(tmp_path: Path):
    folder = tmp_path / "library"
    (folder / "sub").mkdir(parents=True)
    (folder / "seed.txt").write_text(SEED.read_text())
    (folder / "sub" / "ports.md").write_text(
        "# Port notes\n\nThe port of Ilo handles copper exports."
    )
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    (folder / "empty.txt").write_bytes(b"")
    index = tmp_path / "index"

    first = rag("ingest", str(folder), "--index", str(index), "--quiet")
    assert first.returncode == 0, first.stderr
    assert "2 indexed, 0 unchanged, 2 skipped" in first.stdout
    assert "skipped broken.pdf: not a readable PDF" in first.stdout
    assert "skipped empty.txt: empty file" in first.stdout

    asked = rag("ask", SEED_QUESTION, "--json", "--extractive", env={"RAG_INDEX_DIR": str(index)})
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["refused"] is False and "7.6 metric tons" in answer["answer"]
    citation = answer["citations"][0]
    assert set(citation) >= {"n", "document", "file", "page", "quote", "chunk_id"}
    assert (citation["n"], citation["file"], citation["page"]) == (1, "seed.txt", None)
    assert "7.6 metric tons" in citation["quote"]

    (folder / "sub" / "ports.md").write_text("# Port notes\n\nThe port of Matarani ships zinc ore.")
    again = rag("ingest", str(folder), "--index", str(index), "--quiet")
    assert "1 indexed, 1 unchanged, 2 skipped" in again.stdout, again.stdout

    unchanged = rag("ingest", str(folder), "--index", str(index), "--quiet")
    assert "0 indexed, 2 unchanged" in unchanged.stdout and " 0 chunks" in unchanged.stdout

    removed = rag("remove", "sub/ports.md", "--index", str(index))
    assert removed.returncode == 0 and "removed sub/ports.md" in removed.stdout
    status = rag("status", "--documents", "--index", str(index))
    assert "documents: 1" in status.stdout and "ports.md" not in status.stdout
    gone = rag("ask", "Which port ships zinc ore?", "--json", "--extractive", "--index", str(index))
    assert "ports.md" not in gone.stdout


def test_expected_errors_are_one_line_without_traceback(tmp_path: Path):
    missing = rag("ask", "anything", "--index", str(tmp_path / "nowhere"))
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0 and "Traceback" not in missing.stderr
    assert "no index at" in missing.stderr and "rag ingest" in missing.stderr

    bad_setting = rag("status", env={"RAG_TOP_K": "many"})
    assert bad_setting.returncode == 1 and "top_k" in bad_setting.stderr
    assert "Traceback" not in bad_setting.stderr

    not_there = rag("remove", "no-such-doc.pdf", "--index", str(tmp_path / "nowhere"))
    assert not_there.returncode == 1 and "Traceback" not in not_there.stderr


def test_ingest_fails_when_no_file_given_could_be_read(tmp_path: Path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "notes.xyz").write_text("not a format rag reads")
    index = str(tmp_path / "index")
    result = rag(
        "ingest", str(tmp_path / "empty.txt"), str(tmp_path / "notes.xyz"), "--index", index
    )
    assert result.returncode == 1, result.stdout
    assert "0 indexed, 0 unchanged, 2 skipped" in result.stdout
    typo = rag("status", "--index", index, env={"RAG_TOPK": "8"})
    assert "rag: warning: RAG_TOPK (RAG_TOP_K?) names no setting; it is ignored" in typo.stderr


def test_a_reader_that_stops_reading_gets_no_traceback(monkeypatch, capsys):
    import rag.cli

    def status(args: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(rag.cli, "command_status", status)
    with open(os.devnull, "w") as sink:  # a file with a descriptor, as a pipe has
        monkeypatch.setattr(sys, "stdout", sink)
        assert rag.cli.main(["status"]) == 141
    assert capsys.readouterr().err == ""


def test_default_library_reingest_adds_nothing(library_copy):
    report = library_copy.ingest([ROOT / "corpus", ROOT / "seeds"])
    assert report.indexed == [] and report.chunks == 0
    assert len(report.unchanged) == 19


def test_removed_document_leaves_search_results(library_copy):
    before = library_copy.ask(SEED_QUESTION, mode="extractive")
    assert before.citations[0].file == "000_2ab8909efb0e4c04.txt"
    library_copy.remove("000_2ab8909efb0e4c04.txt")
    after = library_copy.ask(SEED_QUESTION, mode="extractive")
    assert all(p.file != "000_2ab8909efb0e4c04.txt" for p in after.passages)


class ScriptedLibrary:
    """A library whose answer chain yields fixed events."""

    def __init__(self, events: list[object]) -> None:
        self.events = events

    def ask_stream(self, question, **kwargs):  # the CLI's only call
        return iter(self.events)


def test_the_terminal_shows_the_evidence_before_the_answer(capsys):
    from rag.answering import Evidence, Queued, TextPiece
    from rag.cli import CHECKED_AS_DRAFTED, DRAFT_HEADING, stream_to_terminal
    from rag.library import Library
    from rag.records import Answer, Citation, Passage

    text = "7.6 metric tons were seized near Trujillo."
    passage = Passage(1, 1, "PRISM", "seed.txt", None, 0, len(text), text, 1.0)
    quote = Citation.of(1, passage, 0, len(text))
    answer = Answer(SEED_QUESTION, f"{text} [1]", False, "local", [quote])
    events = [
        Evidence(SEED_QUESTION, [passage], [quote]),
        Queued(1),
        TextPiece("7.6 metric tons"),
        TextPiece(" were seized near Trujillo. [1]"),
        answer,
    ]
    library = cast(Library, ScriptedLibrary(events))
    assert stream_to_terminal(library, SEED_QUESTION, "local", None, []) == answer
    shown = capsys.readouterr().out
    assert shown.index("Evidence:\n[1] PRISM (seed.txt)\n    \u201c7.6 metric tons") == 0
    assert shown.index("waiting for the model: 1 question(s) ahead") < shown.index(
        f"{DRAFT_HEADING}\n7.6"
    )
    assert "Checked answer" not in shown  # the streamed text was the checked one
    assert f"Trujillo. [1]\n\n{CHECKED_AS_DRAFTED}\n" in shown
    assert shown.rstrip().endswith("\u201c7.6 metric tons were seized near Trujillo.\u201d")


def test_evidence_that_quotes_nothing_shows_how_the_passage_begins():
    from rag.answering import Evidence
    from rag.cli import format_evidence
    from rag.records import Passage

    text = (
        "12 Sharma, \u201cSpace Issues.\u201d The Space Force was "
        "established in December 2019 as the sixth armed service, within the Department of the "
        "Air Force, and has grown since then to about 10,000 Guardians."
    )
    passage = Passage(1, 1, "Space Force", "sf.pdf", 2, 0, len(text), text, 1.0)
    shown = format_evidence(Evidence("Who leads it?", [passage], []))
    assert shown == (
        "Evidence:\n[1] Space Force (sf.pdf, page 2)\n    no sentence here answers; it begins: "
        "The Space Force was established in December 2019 as the sixth armed service, within the "
        "Department of the Air Force, and has grown since then to about 10,000 …"
    )


def test_the_terminal_says_why_the_models_answer_is_replaced(capsys):
    from rag.answering import EXTRACTIVE, TextPiece
    from rag.cli import stream_to_terminal
    from rag.library import Library
    from rag.records import NOT_IN_LIBRARY, Answer, Citation, Passage

    text = "7.6 metric tons were seized near Trujillo."
    passage = Passage(1, 1, "PRISM", "seed.txt", None, 0, len(text), text, 1.0)
    answer = Answer(
        SEED_QUESTION, f"{text} [1]", False, EXTRACTIVE, [Citation.of(1, passage, 0, len(text))]
    )
    library = cast(Library, ScriptedLibrary([TextPiece("Not in the library."), answer]))
    stream_to_terminal(library, SEED_QUESTION, "local", None, [])
    shown = capsys.readouterr().out
    assert f"The model gave no answer; quoted from the library:\n{text} [1]" in shown
    unchecked = cast(Library, ScriptedLibrary([TextPiece("Trujillo seized 9 tons. [1]"), answer]))
    stream_to_terminal(unchecked, SEED_QUESTION, "local", None, [])
    shown = capsys.readouterr().out
    assert f"answer did not pass the checks; quoted from the library:\n{text} [1]" in shown
    refusal = Answer(question=SEED_QUESTION, text=NOT_IN_LIBRARY, refused=True, mode="local")
    refused = cast(Library, ScriptedLibrary([TextPiece("Trujillo seized 9 tons. [1]"), refusal]))
    stream_to_terminal(refused, SEED_QUESTION, "local", None, [])
    shown = capsys.readouterr().out
    assert f"The model's answer did not pass the checks:\n{NOT_IN_LIBRARY}" in shown


def test_ingest_names_a_report_in_a_language_the_model_was_not_made_for(tmp_path: Path):
    folder = tmp_path / "library"
    folder.mkdir()
    report = ROOT / "benchmarks" / "questions" / "multilingual" / "canal-de-panama.md"
    (folder / report.name).write_text(report.read_text())
    (folder / "seed.txt").write_text(SEED.read_text())

    ingested = rag("ingest", str(folder), "--index", str(tmp_path / "index"), "--quiet")
    assert ingested.returncode == 0, ingested.stderr
    assert "2 indexed" in ingested.stdout
    notes = [line for line in ingested.stdout.splitlines() if "note:" in line]
    assert len(notes) == 1 and "canal-de-panama.md is written in Spanish" in notes[0], notes
    assert "--preset quality" in notes[0]
