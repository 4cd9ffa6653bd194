"""Section headings read from the line breaks of extracted pages, and the heading of a passage."""

from __future__ import annotations

import pytest

from rag.answering import EXTRACTIVE, Evidence, past_headings
from rag.briefing import plan_subquestions
from rag.headings import (
    HeadingFinder,
    heading_lines,
    is_heading_line,
    page_headings,
    run_in_headings,
)
from rag.library import Library
from rag.records import Page, Passage

SEABED_REPORT = "R47324v18.pdf"
# Section headings of the two seabed reports (R47324, IF12608), as their PDFs set them on
# lines of their own.
SEABED_HEADINGS = {
    "Background on Seabed Mining",
    "Proposed Seabed Mining Operations",
    "Regulations for Deep-Seabed Mining in Areas Beyond National Jurisdiction",
    "International Seabed Authority",
    "International Benefit-Sharing Mechanism for Seabed Resources",
    "Exploration Licenses Issued Under the Deep Seabed Hard Mineral Resources Act",
    "Pending Applications to the National Oceanic and Atmospheric Administration",
    "Ratification of the United Nations Convention on the Law of the Sea",
    "ISA Seabed Mining Options for U.S. Companies",
    "Potential Marine Environmental Impacts of Seabed Mining",
    "Calls for a Deep-Seabed Mining Moratorium",
    "Biodiversity Loss and Habitat Disturbance",
    "Resuspended Sediment and Buried Carbon",
    "Noise Pollution",
    "Processing of Seabed Mineral Resources in the United States",
    "Issues for Congress",
    "UNCLOS and the International Seabed Authority",
    "Exploration Licenses Issued by NOAA",
    "Pending Applications to NOAA",
    "Recent Congressional Interest",
}


@pytest.mark.parametrize(
    "line",
    [
        "Calls for a Deep-Seabed Mining Moratorium",
        "Denmark’s Wind Energy Generates 19 Percent of Its Electricity",
        "Deep Seabed Hard Mineral Resources Act and Other Applicable U.S. Laws",
        "## Noise Pollution",
    ],
)
def test_title_case_lines_are_headings(line: str) -> None:
    assert is_heading_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "In 1980, Congress passed the Deep Seabed Hard Mineral",  # prose: a date and a verb
        "the Strait of Hormuz was closed to most shipping in March",  # wrapped prose
        "Figure 3. Clarion-Clipperton Zone (CCZ)",  # a caption
        "Exploration Licenses Issued Under the Deep Seabed Hard Mineral Resources Act      15",
        "Congressional Research Service 2",  # a footer with its page number
        "Caitlin Keating-Bitonti, Specialist in Natural Resources Policy",  # the author
        "Seabed and the Projected Economic Value?”",  # a quoted title
        "Background",  # one word: names no section a briefing can ask about
    ],
)
def test_prose_captions_and_page_furniture_are_not(line: str) -> None:
    assert not is_heading_line(line)


def test_a_wrapped_heading_is_one_heading_and_a_wrapped_prose_line_none() -> None:
    raw = (
        "deep-sea mining trials in the Pacific Ocean.\n"
        "Potential Marine Environmental Impacts of\n"
        "Seabed Mining\n"
        "Some scientists argue that the effects of mining on the deep sea would\n"
        "Last for Decades and Affect Marine Species Far Beyond the Mined Area\n"
        "and call for caution.\n"
        "Noise Pollution\n"
        "Mining machines on the seafloor would be loud.\n"
    )
    assert list(heading_lines(raw)) == [
        "Potential Marine Environmental Impacts of Seabed Mining",
        "Noise Pollution",
    ]


def test_a_footnote_marker_line_does_not_hide_a_heading_nor_a_title_line_make_one() -> None:
    raw = (
        "Updated April 13, 2026\n"
        "U.S. Interest in Seabed Mining in Areas Beyond National\n"
        "Jurisdiction: Brief Background and Recent Developments\n"
        "In 1980, Congress passed the Deep Seabed Hard Mineral Resources Act.\n"
        "174\n"
        "Calls for a Deep-Seabed Mining Moratorium\n"
        "Some stakeholders point to the lack of baseline data.\n"
    )
    assert list(heading_lines(raw)) == ["Calls for a Deep-Seabed Mining Moratorium"]


def test_a_passage_falls_under_the_heading_before_it_on_its_page_or_an_earlier_one(
    library: Library,
) -> None:
    store = library.store()
    [report] = [d for d in store.documents() if d.file.endswith(SEABED_REPORT)]
    finder = HeadingFinder(store)
    passages = store.passages(store.chunk_ids([report.id]))
    [(noise_page, heading)] = [
        (number, heading)
        for number in range(1, (report.pages or 0) + 1)
        for heading in page_headings(store.page(report.id, number))
        if heading.text == "Noise Pollution"
    ]
    after = [p for p in passages if p.page == noise_page and p.start > heading.start]
    next_page = [p for p in passages if p.page == noise_page + 1]
    assert after and finder.heading_of(after[0]) == "Noise Pollution"
    assert next_page and finder.heading_of(next_page[0]) in {"Noise Pollution", *SEABED_HEADINGS}
    assert len({finder.heading_of(p) for p in passages} & SEABED_HEADINGS) >= 6
    # the introduction after the table of contents falls under none of the contents' lines
    introduction = [p for p in passages if p.text.startswith("Introduction Interest in mining")]
    assert introduction and finder.heading_of(introduction[0]) is None


def test_a_page_without_headings_gives_none() -> None:
    raw = "Mining machines on the seafloor\nwould be loud."
    assert page_headings(Page(number=1, text=" ".join(raw.split()), raw_text=raw)) == []


