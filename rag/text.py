"""Text handling shared by every stage: words, stopwords, stems and sentences.

One stopword list, one stemmer and one sentence splitter, so that the lexical index, the
extractive answerer, the citation checks and briefings agree on what a word and a sentence are.
The stemmer (`stem`) is Snowball's Porter, which agrees with SQLite FTS5's `porter` tokenizer
of the lexical index on nearly every word (not on 'technology': Snowball keeps the 'i'). The terms
a lexical index holds (`lexical_terms`) are that tokenizer's own output, so that every store
indexes and ranks the same terms.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Sequence
from contextlib import closing
from functools import lru_cache

import snowballstemmer

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers him his how i if in into is it its itself just me more most my
    no nor not now of off on once only or other our out over own same she should so some such than
    that the their them then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours""".split()
)

_WORD = re.compile(r"\w+")

# A sentence ends at one of these marks, before whitespace and a sentence start.
SENTENCE_END = r"[.!?…]"
SENTENCE_START = r"[\"'“‘(\[]?[A-Z0-9]"

# A list item's mark, when a list is run into one line ("... to new mothers. • An estimated 86
# percent ..."): an item that follows a finished sentence starts one. An item that follows a
# lead-in ("... at an average of: • WIC: 10 percent • Non-WIC: 22 percent") is read with it.
BULLET = r"[•●▪◦‣]"

# Words that start sentences rather than go on with a list item or a title
SENTENCE_OPENERS = (
    "The|A|An|In|On|At|As|For|Since|Before|After|This|These|Those|Some|Most|Many|Under|"
    "According|While|Although|During|When|Its|It|Such|Both|Each|All|Over|From|Despite|"
    "Following|However"
)
# Where the last item of a list run into one line ends and a sentence begins, its full stop
# missing ("• Adjacent coastal states and transboundary harm On January 1, 2025, ...").
_LIST_ENDS = re.compile(rf"(?<=[a-z)]) (?=(?:{SENTENCE_OPENERS}) )")

# A sentence ends at a mark (optionally followed by a closing quote or bracket and a footnote
# number) before whitespace, a list item's mark if any, and a sentence start, at a line break,
# at a numbered item after an amount in thousands, as lines of figures run into one do
# ("... Broker Non-Votes 172,969,325 (6) The shareholder proposal ..."), or after a news
# release's dateline. Digits right after a full stop that follows a digit are a decimal's,
# not a footnote's: "Net Sales of $3.2 Billion", "Table 4.3 (U.S. ...)".
_BOUNDARY = re.compile(
    rf"(?P<stop>{SENTENCE_END}[\"'”’)\]]*(?:(?<!\d[.!?…])\d{{1,3}}(?=\s))?)\s+(?:{BULLET}\s+)?"
    rf"(?={SENTENCE_START})"
    r"|\s*\n\s*"
    r"|(?<=\d,\d{3})\s+(?=\(\d{1,2}\)\s+[A-Z])"
    # a news release's dateline ends its headline: "... BOLINGBROOK, Ill.--(BUSINESS WIRE)--"
    r"|(?<=\(BUSINESS WIRE\)--)\s*|(?<=/PRNewswire/ --)\s*|(?<=\(GLOBE NEWSWIRE\) --)\s*"
)
_ABBREVIATION = re.compile(
    r"(?:\b(?:[A-Z]\.){1,3}|\b(?:Mr|Mrs|Ms|Dr|Prof|St|No|Nos|Vol|Fig|Figs|Sec|Art|Gen|Sen|Rep|"
    r"Gov|Jr|Sr|Inc|Co|Corp|Ltd|vs|etc|e\.g|i\.e|al|approx|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|"
    r"Oct|Nov|Dec|p|pp|vol|Pub|Stat|Cong|Res|Div|Dept|Lt|Col|Capt|Adm|Cmdr|Sgt)\.)$"
)


def words(text: str) -> list[str]:
    """The words of `text`, lower-cased, in order."""
    return _WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    """The distinct words of `text` that are not stopwords, lower-cased, in order of first use."""
    return list(dict.fromkeys(word for word in words(text) if word not in STOPWORDS))


# SQLite FTS5's tokenizer of every lexical index: Unicode words, lower-cased, diacritics removed,
# Porter-stemmed (Martin Porter's own variant: 'technology' -> 'technolog'; words under 3 bytes
# or over 64 are not stemmed).
LEXICAL_TOKENIZER = "porter unicode61 remove_diacritics 2"


def lexical_terms(texts: Sequence[str]) -> list[list[str]]:
    """The terms of each text as a lexical index holds them (`LEXICAL_TOKENIZER`), in order,
    stopwords included: SQLite FTS5 tokenizes them, so they are exactly the folder store's."""
    with closing(sqlite3.connect(":memory:")) as db:
        db.execute(f"CREATE VIRTUAL TABLE t USING fts5(text, tokenize='{LEXICAL_TOKENIZER}')")
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
        db.executemany("INSERT INTO t(rowid, text) VALUES (?, ?)", enumerate(texts, 1))
        terms: list[list[str]] = [[] for _ in texts]
        for row, term in db.execute("SELECT doc, term FROM v ORDER BY doc, offset"):
            terms[row - 1].append(term)
    return terms


_STEMMER = snowballstemmer.stemmer("porter")
_STEMMING = threading.Lock()  # the stemmer keeps the word it works on: one thread at a time


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Porter's stem of a lower-case word ('policies' and 'policy' both give 'polici')."""
    with _STEMMING:
        return str(_STEMMER.stemWord(word))


def stems(text: str) -> set[str]:
    """The stems of the content words of `text`."""
    return {stem(word) for word in content_words(text)}


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, whitespace excluded."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end("stop") if match.group("stop") else match.start()
        before = text[max(start, end - 12) : end].rstrip("\"'”’)]")  # "(E.O.)" ends in "E.O."
        if match.group("stop") and _ABBREVIATION.search(before):
            continue
        spans.append((start, end))
        start = match.end()
    spans.append((start, len(text)))
    if re.search(BULLET, text):
        spans = [piece for span in spans for piece in _past_list(text, *span)]
    return [_trim(text, s, e) for s, e in spans if text[s:e].strip()]


def _past_list(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The span, split where a sentence begins after the last item of a list in it."""
    items = list(re.finditer(BULLET, text[start:end]))
    if not items:
        return [(start, end)]
    after_list = _LIST_ENDS.search(text, start + items[-1].end(), end)
    if after_list is None:
        return [(start, end)]
    return [(start, after_list.start()), (after_list.end(), end)]


_LEADING_MARK = re.compile(rf"\s*(?:{BULLET}\s+)?")


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without the whitespace around it and a list item's mark before it."""
    leading = _LEADING_MARK.match(text, start)
    assert leading is not None  # every part of the pattern is optional
    start = min(end, leading.end())
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def language(text: str) -> str:
    """The ISO 639-1 code of the language `text` is written in ("en", "es", "ru", ...)."""
    import py3langid  # loads its model on first use: only callers that need it pay

    return str(py3langid.classify(text)[0])
