"""Quality measures: ranking metrics, answer correctness and ALCE citation quality.

Ranking metrics take a ranked list of ids (best first) and the relevant ids; they follow
trec_eval / BEIR: nDCG with linear gains, Recall@k over all relevant ids, MRR@k as the
reciprocal rank of the first relevant id within the cut-off (0 when there is none).
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from rag.citations import Judge, strip_markers

Item = TypeVar("Item", bound=Hashable)  # what is ranked: a document, a (file, page)

FIGURE_TOLERANCE = Decimal("0.01")  # largest relative difference of two figures taken as equal
_FIGURE = re.compile(r"(?<![\w.])[-−]?\d+(?:,\d{3})*(?:\.\d+)?")


def ndcg_at_k(ranking: Sequence[Item], relevance: Mapping[Item, int], k: int) -> float:
    """Normalised discounted cumulative gain of the first `k` ids (gain = relevance)."""
    gains = [relevance.get(id_, 0) for id_ in ranking[:k]]
    dcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))
    ideal = sorted((r for r in relevance.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(rank + 1) for rank, r in enumerate(ideal, 1))
    return dcg / idcg if idcg else 0.0


def recall_at_k(ranking: Sequence[Item], relevant: AbstractSet[Item], k: int) -> float:
    """Share of the relevant ids found among the first `k`."""
    return len(relevant & set(ranking[:k])) / len(relevant) if relevant else 0.0


def mrr_at_k(ranking: Sequence[Item], relevant: AbstractSet[Item], k: int) -> float:
    """1 / rank of the first relevant id among the first `k`; 0 when none is there."""
    for rank, id_ in enumerate(ranking[:k], start=1):
        if id_ in relevant:
            return 1.0 / rank
    return 0.0


def hit_at_k(ranking: Sequence[Item], relevant: AbstractSet[Item], k: int) -> float:
    """1 when any relevant id is among the first `k`, else 0."""
    return 1.0 if relevant & set(ranking[:k]) else 0.0


def _accepted_pattern(accepted: str) -> re.Pattern[str]:
    """The accepted string, case and spacing ignored; a number at either end is a whole number
    ("6" is not the 6 of "2026", nor "7.6" the start of "7.65"). Words may be inflected, so they
    match inside longer words ("Владивосток" in "Владивостока")."""
    pattern = re.escape(" ".join(accepted.lower().split()))
    if accepted[:1].isdigit():
        pattern = r"(?<!\d)(?<!\d[.,])" + pattern
    if accepted[-1:].isdigit():
        pattern += r"(?!\d)(?![.,]\d)"
    return re.compile(pattern)


def contains_accepted(answer: str, accepted: Sequence[str]) -> bool:
    """Whether the answer contains one of the accepted strings (`_accepted_pattern`)."""
    text = " ".join(answer.lower().split())
    return any(_accepted_pattern(a.strip()).search(text) for a in accepted)


def _is_year(number: Decimal) -> bool:
    return number.as_tuple().exponent == 0 and 1900 <= number <= 2100


def figures(text: str) -> list[Decimal]:
    """The numbers written in `text` ("$1,577.00" -> 1577.00, "-3.5%" -> -3.5), in order;
    not years (whole numbers 1900-2100), citation markers or digits inside words ("FY2022")."""
    found = []
    for match in _FIGURE.finditer(strip_markers(text)):
        try:
            number = Decimal(match.group().replace(",", "").replace("−", "-"))
        except InvalidOperation:
            continue
        if not _is_year(number):
            found.append(abs(number))
    return found


def _exponent(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int), f"{number} is not finite"
    return exponent


def same_figure(gold: Decimal, given: Decimal) -> bool:
    """Whether `given` states `gold`: equal once the more precise of the two is rounded to the
    other's decimals, and within FIGURE_TOLERANCE of each other ("31%" states 30.8%, not 0.66)."""
    places = max(min(-_exponent(gold), -_exponent(given)), 0)
    quantum = Decimal(1).scaleb(-places)
    rounded_equal = gold.quantize(quantum) == given.quantize(quantum)
    return rounded_equal and abs(gold - given) <= FIGURE_TOLERANCE * max(abs(gold), abs(given))


def figure_recall(gold_answer: str, answer: str) -> float | None:
    """Share of the gold answer's figures (signs and years ignored) that the answer states, up
    to rounding; None when the gold answer has no figure. Scales ("1.6 billion" for "1,600
    million") are not converted."""
    wanted = figures(gold_answer)
    if not wanted:
        return None
    given = figures(answer)
    return sum(any(same_figure(w, g) for g in given) for w in wanted) / len(wanted)


@dataclass(frozen=True)
class CitedSentence:
    """An answer sentence (markers removed) and the texts of the passages it cites."""

    text: str
    passages: list[str]


@dataclass(frozen=True)
class CitationScores:
    """ALCE citation recall and precision of one answer, with the counts behind them."""

    recall: float
    precision: float
    sentences: int
    supported: int  # sentences whose cited passages, together, support them
    citations: int
    precise: int  # citations that are needed


def _supports(judge: Judge, claim: str, passages: Sequence[str]) -> bool:
    return bool(passages) and judge(claim, "\n\n".join(passages)) is True


def citation_scores(sentences: Sequence[CitedSentence], judge: Judge) -> CitationScores:
    """ALCE citation quality (Gao et al., 2023) of an answer's sentences.

    Recall: share of sentences whose cited passages, concatenated, support them (a sentence
    without citations counts as unsupported). Precision: share of citations that are needed.
    A citation of a supported sentence with several citations is not needed when it does not
    support the sentence alone and the other citations still do; every citation of an
    unsupported sentence counts as not needed. With no citations, precision is 0.
    """
    supported = citations = precise = 0
    for sentence in sentences:
        citations += len(sentence.passages)
        if not _supports(judge, sentence.text, sentence.passages):
            continue
        supported += 1
        if len(sentence.passages) == 1:
            precise += 1
            continue
        for i, passage in enumerate(sentence.passages):
            others = sentence.passages[:i] + sentence.passages[i + 1 :]
            needless = not _supports(judge, sentence.text, [passage]) and _supports(
                judge, sentence.text, others
            )
            precise += not needless
    return CitationScores(
        recall=supported / len(sentences) if sentences else 0.0,
        precision=precise / citations if citations else 0.0,
        sentences=len(sentences),
        supported=supported,
        citations=citations,
        precise=precise,
    )


def mean(values: Sequence[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
