"""Tables as Markdown text: a header row, then the rows, in blocks that each repeat the header.

Blocks are set apart by blank lines, which the splitter prefers as chunk boundaries, so a chunk
holds a whole table or a run of its rows under the header that says what each column is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

# Characters of rows in one block (its header aside): one block of figures is about 150-200
# tokens of the default embedding model, so a block fits in a chunk.
TABLE_BLOCK_CHARS = 500


def _cell(value: str) -> str:
    return " ".join(value.split()).replace("|", "\\|")


def markdown_row(cells: Sequence[str]) -> str:
    """One Markdown table row: cells on one line each, pipes escaped."""
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def markdown_blocks(rows: Iterable[Sequence[str]], caption: str = "") -> Iterator[str]:
    """A table whose first row is its header, as Markdown blocks of at most about
    TABLE_BLOCK_CHARS characters of rows, each starting with the header row (the first also
    with `caption`). Rows shorter than the header are padded with empty cells. Nothing is
    yielded for a table without rows."""
    lines = iter(rows)
    header = next(lines, None)
    if header is None:
        return
    width = len(header)
    head = markdown_row(header) + "\n" + markdown_row(["---"] * width)
    block: list[str] = []
    size = 0
    first = True
    for row in lines:
        line = markdown_row(list(row) + [""] * (width - len(row)))
        if block and size + len(line) > TABLE_BLOCK_CHARS:
            yield _block(head, block, caption if first else "")
            block, size, first = [], 0, False
        block.append(line)
        size += len(line) + 1
    if block or first:
        yield _block(head, block, caption if first else "")


def _block(head: str, rows: list[str], caption: str) -> str:
    text = "\n".join([head, *rows])
    return f"{caption}\n{text}" if caption else text
