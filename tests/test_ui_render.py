"""The app's HTML and set-up, without a browser: citation links, escaping, login settings, API."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr
import pytest
from conftest import settings_for

from rag.answering import Evidence, TextPiece
from rag.errors import SettingsError
from rag.library import Library
from rag.records import NOT_IN_LIBRARY, Answer, Citation, Passage, Sentence
from rag.settings import Settings
from ui import render
from ui.app import EMPTY_QUESTION, EMPTY_SOURCE, SCOPE_REMOVED, App, auth, build_app

CITATION = Citation(
    n=1,
    chunk_id=7,
    document="Ports <of> Peru",
    file="ports.pdf",
    page=4,
    quote="Callao handles most container traffic.",
    chunk_start=0,
    chunk_end=38,
    page_start=10,
    page_end=48,
)
ANSWER = Answer(
    question="Which port?",
    text="Callao handles most traffic [1]. <script>alert(1)</script> Paita is smaller.",
    refused=False,
    mode="local",
    citations=[CITATION],
    sentences=[
        Sentence("Callao handles most traffic [1].", [1], "supported"),
        Sentence("<script>alert(1)</script> Paita is smaller.", [], "uncited"),
    ],
)


def test_answer_markers_become_links_to_their_turn_and_html_is_escaped():
    html = render.answer_html(ANSWER, 3, "Local: Qwen2.5-Coder 1.5B")
    assert '<a class="cite" href="#cite-3-1" title="Ports &lt;of&gt; Peru, p. 4">1</a>' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert (
        '<a class="source-chip" href="#cite-3-1" title="Ports &lt;of&gt; Peru · ports.pdf · p. 4">'
        '<span class="num">1</span><span class="title">Ports &lt;of&gt; Peru</span> '
        '<span class="where">ports.pdf · p. 4</span></a>'
    ) in html
    assert "1 sentence to review" in html and "Local: Qwen2.5-Coder 1.5B · 1 source" in html


def test_a_generated_answer_is_shown_as_a_draft_under_its_evidence_until_checked():
    text = "Callao is Peru's main port."
    passage = Passage(1, 1, "Ports", "ports.pdf", 4, 0, len(text), text, 1.0)
    evidence = Evidence("Which port?", [passage], [Citation.of(1, passage, 0, len(text))])
    waiting = render.evidence_html(evidence, "Reading the passages…")
    assert "Reading the passages…" in waiting and render.DRAFT_LABEL not in waiting
    writing = render.evidence_html(evidence, "Reading the passages…", "Callao [1]")
    assert "<q>Callao is Peru&#x27;s main port.</q>" in writing
    assert f'<div class="label">{render.DRAFT_LABEL}</div><div class="generated">Callao' in writing
    assert "Reading the passages" not in writing
    unquoted = render.evidence_html(Evidence("Which port?", [passage], []), "Reading…")
    assert "it begins: Callao is Peru&#x27;s main port.</span>" in unquoted


def test_streaming_markers_are_inert_and_refusals_have_no_sources():
    assert render.streaming_html("Callao [1]") == (
        'Callao <span class="cite pending">1</span><span class="cursor"></span>'
    )
    refused = Answer(question="?", text=NOT_IN_LIBRARY, refused=True, mode="extractive")
    html = render.answer_html(refused, 0, "Extractive")
    assert '<div class="refusal">Not in the library' in html and "cite" not in html


def test_a_quote_or_a_refusal_in_place_of_the_models_answer_says_so():
    settings = Settings()
    assert render.answer_label("local", "local", settings) == "Local: Qwen2.5-Coder 1.5B"
    assert render.answer_label("extractive", "local", settings) == (
        "Quoted from the library in place of the answer of Local: Qwen2.5-Coder 1.5B"
    )
    assert render.answer_label("local", "local", settings, withdrawn=True) == (
        "Local: Qwen2.5-Coder 1.5B: its answer did not pass the checks"
    )


def test_the_users_question_is_shown_as_typed_not_as_markup():
    html = render.question_html("<img src=x> **What** is the `ESF`?\nAnd & more")
    assert html == (
        '<div class="asked">&lt;img src=x&gt; **What** is the `ESF`?<br>And &amp; more</div>'
    )


@pytest.fixture
def ports(tmp_path) -> Iterator[App]:
    """An app over a library of one note on Peru's ports."""
    (tmp_path / "ports.txt").write_text(PORTS)
    library = Library(settings_for(tmp_path / "index"))
    library.ingest([tmp_path / "ports.txt"])
    yield App(library)
    library.close()


PORTS = "Callao handles most container traffic. Paita is a smaller port in the north."
SOURCE = 7  # the Source pane among the outputs of App.respond


