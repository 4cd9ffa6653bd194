#!/usr/bin/env python3
"""Validate the library question set (``library.jsonl``) against the documents.

Every line of the question file must be a JSON object with exactly the fields
``id, question, answers, file, page, quote, unanswerable``.  For answerable
items the checker verifies that

* ``file`` exists under ``corpus/`` or ``seeds/`` of the repository,
* ``page`` is a valid 1-based page number for a PDF (``null`` for a text file),
* ``quote`` (40-250 characters, single-spaced) occurs on that page after the
  page text is normalised: every whitespace run becomes one space, and -- as an
  alternative reading -- a hyphen at a line end is removed together with the
  line break (``"exam-\\nple" -> "example"``),
* at least one of the 1-3 ``answers`` occurs in the quote (case-insensitive).

Unanswerable items must have ``answers == []`` and ``file``, ``page`` and
``quote`` all ``null``.  In addition, each unanswerable item that has an entry
in :data:`ABSENCE_PROBES` is checked to make sure none of its key-term patterns
occurs anywhere in the library (so the item stays unanswerable if the library
changes).  Set-level requirements (minimum counts, file spread, unique ids) are
checked as well.

Usage::

    python benchmarks/questions/check_questions.py [QUESTIONS.jsonl] [--root REPO]

The script prints a summary and exits with status 0 when everything passes;
otherwise it prints one line per problem (naming the offending line and id)
and exits with status 1.  Only the standard library and ``pypdfium2`` are used.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

FIELDS: tuple[str, ...] = ("id", "question", "answers", "file", "page", "quote", "unanswerable")
DOC_DIRS: tuple[str, ...] = ("corpus", "seeds")
QUOTE_MIN, QUOTE_MAX = 40, 250
MIN_ANSWERABLE, MIN_UNANSWERABLE, MIN_FILES = 36, 12, 14

# Key-term patterns (case-insensitive regexes) that must NOT match any page of
# the library for the given unanswerable question; they document how absence
# was verified.  Matched against whitespace-normalised page text.
ABSENCE_PROBES: dict[str, list[str]] = {
    "q052": [r"coffee"],
    "q053": [r"FIFA", r"World Cup"],
    "q054": [r"Olympic"],
    "q055": [r"hectare"],
    "q056": [r"Peru\w*.{0,80}president|president.{0,80}Peru", r"Humala"],
    "q057": [r"(China|Chinese|PRC).{0,100}warhead|warhead.{0,100}(China|Chinese|PRC)"],
    "q058": [r"Argentin.{0,200}interest|interest.{0,200}Argentin"],
    "q059": [
        r"(\bISA\b|Seabed Authority).{0,60}budget of|budget of.{0,60}(\bISA\b|Seabed Authority)",
        r"(\bISA\b|Seabed Authority).{0,150}\$\s?\d|\$\s?\d.{0,150}(\bISA\b|Seabed Authority)",
    ],
    "q060": [r"Vandenberg"],
    "q061": [r"unemployment rate", r"Mexic.{0,100}unemploy|unemploy.{0,100}Mexic"],
    "q062": [r"Australia.{0,150}(GDP|economic growth)|(GDP|economic growth).{0,150}Australia"],
    "q063": [
        r"(retail|average|unit) price",
        r"price (of|per) (a )?(can|ounce|container)",
        r"formula.{0,60}(\bprices?\b|per can|per ounce)|(\bprice of|per can|per ounce).{0,60}formula",
    ],
    "q064": [r"\bhack", r"stolen"],
    "q065": [r"Fordow", r"\d[\d,]* (\w+ )?centrifuges"],
}

_WS = re.compile(r"\s+")
_HYPHEN_BREAK = re.compile(r"-[ \t]*\r?\n[ \t]*")


def collapse(text: str) -> str:
    """Replace every whitespace run by one space and strip the ends."""
    return _WS.sub(" ", text).strip()


def dehyphenate(text: str) -> str:
    """Join words hyphenated across a line end (``"exam-\\nple" -> "example"``)."""
    return _HYPHEN_BREAK.sub("", text)


def normalised_variants(text: str) -> tuple[str, str]:
    """Return the page text collapsed as-is and collapsed after de-hyphenation."""
    return collapse(text), collapse(dehyphenate(text))


class Library:
    """Lazy, cached access to the text of the documents in the repository."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._pages: dict[str, list[str]] = {}

    def locate(self, name: str) -> Path | None:
        """Return the path of document ``name`` under corpus/ or seeds/, if any."""
        if not name or Path(name).name != name:
            return None
        for sub in DOC_DIRS:
            path = self.root / sub / name
            if path.is_file():
                return path
        return None

    def pages(self, name: str) -> list[str]:
        """Return the raw text of each page (a text file counts as one page)."""
        if name not in self._pages:
            path = self.locate(name)
            if path is None:
                raise FileNotFoundError(name)
            if path.suffix.lower() == ".pdf":
                pdf = pdfium.PdfDocument(str(path))
                texts: list[str] = []
                try:
                    for page in pdf:
                        textpage = page.get_textpage()
                        texts.append(textpage.get_text_bounded())
                        textpage.close()
                        page.close()
                finally:
                    pdf.close()
                self._pages[name] = texts
            else:
                self._pages[name] = [path.read_text(encoding="utf-8")]
        return self._pages[name]

    def all_documents(self) -> list[str]:
        """Names of all documents under corpus/ and seeds/."""
        names: list[str] = []
        for sub in DOC_DIRS:
            folder = self.root / sub
            if folder.is_dir():
                names += sorted(
                    p.name
                    for p in folder.iterdir()
                    if p.is_file() and p.suffix.lower() in (".pdf", ".txt")
                )
        return names


