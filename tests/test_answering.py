"""End-to-end extractive answers on the real library with the real embedding model."""

import pytest
from conftest import SEED_QUESTION

from rag.records import NOT_IN_LIBRARY


def test_seed_question_is_answered_with_a_citation_to_the_seed(library):
    answer = library.ask(SEED_QUESTION, mode="extractive")
    assert not answer.refused
    assert "7.6 metric tons" in answer.text
    first = answer.citations[0]
    assert first.file == "000_2ab8909efb0e4c04.txt" and first.page is None
    assert "7.6 metric tons" in first.quote
    assert answer.text.startswith(first.quote) and "[1]" in answer.text


def test_crs_question_cites_the_report_and_page(library):
    answer = library.ask("What is Australia's surface area in square miles?", mode="extractive")
    assert "2.96 million sq. miles" in answer.text
    assert (answer.citations[0].file, answer.citations[0].page) == ("IF10491v14.pdf", 1)


def test_every_citation_quotes_the_stored_page_exactly(library):
    answer = library.ask(
        "Who is the Chief of Space Operations and whom does the CSO report to?", mode="extractive"
    )
    assert answer.citations
    for citation in answer.citations:
        passage = library.store().passages([citation.chunk_id])[0]
        assert passage.text[citation.chunk_start : citation.chunk_end] == citation.quote
        page = library.store().page(passage.document_id, citation.page)
        assert page.text[citation.page_start : citation.page_end] == citation.quote
        assert citation.chunk_id in {p.chunk_id for p in answer.passages}  # only retrieved ones


def test_questions_outside_the_library_are_refused(library):
    for question in (
        "Who won the 2018 FIFA World Cup?",
        "What was Brazil's coffee export volume in 2023?",
        "How many nuclear warheads does China possess according to the Federation of American Scientists?",
    ):
        answer = library.ask(question, mode="extractive")
        assert answer.refused, (question, answer.text)
        assert answer.text == NOT_IN_LIBRARY and answer.citations == []


def test_near_misses_on_library_topics_are_refused_when_no_sentence_holds_the_figure_asked(
    library,
):
    """Questions on the library's topics whose figure the library does not give: the related
    sentences retrieved hold no figure of the kind asked for (rag.answer_kinds)."""
    for question in (
        "How many satellites make up the GPS constellation run by the Space Force?",
        "What is the estimated dollar value of the metals in the Clarion-Clipperton Zone's nodules?",
        "What was the street price of a kilogram of Peruvian cocaine in Spain?",
        "How many American troops died in the 40 days of fighting with Tehran before the April "
        "2026 truce?",
    ):
        answer = library.ask(question, mode="extractive")
        assert answer.refused, (question, answer.text)


def test_figure_questions_in_other_words_are_answered_with_the_figure(library):
    for question, figure in (
        ("How many households put up solar panels under Tokyo's residential program?", "253,000"),
        ("What share of the Space Force's 2027 discretionary request is for RDT&E?", "65%"),
    ):
        answer = library.ask(question, mode="extractive")
        assert figure in answer.text, (question, answer.text)


def test_a_question_the_report_asks_is_not_quoted_as_an_answer():
    from rag.answering import quotable_texts

    text = (
        "Are intelligence agencies addressing the risks of biometric technologies? "
        "IARPA's program to detect such spoofing is called Odin. "
        "Will it be \u201cready in time?\u201d"
    )
    assert quotable_texts(text) == ["IARPA's program to detect such spoofing is called Odin."]


def test_a_footnote_that_states_something_is_quoted_past_its_number():
    from rag.answering import quotable_texts

    text = (
        "9 Doctors can prescribe these formulas for WIC infants with particular health "
        "problems. 10 Formula companies reported that by contracting with state WIC programs, "
        "they are able to acquire greater shelf space in grocery stores. 11 Sharma, "
        "“Environmental Issues.” 12 ISA, Report of the Legal and Technical Commission on the "
        "Work of the Commission. 13We identified these strategies through our literature "
        "review of 40 studies. 14 For example, NOAA, Deep Sea Mining: A Report to Congress, "
        "1995. 15 CRS correspondence with NOAA, November 23, 2022. 16 Under the Clean Air Act, "
        "EPA sets limits on how much of a pollutant can be in the air."
    )
    assert quotable_texts(text) == [
        "Doctors can prescribe these formulas for WIC infants with particular health problems.",
        "Formula companies reported that by contracting with state WIC programs, they are able "
        "to acquire greater shelf space in grocery stores.",
        "We identified these strategies through our literature review of 40 studies.",
        "Under the Clean Air Act, EPA sets limits on how much of a pollutant can be in the air.",
    ]
    assert quotable_texts("3D printers made 40 parts for the Navy in 2024.") == [
        "3D printers made 40 parts for the Navy in 2024."
    ]


