from rag.text import sentence_spans


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


def test_line_breaks_end_sentences_and_spans_are_exact():
    text = "Title line\n\nBody one. Body two\nLast"
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["Title line", "Body one.", "Body two", "Last"]
