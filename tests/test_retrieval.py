import numpy as np
import pytest
from conftest import make_pdf, settings_for

from rag.answering import best_sentence_similarities
from rag.embedding import SentenceVectors
from rag.ingesting import TextDocument
from rag.library import Library
from rag.records import DocumentInfo, Passage
from rag.retrieval import (
    DocumentNames,
    LibraryRetriever,
    document_to_passage,
    fuse,
    identity_words,
    initials,
    named_documents,
    named_statements,
    names_document,
    names_the_subject,
    question_initialisms,
    question_names,
    reciprocal_rank_fusion,
    statement_pages_first,
    zscore_fusion,
)
from rag.settings import Settings
from rag.store import Hit


def test_reciprocal_rank_fusion_by_hand():
    dense = [Hit(1, 0.9), Hit(2, 0.8), Hit(3, 0.1)]
    lexical = [Hit(3, 12.0), Hit(1, 5.0)]
    fused = reciprocal_rank_fusion([dense, lexical], [1.0, 1.0], k=60)
    scores = dict(fused)
    assert scores[1] == 1 / 61 + 1 / 62
    assert scores[3] == 1 / 63 + 1 / 61
    assert scores[2] == 1 / 62
    assert [chunk_id for chunk_id, _ in fused] == [1, 3, 2]
    weighted = dict(reciprocal_rank_fusion([dense, lexical], [2.0, 0.0], k=60))
    assert weighted[3] == 2 / 63


def test_zscore_fusion_by_hand():
    dense = [Hit(1, 0.9), Hit(2, 0.6), Hit(3, 0.3)]  # mean 0.6, std sqrt(0.06)
    lexical = [Hit(3, 12.0), Hit(4, 4.0)]  # mean 8, std 4: z = 1, -1
    fused = zscore_fusion([dense, lexical], [0.7, 0.3])
    z_top = 0.3 / 0.06**0.5
    scores = dict(fused)
    assert scores[1] == pytest.approx(0.7 * z_top + 0.3 * -1)  # absent lexically: its lowest z
    assert scores[2] == pytest.approx(0.7 * 0 + 0.3 * -1)
    assert scores[3] == pytest.approx(0.7 * -z_top + 0.3 * 1)
    assert scores[4] == pytest.approx(0.7 * -z_top + 0.3 * -1)
    assert [chunk_id for chunk_id, _ in fused] == [1, 2, 3, 4]


def test_zscore_fusion_of_one_ranking_or_equal_scores():
    assert [c for c, _ in zscore_fusion([[Hit(5, 2.0), Hit(6, 3.0)], []], [1.0, 1.0])] == [6, 5]
    assert zscore_fusion([[Hit(7, 0.5)], [Hit(7, 9.0)]], [1.0, 1.0]) == [(7, 0.0)]
    assert zscore_fusion([[], []], [1.0, 1.0]) == []


def test_the_best_sentences_are_a_third_ranking_in_fusion():
    dense = [Hit(1, 0.9), Hit(2, 0.6), Hit(3, 0.3)]  # z: sqrt(1.5) x (1, 0, -1)
    lexical = [Hit(1, 12.0), Hit(2, 4.0)]  # z: 1, -1
    best = [Hit(1, 0.2), Hit(2, 0.9), Hit(3, 0.5)]  # each passage's best sentence
    settings = Settings(fusion="zscore", dense_weight=0.7, lexical_weight=0.3)
    z_dense = np.array([1.0, 0.0, -1.0]) * 1.5**0.5
    z_lexical = np.array([1.0, -1.0, -1.0])  # chunk 3 absent: the lowest z
    z_best = (np.array([0.2, 0.9, 0.5]) - 0.5333333) / np.std([0.2, 0.9, 0.5])
    for weight, order in [(0.5, [1, 2, 3]), (2.0, [2, 1, 3])]:
        with_best = settings.model_copy(update={"best_sentence_weight": weight})
        fused = fuse([dense, lexical], with_best, best)
        expected = 0.7 * z_dense + 0.3 * z_lexical + weight * z_best
        assert dict(fused) == pytest.approx(dict(zip([1, 2, 3], expected, strict=True)))
        assert [chunk_id for chunk_id, _ in fused] == order
    assert fuse([dense, lexical], settings, []) == fuse([dense, lexical], settings)


