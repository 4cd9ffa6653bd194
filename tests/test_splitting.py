from itertools import pairwise

from rag.records import Page
from rag.splitting import Splitter


def page(number, text):
    return Page(number=number, text=text, raw_text=text)


def test_chunks_fit_the_model_keep_spans_and_overlap(embedder):
    sentences = [
        f"Sentence number {i} reports that {i * 3} tonnes moved through port {i}."
        for i in range(80)
    ]
    pages = [page(1, " ".join(sentences[:40])), page(2, " ".join(sentences[40:]))]
    splitter = Splitter(embedder.count_tokens, max_tokens=60, overlap_tokens=15)
    chunks = splitter.split(pages)
    assert len(chunks) > 6
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.page is not None
        source = pages[chunk.page - 1].text
        assert source[chunk.start : chunk.end] == chunk.text
        assert chunk.token_count == embedder.count_tokens(chunk.text) <= 60
        assert chunk.text.endswith(".")  # cut at sentence ends
    same_page = [(a, b) for a, b in pairwise(chunks) if a.page == b.page]
    assert all(b.start < a.end for a, b in same_page)  # neighbours overlap


def test_a_run_without_spaces_is_still_cut_to_the_limit(embedder):
    import random

    text = "".join(random.Random(7).choices("abcdefghijklmnopqrstuvwxyz0123456789/", k=3000))
    chunks = Splitter(embedder.count_tokens, max_tokens=50, overlap_tokens=5).split(
        [page(None, text)]
    )
    assert all(c.token_count <= 50 for c in chunks)
    covered: set[int] = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert covered == set(range(len(text)))  # nothing lost between chunks