def test_a_passage_is_quotable_with_one_sentence_or_row_to_quote():
    from rag.answering import is_quotable
    from rag.records import Passage

    def passage(text: str) -> Passage:
        return Passage(1, 1, "Report", "r.pdf", 3, 0, len(text), text, 1.0)

    references = "11 Sharma, “Environmental Issues.” 12 CRS correspondence with NOAA, 2022."
    assert not is_quotable(passage(references))
    assert is_quotable(passage(references + " 13 Harbor mines explode if struck by a hull."))
    table = "| Year | Tons |\n| --- | --- |\n| 2024 | 7.6 |"
    assert is_quotable(passage(table))
    contents = "Contents Introduction 1 Control of the Strait 2 Food and Feed 2 Steel 3 Cars 4"
    assert not is_quotable(passage(contents))
    # a statement's page read as lines of text: no line of it is quoted, yet it is evidence
    assert is_quotable(passage(SALES_TABLE_AS_TEXT))


# Johnson & Johnson's Q4 2022 release (FinanceBench), a table the PDF's text gives as one line
SALES_TABLE_AS_TEXT = (
    "Johnson & Johnson and Subsidiaries Supplementary Sales Data (Unaudited; Dollars in "
    "Millions) Percent Change 2022 2021 Total Operations Currency Sales to customers by "
    "geographic area U.S. $ 12,516 12,163 2.9 % 2.9 - $ 48,580 47,156 3.0 % 3.0 - Europe "
    "5,816 6,925 (16.0) (6.3) (9.7)"
)


@pytest.mark.parametrize(
    "sentence",
    [
        "“Deep-Sea Dilemma,” Nature, vol. 571 (2019), pp. 465-469.",
        "Van Loon v. Dep’t of Treasury, 688 F. Supp. 3d 454, 470–71 (W.D. Tex. 2023).",
        "2023) (concluding plaintiffs failed to present sufficient evidence), rev’d on other "
        "grounds, 122 F.4th 549 (5th Cir.",
        "For information about seabed mining in U.S. waters, see CRS Report R48302, Critical "
        "Minerals on the U.S. Outer Continental Shelf.",
        "Any CRS Report may be reproduced and distributed in its entirety without permission.",
        "Finally, the report discusses issues for Congress, including U.S. participation.",
        "It also outlines domestic regulations for U.S. interests in seabed mining.",
        "This In Focus discusses the actions of NOAA and U.S. companies.",
    ],
)
def test_citations_notices_and_what_the_report_does_are_not_prose_to_quote(sentence):
    from rag.answering import is_prose, is_text

    assert not is_prose(sentence)
    if not sentence.startswith(("“", "Van", "2023")):  # a citation is footnote text too
        assert is_text(sentence)  # retrieval keeps the passage it is in


def test_what_a_report_finds_or_recommends_is_prose():
    from rag.answering import is_prose

    assert is_prose("The report finds that seabed mining could harm ocean ecosystems.")
    assert is_prose("This report recommends that the Secretary of Energy lead a strategy.")
    assert is_prose("It also sanctioned certain wallet addresses in August 2022.")