def test_the_best_sentences_are_ranked_by_similarity_in_rank_fusion():
    dense, lexical = [Hit(1, 0.9), Hit(2, 0.6)], [Hit(2, 5.0), Hit(1, 4.0)]
    settings = Settings(
        fusion="rrf", rrf_k=60, dense_weight=1.0, lexical_weight=1.0, best_sentence_weight=1.0
    )
    fused = dict(fuse([dense, lexical], settings, [Hit(1, 0.3), Hit(2, 0.8)]))
    assert fused[2] == pytest.approx(2 / 61 + 1 / 62)  # its sentence ranks first
    assert fused[1] == pytest.approx(1 / 61 + 2 / 62)


def test_a_passage_scores_as_its_best_sentence(embedder):
    answer = "Last year 1,240 container vessels visited the harbour of Valmora."
    text = f"The council approved the budget for schools in March. {answer} Parking got dearer."
    listing = "Valmora | 1,240 | 2024"  # no sentence to quote: the whole text counts
    passages = [_passage(1, 1, 1, text), _passage(2, 2, 1, listing)]
    question = "How many container ships called at Valmora last year?"
    similarities = best_sentence_similarities(question, passages, SentenceVectors(embedder))
    asked, *vectors = (embedder.embed([text])[0] for text in (question, answer, listing))
    assert similarities == pytest.approx([vector @ asked for vector in vectors], abs=1e-6)


# The overview is nearer the question as a whole; one sentence of the budget answers it.
VALMORA = [
    TextDocument(
        "harbour_overview.txt",
        "Valmora harbour",
        "Valmora harbour is the busiest on the coast. Container ships of every size call "
        "there. In 2023 its quays were repaired and its channel dredged. Its cranes are the "
        "newest in the region.",
    ),
    TextDocument(
        "city_budget.txt",
        "Valmora city budget",
        "The city council approved the budget for schools, roads and parks in March. Spending "
        "on parks rose after a wet winter damaged several playgrounds. Road repairs took the "
        "largest share of the maintenance budget. Last year 1,240 container vessels visited "
        "Valmora's harbour. The council also raised the fee for parking permits in the "
        "old town. Libraries kept their opening hours. Street lights were replaced with LEDs.",
    ),
    *(
        TextDocument(f"note_{n}.txt", title, f"{title}. {text}")
        for n, (title, text) in enumerate(
            [
                (
                    "Rainfall in Valmora",
                    "Rain was above average in spring. Reservoirs filled by May.",
                ),
                ("Valmora schools", "Valmora opened two primary schools. Class sizes fell to 24."),
                (
                    "Valmora airport",
                    "The airport served two million passengers. A runway opened in June.",
                ),
                (
                    "Fishing fleet",
                    "The fishing fleet landed less cod than before. Prices rose at the market.",
                ),
            ]
        )
    ),
]


def test_the_passage_whose_sentence_answers_comes_first(tmp_path):
    library = Library(settings_for(tmp_path / "index", best_sentence_weight=1.0))
    try:
        library.ingest_texts(VALMORA)
        question = "How many container vessels visited Valmora's harbour last year?"
        assert library.retrieve(question)[0].file == "city_budget.txt"
        library.settings = library.settings.model_copy(update={"best_sentence_weight": 0.0})
        assert library.retrieve(question)[0].file == "harbour_overview.txt"
    finally:
        library.close()


