"""Acronyms a document defines, spelled out where a sentence uses them."""

from rag.acronyms import definitions, spelled_out

TEXT = (
    "The act provided less than requested for some accounts (research, development, test, "
    "and evaluation [RDT&E]). The National Oceanic and Atmospheric Administration (NOAA) "
    "licenses exploration in the Clarion-Clipperton Zone (CCZ); the Department of Energy "
    "(DOE) funds research. The 1994 Agreement (UNCLOS) changed Part XI."
)


def test_an_acronym_is_defined_by_the_initials_of_the_words_before_it():
    assert definitions(TEXT) == {
        "RDT&E": "research, development, test, and evaluation",
        "NOAA": "National Oceanic and Atmospheric Administration",
        "CCZ": "Clarion-Clipperton Zone",
        "DOE": "Department of Energy",
    }  # "1994 Agreement" does not spell UNCLOS


def test_a_sentence_is_read_with_the_acronyms_it_uses_spelled_out():
    known = definitions(TEXT)
    assert spelled_out("It provided $14.9 billion for RDT&E and $5.7 billion for O&M.", known) == (
        "It provided $14.9 billion for RDT&E (research, development, test, and evaluation) and "
        "$5.7 billion for O&M."
    )
    already = "The Department of Energy (DOE) funds research."
    assert spelled_out(already, known) == already
    assert spelled_out("NOAAS and DOEs are not uses.", known) == "NOAAS and DOEs are not uses."