def test_a_table_or_a_charts_axis_read_as_a_line_is_not_prose_to_quote():
    from rag.answering import is_prose

    assert not is_prose(SALES_TABLE_AS_TEXT)  # figures without their columns say nothing
    assert not is_prose(
        "0 50 100 150 200 250 300 350 400 Fossil Nuclear R&D programs Nuclear Petroleum Coal"
    )
    # prose parts its figures with words or commas
    assert is_prose("Sales of the consumer segment grew in 2019, 2020 and 2021, then fell.")
    assert is_prose("Sales in the United States were $48,580 million in 2022, up 3.0% a year.")
    assert is_prose("On March 9, 2023 the company reported 1,355 stores in 50 states.")
    # a title-case headline with figures states them without saying of what period or place
    assert not is_prose(
        "March 9, 2023 Ulta Beauty Announces Fourth Quarter Fiscal 2022 Results Net Sales of "
        "$3.2 Billion Compared to $2.7 Billion in the Year-Ago Quarter"
    )


def test_a_bibliographic_footnote_is_not_prose_to_quote():
    from rag.answering import is_prose

    assert not is_prose(
        "8 (July 2021), pp. 1-7, see p. 15 (hereinafter Miller et al., “Challenging the Need”)."
    )
    assert not is_prose("Xu et al., “SoK: Decentralized Exchanges,” p. 5.")  # ends with its page
    assert is_prose("The technologies to extract raw seabed material vary by mineral deposit.")
    assert is_prose("The fund's report gives the total on p. 5 of its annex for 2024.")
    # a footnote whose number the PDF's text glues to its first word
    assert not is_prose("11See also GAO, Renewable Energy, GAO-06-629 (Washington, D.C.: 2006).")
    assert is_prose("3D printers made 40 parts for the Navy in 2024.")
    # a chart's caption and source line: the chart's values are not in the text
    assert not is_prose(
        "Figure 3: DOE’s Budget Authority for Renewable, Fossil, and Nuclear R&D, Fiscal Years "
        "1978 through 2005 Dollars in millions Fiscal year Source: GAO analysis of DOE data."
    )
    assert not is_prose("Source: GAO analysis of Energy Information Administration data.")
    assert is_prose("The figure of 3 percent comes from the source we cite below.")
    # entries of a list of figures, each run into the page number before the next entry
    assert not is_prose(
        "Foreign and Domestic Holdings of Treasury Securities (1945-2025) 2 Figure 2."
    )
    assert not is_prose("Comparison of Electricity Generating Costs Using Coal 38 Table 3:")
    assert not is_prose(
        "Foreign and Domestic Holdings of Treasury Securities (1945-2025) Figure is "
        "interactive in the HTML version of this report."
    )
    assert is_prose("Foreign holdings of Treasury securities are shown in Figure 2.")
    assert is_prose("Production fell by 12 percent in 2005, as Table 3 shows.")
    # a list of references run into one line
    assert not is_prose("May 2005. (p) John H. Wood, Gary R. Long and David F. Morehouse.")
    assert not is_prose(
        "Samsam Bakhtiari. “ World Oil Production Capacity Model Suggests Output Peak by 2006.”"
    )
    assert is_prose("The rule has two parts: (a) a fee and (b) a cap on the fee in 2026.")
    # a pointer to a figure says what the figure holds; "shows that" states a finding
    assert not is_prose("Figure 1 shows the foreign share of Treasury securities since 1945.")
    assert not is_prose("Appendix V contains a reproduction of DOE's letter and our response.")
    assert is_prose("Table 2 shows that nuclear energy cannot compete with coal or natural gas.")
    # a table of contents, its entries run into one line
    assert not is_prose(
        "Contents Introduction 1 Control of the Strait 2 Inbound and Outbound Ships 2 Food and "
        "Animal Feed 2 Steel and Construction Materials 3 Automobiles 4"
    )
    assert is_prose("FinCEN may bring actions (see 31 U.S.C. 310 and 31 C.F.R. 1010 Subpart E).")
    from rag.answering import is_contents

    assert is_contents("Contents Letter 1 Results in Brief 4 Background 6 Timing of Peak Oil 12")
    assert not is_contents("In 2005, 12 States and 3 Territories adopted 40 Rules.")


