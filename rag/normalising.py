"""Text normalisation that keeps a map back to the extracted text."""

from __future__ import annotations

import re
import unicodedata

# A word broken by a hyphen at a line end ("exam-\nple"), a run of whitespace, or one character.
# PDFium marks a hyphen it found at a line end with \x02 and drops the line break.
_TOKEN = re.compile(
    r"(?P<hyphen>(?<=\w)(?:-[ \t]*\r?\n\s*|\x02)(?=[a-z]))|(?P<space>\s+)|(?P<char>.)", re.S
)
_REPLACEMENTS = {
    "\u00ad": "", "\u200b": "", "\ufeff": "", "\u2010": "-", "\u2011": "-", "\x02": "-",
}


_GAP_RANK = ["", " ", "\n", "\n\n"]


def _normalise_char(char: str) -> str:
    if char in _REPLACEMENTS:
        return _REPLACEMENTS[char]
    if "\ufb00" <= char <= "\ufb06":  # ligatures: ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ
        return unicodedata.normalize("NFKC", char)
    if unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs"):
        return " "
    return char


def normalise(raw: str, keep_line_breaks: bool = False) -> tuple[str, list[int]]:
    """Normalise extracted text and return it with, for each output character, its raw offset.

    Words hyphenated across line ends are joined, ligatures expanded, control characters
    dropped, a whitespace run holding a blank line becomes a paragraph break, one holding a
    line break a line break when `keep_line_breaks` (lines that mean something, as in plain
    text, not the wrapped lines of a PDF), and any other run one space. Leading and trailing
    whitespace is removed.
    """
    out: list[str] = []
    offsets: list[int] = []
    pending_gap = ""  # whitespace seen since the last character: "", " " or "\n\n"
    pending_at = 0
    for match in _TOKEN.finditer(raw):
        if match.lastgroup == "hyphen":
            continue
        piece = match.group() if match.lastgroup == "space" else _normalise_char(match.group())
        if piece.isspace():
            breaks = piece.count("\n")
            gap = "\n\n" if breaks >= 2 else "\n" if breaks and keep_line_breaks else " "
            if not pending_gap:
                pending_at = match.start()
            pending_gap = max(pending_gap, gap, key=_GAP_RANK.index)
            continue
        if pending_gap and out:
            out.append(pending_gap)
            offsets.extend([pending_at] * len(pending_gap))
        pending_gap = ""
        out.append(piece)
        offsets.extend([match.start()] * len(piece))
    return "".join(out), offsets


def raw_span(offsets: list[int], start: int, end: int, raw_length: int) -> tuple[int, int]:
    """The span of the extracted text that the normalised span [start, end) came from."""
    if start >= len(offsets):
        return raw_length, raw_length
    raw_end = offsets[end] if end < len(offsets) else raw_length
    return offsets[start], raw_end