def check_item(obj: Any, lib: Library) -> list[str]:
    """Return the problems found in one parsed line (empty list if it is valid)."""
    if not isinstance(obj, dict):
        return ["not a JSON object"]
    errs: list[str] = []
    keys = set(obj)
    if keys != set(FIELDS):
        missing = sorted(set(FIELDS) - keys)
        extra = sorted(keys - set(FIELDS))
        errs.append(f"fields wrong (missing={missing}, extra={extra})")
        return errs
    if not isinstance(obj["id"], str) or not obj["id"].strip():
        errs.append("id must be a non-empty string")
    if not isinstance(obj["question"], str) or len(obj["question"].strip()) < 10:
        errs.append("question must be a non-empty string")
    if not isinstance(obj["unanswerable"], bool):
        errs.append("unanswerable must be true or false")
        return errs
    answers = obj["answers"]
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        errs.append("answers must be a list of non-empty strings")
        return errs

    if obj["unanswerable"]:
        if answers:
            errs.append("unanswerable item must have answers == []")
        for field in ("file", "page", "quote"):
            if obj[field] is not None:
                errs.append(f"unanswerable item must have {field} == null")
        return errs

    if not 1 <= len(answers) <= 3:
        errs.append("answerable item needs 1-3 answers")
    name, page, quote = obj["file"], obj["page"], obj["quote"]
    if not isinstance(name, str):
        errs.append("file must be a string")
        return errs
    path = lib.locate(name)
    if path is None:
        errs.append(f"file {name!r} not found under {'/ or '.join(DOC_DIRS)}/")
        return errs
    pages = lib.pages(name)
    if path.suffix.lower() == ".pdf":
        if not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= len(pages):
            errs.append(f"page must be an integer in 1..{len(pages)} for {name}")
            return errs
        text = pages[page - 1]
    else:
        if page is not None:
            errs.append("page must be null for a text file")
            return errs
        text = pages[0]
    if not isinstance(quote, str):
        errs.append("quote must be a string")
        return errs
    if not QUOTE_MIN <= len(quote) <= QUOTE_MAX:
        errs.append(f"quote length {len(quote)} outside {QUOTE_MIN}-{QUOTE_MAX}")
    if quote != collapse(quote):
        errs.append("quote has unnormalised whitespace")
    if not any(quote in variant for variant in normalised_variants(text)):
        where = f"page {page}" if page is not None else "the file"
        errs.append(f"quote not found on {where} of {name}: {quote[:60]!r}...")
    if not any(a.lower() in quote.lower() for a in answers):
        errs.append("no answer string occurs in the quote")
    return errs


def probe_absence(items: list[dict[str, Any]], lib: Library) -> list[str]:
    """Check that no absence probe of an unanswerable item matches the library."""
    texts: list[tuple[str, int, str]] = []
    for name in lib.all_documents():
        for i, raw in enumerate(lib.pages(name), 1):
            for variant in set(normalised_variants(raw)):
                texts.append((name, i, variant))
    by_id = {str(o.get("id")): o for o in items}
    errs: list[str] = []
    for qid, patterns in ABSENCE_PROBES.items():
        item = by_id.get(qid)
        if item is None or not item.get("unanswerable"):
            errs.append(f"absence probe for {qid}: no such unanswerable item")
            continue
        for pat in patterns:
            rx = re.compile(pat, re.IGNORECASE)
            for name, page, text in texts:
                m = rx.search(text)
                if m:
                    errs.append(
                        f"{qid}: key term /{pat}/ found in {name} page {page}: {m.group(0)[:80]!r}"
                    )
                    break
    return errs


def main(argv: list[str] | None = None) -> int:
    """Run all checks; return the process exit status."""
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("questions", nargs="?", type=Path, default=here / "library.jsonl")
    ap.add_argument(
        "--root",
        type=Path,
        default=here.parents[1],
        help="repository root containing corpus/ and seeds/",
    )
    args = ap.parse_args(argv)

    lib = Library(args.root)
    problems: list[str] = []
    items: list[dict[str, Any]] = []
    ids: Counter[str] = Counter()
    lines = args.questions.read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            problems.append(f"line {lineno}: blank line")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {lineno}: invalid JSON ({exc})")
            continue
        label = f"line {lineno} ({obj.get('id', '?') if isinstance(obj, dict) else '?'})"
        for err in check_item(obj, lib):
            problems.append(f"{label}: {err}")
        if isinstance(obj, dict):
            items.append(obj)
            ids[str(obj.get("id"))] += 1

    for qid, n in ids.items():
        if n > 1:
            problems.append(f"id {qid} used {n} times")
    answerable = [o for o in items if o.get("unanswerable") is False]
    unanswerable = [o for o in items if o.get("unanswerable") is True]
    per_file = Counter(str(o.get("file")) for o in answerable)
    if len(answerable) < MIN_ANSWERABLE:
        problems.append(f"only {len(answerable)} answerable items (need >= {MIN_ANSWERABLE})")
    if len(unanswerable) < MIN_UNANSWERABLE:
        problems.append(f"only {len(unanswerable)} unanswerable items (need >= {MIN_UNANSWERABLE})")
    if len(per_file) < MIN_FILES:
        problems.append(f"answerable items cover only {len(per_file)} files (need >= {MIN_FILES})")
    gao = [n for n in lib.all_documents() if n.startswith("gao-")]
    for name in gao:
        if name not in per_file:
            problems.append(f"no answerable item uses GAO report {name}")
    problems += probe_absence(items, lib)

    print(
        f"{len(items)} items: {len(answerable)} answerable, {len(unanswerable)} unanswerable, "
        f"{len(per_file)} files"
    )
    for name, n in sorted(per_file.items()):
        print(f"  {n:2d}  {name}")
    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
