"""Timelines: reading dates, dated events in order with their quotes on the cited page, exports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.briefing import build_briefing
from rag.cli import main
from rag.exporting import export, to_markdown
from rag.library import Library
from rag.records import Passage
from rag.settings import load_settings
from rag.timeline import Timeline, When, build_timeline, candidate_events, document_date, find_dates

IRAN = ["IF12106v21.pdf", "IN12678v4.pdf", "R48903v3.pdf"]
DOCUMENT_DATE = When(2026, 4, 9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("On April 7, 2026, the two agreed", [("2026-04-07", False)]),
        ("signed 7 April 2026 in Geneva", [("2026-04-07", False)]),
        ("talks in April-June 2025 stalled", [("2025-04", False)]),
        ("In September, 2014, police seized", [("2014-09", False)]),
        ("adopted in 1982 and in force since 1994", [("1982", False), ("1994", False)]),
        ("under the FY2021 act", [("2021", False)]),
        ("a spokesperson said on March 15 that", [("2026-03-15", True)]),
        ("a spokesperson said on May 2 that", [("2026-05-02", True)]),  # planned
        ("a spokesperson said on September 2 that", [("2025-09-02", True)]),  # last year's
        ("In early March, fighting began", [("2026-03", True)]),
        ("in an April 8 statement; it may 5 times", [("2026-04-08", True)]),
        ("exports fell last year", [("2025", True)]),
        ("prices rose this month", [("2026-04", True)]),
        (
            "output peaked around 1970 and fell to 5 million in 2005",
            [("1970", False), ("2005", False)],
        ),
        ("it peaked in about 1970", [("1970", False)]),
        ("since the early 2000s, about 2,014 ships in 2,000 places", []),
        ("on February 30, 2026", []),
    ],
)
def test_dates_are_read_to_their_precision(text: str, expected: list[tuple[str, bool]]):
    assert [(d.when.iso, d.relative) for d in find_dates(text, DOCUMENT_DATE)] == expected


def test_relative_dates_need_the_documents_date():
    assert find_dates("exports fell last year", None) == []
    assert find_dates("said on March 15 that", None) == []
    assert document_date(
        "https://crsreports.congress.gov Updated April 13, 2026 U.S. Interest"
    ) == When(2026, 4, 13)
    assert document_date("GAO Report to Congress February 2006 BREASTFEEDING") == When(2006, 2)
    assert document_date("Vol. 5, No 4. 2015\nIn September, 2014, the police") is None
    passage = Passage(1, 1, "Trade", "trade.txt", None, 0, 80, "", 1.0)
    text = (
        "Exports to Peru fell sharply last year, the ministry said. In March 2014 they rose again."
    )
    events, left_out = candidate_events(
        [passage.__class__(**{**passage.__dict__, "text": text})], {1: None}
    )
    assert [e.when.iso for e in events] == ["2014-03"] and left_out == 1
    events, left_out = candidate_events(
        [passage.__class__(**{**passage.__dict__, "text": text})], {1: When(2015, 6, 1)}
    )
    assert [(e.when.iso, e.relative) for e in events] == [("2014", "last year"), ("2014-03", None)]
    assert left_out == 0


def _passage(chunk_id: int, start: int, text: str) -> Passage:
    return Passage(chunk_id, 1, "ESF", "esf.pdf", 2, start, start + len(text), text, 1.0)


def test_an_event_is_a_whole_sentence_from_either_overlapping_passage():
    whole = (
        "In 2020, the CARES Act (P.L. 116-136) appropriated $500 billion to the ESF. The "
        "program expired"
    )
    cut = _passage(1, 0, "The fund was set up in 1934. In 2020, the CARES Act (P.L.")
    after = _passage(2, 29, whole)
    events, _ = candidate_events([cut, after], {1: None})
    assert [e.text for e in events] == [
        "The fund was set up in 1934.",
        "In 2020, the CARES Act (P.L. 116-136) appropriated $500 billion to the ESF.",
    ]
    assert events[1].citation.chunk_id == 2  # "The program expired" does not close: left out


def test_a_date_compared_with_does_not_date_the_event():
    text = (
        "The CARES Act permitted the ESF to guarantee funds, as in 2008. Congress raised "
        "its capital in 2020."
    )
    events, _ = candidate_events([_passage(1, 0, text)], {1: None})
    assert [(e.when.iso, e.text) for e in events] == [
        ("2020", "Congress raised its capital in 2020.")
    ]


def test_a_topic_is_mentioned_by_most_of_its_words():
    from rag.timeline import mentions_topic

    defi = _passage(1, 0, "Uniswap runs the largest decentralized exchange by volume.")
    assert not mentions_topic("Exchange Stabilization Fund", defi)
    oil_sands = _passage(1, 0, "Oil sands are recovered by surface mining in Alberta.")
    assert not mentions_topic("seabed mining", oil_sands)
    assert mentions_topic("seabed mining", _passage(1, 0, "Mining the seabed is costly."))
    assert mentions_topic("Exchange Stabilization Fund", _passage(1, 0, "The fund's exchange."))
    assert mentions_topic("Iran", _passage(1, 0, "Iran closed the Strait."))


@pytest.fixture(scope="module")
def iran(library_index: Path) -> tuple[Timeline, dict[tuple[str, int | None], str]]:
    """A timeline of the Iran and Strait of Hormuz reports, and the text of each cited page."""
    library = Library(load_settings(index_dir=library_index))
    try:
        timeline = build_timeline(library, "Iran", documents=IRAN, mode="extractive")
        store = library.store()
        pages = {
            (e.citation.file, e.citation.page): store.page(
                library.find_document(e.citation.file).id, e.citation.page
            ).text
            for e in timeline.events
        }
        return timeline, pages
    finally:
        library.close()


def test_iran_events_in_date_order_each_quote_on_its_page(iran):
    timeline, pages = iran
    assert len(timeline.events) >= 10
    keys = [e.when.key for e in timeline.events]
    assert keys == sorted(keys)
    assert [e.citation.n for e in timeline.events] == list(range(1, len(keys) + 1))
    for event in timeline.events:
        citation = event.citation
        assert citation.file in IRAN
        page = pages[(citation.file, citation.page)]
        assert page[citation.page_start : citation.page_end] == citation.quote == event.text
        if not event.relative:  # the date is written in the quote as it is read
            assert str(event.when.year) in citation.quote
    ceasefire = [e for e in timeline.events if "two-week ceasefire" in e.text]
    assert ceasefire and all(e.when == When(2026, 4, 7) for e in ceasefire)


def test_a_timeline_of_the_fund_quotes_whole_sentences_about_it(library: Library):
    timeline = build_timeline(library, "Exchange Stabilization Fund", mode="extractive")
    events = timeline.events
    assert len(events) >= 10
    assert {e.citation.file for e in events} == {"IF13200v1.pdf"}  # not the DeFi report's
    assert all(re.search(r"[.!?][”\")]*$", e.text) for e in events)
    assert not any(e.text.startswith("Background") for e in events)  # its heading left out
    cares = [e for e in events if "CARES Act" in e.text]
    assert cares and all(e.when.year == 2020 for e in cares)
    assert any("(P.L. 116-136) appropriated $500 billion" in e.text for e in cares)


def test_timeline_exports(iran, tmp_path: Path):
    import pypdfium2
    from docx import Document

    timeline, _ = iran
    for suffix in (".md", ".docx", ".pdf"):
        export(timeline, tmp_path / f"iran{suffix}")
    markdown = (tmp_path / "iran.md").read_text()
    assert markdown == to_markdown(timeline)
    listed = re.findall(r"^- (.+?): .* \[(\d+)\]$", markdown, re.M)
    assert [(label, int(n)) for label, n in listed] == [
        (e.when.label + (f" (\u201c{e.relative}\u201d)" if e.relative else ""), e.citation.n)
        for e in timeline.events
    ]
    word = "\n".join(p.text for p in Document(str(tmp_path / "iran.docx")).paragraphs)
    document = pypdfium2.PdfDocument(tmp_path / "iran.pdf")
    pdf = " ".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    first = timeline.events[0]
    assert first.citation.quote in word
    assert first.when.label in pdf and "References" in pdf


def test_briefing_with_a_timeline_section(library: Library, tmp_path: Path):
    briefing = build_briefing(
        library, "Strait of Hormuz", 2, documents=["R48903v3.pdf"], mode="extractive", timeline=True
    )
    assert briefing.sections and briefing.timeline
    numbers = {r.n: r for r in briefing.references}
    for event in briefing.timeline:
        assert numbers[event.citation.n].quote == event.citation.quote
    path = tmp_path / "hormuz.md"
    export(briefing, path)
    text = path.read_text()
    assert "## Timeline" in text and text.index("## Timeline") < text.index("## References")


def test_cli_timeline(library_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    index = ["--index", str(library_index)]
    assert main(["timeline", *index, "  ", "--extractive"]) == 1
    assert main(["timeline", *index, "Iran", "--out", str(tmp_path / "t.txt")]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert errors == [
        "rag: error: the timeline topic is empty",
        f"rag: error: --out {tmp_path / 't.txt'}: end the file name in .md, .docx, .pdf",
    ]
    out = tmp_path / "hormuz.docx"
    args = ["timeline", *index, "Strait of Hormuz", "--docs", "R48903v3.pdf", "--extractive"]
    assert main([*args, "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "R48903v3.pdf, page 3" in printed and out.is_file()


@pytest.mark.model
def test_local_model_retells_events_only_as_their_quotes_support(library_index: Path):
    library = Library(load_settings(index_dir=library_index, timeline_max_events=2))
    try:
        timeline = build_timeline(
            library, "Iran ceasefire", documents=["IN12678v4.pdf"], mode="local"
        )
    finally:
        library.close()
    assert len(timeline.events) == 2 and timeline.mode == "local"
    keys = [e.when.key for e in timeline.events]
    assert keys == sorted(keys)
    for event in timeline.events:
        assert event.text  # the quote, or a one-sentence retelling that passed the check
        assert event.citation.file == "IN12678v4.pdf"
        numbers = set(re.findall(r"\d+", event.text))
        assert numbers <= set(re.findall(r"\d+", event.citation.quote)) | {event.when.iso[:4]}