def test_the_final_answer_opens_its_own_citation_1_not_the_evidence_shown_before(
    ports: App, monkeypatch: pytest.MonkeyPatch
):
    """The evidence numbers the passages the model reads; once the checked answer replaces the
    draft, the Source pane shows what the answer's [1] quotes (or a hint when it cites none)."""
    [passage] = ports.library.retrieve("Which port is smaller?")
    callao = Citation.of(1, passage, 0, PORTS.index(" Paita"))
    paita = Citation.of(1, passage, PORTS.index("Paita"), len(PORTS))
    evidence = Evidence("Which port is smaller?", [passage], [callao])
    answer = Answer(
        question="Which port is smaller?",
        text="Paita is a smaller port in the north [1].",
        refused=False,
        mode="local",
        citations=[paita],
        sentences=[Sentence("Paita is a smaller port in the north [1].", [1], "supported")],
    )

    def stream(*events: object) -> None:
        monkeypatch.setattr(ports.library, "ask_stream", lambda *args, **kwargs: iter(events))

    stream(evidence, TextPiece("Paita [1]."), answer)
    steps = list(ports.respond("Which port is smaller?", [], [], "local", None))
    assert '<mark class="quote">Callao handles most container traffic.</mark>' in steps[1][SOURCE]
    final = steps[-1][SOURCE]
    assert '<mark class="quote">Paita is a smaller port in the north.</mark>' in final
    assert "Callao handles most container traffic." not in final.split("<mark")[1]

    refused = Answer(question="Which port?", text=NOT_IN_LIBRARY, refused=True, mode="local")
    stream(evidence, refused)
    steps = list(ports.respond("Which port?", [], [], "local", None))
    assert steps[-1][SOURCE] == render.notice_html(EMPTY_SOURCE)


def test_a_question_not_asked_says_why(ports: App):
    """An empty question, or one to search a document removed since the page listed it, asks
    nothing and says so under the question box."""
    for question, scope, note in (
        ("  ", None, EMPTY_QUESTION),
        ("Which port?", ["999"], SCOPE_REMOVED),
    ):
        [step] = list(ports.respond(question, [], [], "extractive", scope))
        assert step[-1] == {"__type__": "update", "value": note, "visible": True}
        assert step[:-1] == (gr.skip(),) * 10  # the chat and the panes as they were


def test_work_across_documents_names_a_chosen_document_that_was_removed(ports: App):
    """Briefing, Compare, Timeline and disagreements say which picker holds a removed
    document, rather than an error naming its id."""
    gone = ["999"]
    answers = {
        "From": [
            ports.brief("ports", 2, "extractive", gone)[0],
            ports.timeline("ports", gone, "extractive")[0],
            ports.disagree("ports", gone, "extractive")[0],
        ],
        "Documents to compare": [next(ports.compare(gone, "Which port?", "extractive"))[0]],
    }
    for picker, notes in answers.items():
        for note in notes:
            assert f"chosen in \u201c{picker}\u201d has been removed" in note
            assert "999" not in note


def test_a_pdf_page_marks_its_quote_in_percent_of_the_page():
    from PIL import Image

    html = render.page_html(Image.new("RGB", (200, 400), "white"), "Page 3", (20, 300, 120, 340))
    assert html.count("<img ") == 1 and 'width="200" height="400" alt="Page 3"' in html
    assert 'src="data:image/png;base64,' in html
    assert (
        '<span class="page-quote" style="left: 10.00%; top: 75.00%; width: 50.00%; '
        'height: 10.00%"></span>'
    ) in html
    assert "page-quote" not in render.page_html(Image.new("RGB", (200, 400)), "Page 3", None)


def test_review_flags_uncited_sentences():
    html = render.review_html(ANSWER, 2)
    assert '<tr class="flagged uncited">' in html and '<tr class="supported">' in html
    assert '<span class="badge uncited">1 NO CITATION</span>' in html
    assert 'href="#cite-2-1"' in html


def test_login_needs_both_user_and_password(tmp_path):
    assert auth(Library(settings_for(tmp_path))) is None
    both = Library(settings_for(tmp_path, auth_user="analyst", auth_password="secret"))
    assert auth(both) == ("analyst", "secret")
    with pytest.raises(SettingsError, match="auth_user and auth_password must be set together"):
        auth(Library(settings_for(tmp_path, auth_password="secret")))


def test_only_ask_is_a_public_api_endpoint(tmp_path):
    (tmp_path / "notes.txt").write_text("The ferry to Isla Taquile leaves Puno at seven.")
    library = Library(settings_for(tmp_path / "index"))
    library.ingest([tmp_path / "notes.txt"])
    blocks = build_app(library)
    library.close()
    public = [fn.api_name for fn in blocks.fns.values() if fn.api_visibility == "public"]
    assert public == ["ask"]


def test_a_comparison_cell_quotes_each_citation_once() -> None:
    """An extractive cell is its quote: the citation under it gives the place, not the words
    again; a generated cell's citation shows the words it rests on."""
    from rag.comparing import Cell, Comparison
    from rag.records import DocumentInfo

    document = DocumentInfo(1, "ports.pdf", "/ports.pdf", "Ports of Peru", "pdf", "", 9, 9, "", "")
    quoted = Answer("Which port?", f"{CITATION.quote} [1]", False, "extractive", [CITATION])
    table = render.comparison_html(
        Comparison(
            [document],
            ["Which port?", "Busiest?"],
            "extractive",
            [Cell(document, "Which port?", quoted), Cell(document, "Busiest?", ANSWER)],
        )
    )
    assert table.count(CITATION.quote) == 2  # once in each cell
    assert table.count("<q>") == 1 and "ports.pdf, p. 4" in table
