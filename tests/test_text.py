import sqlite3

from rag.text import content_words, lexical_terms, sentence_spans, stem, stems, words


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]


def test_abbreviations_decimals_and_footnotes():
    text = (
        "The U.S. Space Force was founded in 2019. It seized 7.6 tons (see Fig. 3). "
        "Shipped to Spain.2 Experts disagree. Mr. Smith said so!"
    )
    assert sentences(text) == [
        "The U.S. Space Force was founded in 2019.",
        "It seized 7.6 tons (see Fig. 3).",
        "Shipped to Spain.2",
        "Experts disagree.",
        "Mr. Smith said so!",
    ]


def test_a_decimal_before_a_capital_does_not_end_a_sentence():
    # a full stop between digits is a decimal point, not a sentence's end and a footnote
    text = (
        "Ulta Beauty Announces Net Sales of $3.2 Billion Compared to $2.7 Billion. "
        "See Table 4.3 (U.S. Trade) for more. Lending rose to $5 billion.12 The Fed agreed."
    )
    assert sentences(text) == [
        "Ulta Beauty Announces Net Sales of $3.2 Billion Compared to $2.7 Billion.",
        "See Table 4.3 (U.S. Trade) for more.",
        "Lending rose to $5 billion.12",
        "The Fed agreed.",
    ]


def test_a_journals_volume_does_not_end_a_sentence():
    assert sentences("Heffernan, “Deep-Sea Dilemma,” Nature, vol. 571 (2019). It grew.") == [
        "Heffernan, “Deep-Sea Dilemma,” Nature, vol. 571 (2019).",
        "It grew.",
    ]


def test_a_news_releases_dateline_ends_its_headline():
    text = (
        "Ulta Beauty Announces Net Sales of $3.2 Billion BOLINGBROOK, Ill.--(BUSINESS WIRE)-- "
        "Ulta Beauty, Inc. (NASDAQ: ULTA) today announced financial results."
    )
    assert sentences(text) == [
        "Ulta Beauty Announces Net Sales of $3.2 Billion BOLINGBROOK, Ill.--(BUSINESS WIRE)--",
        "Ulta Beauty, Inc. (NASDAQ: ULTA) today announced financial results.",
    ]


def test_an_abbreviation_in_brackets_does_not_end_a_sentence():
    text = (
        "The Administration issued Executive Order (E.O.) 14285 in April 2025. "
        "It names the United States (U.S.). Congress may act."
    )
    assert sentences(text) == [
        "The Administration issued Executive Order (E.O.) 14285 in April 2025.",
        "It names the United States (U.S.).",
        "Congress may act.",
    ]


def test_line_breaks_end_sentences_and_spans_are_exact():
    text = "Title line\n\nBody one. Body two\nLast"
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["Title line", "Body one.", "Body two", "Last"]


def test_a_list_run_into_one_line_splits_at_items_that_follow_a_finished_sentence():
    # GAO-06-282's slides, as the PDF reader joins them
    text = (
        "However, GAO found that some forms of marketing are widespread and increasing: "
        "• Officials noted that most U.S. hospitals provide formula discharge packs. "
        "• An estimated 86 percent of WIC mothers received these packs. "
        "• Additionally, GAO identified an increase in marketing. "
        "At 6 months of age, the rate averaged: • WIC: 10 percent • Non-WIC: 22 percent\n"
        "• A list item on a line of its own is quoted without its mark."
    )
    assert sentences(text) == [
        "However, GAO found that some forms of marketing are widespread and increasing: "
        "• Officials noted that most U.S. hospitals provide formula discharge packs.",
        "An estimated 86 percent of WIC mothers received these packs.",
        "Additionally, GAO identified an increase in marketing.",
        "At 6 months of age, the rate averaged: • WIC: 10 percent • Non-WIC: 22 percent",
        "A list item on a line of its own is quoted without its mark.",
    ]


def test_content_words_drop_stopwords_and_repeats_in_order():
    assert content_words("What is the Space Force, and who leads the FORCE?") == [
        "space",
        "force",
        "leads",
    ]
    assert content_words("the of and") == []