def test_a_briefing_asks_about_the_sections_of_the_reports(library: Library) -> None:
    questions = plan_subquestions(library, "seabed mining", 5, mode="extractive")
    about_sections = [q for q in questions if any(h in q for h in SEABED_HEADINGS)]
    assert len(about_sections) >= 4, questions  # headings first, key phrases only after


# The first two pages of a CRS Insight as pypdfium2 extracts them, shortened: its title and
# date, then headings on lines of their own, which normalisation runs into their paragraphs.
INSIGHT_PAGE = (
    "CRS INSIGHT\r\nPrepared for Members and \r\nCommittees of Congress \r\n \r\n"
    "U.S.-Iran Ceasefire: Assessment, Reactions, \r\nand Issues for Congress\r\n"
    "Updated April 9, 2026\r\nOn April 7, 2026, the United States and Iran agreed to a "
    "two-week \r\nceasefire. Officials called it a misunderstanding. \r\nReactions\r\n"
    "Oman, Kuwait and Saudi Arabia welcomed the ceasefire \r\nannouncement. \r\n"
    "Space Force Budget\r\nCongress appropriated $26.1 billion. \r\nCongress\r\n"
    "approved it in April. \r\nFormula Marketing: Extent of Marketing Difficult \r\n"
    "to Quantify\r\n• Annual number of ads rose. \r\nNoise\r\nmade by machines is loud. \r\n"
    "Figure\r\nThe chart shows it."
)
INSIGHT_TITLE = "U.S.-Iran Ceasefire: Assessment, Reactions, and Issues for Congress"


def test_headings_run_into_their_paragraphs_are_found_with_the_title_and_date() -> None:
    text = " ".join(INSIGHT_PAGE.split())
    page = Page(number=1, text=text, raw_text=INSIGHT_PAGE)
    found = [text[start:end] for start, end in run_in_headings(page, INSIGHT_TITLE)]
    # not "Congress" nor "Noise" (the line after them does not start a sentence: they are a
    # paragraph's wrapped first line), nor "Figure" (a caption)
    assert found == [
        INSIGHT_TITLE,
        "Updated April 9, 2026",
        "Reactions",
        "Space Force Budget",
        "Formula Marketing: Extent of Marketing Difficult to Quantify",
    ]
    untitled = [text[start:end] for start, end in run_in_headings(page)]
    assert untitled == found[1:]


# A GAO appendix's first page: its running header and its title set on one line.
APPENDIX_PAGE = (
    "Appendix I: Scope and Methodology Appendix I: Scope and Methodology \r\nTo examine "
    "estimates of when oil production could peak, we reviewed key \r\npeak oil studies."
)


def test_an_appendix_title_is_run_in_but_is_no_section() -> None:
    """Quotes leave out an appendix's title; briefings do not follow it as a section."""
    text = " ".join(APPENDIX_PAGE.split())
    page = Page(number=48, text=text, raw_text=APPENDIX_PAGE)
    assert [text[start:end] for start, end in run_in_headings(page)] == [
        "Appendix I: Scope and Methodology Appendix I: Scope and Methodology"
    ]
    assert list(heading_lines(APPENDIX_PAGE)) == []


@pytest.mark.parametrize(
    ("title", "raw"),
    [
        ("PRISM", "PRISM\r\nreports.\r\nPRISM Operations seized 7.6 metric tons."),  # one word
        ("Space Force Guardians", "The report.\r\nSpace Force Guardians Number 9,400 today."),
    ],
)
def test_a_title_counts_only_where_the_page_sets_it_on_lines_of_its_own(
    title: str, raw: str
) -> None:
    page = Page(number=1, text=" ".join(raw.split()), raw_text=raw)
    assert run_in_headings(page, title) == []


@pytest.mark.parametrize(
    ("sentence", "quoted"),
    [
        ("Reactions Oman, Kuwait and Saudi Arabia welcomed it.", "Oman, Kuwait and Saudi"),
        ("Reactions • Annual number of ads rose to 10,000.", "Annual number"),  # a slide's list
        ("Officials said Reactions were mixed across the region.", "Officials said"),  # inside
        ("Reactions Oman welcomed it.", "Reactions Oman"),  # too little would be left
        ("Reactions were mixed across the whole region.", "Reactions were"),  # not a sentence
    ],
)
def test_a_quote_starts_past_a_heading_run_into_it(sentence: str, quoted: str) -> None:
    text = f"It ended. {sentence}"
    passage = Passage(1, 1, "Insight", "in.pdf", 2, 100, 100 + len(text), text, 1.0)
    start = text.index(sentence)
    heading = text.index("Reactions") + passage.start  # page offsets
    at = past_headings(passage, start, len(text), [(heading, heading + len("Reactions"))])
    assert text[at:].startswith(quoted)


def test_answers_and_evidence_quote_sentences_without_their_headings(library: Library) -> None:
    question = "How did the Gulf states react to the U.S.-Iran ceasefire?"
    answer = library.ask(question, mode=EXTRACTIVE)
    quotes = [c.quote for c in answer.citations if c.file == "IN12678v4.pdf"]
    assert any(quote.startswith("Oman, Kuwait and Saudi Arabia") for quote in quotes), quotes
    assert "Reactions Oman" not in answer.text
    assert not any(quote.startswith(("U.S.-Iran Ceasefire:", "Updated")) for quote in quotes)
    evidence = next(library.ask_stream(question, mode="local"))  # before the model is asked
    assert isinstance(evidence, Evidence)
    assert not any(
        q.quote.startswith(("Reactions", "U.S.-Iran Ceasefire:")) for q in evidence.quotes
    )
