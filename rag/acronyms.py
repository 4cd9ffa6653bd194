"""Acronyms a document defines ("research, development, test, and evaluation [RDT&E]"), so that
a sentence that uses one ("$14.9 billion for RDT&E") can be compared with a question that
spells it out ("research and development").

A definition is an acronym in brackets after words whose initials spell its capitals, in
order (the Schwartz-Hearst reading): "National Oceanic and Atmospheric Administration (NOAA)",
"Clarion-Clipperton Zone (CCZ)", "Department of Energy (DOE)". Minor words may be passed over
("and" in NOAA) or spell a letter ("of" in DOE).
"""

from __future__ import annotations

import re

_DEFINED = re.compile(r"[(\[](?P<acronym>[A-Z][A-Za-z&.-]{1,11})[)\]]")
_MINOR = frozenset("a an and the of for on in to at by with &".split())
_WORD = re.compile(r"[^\W\d_][^\W_]*")  # "Clarion-Clipperton" is two words
MAX_EXTRA_WORDS = 3  # words a long form may hold beyond one per letter of its acronym


def definitions(text: str) -> dict[str, str]:
    """The acronyms `text` defines, each with its long form as the text writes it."""
    found: dict[str, str] = {}
    for match in _DEFINED.finditer(text):
        acronym = match.group("acronym")
        letters = [char.lower() for char in acronym if char.isupper()]
        if len(letters) < 2 or acronym in found:
            continue
        long_form = _long_form(text[: match.start()], letters)
        if long_form:
            found[acronym] = long_form
    return found


def _long_form(before: str, letters: list[str]) -> str | None:
    """The words at the end of `before` whose initials spell `letters`, or None."""
    window = before[-200:]
    words = list(_WORD.finditer(window))[-(len(letters) + MAX_EXTRA_WORDS) :]
    wanted = len(letters) - 1
    first = None
    for word in reversed(words):
        initial = word.group()[0].lower()
        if wanted >= 0 and initial == letters[wanted]:
            wanted -= 1
            first = word
            if wanted < 0:
                break
        elif word.group().lower() not in _MINOR:
            return None
    if wanted >= 0 or first is None:
        return None
    return window[first.start() :].strip(" ,;:")


def spelled_out(sentence: str, known: dict[str, str]) -> str:
    """The sentence with the long form of each acronym it uses, where it does not already
    hold it, put in brackets after its first use: what a model comparing meanings should
    read."""
    for acronym, long_form in known.items():
        use = re.search(rf"(?<![\w&-]){re.escape(acronym)}(?![\w&-])", sentence)
        if use and long_form.lower() not in sentence.lower():
            sentence = f"{sentence[: use.end()]} ({long_form}){sentence[use.end() :]}"
    return sentence
