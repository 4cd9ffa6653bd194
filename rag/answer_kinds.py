"""What kind of answer a question asks for, and whether a sentence holds one.

A question asking how many, how much money, what share or when can only be answered by a
sentence that holds a count, an amount of money, a share or a date that the question does not
already state. This is the expected-answer-type test of classic question answering: it refuses
near-misses ("How many satellites make up the GPS constellation?" against a sentence about
24-hour positioning) for a reason that does not depend on the question's words matching the
report's. Questions in English, Spanish, French and Russian are read; a question of no kind
listed here is not restricted.

A count answers "how many satellites" only if it counts satellites, or things of like meaning:
`ExpectedAnswer.counted_words` gives the words that say what a sentence's counts count, and
`rag.answering.counts_the_thing` compares them with the question's (`counted_thing`).

"Which senator ...", "Who is the current Secretary of ...?" ask for a person: a sentence that
names only offices and institutions ("reports to the civilian Secretary of the Air Force")
does not answer, one with a person's name the question does not give may
(`person_named`: a titled name or two capitalised words that are not an institution's).

A question that sets its time ("in 2005", "at the end of 2021", "by April 2026") is not
answered by a sentence about other years only: "3-5 submarines in the 2030s" does not say how
many were delivered by April 2026.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from rag.names import countries_in, names_in
from rag.text import STOPWORDS, content_words, stem


class AnswerKind(StrEnum):
    COUNT = "count"  # how many ships: a number of things, not of money, percent or a year
    MONEY = "money"  # how much did it cost: an amount in a currency
    SHARE = "share"  # what share, which interest rate: a percent or a fraction
    DATE = "date"  # when, in what year: any figure
    DURATION = "duration"  # how long: a number, years and "99-year" included
    AMOUNT = "amount"  # how much, how large, which rate: a number that is not a bare year
    COUNTRY = "country"  # which country: a country the question does not name
    PERSON = "person"  # which senator, who is the Secretary: a person's name


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


_MONEY_WORDS = (
    r"spen[dt]|spending|costs?|pa(?:y|id)|price[sd]?|worth|fund(?:s|ed|ing)?|budget|revenues?|"
    r"sales|earn(?:s|ed)?|invest(?:s|ed)?|raised?|lost|loss(?:es)?|owed?|debt|money|dollars?|"
    r"borrow(?:s|ed)?|fees?|loans?|lend|lent|grants?|tax(?:es)?"
)
# Titles of a person, which "which ..." or "who is the ..." asks to name; "general" only
# before a verb ("Which general heads ...", not "what general approach").
_TITLES = (
    r"senators?|representatives?|lawmakers?|legislators?|admirals?|ministers?|secretary|"
    r"secretaries|presidents?|vice president|prime minister|chair|chairman|chairwoman|"
    r"chairperson|directors?|administrators?|commanders?|ambassadors?|governors?|judges?|"
    r"justices?|ceo|chief executive|spokes(?:man|woman|person)|envoys?|negotiators?|"
    r"diplomats?|mayors?|generals?(?= (?:is|was|are|were|has|had|will|now|currently|heads|"
    r"leads|commands|oversees|runs|did|does)\b|\?)"
)
# Roles that name a person only after "who is the ...": "which official figures" does not.
_ROLES = rf"{_TITLES}|officials?|officers?|head|chief|leaders?|person|individual|founders?"
# "Which senator ...", "Who is the current Secretary of ...": the office in group `which`,
# or after `_WHO_IS`
_WHICH_TITLE = rf"\b(?:which|what)(?: [\w-]+){{0,2}}? (?P<which>{_TITLES})\b"
_WHO_IS = (
    r"\bwho (?:is|was|will be|became|becomes)(?: now| currently)? "
    r"(?:the|its|their|a|[\w.-]+['’]s)(?: [\w'’-]+){0,3}? "
)
_TITLES_ES_FR = (
    r"qu[eé] (?:senador(?:a|es)?|ministr[oa]s?|president[ea]s?)\b|"
    r"quel(?:le)? (?:sénat(?:eur|rice)|ministre|président(?:e)?)\b"
)
# First match wins: "by how much ... cost" asks for a change (an amount), not a price.
_QUESTION_KINDS: list[tuple[AnswerKind, re.Pattern[str]]] = [
    (
        AnswerKind.DATE,
        _any(
            r"^\W*when\b|[,;]\s*when\b|\b(?:since|by|until|and|or) when\b",
            r"\b(?:what|which) (?:year|date|month|day)\b",
            r"\bhow long ago\b",
            r"\bcuándo\b",
            r"\ben qu[eé] (?:año|fecha)\b",
            r"^\W*quand\b|\bdepuis quand\b",
            r"\b(?:en|à) quelle (?:année|date)\b",
            r"^\W*когда\b",
            r"\bв каком году\b",
        ),
    ),
    (
        AnswerKind.DURATION,
        _any(
            r"\bhow (?:long|old)\b",
            r"\bcuánto tiempo\b",
            r"\bcombien de temps\b",
            r"\bсколько (?:времени|лет|дней|часов|минут)\b",
        ),
    ),
    (
        AnswerKind.SHARE,
        _any(
            r"\bwhat(?: [\w-]+){0,3} (?:percent|percentage|share|proportion|fraction|portion)\b",
            r"\bwhat(?: [\w-]+){0,3} (?:interest|tax|tariff|unemployment|inflation|response|"
            r"poverty|vacancy|participation|savings|growth|mortality|literacy) rate\b",
            r"\bqué (?:porcentaje|proporci[oó]n|parte)\b",
            r"\bquel(?:le)? (?:pourcentage|part|proportion)\b",
            r"\bкак(?:ой|ая|ую) (?:процент|дол[яю])\b",
        ),
    ),
    (AnswerKind.AMOUNT, _any(r"\bby how much\b")),
    (
        AnswerKind.COUNTRY,
        _any(
            r"\b(?:which|what)(?: [\w-]+){0,2} (?:country|countries|nation|nations)\b",
            r"\bqu[eé] pa[ií]s(?:es)?\b",
            r"\bquels? pays\b",
            r"\bкак(?:ая|ие|ой|ую) стран\w*",
        ),
    ),
    (
        AnswerKind.PERSON,
        _any(
            _WHICH_TITLE,
            rf"{_WHO_IS}(?:{_ROLES})\b",
            # "who leads ..." may be answered by an office ("the Chief of Space Operations")
            r"\bwho (?:took over|succeeded|replaced)\b",
            r"\bwhat is the name of the (?:person|official|man|woman)\b",
            _TITLES_ES_FR,
        ),
    ),
    (
        AnswerKind.MONEY,
        _any(
            rf"\bhow much\b(?:[^?]*\b(?:{_MONEY_WORDS})\b)",
            rf"\b(?:{_MONEY_WORDS})\b[^?]*\bhow much\b",
            r"\bwhat\b(?: \w+){0,3} (?:price|cost|costs|worth|dollar value)\b",
            r"\bwhat (?:would|will|did|does|do) \w+ cost\b",
            r"\bhow expensive\b",
            r"\bcuánto (?:cuesta|cost[oó]|vale|val[ií]a)\b",
            r"\bcombien (?:co[uû]te|a co[uû]té|vaut)\b",
            r"\bсколько сто(?:ит|ил|или|ила)\b",
        ),
    ),
    (
        AnswerKind.COUNT,
        _any(
            r"\bhow many\b",
            r"\bwhat (?:is |was )?the number of\b",
            r"\bcuánt[oa]s\b",
            r"\bcombien de\b",
        ),
    ),
    (
        AnswerKind.AMOUNT,
        _any(
            r"\bhow (?:much|large|big|far|high|low|heavy|deep|wide)\b",
            # a measured quantity (the numeric answer types of Li and Roth's question classes)
            r"\bwhat(?: [\w-]+){0,4} (?:rate|level|size|amount|total|value|figure|score|"
            r"concentration|depth|height|length|width|weight|speed|temperature|capacity|volume|"
            r"distance)s?\b",
            r"\bcuánto\b",
            r"\bcombien\b",
            r"\bсколько\b",
        ),
    ),
]


# A second question in the same sentence: "Who is the Chief of Space Operations and whom does
# the CSO report to?" may be answered by a sentence that names only an office.
_SECOND_QUESTION = re.compile(r"\b(?:and|or)\s+(?:who|whom|what|when|where|which|why|how)\b")


def expected_kind(question: str) -> AnswerKind | None:
    """The kind of figure the question asks for, or None when it asks for no figure; a person
    only when it asks nothing else."""
    kind = next((kind for kind, pattern in _QUESTION_KINDS if pattern.search(question)), None)
    if kind is AnswerKind.PERSON and _SECOND_QUESTION.search(question):
        return None
    return kind


@dataclass(frozen=True)
class Figure:
    """A number written in a sentence, with what the words around it make of it."""

    value: str  # digits without thousands separators, or the number word
    money: bool = False  # "$2.5 billion", "AU$50.3 billion", "300 euros"
    share: bool = False  # "80%", "19 percent", "half", "two-thirds"
    date: bool = False  # "2025" (four digits from 1800 to 2100), the 9 of "April 9"
    ordinal: bool = False  # "14th", "(1)", "Pillar 1": a rank or a label, not an amount
    unit: str = ""  # stem of the measure or hyphened word after it: "ton", "hour", "dai"
    spelled: bool = False  # written in words: "three", "several dozen"
    measure: bool = False  # spelled, with a measure: "five-year", "ten-fold", "three miles"
    counted: tuple[str, ...] = ()  # the words that name what it counts: "field commands"


_CURRENCY_BEFORE = r"(?:[A-Z]{1,3})?[$€£¥₽]\s?"
_CURRENCY_AFTER = (
    r"dollars?|euros?|pounds?|yen|yuan|renminbi|pesos?|soles|rubles?|roubles?|рубл\w*|"
    r"dólares|d[oó]lares|francs?|rupees?|won"
)
_SCALE = (
    r"thousand|million|billion|trillion|[MBK]\b|bn\b|mn\b|millones|millions?|milliards?|млн|млрд"
)
_PERCENT_AFTER = r"%|percent\b|per cent\b|percentage points?\b|por ciento\b|pour cent\b|процент\w*"
_MEASURES = (
    r"tons?|tonnes?|kilo(?:gram|meter|metre)s?|km|kg|miles?|meters?|metres?|feet|foot|acres?|"
    r"hectares?|barrels?|gallons?|liters?|litres?|(?:mega|giga|kilo)watt\S*|MW|GW|kWh|degrees?|"
    r"seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centuries|"
    r"kilom[eè]tres?|километр\w*|тонн\w*"
)
# A spelled number's hyphened word that measures ("five-year", "ten-fold"); "two-way" and
# "three-dimensional" describe.
_MEASURE_WORD = re.compile(rf"(?:{_MEASURES}|fold)", re.IGNORECASE)
_DIGITS = re.compile(
    rf"(?P<currency>{_CURRENCY_BEFORE})?(?<![\w.,])(?P<number>\d[\d,.]*\d|\d)"
    rf"(?P<ordinal>st|nd|rd|th|e|er|º|ª)?(?P<hyphened>-[^\W\d]\w*)?"
    rf"(?:\s?(?:{_SCALE}))?"
    rf"(?P<after>\s?(?:{_PERCENT_AFTER})|\s(?:{_CURRENCY_AFTER})\b|\s(?:{_MEASURES})\b)?",
    re.IGNORECASE,
)
# English months are capitalised ("may" is a verb); the others are written in lower case.
_MONTHS = (
    r"Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t|tember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?|enero|febrero|marzo|abril|"
    r"mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|janvier|f[ée]vrier|mars|"
    r"avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre|январ\w*|феврал\w*|"
    r"март\w*|апрел\w*|ма[йя]|июн\w*|июл\w*|август\w*|сентябр\w*|октябр\w*|ноябр\w*|декабр\w*"
)
_MONTH_BEFORE = re.compile(rf"\b(?:{_MONTHS})\.? $")
_MONTH_AFTER = re.compile(rf"(?:st|nd|rd|th)?,? (?:de |of )?(?:{_MONTHS})\b")
_LABEL_BEFORE = re.compile(
    r"\b(?:pillar|title|section|article|phase|chapter|part|figure|table|step|stage|tier|round|"
    r"resolution|directive|order|rule|amendment|item|annex|appendix|no\.|number|fy|"
    r"executive order|e\.o\.|p\.l\.|pub\. l\.|public law|h\.r\.) ?$",
    re.IGNORECASE,
)
# A number inside an identifier: after letters and a hyphen ("GAO-06-282", "F-35",
# "COVID-19"), or after a public law's number ("P.L. 116-92").
_IDENTIFIER_BEFORE = re.compile(
    r"(?:\b[A-Za-z]+(?:-\d+)*|\b(?:p\.l\.|pub\. l\.|public law|h\.r\.) ?\d+)-$", re.IGNORECASE
)
_NUMBER_WORDS = (
    # English, Spanish, French and Russian; words that are also common English words ("once",
    # "tiers", "quart") are left out.
    r"two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|"
    r"ninety|hundreds?|thousands?|millions?|billions?|dozens?|twice|"
    r"dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|doce|veinte|treinta|cien|ciento|"
    r"mil|"
    r"deux|trois|quatre|cinq|sept|huit|neuf|dix|onze|douze|vingt|trente|cent|mille|"
    r"два|две|двух|три|трёх|трех|четыре|четырёх|пять|пяти|шесть|шести|семь|семи|восемь|"
    r"восьми|девять|девяти|десять|десяти|двадцать|сто|тысяч[аи]?"
)
# Articles and pronouns far more often than counts: a figure only before a measure ("one year").
_ONE = r"one|un|una|une|один|одна|одну|одного"
_SHARE_WORDS = (
    r"half|(?:a|one|two)[ -]thirds?|(?:a|one|three)[ -]quarters?|majority of|"
    r"(?:one|1) in (?:\d[\d,]*|two|three|four|five|six|seven|eight|nine|ten|twenty|hundred)|"
    r"mitad|tercio|moiti[eé]|половин\w*|треть|четверть"
)
_WORDS = re.compile(
    rf"\b(?:(?P<share>{_SHARE_WORDS})|(?P<word>{_ONE}|{_NUMBER_WORDS})(?P<hyphened>-[^\W\d]\w*)?"
    rf"(?P<after>\s(?:{_PERCENT_AFTER})|\s(?:{_CURRENCY_AFTER})\b|\s(?:{_MEASURES})\b)?)(?!\w)",
    re.IGNORECASE,
)


def _unit(hyphened: str | None, after: str | None) -> str:
    word = (hyphened or "").lstrip("-") or (after or "").strip()
    return stem(word.lower()) if word and word[0].isalpha() else ""


def _after_kind(after: str | None) -> tuple[bool, bool]:
    """(money, share) for the words after a number."""
    text = (after or "").strip().lower()
    share = bool(text) and bool(re.fullmatch(_PERCENT_AFTER, text, re.IGNORECASE))
    money = bool(text) and bool(re.fullmatch(_CURRENCY_AFTER, text, re.IGNORECASE))
    return money, share


# Where the words naming what a number counts end: a verb of being or having, a preposition,
# a relative pronoun ("106 biorefineries were operating", "60 vessels in the program").
_PHRASE_END = frozenset(
    """am are is was were be been being do does did have has had will would can could should
    shall may might must of in on at for from to by with through within across during per
    than that which who whose whom each a an as since until into over under""".split()
)
MAX_COUNTED_WORDS = 6  # "2,600 deployed and nondeployed strategic nuclear warheads"


def words_after(text: str) -> tuple[str, ...]:
    """The content words at the start of `text` that can name what a number before it counts,
    up to a punctuation mark, a verb of being or having, or a preposition."""
    found: list[str] = []
    for match in re.finditer(r"\s*([^\W\d][\w'’-]*)|\s*(\S)", text):
        word = (match.group(1) or "").lower()
        if not word or word in _PHRASE_END or len(found) == MAX_COUNTED_WORDS:
            break
        if word not in STOPWORDS:
            found.append(word)
    return tuple(found)


# "Eleven of the remaining 12 studies" counts studies.
_PARTITIVE = re.compile(
    r"\s+of\s+(?:(?:the|these|those|its|their|all|remaining|other|[\d,.]+)\s+)*", re.IGNORECASE
)


def _counted(hyphened: str | None, measure: str | None, rest: str) -> tuple[str, ...]:
    """What a number counts: its hyphened word or measure ("15-point", "300 kilograms"), then
    the `words_after` it, or after "of the" when it counts a part ("eleven of the 12
    studies")."""
    word = (hyphened or "").lstrip("-").lower() or (measure or "").strip().lower()
    partitive = None if word else _PARTITIVE.match(rest)
    if partitive:
        rest = rest[partitive.end() :]
    return ((word,) if word.isalpha() else ()) + words_after(rest)


def figures(sentence: str) -> list[Figure]:
    """The numbers a sentence states, in digits or in words."""
    found = []
    spans = []
    for match in _DIGITS.finditer(sentence):
        spans.append(match.span())
        number = match.group("number").rstrip(".,")
        money, share = _after_kind(match.group("after"))
        plain = number.replace(",", "")
        bare = match.group(0) == match.group("number")
        enclosed = (
            sentence[match.start() - 1 : match.start()] + sentence[match.end() : match.end() + 1]
        )
        before = sentence[max(0, match.start() - 20) : match.start()]
        after = sentence[match.end() : match.end() + 20]
        label = bool(_LABEL_BEFORE.search(before) or _IDENTIFIER_BEFORE.search(before)) or (
            bare and enclosed in ("()", "[]")
        )
        day = bare and (bool(_MONTH_BEFORE.search(before)) or bool(_MONTH_AFTER.match(after)))
        found.append(
            Figure(
                value=plain,
                money=money or bool(match.group("currency")),
                share=share,
                date=day
                or bool(re.fullmatch(r"1[89]\d\d|20\d\d|2100", number))
                and not (money or match.group("currency") or share),
                ordinal=bool(match.group("ordinal")) or label,
                unit="" if share or money else _unit(match.group("hyphened"), match.group("after")),
                counted=_counted(
                    match.group("hyphened"), match.group("after"), sentence[match.end() :]
                ),
            )
        )
    for match in _WORDS.finditer(sentence):
        if any(start <= match.start() < end for start, end in spans):
            continue  # the "billion" of "$2.5 billion"
        if match.group("share"):
            found.append(Figure(value=match.group("share").lower(), share=True))
            continue
        word = match.group("word").lower()
        if re.fullmatch(_ONE, word) and not (match.group("after") or match.group("hyphened")):
            continue
        if word.endswith("s") and sentence[: match.start()].lower().endswith("in "):
            continue  # "$ in billions" gives the scale of a table, not a figure
        money, share = _after_kind(match.group("after"))
        hyphened = match.group("hyphened")
        found.append(
            Figure(
                value=word,
                money=money,
                share=share,
                spelled=True,
                measure=bool(
                    match.group("after") or hyphened and _MEASURE_WORD.fullmatch(hyphened[1:])
                ),
                unit="" if share or money else _unit(hyphened, match.group("after")),
                counted=_counted(hyphened, match.group("after"), sentence[match.end() :]),
            )
        )
    return found


def _answers(
    kind: AnswerKind, figure: Figure, stated: frozenset[str], question_stems: frozenset[str]
) -> bool:
    """Whether one figure of a sentence can be the answer of the kind asked for."""
    if kind is AnswerKind.DATE:
        return figure.value[0].isdigit()
    if figure.value in stated or figure.ordinal:
        return False
    if kind is AnswerKind.MONEY:
        return figure.money
    if kind is AnswerKind.SHARE:
        return figure.share
    if kind is AnswerKind.DURATION:
        return True
    if figure.date:
        return False
    if kind is AnswerKind.COUNT:
        # "200 tons" or "24-hour" count tons or hours: an answer only if they were asked about
        return not (figure.money or figure.share) and (
            not figure.unit or figure.unit in question_stems
        )
    # AMOUNT: a measured or priced number; "three occasions" is a count, not an amount, and
    # "two-way financing" no number at all
    return not figure.spelled or figure.measure or figure.money or figure.share


# What an English "how many" counts is its first plural noun: "satellites" of "How many
# satellites make up the constellation?", "warheads" of "How many strategic warheads, ...".
_COUNTED_PHRASE = re.compile(
    r"\b(?:how many|(?:the|a) number of)\s+(?:of\s+(?:the|these|those|its|their)\s+)?"
    r"(?P<phrase>[^?,;:]*)",
    re.IGNORECASE,
)
_IRREGULAR_PLURALS = frozenset(
    "people children men women staff personnel police cattle feet teeth mice data".split()
)
_NOT_PLURAL = re.compile(r"(?:ss|us|is|ics|news|series|species|gas)$")


def _plural(word: str) -> bool:
    return word in _IRREGULAR_PLURALS or (
        word.isalpha()
        and word not in STOPWORDS
        and len(word) >= 3
        and word.endswith("s")
        and not _NOT_PLURAL.search(word)
    )


def _head(phrase: tuple[str, ...]) -> tuple[str, ...]:
    """The noun a counted phrase is about: its last plural word before a participle that
    follows one ("commands" of "three field commands", "people" of "12 million people living
    in poverty", "studies" of "12 studies examined free samples"); the whole phrase when none
    is plural ("a 15-point proposal")."""
    plurals: list[str] = []
    for word in phrase:
        if plurals and word.endswith(("ed", "ing")):
            break
        if _plural(word):
            plurals.append(word)
    return tuple(plurals[-1:]) or phrase


def counted_thing(question: str) -> str | None:
    """The plural noun naming what an English question asks to count, lower-cased, or None
    when it asks for no count or its noun cannot be told ("how many were ...")."""
    match = _COUNTED_PHRASE.search(question)
    if match is None or expected_kind(question) is not AnswerKind.COUNT:
        return None
    for token in match.group("phrase").split():
        word = token.lower().strip("\"'“”‘’")
        if word in _PHRASE_END:
            return None
        if _plural(word):
            return word
    return None


_YEAR = r"(?:FY\s?)?(?:1[89]\d\d|20\d\d)(?!\d)"
_SENTENCE_YEARS = re.compile(
    rf"(?<![\d$€£.,])(?P<first>{_YEAR})(?P<decade>'?s\b)?"
    rf"(?:\s?(?:-|–|—|to|through|until|and|a|au|hasta|по)\s?(?P<last>{_YEAR}))?",
    re.IGNORECASE,
)
# A year is the question's time frame after a preposition of time, perhaps with a month, a
# season or "the end of": "in 2005", "at the end of 2021", "by April 2026", "en 2025". A year
# before a noun ("before the 2025 strikes", "in 2025 dollars", "the 2024 NDAA") names a
# thing, not the time asked about.
_TIME_FRAME = re.compile(
    r"\b(?:in|at|by|as of|during|from|to|through|between|and|since|until|before|after|"
    r"en|à|a|au|desde|hasta|depuis|jusqu'en|в|до|с|по)\s"
    r"(?:the\s(?:start|end|beginning|middle|close) of\s)?(?:fiscal(?: year)?\s)?"
    rf"(?:(?:early|late|mid|spring|summer|autumn|fall|winter|(?:{_MONTHS})\.?)[\s-])?"
    rf"(?P<year>{_YEAR})(?!'?s\b)"
    r"(?!\s+(?!(?:and|or|to|through|until|when|while|for|from|in|on|at|by|with|than|as|was|"
    r"were|is|are|had|has|did|do|does|will|would|could|according|compared)\b)[A-Za-z])",
    re.IGNORECASE,
)


def _year(text: str) -> int:
    return int(re.sub(r"\D", "", text))


# "Early", "mid" or "late" before a year makes it a time even before a noun: "the late-2021
# peak", "mid-2025 levels".
_PART_OF_A_YEAR = re.compile(rf"\b(?:early|mid|late)[\s-](?P<year>{_YEAR})", re.IGNORECASE)


def asked_period(question: str) -> tuple[int, int] | None:
    """The years the question sets as its time frame (first, last), or None."""
    years = [
        _year(match.group("year"))
        for pattern in (_TIME_FRAME, _PART_OF_A_YEAR)
        for match in pattern.finditer(question)
    ]
    return (min(years), max(years)) if years else None


def stated_periods(sentence: str) -> list[tuple[int, int]]:
    """The years or spans of years a sentence states: "2025", "FY2024", "the 2030s",
    "1999 through 2002"."""
    periods = []
    for match in _SENTENCE_YEARS.finditer(sentence):
        first = _year(match.group("first"))
        last = _year(match.group("last")) if match.group("last") else first
        periods.append((first, last + 9 if match.group("decade") else last))
    return periods


def about_the_time(period: tuple[int, int] | None, sentence: str) -> bool:
    """False only when the sentence states years and none falls in the period asked about."""
    stated = stated_periods(sentence)
    if period is None or not stated:
        return True
    first, last = period
    return any(start <= last and first <= end for start, end in stated)


# Words of an institution's, a document's or a place's name, not of a person's: "Combat Forces
# Command", "Space Training and Readiness Command", "Clarion-Clipperton Zone".
_NOT_PERSONAL = frozenset(
    """act administration agency agreement air alliance appendix army association authority
    bank base board budget bureau center centre chapter code command commands commission
    committee company congress convention corporation corps council county court defense
    defence department district division energy exchange federal figure fleet force forces
    foundation fund government group guard gulf house index initiative institute
    international island islands law market member members ministry national nations navy
    note ocean office operations order organization organisation page part party plan
    program programme province readiness region report republic reserve river rule sea
    secretariat section security senate service services source space station states
    strait strategy system systems table title training treaty trust union united
    university zone january february march april may june july august september october
    november december monday tuesday wednesday thursday friday saturday sunday""".split()
)
# A person's title before the name: "President Trump", "Gen. Chance Saltzman".
_TITLE_WORDS = frozenset(
    """president senator sen secretary general gen admiral adm dr mr ms mrs rep representative
    governor gov minister director chairman chairwoman chair judge justice ambassador
    commissioner administrator lt col maj capt vice prime""".split()
)
# The same title written short, and titles that say nothing of an office ("Dr.", "Mr.")
_TITLE_SPELLINGS = {
    "sen": "senator",
    "gen": "general",
    "adm": "admiral",
    "rep": "representative",
    "gov": "governor",
    "chairman": "chair",
    "chairwoman": "chair",
    "chairperson": "chair",
}
_COURTESY_TITLES = frozenset("dr mr ms mrs".split())
# The office a question asks to name: "senator" of "Which senator ...", "secretary" of "Who
# is the current Secretary of the Air Force?"
_ASKED_TITLE = re.compile(rf"{_WHICH_TITLE}|{_WHO_IS}(?P<who>{_TITLES})\b", re.IGNORECASE)
_NAME_JOINERS = frozenset("of and de del da van von al bin le la".split())
_TOKEN = re.compile(r"[^\W\d_][\w'’.-]*|\S")


def _bare(token: str) -> str:
    return re.sub(r"['’]s$", "", token).rstrip(".,").casefold()


def name_runs(sentence: str) -> list[tuple[str | None, list[str]]]:
    """The runs of capitalised words in a sentence ("Combat Forces Command", "Space Training
    and Readiness Command"), each with the word before it (lower-cased; None at the start).
    A sentence's first word starts a run only when the next word is capitalised too."""
    tokens = _TOKEN.findall(sentence)
    runs: list[tuple[str | None, list[str]]] = []
    run: list[str] = []
    before: str | None = None
    for index, token in enumerate(tokens):
        capital = token[0].isupper() and (index > 0 or (len(tokens) > 1 and tokens[1][0].isupper()))
        if capital or (run and token.casefold() in _NAME_JOINERS and index + 1 < len(tokens)):
            if not run:
                before = tokens[index - 1].casefold() if index else None
            run.append(token)
            continue
        if run:
            while run[-1].casefold() in _NAME_JOINERS:
                run.pop()
            runs.append((before, run))
            run = []
    if run:
        runs.append((before, run))
    return runs


def bare_words(text: str) -> frozenset[str]:
    """The text's words, case-folded, without a possessive "'s" or a final full stop."""
    return frozenset(_bare(token) for token in _TOKEN.findall(text))


def _office(title: str) -> str:
    """A title word as one spelling of its office, singular ("Sen." and "senators": "senator")."""
    word = title.casefold().rstrip(".")
    if word not in _TITLE_WORDS and word.endswith("s") and word[:-1] in _TITLE_WORDS:
        word = word[:-1]
    return _TITLE_SPELLINGS.get(word, word)


def asked_title(question: str) -> frozenset[str]:
    """The office a question asks a person of, as its words ("vice president": both), or none."""
    match = _ASKED_TITLE.search(question)
    title = match and (match.group("which") or match.group("who"))
    return frozenset(_office(word) for word in title.split()) if title else frozenset()


def person_named(sentence: str, asked: frozenset[str], title: frozenset[str] = frozenset()) -> bool:
    """Whether the sentence names a person the question (its `bare_words`, `asked`) does not:
    a titled name ("Senator Smith", "Gen. Chance Saltzman") or two or more capitalised words
    that are not an institution's, a place's or a document's ("Leticia Carvalho"), not after
    "the". A name under another office than the one asked (`title`) is not the person asked
    for ("Vice President JD Vance" for "Which senator ...?")."""
    for before, whole in name_runs(sentence):
        for run in _split_at(whole, {"of", "and"}):  # "Leticia Carvalho of Brazil"
            if _names_a_person(before, run, asked, title):
                return True
    return False


def _split_at(run: list[str], joiners: set[str]) -> list[list[str]]:
    """The parts of a run between its joiners ("Leticia Carvalho", "Brazil")."""
    parts: list[list[str]] = [[]]
    for token in run:
        if token.casefold() in joiners:
            parts.append([])
        else:
            parts[-1].append(token)
    return [part for part in parts if part]


def _names_a_person(
    before: str | None, run: list[str], asked: frozenset[str], title: frozenset[str]
) -> bool:
    """Whether a run of capitalised words is a person's name the question does not give, under
    the office asked for if it gives one."""
    while run and _bare(run[0]) in STOPWORDS:  # "The Chief ...", "In Congress"
        before, run = _bare(run[0]), run[1:]
    titles: set[str] = set()
    while run and _bare(run[0]) in _TITLE_WORDS:
        titles.add(_office(_bare(run[0])))
        run = run[1:]
    offices = titles - _COURTESY_TITLES
    words = [_bare(token) for token in run]
    return bool(
        words
        and (titles or len(words) >= 2)
        and not (title and offices and not title <= offices)
        and before != "the"
        and not any(word in _NOT_PERSONAL for word in words)
        and not any(token.isupper() and len(token) > 2 for token in run)  # an acronym
        and not names_in(" ".join(run))
        and words[-1] not in asked  # "President Donald Trump" is the question's "Trump"
    )


@dataclass(frozen=True)
class ExpectedAnswer:
    """What a question's answer must hold: a figure of its kind that it does not state itself,
    about the time it asks about."""

    kind: AnswerKind | None
    stated: frozenset[str]  # the question's own figures: "40" in "in the 40 days of fighting"
    question_stems: frozenset[str]
    period: tuple[int, int] | None = None  # the years of "in 2005", "between 2008 and 2017"
    places: frozenset[str] = frozenset()  # every name of the places the question names
    counted: str | None = None  # what a count question counts: "satellites"
    asked_words: frozenset[str] = frozenset()  # `bare_words`: a person the question names
    title: frozenset[str] = frozenset()  # `asked_title`: the office a person is asked of

    @classmethod
    def of(cls, question: str) -> ExpectedAnswer:
        kind = expected_kind(question)
        places = (
            frozenset(name for _, names in names_in(question) for name in names)
            if kind is AnswerKind.COUNTRY
            else frozenset()
        )
        return cls(
            kind,
            frozenset(figure.value for figure in figures(question)),
            frozenset(stem(word.lower()) for word in re.findall(r"\w+", question)),
            asked_period(question),
            places,
            counted_thing(question),
            bare_words(question) if kind is AnswerKind.PERSON else frozenset(),
            asked_title(question) if kind is AnswerKind.PERSON else frozenset(),
        )

    def held_by(self, sentence: str, table_row: bool = False, before: str = "") -> bool:
        """Whether the sentence holds such a figure, for "which country" a country the question
        does not name, for a person asked for a person's name the question does not give
        (`person_named`; always, for a question asking for none of these), and is not only
        about other years than those asked about; a sentence that states no year is about
        those of the sentence `before` it ("As of December 2025, foreign holdings totaled
        $9.2 trillion. Foreign holdings can be divided into ..."). A table row's money or
        share is any amount: a table gives its unit (dollars, thousands, percent) once in its
        caption or header, not in every cell."""
        if not about_the_time(self.period, sentence if stated_periods(sentence) else before):
            return False
        kind = self.kind
        if kind is AnswerKind.COUNTRY:
            return any(not names & self.places for names in countries_in(sentence))
        if kind is AnswerKind.PERSON:
            return person_named(sentence, self.asked_words, self.title)
        if table_row and kind in (AnswerKind.MONEY, AnswerKind.SHARE):
            kind = AnswerKind.AMOUNT
        return kind is None or any(
            _answers(kind, figure, self.stated, self.question_stems) for figure in figures(sentence)
        )

    def counted_words(self, sentence: str) -> list[str]:
        """The words naming what the sentence's counts count: the `_head` of the words after
        each count and after "number of" ("the number of ships ... was about 130 each day");
        every content word of the sentence when no count is followed by one and no "number of"
        says ("killing 40"); a count followed by none beside one that names its thing ("killed
        1,700 people and displaced up to 1.2 million") counts alike."""
        counts = [
            figure
            for figure in figures(sentence)
            if _answers(AnswerKind.COUNT, figure, self.stated, self.question_stems)
        ]
        numbered = [
            _head(words_after(sentence[match.end() :]))
            for match in re.finditer(r"\bnumbers? of\b", sentence, re.IGNORECASE)
        ]
        if not any(numbered) and counts and not any(figure.counted for figure in counts):
            return [word for word in content_words(sentence) if word.isalpha()]
        phrases = [_head(figure.counted) for figure in counts] + numbered
        return list(dict.fromkeys(word for phrase in phrases for word in phrase))


# "What is the ISA?", "What are polymetallic nodules?", "Who is Ada Moravec?": the question
# asks what a short term, with nothing else, is; "What is the deficit in 2025?" asks a figure.
_DEFINITION_QUESTION = re.compile(
    r"^\s*(?:what|who)\s+(?:is|are|was|were)\s+(?:the\s+|an?\s+)?"
    r"(?P<term>[^\W\d_][^?,;:\d]{0,58}?)\s*\??\s*$",
    re.IGNORECASE,
)
MAX_DEFINED_WORDS = 4
# What follows a term a sentence defines: an appositive ("the ISA, an autonomous
# organization"), a copula after an optional aside ("The International Seabed Authority (ISA),
# established under UNCLOS, is an autonomous organization"), or "refers to" / "means" (not
# "refers to resources ... as minerals", which names something else).
_DEFINING = (
    r"(?:,\s*an?\s"
    r"|(?:,[^,;.]{1,100},)?\s+(?:is|are|was|were)\s+(?:an?|the|one)\s"
    r"|\s+(?:generally\s+)?(?:refers?\s+to|means)\s(?![^.]*\bas\b))"
)


def defined_term(question: str) -> str | None:
    """The term a question asks to have defined ("What is the ISA?" -> "ISA"), or None: a
    term of at most MAX_DEFINED_WORDS words, in a question that asks for no figure, place or
    person (`expected_kind`)."""
    match = _DEFINITION_QUESTION.match(question)
    if match is None or expected_kind(question) is not None:
        return None
    term = match["term"].strip()
    return term if len(term.split()) <= MAX_DEFINED_WORDS else None


def defines(sentence: str, names: set[str]) -> bool:
    """Whether the sentence says what one of `names` (a term and its other forms, such as an
    acronym's long form) is: the name, or its long form with the name in brackets after it
    ("Decentralized finance (or defi) refers to"), before an appositive, a copula or "refers
    to"."""
    for name in filter(None, names):
        word = rf"\b{re.escape(name)}\b"
        named = rf"(?:{word}(?:\s*\([^()]{{1,40}}\))?|\((?:or\s+)?{word}\))"
        if re.search(named + _DEFINING, sentence, re.IGNORECASE):
            return True
    return False