def test_stems_join_inflections_as_the_lexical_index_does(tmp_path):
    """The stemmer is the one of the FTS5 porter tokenizer: a word the index matches by stem
    is a word text.stem matches too."""
    pairs = [("policy", "policies"), ("seized", "seizing"), ("agency", "agencies")]
    for a, b in pairs:
        assert stem(a) == stem(b)
    database = sqlite3.connect(tmp_path / "fts.sqlite")
    database.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize='porter unicode61')")
    for _, b in pairs:
        database.execute("INSERT INTO t(text) VALUES (?)", (b,))
    for a, b in pairs:
        found = database.execute("SELECT text FROM t WHERE t MATCH ?", (f'"{a}"',)).fetchall()
        assert found == [(b,)]
    assert stems("The policies of agencies") == {"polici", "agenc"}


def test_words_are_lower_case_word_characters():
    assert words("Peru's 7.6 tons") == ["peru", "s", "7", "6", "tons"]


def test_lexical_terms_are_the_fts5_index_terms() -> None:
    terms = lexical_terms(["Technology policies: the café's U.S. goals", "", "Goes, goes."])
    # Martin Porter's variant ('logi' -> 'log'), short words unstemmed, diacritics removed
    assert terms == [
        ["technolog", "polici", "the", "cafe", "s", "u", "s", "goal"],
        [],
        ["goe", "goe"],
    ]
    assert stem("technology") == "technologi"  # the Snowball Porter stemmer differs here


def test_stemming_from_many_threads_at_once_gives_each_word_its_own_stem():
    """The app answers several questions at once; Snowball's stemmer keeps the word it is
    working on in the stemmer object, so unguarded threads garbled each other's words."""
    import sys
    from concurrent.futures import ThreadPoolExecutor

    from rag.text import stem

    words = [
        f"{root}{ending}"
        for root in ("nation", "polic", "connect", "seiz", "report")
        for ending in ("al", "ies", "ing", "ed", "ation", "izations", "fulness")
    ] * 40
    expected = [stem.__wrapped__(word) for word in words]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(stem.__wrapped__, words))
    finally:
        sys.setswitchinterval(interval)
    assert results == expected


def test_legal_citations_and_ranks_do_not_end_a_sentence():
    text = "The act (Pub. L. No. 105-200) linked payments. It is 112 Stat. 645. Lt. Col. Ng agreed."
    assert sentences(text) == [
        "The act (Pub. L. No. 105-200) linked payments.",
        "It is 112 Stat. 645.",
        "Lt. Col. Ng agreed.",
    ]


def test_a_sentence_after_a_list_run_into_one_line_is_its_own():
    text = (
        "Matters could include the following: • Monitoring programs • Adjacent coastal states "
        "and transboundary harm On January 1, 2025, Leticia Carvalho began her term. "
        "Rates averaged: • WIC: 10 percent • Non-WIC: 22 percent"
    )
    assert sentences(text) == [
        "Matters could include the following: • Monitoring programs • Adjacent coastal states "
        "and transboundary harm",
        "On January 1, 2025, Leticia Carvalho began her term.",
        "Rates averaged: • WIC: 10 percent • Non-WIC: 22 percent",
    ]


def test_numbered_items_run_together_after_figures_are_sentences_of_their_own():
    # a Form 8-K's voting results, as the PDF reader joins their lines
    text = (
        "(5) The proposal regarding an independent Board Chair was defeated: For 250,838,697 "
        "Against 746,982,272 (6) The proposal regarding a transparency report was defeated: "
        "For 185,034,699 Against 814,416,953. The law requires (1) that agencies report and "
        "(2) that they publish, as section 4 (2) Reports says."
    )
    assert sentences(text) == [
        "(5) The proposal regarding an independent Board Chair was defeated: For 250,838,697 "
        "Against 746,982,272",
        "(6) The proposal regarding a transparency report was defeated: For 185,034,699 "
        "Against 814,416,953.",
        "The law requires (1) that agencies report and (2) that they publish, as section 4 (2) "
        "Reports says.",
    ]
