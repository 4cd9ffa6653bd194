"""Pages to chunks sized in embedding-model tokens, each keeping its span in the page."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.records import Chunk, Page
from rag.text import SENTENCE_END, SENTENCE_START

# Paragraphs, then lines, then sentence ends, then clauses, then words: the first that fits wins.
# A run with none of these is left whole and cut by `Splitter._fit`: the splitter's last resort,
# one piece per character, costs a token count per character (hours for a 50 MB line).
SEPARATORS = [
    "\n\n",
    "\n",
    rf"(?<={SENTENCE_END})\s+(?={SENTENCE_START})",
    r"(?<=[;:])\s+",
    r"\s+",
]
MAX_CHARS_PER_TOKEN = 10  # a chunk holds at most this many characters per token of its limit
WINDOW_CHUNKS = 50  # text is split in windows of at most this many chunks' characters
# Where a window may end, strongest first (normalised text separates words by one whitespace).
WINDOW_BREAKS = [("\n\n",), ("\n",), (". ", "? ", "! ", "… "), (" ",)]
MEMO_CHARS = 64  # token counts of pieces up to this long (words, mostly) are remembered
MEMO_SIZE = 65536


class Splitter:
    """Splits page text into overlapping chunks of at most `max_tokens` model tokens."""

    def __init__(self, count_tokens: Callable[[str], int], max_tokens: int, overlap_tokens: int):
        if overlap_tokens >= max_tokens:
            raise ValueError("chunk overlap must be smaller than the chunk size")
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.max_chars = max_tokens * MAX_CHARS_PER_TOKEN
        self.window = self.max_chars * WINDOW_CHUNKS
        self._memo: dict[str, int] = {}
        self._splitter = RecursiveCharacterTextSplitter(
            chunk_size=max_tokens,
            chunk_overlap=overlap_tokens,
            length_function=self._length,
            separators=SEPARATORS,
            is_separator_regex=True,
            keep_separator="end",
            strip_whitespace=True,
        )

    def _length(self, text: str) -> int:
        """Tokens in `text` as the splitter sees them: a piece over `max_chars` never fits (it
        is not counted: tokenizing a 100,000-character word takes the tokenizer long), and the
        splitter asks again and again for the same short pieces."""
        if len(text) > self.max_chars:
            return self.max_tokens + 1
        if len(text) > MEMO_CHARS:
            return self.count_tokens(text)
        count = self._memo.get(text)
        if count is None:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            count = self._memo[text] = self.count_tokens(text)
        return count

    def _windows(self, text: str) -> Iterator[tuple[int, int]]:
        """Consecutive spans covering `text`, each at most `window` characters long, ending at
        the strongest break in its second half, so that the splitter's work and memory stay
        proportional to the window however long the text (a whole book on one line)."""
        start = 0
        while len(text) - start > self.window:
            low, high = start + self.window // 2, start + self.window
            end = high
            for breaks in WINDOW_BREAKS:
                found = max(text.rfind(mark, low, high) for mark in breaks)
                if found >= 0:
                    end = found + 1
                    break
            yield start, end
            start = end
        yield start, len(text)

    def _spans(self, text: str) -> Iterable[tuple[int, int]]:
        for window_start, window_end in self._windows(text):
            window = text[window_start:window_end]
            previous_end = 0
            for piece in self._splitter.split_text(window):
                # Each piece is a substring that reaches past the previous one (overlap allowed).
                start = window.find(piece, max(0, previous_end - len(piece) + 1))
                if start < 0:
                    start = window.find(piece)
                previous_end = start + len(piece)
                yield window_start + start, window_start + previous_end

    def _page_spans(self, page: Page) -> Iterator[tuple[int, int]]:
        """The spans of a page's text, none crossing one of its `breaks`."""
        edges = [0, *page.breaks, len(page.text)]
        for start, end in itertools.pairwise(edges):
            for span_start, span_end in self._spans(page.text[start:end]):
                yield start + span_start, start + span_end

    def _fit(self, text: str, start: int, end: int) -> Iterable[tuple[int, int, int]]:
        """(start, end, tokens) of the span, cut where the splitter left it too long (a
        token-dense run, or a run without spaces over `max_chars`) at word boundaries if any."""
        if end - start <= self.max_chars:
            tokens = self.count_tokens(text[start:end])
            if tokens <= self.max_tokens:
                yield start, end, tokens
                return
        middle = text.rfind(" ", start, (start + end) // 2 + 1)
        middle = middle if middle > start else (start + end) // 2
        yield from self._fit(text, start, middle)
        yield from self._fit(text, middle + (text[middle] == " "), end)

    def split(self, pages: list[Page]) -> list[Chunk]:
        """Chunks of every page, numbered in reading order."""
        chunks: list[Chunk] = []
        for page in pages:
            for span_start, span_end in self._page_spans(page):
                for start, end, tokens in self._fit(page.text, span_start, span_end):
                    text = page.text[start:end]
                    if not text.strip():
                        continue
                    chunks.append(
                        Chunk(
                            ordinal=len(chunks),
                            page=page.number,
                            start=start,
                            end=end,
                            text=text,
                            token_count=tokens,
                        )
                    )
        return chunks
