"""Question to passages: dense (FAISS) and lexical (FTS5) candidates, fused by rank or by score.

A question that names a document by what its file name or title says ("Best Buy" for
BESTBUY_2023_10K.pdf, "FY2023" for the filing of 2023) has the named documents searched a
second time on their own (`named_documents`): a filing seldom writes its filer's name on the
pages that answer, so neither ranking would otherwise tell one company's filing from another's.

A question that names a financial statement is about the pages that statement is printed on:
those come first (`statement_pages_first`). Filings print each statement under its title at
the top of its page ("CONSOLIDATED BALANCE SHEETS", "Consolidated Statements of Earnings"),
and the statement's own lines are what a lexical or dense match finds least: its rows are
figures, its words the same as in every note that discusses them.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import islice
from pathlib import PurePosixPath
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.embedding import QUERY, TextEmbedder
from rag.names import fold
from rag.records import DocumentInfo, Passage
from rag.settings import Settings
from rag.store import DocumentStore, Hit
from rag.text import STOPWORDS

PageKey = tuple[int, int | None]  # (document id, page number)


def reciprocal_rank_fusion(
    rankings: list[list[Hit]], weights: list[float], k: int
) -> list[tuple[int, float]]:
    """Chunk ids with fused scores sum(weight / (k + rank)), best first; ranks start at 1."""
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def zscore_fusion(rankings: list[list[Hit]], weights: list[float]) -> list[tuple[int, float]]:
    """Chunk ids with fused scores sum(weight * z), best first.

    z is a hit's score standardised over its own ranking; a chunk absent from a ranking takes
    that ranking's lowest z, as if it had come just below the last candidate.
    """
    standardised: list[tuple[dict[int, float], float, float]] = []
    for ranking, weight in zip(rankings, weights, strict=True):
        if not ranking:
            continue
        scores = np.array([hit.score for hit in ranking], dtype=np.float64)
        spread = float(scores.std()) or 1.0
        z = (scores - scores.mean()) / spread
        standardised.append(
            (
                {hit.chunk_id: float(v) for hit, v in zip(ranking, z, strict=True)},
                float(z.min()),
                weight,
            )
        )
    chunk_ids = {chunk_id for found, _, _ in standardised for chunk_id in found}
    fused = {
        chunk_id: sum(
            weight * found.get(chunk_id, lowest) for found, lowest, weight in standardised
        )
        for chunk_id in chunk_ids
    }
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def fuse(
    rankings: list[list[Hit]], settings: Settings, best_sentences: list[Hit] | None = None
) -> list[tuple[int, float]]:
    """Dense and lexical rankings, in pairs (the library's, then perhaps the named documents'),
    and perhaps the ranking of the best passages by their best sentence, merged as
    `settings.fusion` says, best first."""
    weights = [settings.dense_weight, settings.lexical_weight] * (len(rankings) // 2)
    if best_sentences:
        rankings = [*rankings, sorted(best_sentences, key=lambda hit: -hit.score)]
        weights.append(settings.best_sentence_weight)
    if settings.fusion == "zscore":
        return zscore_fusion(rankings, weights)
    return reciprocal_rank_fusion(rankings, weights, settings.rrf_k)


SentenceSimilarity = Callable[[str, list[Passage]], list[float]]
"""similarity(question, passages): each passage's best sentence's similarity to the question."""


_TOKEN = re.compile(r"[^\s,;:?!()\"“”]+")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
# A question about what a company expects of a year, which its filings of the year before
# give ("What EPS did J&J's management project for 2023?": the Q4 2022 release)
_FORWARD = re.compile(
    r"\b(?:expect\w*|project(?:s|ed|ing|ions?)?|guid(?:e|es|ed|ance)|outlook|forecasts?\w*|"
    r"anticipat\w*|will)\b",
    re.IGNORECASE,
)
_POSSESSIVE = re.compile(r"['’]s?$")
_POSSESSIVE_END = re.compile(r"\w['’]s?$")  # "Johnson's", "Ross'"; not a quote's "'"
# Where a file name's words part: non-alphanumerics, a capital after a small letter, letters
# against digits ("BESTBUY_2024Q2_10Q" -> bestbuy 2024 q 2 10 q; "BestBuy" -> best buy).
_NAME_PARTS = re.compile(r"[\W_]+|(?<=[a-z])(?=[A-Z])|(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
MIN_NAME_CHARS = 3  # a shorter name ("US", "Q2") names no document


def _squashed(text: str) -> str:
    return re.sub(r"[\W_]+", "", fold(text))


def _capitalised_runs(question: str) -> list[list[str]]:
    """Runs of capitalised words (and "&") parted by spaces only; a possessive ends its run
    ("Johnson & Johnson's US sales": "Johnson & Johnson's", "US")."""
    runs: list[list[str]] = []
    end = -1
    for token in _TOKEN.finditer(question):
        if not (token.group()[0].isupper() or token.group() == "&"):
            end = -1
            continue
        if end >= 0 and question[end : token.start()].isspace():
            runs[-1].append(token.group())
        else:
            runs.append([token.group()])
        end = -1 if _POSSESSIVE_END.search(token.group()) else token.end()
    return runs


def question_names(question: str) -> list[list[str]]:
    """The names a question gives, as their folded words without stopwords: runs of
    capitalised words ("Which region did MGM..." -> [["mgm"]]; "Best Buy" -> [["best", "buy"]])."""
    names = []
    for run in _capitalised_runs(question):
        parts = [_POSSESSIVE.sub("", fold(word)).strip(".'’") for word in run]
        parts = [part for part in parts if part and part not in STOPWORDS and part != "&"]
        if len(_squashed("".join(parts))) >= MIN_NAME_CHARS:
            names.append(parts)
    return names


# A word that abbreviates a name by its capitals, a small letter or "&" standing between two
# of them for "and" or "of": "JnJ", "J&J", "P&G", "DoD". A word in capitals alone ("ESF") is a
# name as it stands (`question_names`): titles write an acronym as often as they spell it out.
_INITIALISM = re.compile(r"[A-Z](?:[a-z&]?[A-Z])+")
# Words an initialism leaves out: "Procter & Gamble" is "P&G", "Department of Defense" "DoD".
_UNINITIALLED = frozenset({"and", "of", "the", "for", "&"})


def question_initialisms(question: str) -> list[tuple[str, str]]:
    """The words that abbreviate a name in a question by their capitals with a small letter or
    "&" among them, folded, each with its initials ("How did JnJ's sales grow?" -> [("jnj",
    "jj")])."""
    found = []
    for token in _TOKEN.findall(question):
        word = _POSSESSIVE.sub("", token)
        if _INITIALISM.fullmatch(word) and (word != word.upper() or "&" in word):
            found.append((fold(word), "".join(char for char in word if char.isupper()).lower()))
    return found


def initials(identity: list[str]) -> str:
    """The first letters of a document's identity words, run together where the words follow
    one another ("johnson johnson 2022 q 4 earnings" -> "jj|||e"): words an initialism leaves
    out are skipped, and a number or a single letter ("q" of "2022Q4", "u" of "U.S.") parts
    the runs."""
    return "".join(
        word[0] if word.isalpha() and len(word) > 1 else "|"
        for word in identity
        if word not in _UNINITIALLED
    )


def identity_words(document: DocumentInfo) -> list[str]:
    """The folded words of a document's path (folders and file name, without the extension)
    and title."""
    path = PurePosixPath(document.file.replace("\\", "/")).with_suffix("")
    return [fold(part) for part in _NAME_PARTS.split(f"{path} {document.title}") if part]


def names_document(name: list[str], identity: list[str]) -> bool:
    """Whether a name is in a document's identity words: as a word sequence, or squashed at a
    word's start ("Best Buy" in "bestbuy", "MGM" in "mgmresorts")."""
    squashed = _squashed("".join(name))
    if any(word.startswith(squashed) for word in identity):
        return True
    return f" {' '.join(name)} " in f" {' '.join(identity)} "