def test_only_passages_with_something_to_quote_are_retrieved(library, library_index):
    """RS22331's contents page lists its tables' titles; among the six passages it pushed out
    the table row that answers. A page's footnotes that cite sources say nothing either."""
    from rag.answering import is_quotable

    question = (
        "What share of all publicly held Treasury securities was held abroad in December 2021?"
    )
    assert all(is_quotable(p) for p in library.retrieve(question))
    assert "34%" in library.ask(question, mode="extractive").text
    unfiltered = Library(settings_for(library_index, quotable_passages_only=False))
    try:
        assert not all(is_quotable(p) for p in unfiltered.retrieve(question))
    finally:
        unfiltered.close()


def test_a_fact_stated_in_a_footnote_is_quoted_from_it(library):
    answer = library.ask(
        "What do infant formula makers say a state WIC contract gets them in grocery stores?",
        mode="extractive",
    )
    assert "shelf space" in answer.text, answer.text
    assert not answer.citations[0].quote.startswith("10 ")


def test_retriever_returns_documents_with_citation_metadata(library):
    retriever = LibraryRetriever(
        store=library.store(), embedder=library.embedder, settings=library.settings
    )
    documents = retriever.invoke("What is Australia's surface area in square miles?")
    assert len(documents) == library.settings.top_k
    top = documents[0]
    for key in ("title", "file", "page", "chunk_id", "start", "end", "document_id"):
        assert key in top.metadata
    assert top.metadata["file"] == "IF10491v14.pdf" and top.metadata["page"] == 1
    passage = document_to_passage(top)
    page = library.store().page(passage.document_id, passage.page)
    assert page.text[passage.start : passage.end] == passage.text


def test_questions_can_be_restricted_to_named_documents(library):
    only = library.document_ids(["RS22331v53.pdf"])
    retriever = LibraryRetriever(
        store=library.store(),
        embedder=library.embedder,
        settings=library.settings,
        document_ids=only,
    )
    documents = retriever.invoke("seized cocaine near Trujillo")
    assert documents and {d.metadata["file"] for d in documents} == {"RS22331v53.pdf"}


def test_zscore_fusion_retrieves_the_evidence_page(library):
    settings = library.settings.model_copy(
        update={"fusion": "zscore", "dense_weight": 0.7, "lexical_weight": 0.3}
    )
    retriever = LibraryRetriever(
        store=library.store(), embedder=library.embedder, settings=settings
    )
    documents = retriever.invoke("What is Australia's surface area in square miles?")
    assert len(documents) == settings.top_k
    assert (documents[0].metadata["file"], documents[0].metadata["page"]) == ("IF10491v14.pdf", 1)
    scores = [d.metadata["score"] for d in documents]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    ("question", "title", "named"),
    [
        (
            "Based on the income statement, what was FY2019 net income?",
            "NIKE, INC. CONSOLIDATED STATEMENTS OF INCOME YEAR ENDED MAY 31",
            True,
        ),
        (
            "Based on the income statement, what was FY2019 net income?",
            "Consolidated Statements of Earnings GENERAL MILLS, INC.",
            True,
        ),
        (
            "Using the statement of financial position, what were total assets?",
            "Table of Contents Consolidated Balance Sheets $ in millions",
            True,
        ),
        (
            "What was operating cash flow per the cash flow statement?",
            "CONSOLIDATED STATEMENTS OF CASH FLOWS (Dollars in millions)",
            True,
        ),
        (
            "Using the income statement, what was FY2016 cost of revenue?",
            "Item 8 ITEM 8. FINANCIAL STATEMENTS AND SUPPLEMENTARY DATA INCOME STATEMENTS (In",
            True,
        ),
        # other statements, and sentences that only mention one
        (
            "Using the income statement, what was FY2016 cost of revenue?",
            "COMPREHENSIVE INCOME STATEMENTS (In millions)",
            False,
        ),
        (
            "Based on the income statement, what was FY2019 net income?",
            "Income statement items in foreign currencies are translated at average rates.",
            False,
        ),
        (
            "Based on the income statement, what was FY2019 net income?",
            "CONSOLIDATED STATEMENTS OF COMPREHENSIVE INCOME",
            False,
        ),
        (
            "Based on the balance sheet, what were total assets?",
            "Inventories are stated at cost in our consolidated balance sheets.",
            False,
        ),
    ],
)
def test_a_statement_named_by_a_question_is_found_by_its_title(question, title, named):
    assert any(t.search(title) for t in named_statements(question)) is named


