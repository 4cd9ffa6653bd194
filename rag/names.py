"""Other names of the places and institutions a question may name.

Analysts write "Beijing" for China's government, "Washington" for the United States, "the
Kremlin" for Russia's, "Chinese holders" for holders in China, "the Energy Department" for
what a report calls DOE; reports mostly write the country or the agency's own name. A
country's names here are its name, capital, demonym, other spellings and translations
(countryinfo's data), the abbreviations reports use for a few countries, "America" for the
United States, the seats of government and U.S. federal departments below, and groups of
countries ("the Gulf states") with their members.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

# Places that stand for an institution in the way reporters write ("the Kremlin said"),
# with the names reports give that institution.
GOVERNMENT_SEATS: dict[str, tuple[str, ...]] = {
    # a U.S. government report writes "federal" for what an analyst calls Washington
    "washington": ("united states", "u.s.", "federal government", "federal"),
    "kremlin": ("russia", "russian federation", "moscow"),
    "pentagon": ("department of defense", "defense department", "dod"),
    "white house": ("president", "administration"),
    "capitol hill": ("congress",),
    "foggy bottom": ("department of state", "state department"),
    "downing street": ("united kingdom", "british government", "prime minister"),
    "whitehall": ("united kingdom", "british government"),
    "elysee": ("france", "french president"),
    "zhongnanhai": ("china", "chinese leadership"),
    "brussels": ("european union", "european commission"),
}
# U.S. federal departments and agencies: the name reports give, the way people say it, and
# the abbreviation reports use after the first mention.
FEDERAL_INSTITUTIONS: tuple[tuple[str, ...], ...] = (
    ("department of energy", "energy department", "doe"),
    ("department of defense", "defense department", "dod", "pentagon"),
    ("department of state", "state department"),
    ("department of justice", "justice department", "doj"),
    ("department of homeland security", "homeland security department", "dhs"),
    ("department of health and human services", "health department", "hhs"),
    ("department of the treasury", "treasury department", "treasury"),
    ("department of agriculture", "agriculture department", "usda"),
    ("department of commerce", "commerce department"),
    ("department of labor", "labor department"),
    ("department of transportation", "transportation department"),
    ("department of the interior", "interior department"),
    ("department of education", "education department"),
    ("department of veterans affairs", "veterans affairs department"),
    ("environmental protection agency", "epa"),
    ("national oceanic and atmospheric administration", "noaa"),
    ("government accountability office", "gao"),
    ("congressional research service", "crs"),
    ("office of the director of national intelligence", "odni"),
)
# Abbreviations of three letters or fewer that reports write for a country; countryinfo's
# short codes are left out, as "US" or "IN" read as words once lower-cased.
COUNTRY_ABBREVIATIONS: tuple[tuple[str, ...], ...] = (
    ("prc", "china", "chinese"),
    ("dprk", "north korea", "north korean"),
    ("rok", "south korea", "south korean"),
    ("uk", "united kingdom", "british"),
    ("uae", "united arab emirates", "emirati"),
)
# Groups of countries an analyst names where reports name the countries ("the Gulf states"
# for Oman, Kuwait and Saudi Arabia). A group stands for its members, not a member for its
# group: a question about Kuwait is not answered by a sentence about Oman.
_GULF = ("bahrain", "kuwait", "oman", "qatar", "saudi arabia", "united arab emirates", "uae")
COUNTRY_GROUPS: dict[str, tuple[str, ...]] = {
    "gulf states": _GULF,
    "gulf countries": _GULF,
    "gulf nations": _GULF,
    "gulf monarchies": _GULF,
    "baltic states": ("estonia", "latvia", "lithuania"),
    "nordic countries": ("denmark", "finland", "iceland", "norway", "sweden"),
    "benelux": ("belgium", "netherlands", "luxembourg"),
}
# Names people give a country that countryinfo lacks, with the names reports write.
EVERYDAY_COUNTRY_NAMES: tuple[tuple[str, ...], ...] = (
    ("america", "united states", "u.s.", "american"),
)
# Regions named after a continent whose name is also a country's everyday name: each stands
# for itself, so that "Latin America" is not read as the United States.
REGIONS = frozenset({"latin america", "north america", "south america", "central america"})
_CAPITAL_SUFFIX = re.compile(r",.*$|\s+D\.C\.$")  # "Washington D.C." is written "Washington"
# Shorter spellings are codes ("US", "RUS") that read as words once lower-cased.
MIN_NAME_LETTERS = 4


def fold(text: str) -> str:
    """Lower-case `text` without accents ("Panamá" and "panama" fold alike)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _country_names() -> Iterable[set[str]]:
    from countryinfo import all_countries

    for country in all_countries():
        info = country.info()
        names = [
            *_strings(info.get("name")),
            *(_CAPITAL_SUFFIX.sub("", capital) for capital in _strings(info.get("capital"))),
            *_strings(info.get("demonym")),
            *_strings(info.get("altSpellings")),
            *_strings(list((info.get("translations") or {}).values())),
        ]
        yield {fold(name) for name in names if len(name) >= MIN_NAME_LETTERS}