@dataclass(frozen=True)
class DocumentNames:
    """The library's documents by their identity words (`identity_words`), to find the
    documents a name names without reading every document's words for each question."""

    identities: dict[int, list[str]]
    holding: dict[str, frozenset[int]]  # an identity word: the documents whose identity has it
    words: list[str]  # the identity words, sorted, for the squashed names they start with
    initials: dict[int, str]  # each document's `initials`, for the initialisms that name it

    @classmethod
    def of(cls, documents: Sequence[DocumentInfo]) -> DocumentNames:
        identities = {document.id: identity_words(document) for document in documents}
        holding: dict[str, set[int]] = {}
        for document_id, identity in identities.items():
            for word in identity:
                holding.setdefault(word, set()).add(document_id)
        return cls(
            identities,
            {word: frozenset(ids) for word, ids in holding.items()},
            sorted(holding),
            {document_id: initials(identity) for document_id, identity in identities.items()},
        )

    def named(self, name: list[str]) -> set[int]:
        """The documents that `names_document(name, identity)` finds the name in."""
        squashed = _squashed("".join(name))
        found: set[int] = set()
        for word in self.words[bisect_left(self.words, squashed) :]:
            if not word.startswith(squashed):
                break
            found |= self.holding[word]
        holders = [self.holding.get(word, frozenset()) for word in name]
        in_sequence = frozenset.intersection(*holders) - found if holders else frozenset()
        return found | {i for i in in_sequence if names_document(name, self.identities[i])}

    def initialled(self, letters: str) -> set[int]:
        """The documents with consecutive identity words whose first letters are `letters`
        ("jj": JOHNSON_JOHNSON_2022_10K.pdf)."""
        return {document_id for document_id, run in self.initials.items() if letters in run}