@pytest.mark.parametrize(
    ("question", "title"),
    [
        (
            "Does Adobe have an improving operating margin profile as of FY2022?",
            "ADOBE INC. CONSOLIDATED STATEMENTS OF INCOME (In millions",
        ),
        (
            "Has AMCOR's quick ratio improved between FY2022 and FY2023?",
            "Amcor plc and Subsidiaries Consolidated Balance Sheets ($ in millions",
        ),
        (
            "What was Best Buy's free cash flow in FY2023?",
            "Consolidated Statements of Cash Flows $ in millions",
        ),
    ],
)
def test_a_figure_computed_from_a_statement_is_looked_for_on_it(question, title):
    assert any(t.search(title) for t in named_statements(question))


def test_a_question_that_names_no_statement_or_asks_for_guidance_keeps_its_ranking():
    assert named_statements("How many ships passed the Strait of Hormuz each day?") == []
    assert named_statements("What operating margin range did Ulta guide to for 2023?") == []
    assert named_statements("Is growth in adjusted EPS expected to accelerate in 2023?") == []


def _passage(chunk_id: int, document_id: int, page: int, text: str) -> Passage:
    return Passage(chunk_id, document_id, "Filing", "filing.pdf", page, 0, len(text), text, 0.0)


def test_statement_pages_come_first_from_the_documents_of_the_best_chunks():
    fused = [(1, 3.0), (2, 2.0), (3, 1.5), (4, 1.0), (5, 0.5)]
    candidates = [
        _passage(1, 10, 3, "Revenue grew on strong demand for footwear."),
        _passage(2, 20, 52, "CONSOLIDATED STATEMENTS OF INCOME (In millions) Revenues $ 39,117"),
        _passage(3, 10, 52, "Basic $ 2.55 Diluted $ 2.49"),
        _passage(4, 10, 52, "NIKE, INC. CONSOLIDATED STATEMENTS OF INCOME Revenues $ 44,538"),
        _passage(5, 30, 8, "CONSOLIDATED STATEMENTS OF INCOME Revenues $ 1,000"),
    ]
    # the best chunk's document, whole: its balance sheet was not among the candidates
    best_document = [
        candidates[0],
        _passage(6, 10, 50, "Selected financial data"),
        candidates[2],
        candidates[3],
        _passage(7, 10, 54, "NIKE, INC. CONSOLIDATED BALANCE SHEETS MAY 31, (In millions)"),
        _passage(8, 10, 54, "Total current assets 16,525"),
    ]
    titles = named_statements("Using the income statement and the balance sheet, what is ROA?")
    # document 30 is not among the best two chunks' documents: another filing
    assert statement_pages_first(fused, candidates, best_document, titles, k=2) == [
        (2, 2.0),
        (3, 1.5),
        (4, 1.0),
        (7, 0.5),
        (8, 0.5),
        (1, 3.0),
        (5, 0.5),
    ]


def test_statement_pages_come_first_from_the_filing_the_question_names():
    """ "What is the FY2016 COGS for Microsoft?": the 2023 10-K's income statement ranks
    first, the 2016 10-K (document 16, which the question names) holds the answer."""
    fused = [(1, 3.0), (2, 2.0), (3, 1.0)]
    candidates = [
        _passage(1, 23, 58, "INCOME STATEMENTS (In millions) Cost of revenue 65,863"),
        _passage(2, 16, 52, "INCOME STATEMENTS (In millions) Cost of revenue 32,780"),
        _passage(3, 23, 40, "Cost of revenue increased $3.2 billion or 5%."),
    ]
    titles = named_statements("What is the FY2016 COGS for Microsoft?")
    ranked = statement_pages_first(fused, candidates, [candidates[1]], titles, k=3, named=[16])
    assert ranked == [(2, 2.0), (1, 3.0), (3, 1.0)]
    unnamed = statement_pages_first(fused, candidates, [candidates[0]], titles, k=3)
    assert unnamed == [(1, 3.0), (2, 2.0), (3, 1.0)]