@pytest.mark.parametrize(
    ("text", "prose"),
    [
        ("Formula Marketing: Companies Target Non-WIC Mothers and Reach WIC Mothers", False),
        ("See CRS In Focus IF11684, China’s 14th Five-Year Plan: A First Look.", False),
        # full of names, but a sentence: it ends with a full stop
        ("The Chief of Space Operations reports to the Secretary of the Air Force.", True),
        # a title with figures names a table or states figures without saying of what: its
        # rows are quoted as rows (`table_rows`)
        ("Top 10 Foreign Holders of Federal Debt, by Country December 2025", False),
        ("Smart contracts run on several blockchains, Ethereum among them", True),
    ],
)
def test_headings_and_pointers_to_other_reports_are_not_prose_to_quote(text, prose):
    from rag.answering import is_prose

    assert is_prose(text) is prose


@pytest.mark.parametrize(
    ("sentence", "quoted"),
    [
        (
            "Economy The plan characterizes structural economic issues as weak demand.",
            "The plan characterizes structural economic issues as weak demand.",
        ),
        (
            "International and U.S. Context for Seabed Mining in ABNJ The International Seabed "
            "Authority (ISA) is an autonomous body.",
            "The International Seabed Authority (ISA) is an autonomous body.",
        ),
        (  # GAO-07-283's slides: a heading, then a list item's mark
            "Potential Production • The 2005 production of ethanol in the United States was "
            "approximately 4 billion gallons.",
            "The 2005 production of ethanol in the United States was approximately 4 billion "
            "gallons.",
        ),
        (  # a sentence that starts with a capitalised word is not a heading
            "In September, 2014, the Peruvian police seized 7.6 metric tons of cocaine.",
            "In September, 2014, the Peruvian police seized 7.6 metric tons of cocaine.",
        ),
        (
            "The Chief of Space Operations reports to the Secretary of the Air Force.",
            "The Chief of Space Operations reports to the Secretary of the Air Force.",
        ),
    ],
)
def test_a_heading_run_into_a_sentence_is_left_out_of_its_quote(sentence, quoted):
    from rag.answering import quotable_pieces

    ((start, end, _),) = quotable_pieces(sentence)
    assert sentence[start:end] == quoted


@pytest.mark.parametrize(
    ("thing", "counted", "counts"),
    [
        ("vessels", ["ships"], True),
        ("governments", ["countries"], True),
        ("households", ["homes"], True),
        ("people", ["individuals"], True),
        ("warheads", ["strategic", "nuclear", "warheads"], True),  # by stem
        ("satellites", ["field", "commands"], False),
        ("stations", ["biorefineries"], False),
        ("users", ["coins"], False),
        ("warships", ["ships"], False),  # broader: a count of all ships
        ("ships", ["warships"], True),
        ("troops", ["people"], False),  # anyone killed is not a count of troops
        ("troops", ["soldiers"], True),
    ],
)
def test_a_count_answers_how_many_only_if_it_counts_the_thing_asked_about(
    embedder, thing, counted, counts
):
    from rag.answering import counts_the_thing

    assert counts_the_thing(thing, [counted], embedder) == [counts]


def test_near_misses_are_refused_when_the_sentences_count_other_things(library):
    """The library counts coca in hectares for Peru, but not for the VRAEM region in 2014:
    the sentences retrieved count other things."""
    answer = library.ask(
        "How many hectares of coca were cultivated in Peru's VRAEM region in 2014?",
        mode="extractive",
    )
    assert answer.refused, answer.text


def test_a_person_asked_for_is_not_answered_by_an_office(library):
    """The Space Force report names the Secretary of the Air Force as an office only."""
    answer = library.ask(
        "Who is the current Secretary of the Air Force overseeing the Space Force?",
        mode="extractive",
    )
    assert answer.refused, answer.text


def test_count_questions_in_other_words_than_the_reports_are_answered(library):
    """The reports count ships, individuals and nuclear weapons; the questions vessels, people
    and atomic weapons."""
    for question, figure in (
        (
            "Before the late-February 2026 strikes, about how many vessels a day passed through "
            "the Gulf's narrow outlet?",
            "130",
        ),
        (
            "Between 2008 and 2017, how many people were kept off U.S. military installations "
            "thanks to fingerprint, iris and similar identification tools?",
            "92,000",
        ),
        (
            "How many atomic weapons did Minsk's leader say Moscow had stationed on Belarusian "
            "soil?",
            "several dozen",
        ),
    ):
        answer = library.ask(question, mode="extractive")
        assert figure in answer.text, (question, answer.text)


