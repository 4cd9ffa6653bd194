"""Text normalisation that keeps a map back to the extracted text."""

from __future__ import annotations

import re
import unicodedata

# A compound whose hyphen falls at a line end after a figure or a capital ("P.L. 110-\n343",
# "NOAA-\nissued", "F-\n35": the hyphen stays, the line break goes), a word broken by a
# hyphen at a line end ("exam-\nple"), a run of whitespace, a run of text with single spaces
# between its words (matched whole, so that long text costs few matches), or one character.
# PDFium marks a hyphen it found at a line end with \x02 and drops the line break.
_TOKEN = re.compile(
    r"(?P<kept>(?<=[\dA-Z])(?:-[ \t]*\r?\n\s*|\x02)(?=\w))"
    r"|(?P<hyphen>(?<=\w)(?:-[ \t]*\r?\n\s*|\x02)(?=[a-z]))"
    r"|(?P<space>\s+)"
    r"|(?P<run>[^\s\-\x02]++(?: [^\s\-\x02]++)*+)|(?P<char>.)",
    re.S,
)
_REPLACEMENTS = {
    "\u00ad": "",
    "\u200b": "",
    "\ufeff": "",
    "\u2010": "-",
    "\u2011": "-",
    "\x02": "-",
}
# Printable characters that normalisation still changes: replacements and ligatures.
_CHANGED_PRINTABLE = re.compile("[\u2010\u2011\ufb00-\ufb06]")


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
    offsets: list[int] = []
    return _Normaliser(keep_line_breaks, offsets).run(raw), offsets


def normalised_text(raw: str, keep_line_breaks: bool = False) -> str:
    """The text `normalise` returns, without building its offset map (one int per character)."""
    return _Normaliser(keep_line_breaks, None).run(raw)


class _Normaliser:
    """One pass of `normalise` over a text; `offsets`, when given, receives the offset map."""

    def __init__(self, keep_line_breaks: bool, offsets: list[int] | None) -> None:
        self.keep_line_breaks = keep_line_breaks
        self.offsets = offsets
        self.out: list[str] = []
        self.pending_gap = ""  # whitespace seen since the last character: "", " ", "\n", "\n\n"
        self.pending_at = 0

    def run(self, raw: str) -> str:
        for match in _TOKEN.finditer(raw):
            kind, start = match.lastgroup, match.start()
            if kind == "hyphen":
                continue
            if kind == "kept":
                self._emit("-", [start])
                continue
            text = match.group()
            if kind == "space":
                self._gap(text, start)
            elif kind == "run" and text.isprintable() and not _CHANGED_PRINTABLE.search(text):
                self._emit(text, range(start, match.end()))
            else:  # a lone character, or a run holding characters that normalisation changes
                for position, char in enumerate(text, start):
                    piece = char if char == " " else _normalise_char(char)
                    if piece.isspace():
                        self._gap(piece, position)
                    else:
                        self._emit(piece, [position] * len(piece))
        return "".join(self.out)

    def _gap(self, whitespace: str, start: int) -> None:
        breaks = whitespace.count("\n")
        gap = "\n\n" if breaks >= 2 else "\n" if breaks and self.keep_line_breaks else " "
        if not self.pending_gap:
            self.pending_at = start
        self.pending_gap = max(self.pending_gap, gap, key=_GAP_RANK.index)

    def _emit(self, piece: str, positions: range | list[int]) -> None:
        if self.pending_gap and self.out:
            self.out.append(self.pending_gap)
            if self.offsets is not None:
                self.offsets.extend([self.pending_at] * len(self.pending_gap))
        self.pending_gap = ""
        self.out.append(piece)
        if self.offsets is not None:
            self.offsets.extend(positions)


def raw_span(offsets: list[int], start: int, end: int, raw_length: int) -> tuple[int, int]:
    """The span of the extracted text that the normalised span [start, end) came from."""
    if start >= len(offsets):
        return raw_length, raw_length
    raw_end = offsets[end] if end < len(offsets) else raw_length
    return offsets[start], raw_end
