"""Briefings: planning, supported sentences only, global citation numbers, and the three exports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.briefing import (
    Briefing,
    _Numbering,
    build_briefing,
    parse_questions,
    reference_line,
    renumber,
    supported_section,
)
from rag.citations import parse_markers
from rag.cli import main
from rag.errors import ExportError
from rag.exporting import export, to_markdown
from rag.library import Library
from rag.records import Answer, Citation, Passage, Sentence
from rag.settings import load_settings

TOPIC = "seabed mining"
OFF_TOPIC = "sourdough bread baking recipes"
REFERENCE = re.compile(r"\[(\d+)\] (.+?\u201d)(?= \[\d+\] | \W*Only sentences|$)")


@pytest.fixture(scope="module")
def extractive_briefing(library_index: Path) -> Briefing:
    library = Library(load_settings(index_dir=library_index))
    try:
        return build_briefing(library, TOPIC, 5, mode="extractive")
    finally:
        library.close()


def flat(text: str) -> str:
    return " ".join(text.split())


def references_in(text: str) -> dict[int, str]:
    """The numbered reference entries of an exported briefing's text."""
    references = flat(text).split(" References ", 1)[1]
    return {int(n): body for n, body in REFERENCE.findall(references)}


def check_briefing(briefing: Briefing, library: Library) -> None:
    """Every sentence cited; numbers consistent across the document; each quote stored."""
    assert len(briefing.sections) >= 3
    numbers = [r.n for r in briefing.references]
    assert numbers == list(range(1, len(numbers) + 1))
    used: set[int] = set()
    for sentence in [s for section in briefing.sections for s in section.sentences]:
        markers = [n for marker in parse_markers(sentence.text) for n in marker.numbers]
        assert markers and set(markers) == set(sentence.citations), sentence.text
        assert sentence.verdict == "supported"
        used |= set(markers)
    assert used == set(numbers)  # no reference left uncited, no marker without a reference
    for point in briefing.summary:
        assert point in [s for section in briefing.sections for s in section.sentences]
    keys = [(r.file, r.page, r.quote) for r in briefing.references]
    assert len(keys) == len(set(keys))  # one number per quoted span
    for reference in briefing.references:
        [passage] = library.store().passages([reference.chunk_id])
        assert passage.text[reference.chunk_start : reference.chunk_end] == reference.quote
        assert passage.title == reference.document and passage.page == reference.page


def test_extractive_briefing_cites_every_sentence(
    extractive_briefing: Briefing, library: Library
) -> None:
    check_briefing(extractive_briefing, library)
    assert extractive_briefing.covered and extractive_briefing.mode == "extractive"
    assert len(extractive_briefing.summary) == len(extractive_briefing.sections)
    assert any("Seabed" in doc for doc in extractive_briefing.cited_documents)


def test_exports_hold_the_same_references(extractive_briefing: Briefing, tmp_path: Path) -> None:
    import docx
    import pypdfium2

    expected = {r.n: flat(reference_line(r)) for r in extractive_briefing.references}
    paths = {suffix: tmp_path / f"briefing{suffix}" for suffix in (".md", ".docx", ".pdf")}
    for path in paths.values():
        export(extractive_briefing, path)

    markdown = paths[".md"].read_text(encoding="utf-8")
    assert markdown == to_markdown(extractive_briefing)
    assert references_in(markdown) == expected

    word = docx.Document(str(paths[".docx"]))
    headings = [p.text for p in word.paragraphs if p.style and p.style.name == "Heading 1"]
    for section in extractive_briefing.sections:
        assert any(section.question in heading for heading in headings)
    assert "References" in headings
    assert references_in("\n".join(p.text for p in word.paragraphs)) == expected

    pdf = pypdfium2.PdfDocument(str(paths[".pdf"]))
    text = "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert references_in(text) == expected
    for section in extractive_briefing.sections:
        assert flat(section.sentences[0].text) in flat(text)


def test_unknown_export_format_is_refused(extractive_briefing: Briefing, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"\.md, \.docx, \.pdf"):
        export(extractive_briefing, tmp_path / "briefing.txt")


@pytest.mark.parametrize("mode", ["extractive", "local"])
def test_topic_outside_the_library_gives_a_short_not_in_library_briefing(
    library: Library, mode: str
) -> None:
    briefing = build_briefing(library, OFF_TOPIC, 3, mode=mode)  # local: refused before any model
    assert not briefing.covered
    assert briefing.sections == [] and briefing.references == [] and briefing.summary == []
    markdown = to_markdown(briefing)
    assert "Not in the library" in markdown and "References" not in markdown
    assert len(markdown.splitlines()) < 10