@lru_cache(maxsize=4)
def _document_names(documents: tuple[DocumentInfo, ...]) -> DocumentNames:
    return DocumentNames.of(documents)


Mentions = Callable[[list[str]], list[int]]
"""mentions(name): the document of each of the library's passages that best match a name and
give it."""


def names_the_subject(named: list[int], mentions: list[int]) -> bool:
    """Whether the documents a name names hold at least half of the passages that mention it:
    the name is what they are about ("Best Buy" for Best Buy's filings), not a topic the library
    discusses mostly elsewhere ("Treasury", in a title, for a report on one of its funds beside
    reports on Treasury securities)."""
    documents = set(named)
    return 2 * sum(document in documents for document in mentions) >= len(mentions)


def named_documents(
    question: str,
    documents: Sequence[DocumentInfo],
    mentions: Mentions | None = None,
    names: DocumentNames | None = None,
) -> list[int]:
    """Ids of the documents whose file name or title gives the most of the question's names
    and initialisms (`question_initialisms`: "JnJ" for JOHNSON_JOHNSON_2022_10K.pdf; none if
    no document gives one, or every document does), narrowed to those whose file name or
    title holds the latest year the question names, if any does: a filing reports its own
    year and the years before it, and what the company expects of the next year (a question
    about what is expected of a year also takes the filings of the year before). With
    `mentions`, a name counts only if it `names_the_subject` of the documents that give it.
    `names` indexes the identity words of these documents, or of a library's whole list of
    which these are the ones allowed.
    """
    index = names or DocumentNames.of(documents)
    allowed = {document.id for document in documents}
    named_by: list[list[int]] = []
    for name in question_names(question):
        named = sorted(index.named(name) & allowed)
        if named and (mentions is None or names_the_subject(named, mentions(name))):
            named_by.append(named)
    for written, letters in question_initialisms(question):
        named = sorted(index.initialled(letters) & allowed)
        if named and (mentions is None or names_the_subject(named, mentions([written]))):
            named_by.append(named)
    counts = Counter(document_id for named in named_by for document_id in named)
    most = max(counts.values(), default=0)
    named = [document_id for document_id, count in counts.items() if count == most]
    if not named or len(named) == len(documents):
        return []
    years = _YEAR.findall(question)
    if not years:
        return sorted(named)
    latest = int(max(years))
    reporting = {str(latest), str(latest - 1)} if _FORWARD.search(question) else {str(latest)}
    dated = [
        document_id
        for document_id in named
        if reporting.intersection(index.identities[document_id])
    ]
    return sorted(dated or named)


