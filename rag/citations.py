"""Citation markers in generated answers: parse them, bind them to passages, check support.

A generated answer cites the numbered passages it was shown with markers such as `[1]`,
`[1, 2]`, `[1-3]` or `[2][3]`. `check_answer` turns such a text into an `Answer`: markers that
name no passage are dropped, the rest are renumbered densely and written `[n]`, each citation
quotes the passage sentence closest to the sentences citing it, and every answer sentence that
states a fact gets a verdict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rag.records import Answer, Citation, Passage, Sentence, Verdict
from rag.tables import table_rows
from rag.text import content_words, sentence_spans

Judge = Callable[[str, str], bool | None]
"""judge(claim, passage_text): whether the passage supports the claim; None when it cannot tell."""

Claim = tuple[str, list[Passage]]
"""A claim and the passages it cites."""

BatchJudge = Callable[[list[Claim]], list[bool | None]]
"""judge(claims): for each (claim, cited passages), whether the passages support the claim; None
when it cannot tell. One call for all the claims of an answer."""


def one_by_one(judge: Judge) -> BatchJudge:
    """A batch judge that asks `judge` about each claim and its passages' text in turn."""
    return lambda claims: [
        judge(claim, "\n\n".join(passage.text for passage in cited)) for claim, cited in claims
    ]


# A range may be written with a hyphen, an en dash or an em dash.
_MARKER = re.compile(r"\[\s*\d{1,3}(?:\s*[-\u2013\u2014,]\s*\d{1,3})*\s*\]")
_MARKER_WITH_SPACE = re.compile(r"[ \t]*" + _MARKER.pattern)
_RANGE = re.compile(r"(\d+)\s*[-\u2013\u2014]\s*(\d+)")
_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_NOT_A_CLAIM = re.compile(
    r"\W*(?:not in the library"
    r"|none of the (?:\w+ )?(?:passages|documents|sources)"
    r"|the (?:\w+ )?(?:passages|documents|sources|library|context) (?:do|does) not"
    r"|(?:i|we) (?:do not|don't|cannot|can't|could not|couldn't)"
    r"|there (?:is|are) no (?:information|mention|passages?|sources?|documents?)"
    r"|no (?:information|passage|source|document))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Marker:
    """A citation marker: its span in the text and the passage numbers it names, in order."""

    start: int
    end: int
    numbers: tuple[int, ...]


def parse_markers(text: str) -> list[Marker]:
    """The citation markers of `text`: `[1]`, `[1, 2]`, `[1-3]`, `[1–3]`; `[2][3]` is two."""
    markers = []
    for match in _MARKER.finditer(text):
        numbers: list[int] = []
        for piece in match.group()[1:-1].split(","):
            if bounds := _RANGE.search(piece):
                low, high = sorted(int(bound) for bound in bounds.groups())
                numbers.extend(range(low, high + 1))
            else:
                numbers.append(int(piece))
        markers.append(Marker(match.start(), match.end(), tuple(dict.fromkeys(numbers))))
    return markers


def strip_markers(text: str) -> str:
    """`text` without its citation markers (and the spaces before them)."""
    return _MARKER_WITH_SPACE.sub("", text)


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans of an answer, each line split apart.

    Sentences are found as if the markers were blanks. A marker between two sentences belongs
    to the one before it ("rose 5%. [1]", "rose 5%.[1]"), unless it opens a line whose sentence
    follows it ("[1] Rail fell.").
    """
    masked = _MARKER.sub(lambda marker: " " * len(marker.group()), text)
    spans = [
        (line.start() + start, line.start() + end)
        for line in re.finditer(r"[^\n]+", masked)
        for start, end in sentence_spans(line.group())
    ]
    for marker in _MARKER.finditer(text):
        if any(start <= marker.start() < end for start, end in spans):
            continue
        after = sum(end <= marker.start() for _, end in spans)  # index of the next sentence
        if after and "\n" not in text[spans[after - 1][1] : marker.start()]:
            spans[after - 1] = (spans[after - 1][0], marker.end())
        elif after < len(spans) and "\n" not in text[marker.end() : spans[after][0]]:
            spans[after] = (marker.start(), spans[after][1])
        elif after:
            spans[after - 1] = (spans[after - 1][0], marker.end())
        else:
            spans.insert(0, (marker.start(), marker.end()))
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of an answer, each keeping the citation markers it ends with."""
    return [text[start:end] for start, end in _sentence_spans(text)]


def _is_claim(sentence: str) -> bool:
    """Whether a sentence states a fact; refusals, questions and lead-ins ("In short:") do not."""
    claim = strip_markers(sentence).strip()
    return (
        re.search(r"\w", claim) is not None
        and not claim.endswith(("?", ":"))
        and _NOT_A_CLAIM.match(claim) is None
    )


def _numbers(text: str) -> set[str]:
    """Numbers in `text`, written without thousands separators or trailing decimal zeros."""
    found = set()
    for match in _NUMBER.finditer(text):
        number = match.group().replace(",", "")
        found.add(number.rstrip("0").rstrip(".") if "." in number else number)
    return found


def _names(claim: str) -> list[str]:
    """Capitalised words of a claim other than its first word, without possessive 's."""
    words = [match.group() for match in _WORD.finditer(claim)][1:]
    return [
        re.sub(r"['’]s$", "", word).rstrip("-")
        for word in words
        if word[0].isupper() and word != "I"
    ]


def _unsupported_terms(claim: str, passages: Sequence[Passage]) -> list[str]:
    """Numbers and names of `claim` that none of `passages` (text or title) contains."""
    sources = [f"{passage.title}\n{passage.text}" for passage in passages]
    numbers = set().union(*(_numbers(source) for source in sources))
    missing = sorted(_numbers(claim) - numbers)
    for name in _names(claim):
        pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE)
        if not any(pattern.search(source) for source in sources):
            missing.append(name)
    return missing


