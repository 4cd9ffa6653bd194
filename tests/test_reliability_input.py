"""Bad input: each broken or hostile file is named with its reason, the rest of the folder is
indexed, the ingest's memory stays bounded, and a document indexed before stays indexed when its
file is replaced by a broken one (real `rag ingest` subprocesses, files generated here)."""

from __future__ import annotations

import base64
import os
import random
import subprocess
import time
import zipfile
from pathlib import Path

import docx
from conftest import make_pdf
from reliability import (
    open_library,
    rag_command,
    run_measured,
    without_permission_override,
    write_zip_bomb,
)

from rag.records import Page
from rag.retrieval import retrieve
from rag.splitting import Splitter

REPORT = ["The port of Callao handled 2.3 million containers in 2023.", "Zinc leaves via Matarani."]
# Peak memory that the bad files may add to an ingest of one small PDF. Measured: +100 MB (the
# 50 MB line is read, decoded and normalised before the text limit refuses it). Before the fixes
# the title search alone added 400 MB for that line, the normaliser's offset map 2 GB,
# python-docx 2.3 GB for an 18 MB .docx, BeautifulSoup 1.1 GB for 8 MB of tags.
EXTRA_MEMORY_MB = 300
MAX_SECONDS = 120  # measured 6-15 s; the splitter cutting a 50 MB line per character took hours


