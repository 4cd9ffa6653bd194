"""Citation markers: parsing, binding to passages, support verdicts."""

from __future__ import annotations

import pytest

from rag.citations import (
    attribute_uncited,
    check_answer,
    parse_markers,
    split_sentences,
    strip_markers,
)
from rag.records import NOT_IN_LIBRARY, Passage

ENERGY = (
    "Wind power supplied 7.6% of electricity in 2023. "
    "Solar capacity in Spain reached 1,000 MW. "
    "The grid operator expects further growth."
)
TRANSPORT = "Rail freight fell by 3% in Germany. Road freight was flat."
HOUSING = "House prices rose 4.5% across the euro area in 2022."


def passage(chunk_id: int, text: str, title: str = "Annual report", start: int = 200) -> Passage:
    return Passage(
        chunk_id=chunk_id,
        document_id=chunk_id,
        title=title,
        file=f"r{chunk_id}.pdf",
        page=3,
        start=start,
        end=start + len(text),
        text=text,
        score=1.0,
    )


PASSAGES = [passage(11, ENERGY), passage(12, TRANSPORT), passage(13, HOUSING)]


def check(text: str, judge=None, passages=PASSAGES):
    return check_answer("What happened?", text, passages, judge, mode="local")


def test_markers_of_every_form_are_parsed_with_their_spans() -> None:
    text = "a [1] b [1, 2] c [1,2] d [1-3] e [1–3] f [2][3]"
    markers = parse_markers(text)
    assert [m.numbers for m in markers] == [
        (1,),
        (1, 2),
        (1, 2),
        (1, 2, 3),
        (1, 2, 3),
        (2,),
        (3,),
    ]
    assert [text[m.start : m.end] for m in markers][-3:] == ["[1–3]", "[2]", "[3]"]
    assert parse_markers("in 2023 [sic] and [2023]") == []  # not markers: a word, a year


def test_strip_markers_removes_markers_and_the_space_before_them() -> None:
    assert strip_markers("Wind grew [1, 2]. Solar too [3][4].") == "Wind grew. Solar too."


def test_sentences_keep_their_markers_abbreviations_and_decimals() -> None:
    text = (
        "GDP in the U.S. grew 2.5% [1]. Wind supplied 7.6% of power. [2] "
        "Dr. Lee agreed, e.g. in Spain [3].\n- Rail fell [1, 2]\n- Road was flat [2][3]"
    )
    assert split_sentences(text) == [
        "GDP in the U.S. grew 2.5% [1].",
        "Wind supplied 7.6% of power. [2]",
        "Dr. Lee agreed, e.g. in Spain [3].",
        "- Rail fell [1, 2]",
        "- Road was flat [2][3]",
    ]
    assert split_sentences("Wind grew.[1] Rail fell.[2][3]\n[1] Road was flat.\n[3]") == [
        "Wind grew.[1]",
        "Rail fell.[2][3]",
        "[1] Road was flat.\n[3]",
    ]


def test_out_of_range_markers_are_removed_and_counted() -> None:
    answer = check("Wind supplied 7.6% of electricity [1][7]. Rail freight fell [0, 2, 9].")
    assert answer.text == "Wind supplied 7.6% of electricity [1]. Rail freight fell [2]."
    assert answer.removed_markers == 3
    only_bad = check("Road freight was flat [5].")
    assert only_bad.text == "Road freight was flat."
    assert only_bad.removed_markers == 1
    assert [s.verdict for s in only_bad.sentences] == ["uncited"]
    assert only_bad.citations == []


def test_a_factual_sentence_without_a_marker_is_uncited() -> None:
    answer = check("Wind supplied 7.6% of electricity in 2023 [1]. Road freight was flat.")
    assert [(s.citations, s.verdict) for s in answer.sentences] == [
        ([1], "supported"),
        ([], "uncited"),
    ]


def test_a_refusal_needs_no_citation() -> None:
    answer = check(NOT_IN_LIBRARY)
    assert answer.sentences == []
    assert answer.refused
    assert answer.text == NOT_IN_LIBRARY


@pytest.mark.parametrize(
    ("sentence", "verdict"),
    [
        ("Wind supplied 7.6% of electricity in 2023 [1].", "supported"),
        ("Wind supplied 9.1% of electricity in 2023 [1].", "unsupported"),  # number not there
        ("Solar capacity in Spain reached 1000 MW [1].", "supported"),  # 1,000 == 1000
        ("Solar capacity in Portugal reached 1,000 MW [1].", "unsupported"),  # name not there
        ("Rail freight fell by 3% in Germany [1].", "unsupported"),  # cited the wrong passage
        ("Rail freight fell by 3% in Germany [2].", "supported"),
        ("Rail freight fell by 3% in Germany while wind supplied 7.6% [1, 2].", "supported"),
        ("Rail freight fell in Germany [2].", "supported"),  # "Rail" starts the sentence
    ],
)
def test_numbers_and_names_must_appear_in_a_cited_passage(sentence: str, verdict: str) -> None:
    assert [s.verdict for s in check(sentence).sentences] == [verdict]