def test_the_statement_a_question_names_is_retrieved_first(tmp_path):
    """A filing whose discussion repeats the question's words, and whose statements are
    figures under their titles, in words of their own ("net earnings" for net income)."""
    folder = tmp_path / "filings"
    folder.mkdir()
    make_pdf(
        folder / "harbour-2019-annual-report.pdf",
        [
            "Results of operations. Net income in 2019 rose on strong demand for harbour "
            "services. The income statement shows that net income grew faster than sales in "
            "2019, and the discussion of net income below follows the income statement line "
            "by line.",
            "Income taxes. Net income in 2019 was lowered by a higher effective tax rate. "
            "Income statement items in foreign currencies are translated at average rates for "
            "the year, which moved net income in 2019 by less than one percent.",
            "CONSOLIDATED STATEMENTS OF EARNINGS (In millions) 2019 2018\nRevenue 16,865 "
            "15,740\nCost of services 11,108 10,312\nSelling and administrative 3,241 3,009\n"
            "Earnings before taxes 2,516 2,419\nTaxes 763 288\nNet earnings 1,753 2,131",
            "CONSOLIDATED BALANCE SHEETS (In millions) 2019 2018\nCash 450 399\nReceivables "
            "1,679 1,684\nInventories 1,559 1,642\nTotal assets 30,111 30,624",
            "Liquidity. Cash held at the end of 2019 was sufficient for our needs. The balance "
            "sheet remained strong: cash held at the end of 2019 and cash held at the end of "
            "2018 both exceeded our minimum, as the balance sheet shows.",
        ],
    )
    library = Library(settings_for(tmp_path / "index"))
    try:
        library.ingest([folder])
        questions = {
            "According to the income statement, what was net income in 2019?": 3,
            "Using the balance sheet, how much cash did the company hold at the end of 2019?": 4,
        }
        for question, page in questions.items():
            assert library.retrieve(question)[0].page == page, question
        library.settings = library.settings.model_copy(update={"statement_pages_first": False})
        for question, page in questions.items():  # the discussion ranks first without it
            assert library.retrieve(question)[0].page != page, question
    finally:
        library.close()


def _document(document_id: int, file: str, title: str = "") -> DocumentInfo:
    return DocumentInfo(document_id, file, f"/x/{file}", title, "pdf", "", 1, 1, "", "")


FILINGS = [
    _document(1, "BESTBUY_2019_10K.pdf", "0000764478-19-000009"),
    _document(2, "BESTBUY_2023_10K.pdf", "0000764478-23-000006"),
    _document(3, "BESTBUY_2024Q2_10Q.pdf"),
    _document(4, "GENERALMILLS_2022_10K.pdf"),
    _document(5, "filings/mgm/q4-2022-earnings.pdf", "MGM Resorts Q4 2022 earnings release"),
    _document(6, "Treasury_ESF.pdf", "Treasury's Exchange Stabilization Fund"),
    _document(7, "JOHNSON_JOHNSON_2022Q4_EARNINGS.pdf"),
    _document(8, "dod-budget.pdf", "The Department of Defense Budget Request"),
    _document(9, "JOHNSON_JOHNSON_2023_8K.pdf"),
]