def _strings(value: object) -> list[str]:
    """A field of countryinfo's data, which holds a string, a list of them, or nothing."""
    if isinstance(value, str):
        return [value]
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _country_groups() -> list[set[str]]:
    """Each country's names (name, capital, demonym, other spellings, abbreviations, everyday
    names), and each region by itself."""
    return [
        *_country_names(),
        *(set(names) for names in COUNTRY_ABBREVIATIONS + EVERYDAY_COUNTRY_NAMES),
        *({region} for region in REGIONS),
    ]


def _merged(groups: Iterable[set[str]]) -> dict[str, frozenset[str]]:
    """Each name with every name of every group it belongs to."""
    table: dict[str, set[str]] = {}
    for names in groups:
        for name in names:
            table.setdefault(name, set()).update(names)
    return {name: frozenset(names) for name, names in table.items()}


def _whole_words(names: Iterable[str]) -> re.Pattern[str]:
    """Any of `names`, longest first, as whole words: not inside a longer word, and a name
    that ends in a full stop ("u.s.") is whole before a space."""
    ordered = sorted(names, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(name) for name in ordered) + r")(?!\w)")


@lru_cache(maxsize=1)
def _alias_table() -> dict[str, frozenset[str]]:
    table = _merged(
        [
            *_country_groups(),
            *({seat, *names} for seat, names in GOVERNMENT_SEATS.items()),
            *(set(names) for names in FEDERAL_INSTITUTIONS),
        ]
    )
    # a group names its members, but a member does not name its group
    return table | {
        group: frozenset({group, *members}) for group, members in COUNTRY_GROUPS.items()
    }


@lru_cache(maxsize=1)
def _name_pattern() -> re.Pattern[str]:
    return _whole_words(_alias_table())


def names_in(text: str) -> list[tuple[str, frozenset[str]]]:
    """The known places and institutions `text` names, each as (its words in `text`, folded;
    all names of the same place or institution)."""
    table = _alias_table()
    return [(match.group(), table[match.group()]) for match in _name_pattern().finditer(fold(text))]


MAX_ACRONYM = 3  # letters of a name that may be written with full stops ("U.K.", "U.S.A.")


def mentions(text: str, names: Iterable[str]) -> bool:
    """Whether folded `text` holds one of `names` as a word or the start of one ("russia"
    is in "Russian"); a short name of letters as a whole word, also with full stops ("uk"
    is in "U.K.", not in "Ukraine")."""
    return any(re.search(_spelled(name), text) for name in names)


def _spelled(name: str) -> str:
    """The pattern that finds `name` in folded text (`mentions`)."""
    if name.isalpha() and len(name) <= MAX_ACRONYM:
        return r"\b(?:" + re.escape(name) + r"(?!\w)|" + r"\.".join(name) + r"\.)"
    return r"\b" + re.escape(name)


@lru_cache(maxsize=1)
def _country_table() -> tuple[dict[str, frozenset[str]], re.Pattern[str]]:
    table = _merged(_country_groups())
    return table, _whole_words(table)


def countries_in(text: str) -> list[frozenset[str]]:
    """The countries `text` names (by name, capital, demonym or other spelling), each as all
    of its names, folded."""
    table, pattern = _country_table()
    return [
        table[match.group()]
        for match in pattern.finditer(fold(text))
        if match.group() not in REGIONS
    ]