def _title(names: str) -> re.Pattern[str]:
    """A statement's title where a chunk starts, perhaps after the filer's name or a running
    header ("NIKE, INC. CONSOLIDATED STATEMENTS OF INCOME", "Amcor plc and Subsidiaries
    Consolidated Balance Sheets", "ITEM 8. FINANCIAL STATEMENTS AND SUPPLEMENTARY DATA INCOME
    STATEMENTS"), and not followed by a lower-case word: a sentence that starts with the words
    ("Income statement items are translated ...") is not a title."""
    return re.compile(
        r"^\W*(?:(?:[A-Z0-9][\w.,&'’-]*|of|and|&|plc|inc\.?|ltd\.?|llc|co\.?)\s+){0,12}?"
        rf"(?i:(?:consolidated\s+)?(?:{names}))(?!\s+[a-z])\b"
    )


def _asks(*phrases: str) -> re.Pattern[str]:
    """A question naming any of the phrases, as whole words in any case."""
    return re.compile("|".join(rf"\b(?:{phrase})\b" for phrase in phrases), re.IGNORECASE)


# (how a question names the statement or what is computed from it, the titles filings print
# it under)
FINANCIAL_STATEMENTS: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (
        _asks(
            r"income statements?",
            r"statements? of (?:operations|income|earnings)",
            r"profit and loss statements?",
            r"P&L",
            r"(?:gross|operating|net|profit|EBIT|EBITDA|pre-?tax) (?:profit )?margins?",
            r"gross profit",
            r"operating (?:income|profit)",
            r"cost of (?:goods sold|sales|revenues?)",
            r"COGS",
            r"EBITDA?",
            r"interest coverage",
            r"earnings per share",
            r"EPS",
        ),
        _title(
            r"statements?\s+of\s+(?:consolidated\s+)?(?:operations|income|earnings)|"
            r"(?<!comprehensive\s)income\s+statements?"
        ),
    ),
    (
        _asks(
            r"balance sheets?",
            r"statements? of financial (?:position|condition)",
            r"(?:current|quick|cash|debt[- ]to[- ]equity|leverage) ratio",
            r"working capital",
            r"total (?:assets|liabilities|equity)",
            r"current (?:assets|liabilities)",
            r"(?:shareholders|stockholders)['’]? equity",
            r"days (?:payable|sales|inventory) outstanding",
            r"DPO|DSO|DIO",
            r"cash conversion cycle",
            r"return on (?:assets|equity)",
        ),
        _title(
            r"balance\s+sheets?|"
            r"statements?\s+of\s+(?:consolidated\s+)?financial\s+(?:position|condition)"
        ),
    ),
    (
        _asks(
            r"cash[ -]?flows? statements?",
            r"statements? of cash flows?",
            r"free cash ?flows?",
            r"capital expenditures?",
            r"capex",
            r"(?:operating|investing|financing) (?:cash flows?|activities)",
            r"cash (?:flows? )?(?:from|provided by|used in) (?:operations|operating)",
            r"dividends paid",
        ),
        _title(
            r"statements?\s+of\s+(?:consolidated\s+)?cash\s+flows?|"
            r"cash\s+flows?\s+statements?"
        ),
    ),
]


# Statements report past periods: a question about guidance or an outlook is not about them.
_FORWARD_LOOKING = _asks(
    r"guid(?:e|es|ed|ing|ance)",
    r"outlook",
    r"forecasts?",
    r"expect(?:s|ed|ations?)?",
    r"project(?:s|ed|ions?)?",
    r"targets?",
)