def test_only_the_planned_sub_questions_are_listed_as_not_answered(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spare sub-question is asked in place of one that kept nothing; when it keeps nothing
    too, the reader is not told of a question nobody asked."""
    from rag.answering import refusal
    from rag.briefing import plan_subquestions

    planned = plan_subquestions(library, TOPIC, 3, mode="extractive")
    asked: list[str] = []

    def nothing_kept(question: str, **_: object) -> Answer:
        asked.append(question)
        return refusal(question, "extractive", [])

    monkeypatch.setattr(library, "ask", nothing_kept)
    briefing = build_briefing(library, TOPIC, 3, mode="extractive")
    assert briefing.sections == []
    assert len(asked) == 6 and asked[:3] == planned  # three planned, three spares
    assert briefing.unanswered == planned


def test_parse_questions_reads_numbered_and_bulleted_lines() -> None:
    reply = (
        "Here are the questions:\n1. What is seabed mining?\n2) Who regulates seabed mining\n"
        "- What are the environmental risks of seabed mining?\n"
        "* What is seabed mining?\nseabed mining\n\n"
        "Q4: Which companies test seabed mining equipment?"
    )
    assert parse_questions(reply, TOPIC) == [
        "What is seabed mining?",
        "Who regulates seabed mining?",
        "What are the environmental risks of seabed mining?",
        "Which companies test seabed mining equipment?",
    ]


def test_renumber_maps_markers_and_merges_repeats() -> None:
    assert renumber("Mining rose. [1][2] Fell [2, 3].", {1: 4, 2: 4, 3: 7}) == (
        "Mining rose. [4] Fell [4][7]."
    )


def _passage(chunk_id: int, text: str) -> Passage:
    title = "Seabed Mining in Areas Beyond National Jurisdiction: Issues for Congress"
    return Passage(
        chunk_id=chunk_id,
        document_id=1,
        title=title,
        file="r.pdf",
        page=3,
        start=0,
        end=len(text),
        text=text,
        score=0.5,
    )


def test_sections_keep_supported_prose_citing_prose_only() -> None:
    authorized = "No commercial-scale seabed operations have been authorized in ABNJ."
    tested = "Some companies have tested equipment during deep-sea mining trials."
    prose = _passage(1, f"{authorized} {tested}")
    contents = _passage(2, "23 Potential Marine Environmental Impacts ........................ 25")
    sentences = [
        Sentence("Companies have tested mining equipment in trials. [1]", [1], "supported"),
        Sentence("Mining harms marine environments through several impacts. [2]", [2], "supported"),
        Sentence("Mining trials began in the 1970s in the Pacific. [1]", [1], "unsupported"),
        Sentence("Companies have tested mining equipment in trials. [1]", [1], "supported"),
        Sentence("No commercial seabed mining has been authorized in ABNJ. [1]", [1], "supported"),
    ]
    answer = Answer(
        question="What has been tested?",
        text="",
        refused=False,
        mode="local",
        citations=[
            Citation.of(1, prose, 0, len(prose.text)),
            Citation.of(2, contents, 0, len(contents.text)),
        ],
        sentences=sentences,
        passages=[prose, contents],
    )
    numbering = _Numbering()
    section, dropped = supported_section(answer, numbering, set(), lambda cited, _: cited)
    assert [s.text for s in section.sentences] == [
        "Companies have tested mining equipment in trials. [1]",
        "No commercial seabed mining has been authorized in ABNJ. [2]",
    ]  # the table-of-contents quote and the repeat are left out, the unsupported one dropped
    assert dropped == 1
    # each sentence quotes the passage sentence that supports it, under its own number
    assert [r.quote for r in numbering.references.values()] == [tested, authorized]


def test_a_sections_references_quote_past_a_heading_run_into_them() -> None:
    from rag.answering import citations_past_headings

    prose = _passage(1, "Background The fund was set up in 1934 to steady the dollar.")
    answer = Answer(
        question="When was the fund set up?",
        text="",
        refused=False,
        mode="extractive",
        citations=[Citation.of(1, prose, 0, len(prose.text))],
        sentences=[
            Sentence("The fund was set up in 1934 to steady the dollar. [1]", [1], "supported")
        ],
        passages=[prose],
    )
    numbering = _Numbering()

    def past_background(cited: list[Citation], passages: list[Passage]) -> list[Citation]:
        return citations_past_headings(cited, passages, lambda passage: [(0, len("Background"))])

    supported_section(answer, numbering, set(), past_background)
    assert [r.quote for r in numbering.references.values()] == [
        "The fund was set up in 1934 to steady the dollar."
    ]


def test_rag_brief_writes_the_file_the_suffix_names(
    library_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "seabed.md"
    code = main(
        [
            "brief",
            TOPIC,
            "--sections",
            "3",
            "--extractive",
            "--quiet",
            "--index",
            str(library_index),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert out.read_text(encoding="utf-8").startswith("# Briefing: Seabed mining")
    assert "3 sections" in capsys.readouterr().out
    code = main(
        [
            "brief",
            TOPIC,
            "--extractive",
            "--index",
            str(library_index),
            "--out",
            str(tmp_path / "seabed.txt"),
        ]
    )
    assert code == 1
    assert ".md, .docx, .pdf" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.model
def test_local_model_briefing_is_cited_and_supported(library: Library) -> None:
    briefing = build_briefing(library, TOPIC, 3, mode="local")
    check_briefing(briefing, library)
    assert briefing.mode == "local"


def test_planning_takes_passages_in_turn_from_each_relevant_document():
    from rag.briefing import take_turns
    from rag.records import Passage

    def passage(
        chunk: int, document: int, similarity: float, text: str = "The stabilization fund"
    ) -> Passage:
        return Passage(
            chunk, document, f"doc {document}", f"{document}.pdf", 1, 0, 1, text, 1.0, similarity
        )

    long_report = [passage(n, 1, 0.9) for n in range(3)]
    short_report, off_topic = passage(10, 2, 0.7), passage(20, 3, 0.2)
    exchanges = passage(30, 4, 0.6, "Decentralized exchanges list tokens.")  # names no fund
    ranked = [*long_report, off_topic, exchanges, short_report]
    assert [p.chunk_id for p in take_turns(ranked, 0.4, "Exchange Stabilization Fund")] == [
        0,
        10,
        1,
        2,
    ]


def test_a_key_phrase_is_a_name_not_a_name_run_into_a_date():
    from rag.briefing import key_phrase

    text = (
        "Strikes on Iran on February 28 closed the strait. Talks with Iran on February 2 "
        "failed. Insurers raised war-risk premiums."
    )
    passage = Passage(1, 1, "The Strait in Brief", "s.pdf", 3, 0, len(text), text, 1.0)
    phrase = key_phrase(passage, "Strait of Hormuz shipping", set())
    assert phrase is not None and "february" not in phrase.lower()
