"""Pages to chunks sized in embedding-model tokens, each keeping its span in the page."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.records import Chunk, Page

# Paragraphs, then lines, then sentence ends, then clauses, then words: the first that fits wins.
SEPARATORS = ["\n\n", "\n", r"(?<=[.!?…])\s+(?=[\"'“‘(\[]?[A-Z0-9])", r"(?<=[;:])\s+", r"\s+", ""]


class Splitter:
    """Splits page text into overlapping chunks of at most `max_tokens` model tokens."""

    def __init__(self, count_tokens: Callable[[str], int], max_tokens: int, overlap_tokens: int):
        if overlap_tokens >= max_tokens:
            raise ValueError("chunk overlap must be smaller than the chunk size")
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self._splitter = RecursiveCharacterTextSplitter(
            chunk_size=max_tokens,
            chunk_overlap=overlap_tokens,
            length_function=count_tokens,
            separators=SEPARATORS,
            is_separator_regex=True,
            keep_separator="end",
            strip_whitespace=True,
        )

    def _spans(self, text: str) -> Iterable[tuple[int, int]]:
        previous_end = 0
        for piece in self._splitter.split_text(text):
            # Each piece is a substring that reaches past the previous one (overlap allowed).
            start = text.find(piece, max(0, previous_end - len(piece) + 1))
            if start < 0:
                start = text.find(piece)
            previous_end = start + len(piece)
            yield start, previous_end

    def _fit(self, text: str, start: int, end: int) -> Iterable[tuple[int, int]]:
        """Cut a span the splitter left too long (a token-dense run) at word boundaries."""
        if self.count_tokens(text[start:end]) <= self.max_tokens:
            yield start, end
            return
        middle = text.rfind(" ", start, (start + end) // 2 + 1)
        middle = middle if middle > start else (start + end) // 2
        yield from self._fit(text, start, middle)
        yield from self._fit(text, middle + (text[middle] == " "), end)

    def split(self, pages: list[Page]) -> list[Chunk]:
        """Chunks of every page, numbered in reading order."""
        chunks: list[Chunk] = []
        for page in pages:
            for span_start, span_end in self._spans(page.text):
                for start, end in self._fit(page.text, span_start, span_end):
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
                            token_count=self.count_tokens(text),
                        )
                    )
        return chunks
