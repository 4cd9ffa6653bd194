import pytest
from conftest import make_pdf, settings_for

from rag.library import Library
from rag.records import Passage
from rag.retrieval import (
    LibraryRetriever,
    document_to_passage,
    named_statements,
    reciprocal_rank_fusion,
    statement_pages_first,
    zscore_fusion,
)
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