def test_a_sentence_cut_where_its_passage_ends_is_shown_to_go_on():
    from rag.answering import Candidate
    from rag.records import Passage

    text = "Prices fell. Solar systems were installed on 253,000 homes and the price of"
    passage = Passage(1, 1, "Report", "report.pdf", 11, 0, len(text), text, 1.0)
    cut = Candidate(passage, 13, len(text), 0.5, 0.5)
    whole = Candidate(passage, 0, 12, 0.5, 0.5)
    assert cut.runs_on and not whole.runs_on
    footnoted = "The ISA approved six extensions.14"
    noted = Passage(2, 1, "Report", "report.pdf", 3, 0, len(footnoted), footnoted, 1.0)
    assert not Candidate(noted, 0, len(footnoted), 0.5, 0.5).runs_on


def test_a_sentence_begun_before_its_passage_is_shown_to_come_from_words_before():
    from rag.answering import Candidate
    from rag.records import Passage

    text = "of the total, 40 percent went to grants. Prices fell."
    passage = Passage(1, 1, "Report", "report.pdf", 12, 0, len(text), text, 1.0)
    assert Candidate(passage, 0, 40, 0.5, 0.5).runs_in
    assert not Candidate(passage, 41, len(text), 0.5, 0.5).runs_in  # not its passage's start
    whole = "Prices fell. Grants rose."
    opening = Passage(2, 1, "Report", "report.pdf", 12, 0, len(whole), whole, 1.0)
    assert not Candidate(opening, 0, 12, 0.5, 0.5).runs_in


def _pages(*pages: list[tuple[int, str]]):
    """page_chunks over chunks given per page as (start, text); document 1, pages from 1."""
    from rag.records import Passage

    chunks = {
        number: [
            Passage(
                10 * number + i,
                1,
                "Report",
                "report.pdf",
                number,
                start,
                start + len(text),
                text,
                1.0,
            )
            for i, (start, text) in enumerate(page)
        ]
        for number, page in enumerate(pages, start=1)
    }
    return chunks, lambda document_id, pages: [c for p in pages for c in chunks.get(p, [])]


def test_a_sentence_a_page_opens_midway_is_found_on_the_page_before_past_its_footnotes():
    from rag.answering import Candidate, sentence_begun_before

    body = "Prices fell in 2005. Within the transportation sector, light vehicles consume"
    footnote = "12 See GAO-05-1234, Energy Markets (Washington, D.C.: 2005)."
    opening = "about 60 percent of the petroleum. Trucks use the rest."
    chunks, page_chunks = _pages([(0, body), (len(body) + 1, footnote)], [(0, opening)])
    first = Candidate(chunks[2][0], 0, 34, 0.5, 0.5)
    found = sentence_begun_before(first, page_chunks)
    assert found is not None
    chunk, start, end = found
    assert chunk is chunks[1][0]
    assert chunk.text[start:end] == "Within the transportation sector, light vehicles consume"
    later = Candidate(chunks[2][0], 35, len(opening), 0.5, 0.5)  # not the page's opening
    assert sentence_begun_before(later, page_chunks) is None


def test_no_sentence_is_taken_from_the_page_before_when_it_does_not_run_on():
    from rag.answering import Candidate, sentence_begun_before

    opening = "$4.9 billion in fiscal year 2005."
    for before in (
        "Tax expenditures grew in that year.",  # closed
        "Revenue Losses from Energy Tax Expenditures",  # a heading
        "Congress asked how the grants were spent Revenue Losses Grew Fastest",  # a side heading
        "Energy tax breaks | 2005 | grew to",  # a table row
    ):
        chunks, page_chunks = _pages([(0, before)], [(0, opening)])
        assert sentence_begun_before(Candidate(chunks[2][0], 0, 33, 0.5, 0.5), page_chunks) is None
    capital = "Tax expenditures grew to $4.9 billion."  # a page that opens with a sentence
    chunks, page_chunks = _pages([(0, "Revenue losses from tax breaks rose to")], [(0, capital)])
    assert sentence_begun_before(Candidate(chunks[2][0], 0, 38, 0.5, 0.5), page_chunks) is None
    # past a footnote, a chunk that the next one goes on from ends mid-page, not at its foot
    words = "Revenue losses from energy tax breaks rose to"
    after = "rose to 12 percent. 3 See GAO-05-1234, Energy Markets (Washington, D.C.: 2005)."
    chunks, page_chunks = _pages([(0, words), (38, after)], [(0, opening)])
    assert sentence_begun_before(Candidate(chunks[2][0], 0, 33, 0.5, 0.5), page_chunks) is None
    chunks, page_chunks = _pages([(0, words), (46, after[20:])], [(0, opening)])  # not cut
    assert sentence_begun_before(Candidate(chunks[2][0], 0, 33, 0.5, 0.5), page_chunks)