def named_statements(question: str) -> list[re.Pattern[str]]:
    """The titles of the financial statements the question names, or asks for a figure
    computed from (a margin from the income statement, a ratio from the balance sheet, free
    cash flow from the cash flow statement); none for a question about guidance."""
    if _FORWARD_LOOKING.search(question):
        return []
    return [title for asks, title in FINANCIAL_STATEMENTS if asks.search(question)]


def titled_pages(passages: Sequence[Passage], titles: list[re.Pattern[str]]) -> set[PageKey]:
    """The (document, page) of each passage that starts with one of the titles."""
    return {(p.document_id, p.page) for p in passages if any(t.search(p.text) for t in titles)}


def statement_pages_first(
    fused: list[tuple[int, float]],
    candidates: Sequence[Passage],
    best_document: Sequence[Passage],
    titles: list[re.Pattern[str]],
    k: int,
    named: Sequence[int] = (),
) -> list[tuple[int, float]]:
    """`fused` with the chunks of statement pages first: of the candidates, those on a titled
    page of a document of the best `k` chunks (of those the question names, if any is one),
    in fused order; then the chunks of the titled pages of the best document
    (`best_document`, all its chunks) that no candidate is on, in page order, with the lowest
    fused score. The best chunks find the filing; the title finds the page in it, however low
    its figures ranked."""
    by_id = {passage.chunk_id: passage for passage in candidates}
    found = [by_id[chunk_id] for chunk_id, _ in fused if chunk_id in by_id]
    documents = {passage.document_id for passage in found[:k]}
    documents = (documents & set(named)) or documents
    pages = titled_pages([p for p in found if p.document_id in documents], titles)
    first = [
        hit
        for hit in fused
        if hit[0] in by_id and (by_id[hit[0]].document_id, by_id[hit[0]].page) in pages
    ]
    taken = {chunk_id for chunk_id, _ in first}
    lowest = min((score for _, score in fused), default=0.0)
    best_pages = titled_pages(best_document, titles)
    added = [
        (passage.chunk_id, lowest)
        for passage in best_document
        if (passage.document_id, passage.page) in best_pages and passage.chunk_id not in taken
    ]
    taken |= {chunk_id for chunk_id, _ in added}
    return first + added + [hit for hit in fused if hit[0] not in taken]


KEEP_DEPTH = 4  # how far past `k` retrieval looks for passages to keep


def retrieve(
    store: DocumentStore,
    embedder: TextEmbedder,
    settings: Settings,
    question: str,
    *,
    k: int | None = None,
    document_ids: list[int] | None = None,
    sentence_similarity: SentenceSimilarity | None = None,
    keep: Callable[[Passage], bool] | None = None,
) -> list[Passage]:
    """The `k` passages that best match the question, each with its cosine similarity to it;
    with `sentence_similarity`, the best ones ranked by their best sentence too
    (`Settings.best_sentence_weight`); with `keep`, only passages it keeps (taken in order
    from the first KEEP_DEPTH x `k` found)."""
    k = k or settings.top_k
    query_vector = embedder.embed([question], prompt_name=QUERY)[0]

    def rankings(within: list[int] | None) -> list[list[Hit]]:
        """The dense and lexical rankings (one of weight 0 is not searched at all)."""
        return [
            store.search_dense(query_vector, settings.candidates, within)
            if settings.dense_weight
            else [],
            store.search_lexical(question, settings.candidates, within)
            if settings.lexical_weight
            else [],
        ]

    with store.snapshot():  # one committed state, however a concurrent ingest goes on
        found = rankings(document_ids)
        named = _named(store, settings, question, document_ids) if settings.named_documents else []
        if named:
            found += rankings(named)
        fused = fuse(found, settings)
        if sentence_similarity and settings.best_sentence_weight:
            best = best_sentence_hits(store, fused, named, question, settings, sentence_similarity)
            fused = fuse(found, settings, best)
        titles = named_statements(question) if settings.statement_pages_first else []
        if titles:
            candidates = store.passages([chunk_id for chunk_id, _ in fused])
            # the best chunk of the filings the question names ("FY2016 ... Microsoft")
            first = next((p for p in candidates if p.document_id in named), None)
            first = first or next(iter(candidates), None)
            best_document = store.passages(store.chunk_ids([first.document_id])) if first else []
            fused = statement_pages_first(fused, candidates, best_document, titles, k, named)
        if keep is None:
            passages = store.passages([chunk_id for chunk_id, _ in fused[:k]])
        else:
            found_first = store.passages([chunk_id for chunk_id, _ in fused[: KEEP_DEPTH * k]])
            passages = list(islice(filter(keep, found_first), k))
        if not passages:
            return []
        similarities = store.vectors([p.chunk_id for p in passages]) @ query_vector
    scores = dict(fused)
    return [
        replace(p, score=scores[p.chunk_id], dense_similarity=float(similarity))
        for p, similarity in zip(passages, similarities, strict=True)
    ]