_NEGATION = re.compile(r"\b(?:not|no|never|nor|without|neither|none)\b|n't\b", re.IGNORECASE)
MIN_RESTATED_WORDS = 3  # a restatement needs at least this many content words


def restates(claim: str, cited: Sequence[Passage]) -> bool:
    """Whether one sentence of the cited passages holds every content word of the claim (at
    least MIN_RESTATED_WORDS) and, if the claim negates, a negation too: the claim restates
    that sentence, and no judge is needed to say that it is supported."""
    wanted = _content_words(claim)
    if len(wanted) < MIN_RESTATED_WORDS:
        return False
    negates = _NEGATION.search(claim) is not None
    for passage in cited:
        for start, end in sentence_spans(passage.text):
            sentence = passage.text[start:end]
            if wanted <= _content_words(sentence) and (
                not negates or _NEGATION.search(sentence) is not None
            ):
                return True
    return False


def _verdict(claim: str, cited: Sequence[Passage], judge: BatchJudge | None) -> Verdict | None:
    """The verdict the deterministic checks decide; None when it is the judge's to give."""
    if not cited:
        return "uncited"
    if _unsupported_terms(claim, cited):
        return "unsupported"
    if judge is None or restates(claim, cited):
        return "supported"
    return None


def _judged(supported: bool | None) -> Verdict:
    if supported is None:
        return "weak"
    return "supported" if supported else "unsupported"


def _content_words(text: str) -> set[str]:
    return set(content_words(text))


def _quotable(passage_text: str) -> list[tuple[int, int, str]]:
    """The passage's sentences and the rows of its Markdown tables (`rag.tables.table_rows`),
    in reading order, each with the text its words are matched in (a row: with its header)."""
    sentences = sentence_spans(passage_text)
    if not sentences:
        return []
    rows = [(row.start, row.end, row.statement) for row in table_rows(passage_text)]
    prose = [(s, e, passage_text[s:e]) for s, e in sentences if "|" not in passage_text[s:e]]
    return sorted(prose + rows) or [(s, e, passage_text[s:e]) for s, e in sentences]


def _quote_span(passage_text: str, claims: Iterable[str]) -> tuple[int, int]:
    """The span of the passage sentence or table row sharing most words with any of `claims`;
    the whole passage when none shares a word."""
    spans = _quotable(passage_text)
    if not spans:
        return 0, 0
    wanted = [_content_words(claim) for claim in claims]

    def overlap(span: tuple[int, int, str]) -> int:
        words = _content_words(span[2])
        return max((len(words & claim_words) for claim_words in wanted), default=0)

    best = max(spans, key=overlap)  # the first of equally good sentences
    return (best[0], best[1]) if overlap(best) else (spans[0][0], spans[-1][1])


def cite_claims(n: int, passage: Passage, claims: list[str]) -> Citation:
    """Citation `n` of `passage`, quoting the passage sentence closest to the claims citing it."""
    return Citation.of(n, passage, *_quote_span(passage.text, claims))