def test_a_question_names_runs_of_capitalised_words_without_stopwords():
    assert question_names("What acquisitions has Best Buy made since FY2021?") == [
        ["best", "buy"],
        ["fy2021"],
    ]
    assert question_names("How did JnJ's US sales grow?") == [["jnj"]]  # "US": too short
    assert question_names("Did Johnson & Johnson's US sales grow?") == [["johnson", "johnson"]]
    assert question_names("Johnson & Johnson, Nestlé and the U.S.") == [
        ["johnson", "johnson"],
        ["nestle"],
    ]
    assert question_names("What is the quick ratio? Is it up?") == []  # 'What', 'Is': stopwords


def test_an_initialism_is_a_word_of_capitals_with_a_small_letter_or_ampersand_among_them():
    assert question_initialisms("How did JnJ's sales grow, and J&J's, P&G's, DoD's?") == [
        ("jnj", "jj"),
        ("j&j", "jj"),
        ("p&g", "pg"),
        ("dod", "dd"),
    ]
    # capitals alone are a name as written; one capital, or more small letters, no initialism
    assert question_initialisms("Did ESF, NOAA, U.S., PepsiCo, BofA, iPhone or McDonald?") == []


def test_a_documents_initials_run_where_its_words_follow_one_another():
    johnson = identity_words(FILINGS[6])  # johnson johnson 2022 q 4 earnings
    assert initials(johnson) == "jj|||e"  # a number or a single letter parts the runs
    # "dod budget", then the title without "the" and "of": department defense budget request
    assert initials(identity_words(FILINGS[7])) == "dbddbr"
    assert initials(["u", "s", "treasury"]) == "||t"  # "U.S." spells no initials


def test_a_documents_identity_is_its_paths_and_titles_words():
    assert identity_words(FILINGS[2]) == ["bestbuy", "2024", "q", "2", "10", "q"]
    assert identity_words(_document(9, "reports.v2/BestBuy-annual.docx", "FY23")) == [
        "reports",
        "v",
        "2",
        "best",
        "buy",
        "annual",
        "fy",
        "23",
    ]


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("What acquisitions did Best Buy make in FY2023, FY2022 and FY2021?", [2]),
        ("How many stores did Best Buy have in Q2 of FY2024 and at the end of FY2023?", [3]),
        ("What were Best Buy's inventories?", [1, 2, 3]),  # no year: every Best Buy filing
        ("What were Best Buy's inventories in FY2030?", [1, 2, 3]),  # no filing of that year
        ("Which region did MGM do worst in during FY2022?", [5]),  # its folder and its title
        ("How large is the swap line the Treasury keeps for Mexico?", [6]),
        ("What drove the fall in SG&A as a share of sales in FY2023?", []),  # no name
        ("What did the company earn in 2023?", []),  # a year alone names no document
        ("How did JnJ's US sales grow in FY2022?", [7]),  # an initialism
        ("What did J&J earn per share?", [7, 9]),
        ("What does DoD ask for?", [8]),  # "of" left out
        ("What did J&J report for 2023?", [9]),
        # what is expected of a year: the filings of the year before give it too
        ("What EPS did J&J's management project for 2023?", [7, 9]),
    ],
)
def test_the_documents_a_question_names(question, named):
    assert named_documents(question, FILINGS) == named


def test_the_name_index_finds_what_reading_every_documents_words_finds():
    names = DocumentNames.of(FILINGS)
    for name in (["best", "buy"], ["bestbuy"], ["mgm"], ["treasury"], ["buy"], ["best"], ["q"]):
        expected = {d.id for d in FILINGS if names_document(name, identity_words(d))}
        assert names.named(name) == expected, name
    # the index of a whole library serves a question restricted to some of its documents
    question = "What acquisitions did Best Buy make in FY2023, FY2022 and FY2021?"
    assert named_documents(question, FILINGS[1:], names=names) == [2]
    assert named_documents(question, FILINGS[2:], names=names) == [3]
    assert named_documents(question, FILINGS[3:], names=names) == []


def test_a_name_every_document_gives_names_none():
    reports = [_document(1, "gao-07-283.pdf"), _document(2, "gao-06-282.pdf")]
    assert named_documents("What did GAO find about oil?", reports) == []