def test_a_sentence_a_page_ends_midway_goes_on_at_the_top_of_the_next_page():
    """The quote of a sentence cut by the page's end takes its end from the next page's first
    piece, past the footnotes below the body; a new sentence or a heading is not taken."""
    from rag.answering import Candidate, sentence_goes_on_after

    body = "The command is new. STARCOM prepares and trains Guardians at Patrick SFB in"
    footnote = "12 See GAO-05-1234, Energy Markets (Washington, D.C.: 2005)."
    chunks, page_chunks = _pages(
        [(0, body), (len(body) + 1, footnote)], [(0, "Florida. SSC handles acquisition.")]
    )
    cut = Candidate(chunks[1][0], body.index("STARCOM"), len(body), 0.5, 0.5)
    found = sentence_goes_on_after(cut, page_chunks)
    assert found is not None and found[0] is chunks[2][0]
    assert found[0].text[found[1] : found[2]] == "Florida."
    for end, opening in (
        ("Revenue losses from tax breaks rose to", "Tax expenditures grew to $4.9 billion."),
        ("Revenue losses from tax breaks rose", "Florida."),  # may end there: a new sentence
        ("Congress asked how grants were spent Revenue Losses Grew", "in 2005."),  # side heading
        ("Tax breaks grew in that year.", "and then fell."),  # closed
    ):
        chunks, page_chunks = _pages([(0, end)], [(0, opening)])
        assert (
            sentence_goes_on_after(Candidate(chunks[1][0], 0, len(end), 0.5, 0.5), page_chunks)
            is None
        )
    words = "Revenue losses from energy tax breaks rose to"
    chunks, page_chunks = _pages([(0, words), (38, "rose to 12 percent.")], [(0, "$4.9 billion.")])
    assert (
        sentence_goes_on_after(Candidate(chunks[1][0], 0, len(words), 0.5, 0.5), page_chunks)
        is None
    )  # the next chunk goes on


def test_a_sentence_split_between_two_pages_is_quoted_whole_citing_both(tmp_path):
    from conftest import make_pdf, settings_for

    from rag.library import Library

    (tmp_path / "docs").mkdir()
    filler = " ".join(f"Entry {i} of the harbour log records calm weather." for i in range(12))
    make_pdf(
        tmp_path / "docs" / "harbour.pdf",
        [
            f"{filler} In 2024 the Quellport harbour authority recorded arrivals of",
            "412 container ships, the most in its history. Entry 13 records fog.",
        ],
    )
    library = Library(settings_for(tmp_path / "index"))
    try:
        library.ingest([tmp_path / "docs"])
        answer = library.ask(
            "How many container ships arrived at Quellport's harbour in 2024?", mode="extractive"
        )
        assert answer.text.startswith(
            "In 2024 the Quellport harbour authority recorded arrivals of 412 container ships, "
            "the most in its history. [1][2]"
        ), answer.text
        first, second = answer.citations[:2]
        assert (first.page, second.page) == (1, 2)
        for citation in (first, second):
            page = library.store().page(library.documents()[0].id, citation.page)
            assert page.text[citation.page_start : citation.page_end] == citation.quote
            assert citation.chunk_id in {p.chunk_id for p in answer.passages}
    finally:
        library.close()


