"""Sentence boundaries in report text, as character spans."""

from __future__ import annotations

import re

# A sentence ends at . ! ? (optionally followed by a closing quote or bracket and a footnote
# number) before whitespace
# and a capital, digit or opening quote, or at a line break.
_BOUNDARY = re.compile(
    r"(?P<stop>[.!?…][\"'”’)\]]*(?:\d{1,3}(?=\s))?)\s+(?=[\"'“‘(\[]?[A-Z0-9])|\s*\n\s*"
)
_ABBREVIATION = re.compile(
    r"(?:\b(?:[A-Z]\.){1,3}|\b(?:Mr|Mrs|Ms|Dr|Prof|St|No|Nos|Vol|Fig|Figs|Sec|Art|Gen|Sen|Rep|"
    r"Gov|Jr|Sr|Inc|Co|Corp|Ltd|vs|etc|e\.g|i\.e|al|approx|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|"
    r"Oct|Nov|Dec|p|pp)\.)$"
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, whitespace excluded."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end("stop") if match.group("stop") else match.start()
        if match.group("stop") and _ABBREVIATION.search(text[max(start, end - 12) : end]):
            continue
        spans.append((start, end))
        start = match.end()
    spans.append((start, len(text)))
    return [_trim(text, s, e) for s, e in spans if text[s:e].strip()]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