def best_sentence_hits(
    store: DocumentStore,
    fused: list[tuple[int, float]],
    named: list[int],
    question: str,
    settings: Settings,
    similarity: SentenceSimilarity,
) -> list[Hit]:
    """The first `best_sentence_depth` fused passages, each scored by its best sentence's
    similarity to the question; when the question names documents, only theirs: another
    report's sentence may be nearer the question's words without being about its subject."""
    head = store.passages([chunk_id for chunk_id, _ in fused[: settings.best_sentence_depth]])
    if named:
        subjects = set(named)
        head = [passage for passage in head if passage.document_id in subjects]
    if not head:
        return []
    return [Hit(p.chunk_id, s) for p, s in zip(head, similarity(question, head), strict=True)]


_DOCUMENT_LISTS: WeakKeyDictionary[DocumentStore, tuple[int, list[DocumentInfo]]] = (
    WeakKeyDictionary()
)


def _documents(store: DocumentStore) -> list[DocumentInfo]:
    """The store's documents, read again only when its generation has changed: at 10,000
    documents the list costs 50-140 ms a question (BENCHMARKS.md, issue 13)."""
    generation = store.generation()
    known = _DOCUMENT_LISTS.get(store)
    if known is None or known[0] != generation:
        known = (generation, store.documents())
        _DOCUMENT_LISTS[store] = known
    return known[1]


def _named(
    store: DocumentStore, settings: Settings, question: str, document_ids: list[int] | None
) -> list[int]:
    """`named_documents` among the documents a question may be answered from, a name's
    mentions read from the best lexical matches of its words."""

    def mentions(name: list[str]) -> list[int]:
        hits = store.search_lexical(" ".join(name), settings.candidates, document_ids)
        phrase = re.compile(r"\b" + r"\W+".join(map(re.escape, name)) + r"\b")
        passages = store.passages([hit.chunk_id for hit in hits])
        return [p.document_id for p in passages if phrase.search(fold(p.text))]

    if not (question_names(question) or question_initialisms(question)):
        return []  # the document list is not read
    documents = _documents(store)
    names = _document_names(tuple(documents))  # built again only when the documents change
    if document_ids is not None:
        allowed = set(document_ids)
        documents = [document for document in documents if document.id in allowed]
    return named_documents(question, documents, mentions, names)


def passage_to_document(passage: Passage) -> Document:
    """A LangChain Document whose metadata carry every citation field of the passage."""
    metadata = {key: value for key, value in vars(passage).items() if key != "text"}
    return Document(page_content=passage.text, metadata=metadata, id=str(passage.chunk_id))


def document_to_passage(document: Document) -> Passage:
    return Passage(text=document.page_content, **document.metadata)


class LibraryRetriever(BaseRetriever):
    """LangChain retriever over the library, optionally restricted to some documents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Any
    embedder: Any
    settings: Settings
    k: int | None = None
    document_ids: list[int] | None = None
    sentence_similarity: SentenceSimilarity | None = None  # see `retrieve`

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        passages = retrieve(
            self.store,
            self.embedder,
            self.settings,
            query,
            k=self.k,
            document_ids=self.document_ids,
            sentence_similarity=self.sentence_similarity,
        )
        return [passage_to_document(p) for p in passages]