def write_bad_files(folder: Path, outside: Path) -> dict[str, str]:
    """Broken and hostile files in `folder`; returns file -> the reason the ingest must give."""
    rng = random.Random(7)
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + rng.randbytes(4000))
    make_pdf(folder / "secret.pdf", ["Hidden words."], password="s3cret")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(rng.randbytes(65536))
    (folder / "controls.txt").write_bytes(bytes(b for b in rng.randbytes(65536) if b))  # no NUL
    with open(folder / "one-line.txt", "wb") as handle:  # 50 MB of words, no line break
        words = b"copper zinc port cargo vessel tonnes export "
        handle.write(words * (50_000_000 // len(words)) + b"x" * (50_000_000 % len(words)))
    write_zip_bomb(folder / "bomb.docx")
    healthy = folder / "malformed.docx"
    docx.Document().save(str(healthy))
    with zipfile.ZipFile(healthy) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    parts["word/document.xml"] = b"<w:document><w:body><w:p>unclosed"
    with zipfile.ZipFile(healthy, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    locked = folder / "locked.txt"
    locked.write_text("Readable words that nobody may read.")
    locked.chmod(0)
    (outside / "secret.txt").write_text("Words outside the library folder.")
    (folder / "outside.txt").symlink_to(outside / "secret.txt")
    (folder / "outside-folder").symlink_to(outside, target_is_directory=True)
    return {
        "report.pdf": "not a readable PDF (damaged or truncated",
        "corrupt.pdf": "not a readable PDF",
        "secret.pdf": "encrypted with a password",
        "empty.txt": "empty file",
        "binary.txt": "binary data, not text",
        "controls.txt": "binary data, not text",
        "one-line.txt": "refused, its text is 50,000,000 characters",
        "bomb.docx": "refused, it unpacks to 314,572,",
        "malformed.docx": "XMLSyntaxError",
        "locked.txt": "Permission denied",
        "outside.txt": "symbolic link to outside the folder",
        "outside-folder": "symbolic link to outside the folder",
    }


def write_odd_but_good_files(folder: Path) -> None:
    """Files in unusual encodings or with hostile markup that still hold indexable text."""
    (folder / "latin1.txt").write_bytes("Café exports from Paita rose in 2022.".encode("latin-1"))
    (folder / "utf16.txt").write_bytes("Ilo ships refined copper to Asia.".encode("utf-16"))
    image = base64.b64encode(os.urandom(12_000_000)).decode()  # a 16 MB inline image
    (folder / "page.html").write_text(
        "<html><head><title>Harbour page</title><script>document.write('tracking')</script>"
        "<style>p {color: red}</style></head><body><nav>Home | About</nav>"
        f"<main><p>Chancay opened as a deep-water port.</p><img src='data:image/png;base64,{image}'>"
        "<script>alert('injected')</script></main></body></html>"
    )
    depth = 100_000  # nesting that made BeautifulSoup's tree builder take minutes
    (folder / "nested.html").write_text(
        "<html><body>"
        + "<div>" * depth
        + "<p>Salaverry handles bulk grain.</p>"
        + "</div>" * depth
        + "<b></b>" * 200_000
        + "</body></html>"
    )


def skipped_reasons(stdout: str) -> dict[str, str]:
    lines = [line.strip().removeprefix("skipped ") for line in stdout.splitlines()]
    return dict(line.split(": ", 1) for line in lines if ": " in line and "files:" not in line)


def test_bad_files_are_named_skipped_and_bounded_and_keep_the_indexed_version(
    tmp_path: Path, embedder
):
    folder, outside, index = tmp_path / "library", tmp_path / "outside", tmp_path / "index"
    folder.mkdir()
    outside.mkdir()
    report = make_pdf(folder / "report.pdf", REPORT)
    ingest = rag_command("ingest", str(folder), "--index", str(index), "--quiet")
    first = run_measured(ingest)
    assert first.returncode == 0 and "1 indexed" in first.stdout, first.stdout + first.stderr
    with open_library(index) as library:
        before = library.find_document("report.pdf")

    report.write_bytes(report.read_bytes()[: report.stat().st_size // 2])  # truncated
    expected = write_bad_files(folder, outside)
    write_odd_but_good_files(folder)
    unprivileged = without_permission_override(ingest)
    denied = subprocess.run(
        without_permission_override(["cat", str(folder / "locked.txt")]), capture_output=True
    )
    assert denied.returncode != 0, "the permission test would prove nothing"

    bad = run_measured(unprivileged)

    assert bad.returncode == 0, bad.stdout + bad.stderr
    assert "4 indexed, 0 unchanged, 12 skipped" in bad.stdout, bad.stdout
    reasons = skipped_reasons(bad.stdout)
    for name, reason in expected.items():
        assert reason in reasons.get(name, ""), (name, reasons.get(name))
    assert reasons["report.pdf"].endswith("(the version indexed before is kept)")
    assert bad.peak_rss_mb < first.peak_rss_mb + EXTRA_MEMORY_MB, (
        bad.peak_rss_mb,
        first.peak_rss_mb,
    )
    assert bad.seconds < MAX_SECONDS

    with open_library(index) as library:
        documents = {d.file: d for d in library.documents()}
        assert set(documents) == {
            "report.pdf",
            "latin1.txt",
            "utf16.txt",
            "page.html",
            "nested.html",
        }
        assert documents["report.pdf"] == before  # same id, hash and chunks: untouched
        store = library.store()
        passages = retrieve(
            store, library.embedder, library.settings, "How many containers did Callao handle?"
        )
        assert passages[0].file == "report.pdf" and "2.3 million" in passages[0].text
        text = {
            name: store.page(documents[name].id, None).text
            for name in documents
            if name != "report.pdf"
        }
        assert text["latin1.txt"] == "Café exports from Paita rose in 2022."
        assert text["utf16.txt"] == "Ilo ships refined copper to Asia."
        assert text["page.html"] == "Chancay opened as a deep-water port."
        assert documents["page.html"].title == "Harbour page"
        assert text["nested.html"] == "Salaverry handles bulk grain."


def test_a_huge_single_line_splits_in_linear_time_into_small_chunks(embedder):
    """Measured on 2 MB: 2-4 s. Before, a run without spaces was cut one character at a time
    (200 s for 2 MB of 'x', hours for 50 MB) and chunks of it could be any length."""
    splitter = Splitter(embedder.count_tokens, max_tokens=200, overlap_tokens=40)
    vocabulary = "copper zinc port cargo vessel tonnes export Callao Paita Ilo grain fish".split()
    words = " ".join(random.Random(5).choices(vocabulary, k=330_000))[:2_000_000]
    for text in ("x" * 2_000_000, words):
        started = time.perf_counter()
        chunks = splitter.split([Page(None, text, text)])
        assert time.perf_counter() - started < 30
        assert all(len(c.text) <= splitter.max_chars and c.token_count <= 200 for c in chunks)
        covered = 0  # every character is in a chunk, but for spaces between chunks
        for chunk in chunks:
            assert not text[covered : chunk.start].strip()
            covered = max(covered, chunk.end)
        assert covered == len(text.rstrip())