def test_a_sentence_cut_where_a_chunk_begins_is_not_quoted_beside_its_whole(embedder):
    """Overlapping chunks of one page: the second begins after "U.S." inside a sentence the
    first holds whole; only the whole sentence is a candidate."""
    from rag.answering import candidate_sentences
    from rag.records import Passage

    page = (
        "Russia is modernizing its forces. In a March 2026 testimony, U.S. Strategic Command "
        "Commander Admiral Richard Correll stated that Russia has around 2,600 strategic nuclear "
        "warheads. The treaty expired in February 2026."
    )
    cut_at = page.index("Strategic Command")

    def chunk(chunk_id: int, start: int, end: int) -> Passage:
        return Passage(
            chunk_id=chunk_id,
            document_id=3,
            title="Russian Nuclear Forces",
            file="IF12672.pdf",
            page=2,
            start=start,
            end=end,
            text=page[start:end],
            score=1.0,
        )

    first, second = chunk(1, 0, page.index(" The treaty")), chunk(2, cut_at, len(page))
    question = "How many strategic warheads does Russia have, according to Strategic Command?"
    quoted = [c.text for c in candidate_sentences(question, [first, second], embedder)]
    whole = page[page.index("In a March") : page.index(" The treaty")]
    assert whole in quoted
    assert not any(text != whole and text in whole for text in quoted)


def test_a_sentence_a_report_repeats_is_quoted_once(embedder):
    """A finding stated in a report's summary and again in its body (dev p072 quoted it twice,
    once for each page): one candidate, from the passage retrieved first."""
    from rag.answering import answer_extractively, candidate_sentences
    from rag.records import Passage
    from rag.settings import Settings

    finding = "Infant formula marketing targets non-WIC mothers and also reaches WIC mothers."
    pages = {4: f"Results in brief. {finding}", 31: f"{finding} Companies advertise on TV."}
    passages = [
        Passage(page, 7, "Breastfeeding", "gao-06-282.pdf", page, 0, len(text), text, 1.0)
        for page, text in pages.items()
    ]
    question = "Whom does infant formula marketing target?"
    assert [
        c.passage.page
        for c in candidate_sentences(question, passages, embedder)
        if c.text == finding
    ] == [4]
    answer = answer_extractively(question, passages, embedder, Settings())
    assert answer.text.count(finding) == 1


def test_a_sentence_below_the_relevance_bar_does_not_veto_one_above_it():
    from rag.answering import Candidate, select_sentences
    from rag.records import Passage
    from rag.settings import Settings

    text = "The ISA issued 17 contracts in the zone. The zone is up to 3.4 miles deep."
    passage = Passage(1, 1, "Report", "report.pdf", 1, 0, len(text), text, 1.0)
    shares_words = Candidate(passage, 0, 39, similarity=0.37, score=0.50)
    answers = Candidate(passage, 40, len(text), similarity=0.46, score=0.46)
    assert select_sentences([shares_words, answers], Settings(), 0.43) == [answers]
    assert select_sentences([shares_words], Settings(), 0.43) == []


def test_what_a_term_is_is_answered_by_the_sentence_that_says_what_it_is(tmp_path):
    """ "What is the QHB?" quotes the sentence that says what the board is, not the one most
    like the question, which only mentions it; by its long form as well."""
    from conftest import settings_for

    from rag.answering import candidate_sentences
    from rag.library import Library

    (tmp_path / "harbour.txt").write_text(
        "Quellport harbour notes\n\nThe Quellport Harbour Board (QHB) met on Monday. Members "
        "of the QHB voted on new fees for the QHB berths. The QHB, a public corporation "
        "created in 1921, manages the port's berths and dredging. Fees rose by 4% this year."
    )
    defining = (
        "The QHB, a public corporation created in 1921, manages the port's berths and dredging."
    )
    library = Library(settings_for(tmp_path / "index"))
    try:
        library.ingest([tmp_path / "harbour.txt"])
        question = "What is the QHB?"
        passages = library.retrieve(question)
        ranked = candidate_sentences(question, passages, library.chain.sentence_vectors)
        assert max(ranked, key=lambda c: c.score).text != defining  # not the most similar
        assert library.ask(question, mode="extractive").text == f"{defining} [1]"
    finally:
        library.close()