def test_the_judge_decides_in_one_call_the_sentences_the_lexical_checks_let_through() -> None:
    asked: list[list[tuple[str, str]]] = []  # claims with their passages' text

    def judge(claims: list[tuple[str, list[Passage]]]) -> list[bool | None]:
        asked.append([(claim, "".join(p.text for p in cited)) for claim, cited in claims])
        return [{"Solar": False}.get(claim.split()[0]) for claim, _ in claims]

    answer = check(
        "Wind supplied 7.6% of electricity [1]. Solar capacity grew [1]. "
        "The grid may grow [1]. Rail freight fell by 5% [2].",
        judge,
    )
    assert [s.verdict for s in answer.sentences] == [
        "supported",
        "unsupported",
        "weak",
        "unsupported",
    ]
    # one call for the whole answer; the first sentence restates its passage's and the last
    # has a number passage 2 lacks: neither needs the judge
    assert asked == [[("Solar capacity grew.", ENERGY), ("The grid may grow.", ENERGY)]]


def test_a_sentence_restating_its_passage_needs_no_judge() -> None:
    def judge(claims: list[tuple[str, list[Passage]]]) -> list[bool | None]:
        return [False for _ in claims]

    answer = check(
        "Solar capacity in Spain reached 1,000 MW [1]. "
        "Solar capacity in Spain did not reach 1,000 MW [1]. "  # a negation the passage lacks
        "Spain built solar [1].",
        judge,
    )
    assert [s.verdict for s in answer.sentences] == ["supported", "unsupported", "unsupported"]


def test_a_judge_that_answers_for_fewer_claims_leaves_the_rest_weak() -> None:
    answer = check("Wind power grew [1]. The grid operator is hopeful [1].", lambda claims: [True])
    assert [s.verdict for s in answer.sentences] == ["supported", "weak"]


def test_range_and_list_markers_cite_each_passage() -> None:
    answer = check("Prices and freight moved [1-3]. Rail fell [1, 2].")
    assert answer.text == "Prices and freight moved [1][2][3]. Rail fell [1][2]."
    assert [s.citations for s in answer.sentences] == [[1, 2, 3], [1, 2]]
    assert [c.chunk_id for c in answer.citations] == [11, 12, 13]


def test_citations_are_renumbered_in_order_of_first_use() -> None:
    answer = check("House prices rose 4.5% [3]. Wind supplied 7.6% [1]. Prices rose [3].")
    assert answer.text == "House prices rose 4.5% [1]. Wind supplied 7.6% [2]. Prices rose [1]."
    assert [(c.n, c.chunk_id) for c in answer.citations] == [(1, 13), (2, 11)]
    assert [s.citations for s in answer.sentences] == [[1], [2], [1]]


def test_each_quote_is_the_exact_passage_sentence_that_best_matches() -> None:
    answer = check("Rail freight fell [2]. Spain reached 1,000 MW of solar capacity [1].")
    rail, solar = answer.citations
    assert rail.quote == "Rail freight fell by 3% in Germany."
    assert solar.quote == "Solar capacity in Spain reached 1,000 MW."
    for citation, source in [(rail, PASSAGES[1]), (solar, PASSAGES[0])]:
        assert source.text[citation.chunk_start : citation.chunk_end] == citation.quote
        assert citation.page_start == source.start + citation.chunk_start
        assert citation.page_end == source.start + citation.chunk_end
        assert (citation.document, citation.file, citation.page) == (source.title, source.file, 3)


def test_a_quote_with_no_word_in_common_is_the_whole_passage() -> None:
    answer = check("Something else entirely [3].")
    assert answer.citations[0].quote == HOUSING


def test_a_claim_left_without_a_marker_is_attributed_to_the_passage_that_holds_it() -> None:
    text = (
        "House prices rose 4.5% in the euro area. Rail freight fell by 3% [2]. Moon dust is grey."
    )
    assert attribute_uncited(text, PASSAGES) == (
        "House prices rose 4.5% in the euro area. [3] Rail freight fell by 3% [2]. Moon dust is grey."
    )
    answer = check(attribute_uncited(text, PASSAGES))
    assert [(s.citations, s.verdict) for s in answer.sentences] == [
        ([1], "supported"),
        ([2], "supported"),
        ([], "uncited"),
    ]


def test_no_attribution_when_a_number_is_in_no_passage() -> None:
    text = "House prices rose 9.9% in the euro area."
    assert attribute_uncited(text, PASSAGES) == text