def test_a_name_counts_only_for_the_documents_it_is_the_subject_of():
    treasury = FILINGS[5].id
    debt_report, defi_report = 7, 8
    mentions: dict[tuple[str, ...], list[int]] = {
        ("treasury",): [debt_report] * 26 + [defi_report] * 29 + [treasury] * 16,
        ("mexico",): [treasury] * 3,
    }
    question = "How large is the swap line the Treasury keeps for Mexico?"
    assert named_documents(question, FILINGS, lambda name: mentions[tuple(name)]) == []
    assert named_documents(question, FILINGS, lambda name: [treasury] * 16 + [debt_report] * 16)
    assert names_the_subject([1, 2], []) and names_the_subject([1], [1, 2])
    assert not names_the_subject([1], [1, 2, 3])


def _annual_report(company: str, year: int, revenue_sentence: str) -> TextDocument:
    """A report as filings are written: "we" and "our", never the company's name."""
    paragraphs = [
        revenue_sentence,
        "Our employees numbered about four thousand at the end of the year, most of them in "
        "our plants and warehouses.",
        "We lease our headquarters and own our three plants, which ran at about eighty percent "
        "of their capacity during the year.",
        "Our outlook depends on the prices of steel and energy, which we buy under contracts "
        "of one to three years.",
    ]
    return TextDocument(
        f"{company}_{year}_annual_report.txt", f"Annual report {year}", "\n\n".join(paragraphs)
    )


# Globex's words are nearer the question's; only the file names say whose report is whose.
ANNUAL_REPORTS = [
    _annual_report(
        "acme",
        2023,
        "Our sales for the fiscal year ended in December were $412 million, up 6 percent, as "
        "demand for our pumps recovered in the second half.",
    ),
    _annual_report(
        "globex",
        2023,
        "Our revenue in fiscal 2023 was $958 million, up 11 percent from fiscal 2022, as "
        "revenue from our valves grew in every region.",
    ),
    _annual_report(
        "acme",
        2021,
        "Our revenue in fiscal 2021 was $371 million, down 2 percent, as demand for our pumps "
        "fell in the first half.",
    ),
]


def test_the_report_a_question_names_by_its_file_name_is_retrieved_first(tmp_path):
    library = Library(settings_for(tmp_path / "index", chunk_tokens=48, chunk_overlap_tokens=0))
    try:
        library.ingest_texts(ANNUAL_REPORTS)
        question = "What was Acme's revenue in fiscal 2023?"
        best = library.retrieve(question)[0]
        assert (best.file, best.text[:20]) == (
            "acme_2023_annual_report.txt",
            "Our sales for the fi",
        )
        # the other report's sentence is nearer the question: its passage stays second
        library.settings = library.settings.model_copy(update={"best_sentence_weight": 0.5})
        assert library.retrieve(question)[0].file == "acme_2023_annual_report.txt"
        library.settings = library.settings.model_copy(
            update={"named_documents": False, "best_sentence_weight": 0.0}
        )
        assert library.retrieve(question)[0].file != "acme_2023_annual_report.txt"
    finally:
        library.close()


def test_the_document_list_is_read_again_only_after_a_write(tmp_path):
    from rag.retrieval import _documents
    from rag.store.sqlite_faiss import SqliteFaissStore
    from rag.store.testing import DIM, MODEL, make_document

    store = SqliteFaissStore(tmp_path / "index", MODEL, DIM, create=True)
    try:
        store.put_document(make_document("/lib/acme_2023.txt", ["Revenue rose."], seed=1))
        first = _documents(store)
        assert _documents(store) is first  # unchanged: not read again
        store.put_document(make_document("/lib/globex_2023.txt", ["Revenue fell."], seed=2))
        assert [d.file for d in _documents(store)] == ["acme_2023.txt", "globex_2023.txt"]
    finally:
        store.close()