MIN_ATTRIBUTION_OVERLAP = 0.5  # share of a claim's content words its passage must hold


def _best_passage(claim: str, passages: Sequence[Passage]) -> int | None:
    """The number of the passage holding every number and name of `claim` and the largest
    share (at least MIN_ATTRIBUTION_OVERLAP) of its content words; None when none does."""
    words = _content_words(claim)
    best, best_share = None, MIN_ATTRIBUTION_OVERLAP
    for n, passage in enumerate(passages, start=1):
        share = len(words & _content_words(passage.text)) / max(1, len(words))
        if share >= best_share and not _unsupported_terms(claim, [passage]):
            best, best_share = n, share + 1e-9  # ties go to the earlier, better-ranked passage
    return best


def attribute_uncited(text: str, passages: Sequence[Passage]) -> str:
    """`text` with a marker after each claim that has none, naming the passage that holds its
    numbers and names and most of its words. Small models often leave markers out; the added
    citation is then checked like any other, and a claim no passage fits stays uncited."""
    pieces: list[str] = []
    done = 0
    for start, end in _sentence_spans(text):
        sentence = text[start:end]
        if parse_markers(sentence) or not _is_claim(sentence):
            continue
        n = _best_passage(strip_markers(sentence), passages)
        if n is not None:
            pieces += [text[done:end], f" [{n}]"]
            done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _clean_markers(text: str, passage_count: int) -> tuple[str, dict[int, int], int]:
    """`text` with markers renumbered densely in order of first use and written `[n]`, numbers
    outside 1..passage_count dropped; also the new number of each passage number cited, and how
    many numbers were dropped."""
    renumbered: dict[int, int] = {}
    pieces: list[str] = []
    removed = 0
    done = 0
    for marker in parse_markers(text):
        kept = [n for n in marker.numbers if 1 <= n <= passage_count]
        removed += len(marker.numbers) - len(kept)
        for n in kept:
            renumbered.setdefault(n, len(renumbered) + 1)
        start = marker.start
        if not kept:  # drop the space before a dropped marker too
            start = done + len(text[done:start].rstrip(" \t"))
        pieces += [text[done:start], "".join(f"[{renumbered[n]}]" for n in kept)]
        done = marker.end
    pieces.append(text[done:])
    return "".join(pieces), renumbered, removed


def check_answer(
    question: str,
    text: str,
    passages: Sequence[Passage],
    judge: BatchJudge | None = None,
    *,
    mode: str,
) -> Answer:
    """The `Answer` for a generated `text` that cites `passages` as [1]..[len(passages)].

    Sentences that state a fact without a marker are "uncited"; a cited sentence is
    "unsupported" when one of its numbers or capitalised names is in none of its passages,
    "supported" when it restates a sentence of them (`restates`); the others go to `judge` in
    one call, which says "supported", "unsupported" or, when it cannot tell, "weak" (without a
    judge they are "supported"). Sentences that state nothing (a refusal, a question) are
    listed only if they cite; an answer with no claim at all counts as refused.
    """
    cleaned, renumbered, removed = _clean_markers(text, len(passages))
    by_number = {new: passages[old - 1] for old, new in renumbered.items()}
    claims_citing: dict[int, list[str]] = {n: [] for n in by_number}
    found: list[tuple[str, list[int], Verdict | None]] = []
    pending: list[Claim] = []
    for sentence in split_sentences(cleaned):
        numbers = list(dict.fromkeys(n for m in parse_markers(sentence) for n in m.numbers))
        claim = strip_markers(sentence).strip()
        if not numbers and not _is_claim(sentence):
            continue
        for n in numbers:
            claims_citing[n].append(claim)
        cited = [by_number[n] for n in numbers]
        verdict = _verdict(claim, cited, judge)
        if verdict is None:
            pending.append((claim, cited))
        found.append((sentence, numbers, verdict))
    judged = iter(judge(pending) if judge is not None and pending else [])
    sentences = [
        Sentence(text=sentence, citations=numbers, verdict=verdict or _judged(next(judged, None)))
        for sentence, numbers, verdict in found
    ]
    return Answer(
        question=question,
        text=cleaned,
        refused=not any(_is_claim(s.text) for s in sentences),
        mode=mode,
        citations=[cite_claims(n, by_number[n], claims_citing[n]) for n in sorted(by_number)],
        sentences=sentences,
        passages=list(passages),
        removed_markers=removed,
    )
