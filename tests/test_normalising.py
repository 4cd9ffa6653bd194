from rag.normalising import normalise, raw_span


def test_hyphenated_words_ligatures_and_whitespace_are_normalised():
    raw = "  The exam-\nple shows a ﬁne   result.\n\n\nNext   para"
    text, offsets = normalise(raw)
    assert text == "The example shows a fine result.\n\nNext para"
    assert len(offsets) == len(text)


def test_offsets_map_every_character_back_to_the_raw_text():
    raw = "Tons of\r\n co-\n caine seized in Tru\x02jillo"
    text, offsets = normalise(raw)
    assert text == "Tons of cocaine seized in Trujillo"
    for position, char in enumerate(text):
        assert raw[offsets[position]] == char or (char == " " and raw[offsets[position]].isspace())
    start = text.index("cocaine")
    raw_start, raw_end = raw_span(offsets, start, start + len("cocaine"), len(raw))
    assert raw[raw_start:raw_end].replace("-\n ", "") == "cocaine"


def test_line_breaks_kept_only_when_asked():
    assert normalise("Title\nBody text", keep_line_breaks=True)[0] == "Title\nBody text"
    assert normalise("wrapped\nline")[0] == "wrapped line"
    assert normalise("a\x00\x01b")[0] == "a b"


def test_pdfium_hyphen_marker_before_a_digit_stays_a_hyphen():
    assert normalise("uranium\x02235")[0] == "uranium-235"


def test_a_number_joined_by_a_hyphen_at_a_line_end_stays_joined():
    text, offsets = normalise("P.L. 110-\n343 and 1990-\n  2000, not 3 -\n4")
    assert text == "P.L. 110-343 and 1990-2000, not 3 - 4"
    assert "P.L. 110-\n343"[offsets[text.index("-")]] == "-"


def test_a_compound_after_a_capital_keeps_its_hyphen_at_a_line_end():
    text = normalise("NOAA-\nissued licenses, F-\n35 jets, NATO-\nRussia talks, Com-\nmerce")[0]
    assert text == "NOAA-issued licenses, F-35 jets, NATO-Russia talks, Commerce"
    assert normalise("JCPOA\x02mandated")[0] == "JCPOA-mandated"  # PDFium's line-end mark
