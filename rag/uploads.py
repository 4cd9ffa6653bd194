"""Files uploaded by users: safe names, type and size checks, saving into the upload folder."""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

from rag.errors import UnreadableFileError
from rag.loading import SUPPORTED_SUFFIXES
from rag.models import sha256_of

MAX_NAME_CHARS = 120
# What a reader calls the files of each suffix the loaders read (every one of
# SUPPORTED_SUFFIXES: a test holds them equal)
KIND_OF_SUFFIX = {
    ".pdf": "PDF",
    ".docx": "Word",
    ".pptx": "PowerPoint",
    ".xlsx": "Excel",
    ".csv": "CSV",
    ".tsv": "CSV",
    ".epub": "EPUB",
    ".html": "HTML",
    ".htm": "HTML",
    ".md": "Markdown",
    ".markdown": "Markdown",
    ".txt": "text",
    ".text": "text",
}
_KINDS = list(dict.fromkeys(KIND_OF_SUFFIX.values()))
SUPPORTED_KINDS = f"{', '.join(_KINDS[:-1])} or {_KINDS[-1]}"
_UNSAFE = re.compile(r"[^\w .()+,=@~-]+")  # anything but letters, digits and harmless marks
_SIGNATURES = {".pdf": (b"%PDF-", "a PDF"), ".docx": (b"PK\x03\x04", "a Word .docx file")}


def safe_file_name(name: str) -> str:
    """The last component of a user-given file name, made safe to create inside a folder.

    Folder parts (either slash), control characters, leading dots and characters other than
    letters, digits and `` .()+,=@~-_`` go; an empty stem becomes "upload"; the suffix is
    lower-cased and the stem cut so that the name has at most MAX_NAME_CHARS characters.
    """
    base = unicodedata.normalize("NFC", re.split(r"[\\/]", name)[-1])
    base = _UNSAFE.sub("_", "".join(char for char in base if char.isprintable()))
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem.strip(" ._") or "upload"
    suffix = f".{suffix.strip(' ').lower()}" if suffix.strip(" ") else ""
    return stem[: MAX_NAME_CHARS - len(suffix)] + suffix


def describe_size(size: int) -> str:
    """A byte count for people: "1.2 GB", "3.0 MB", "4.9 KB" or "512 bytes"."""
    if size >= 2**30:
        return f"{size / 2**30:.1f} GB"
    if size >= 2**20:
        return f"{size / 2**20:.1f} MB"
    if size >= 2**10:
        return f"{size / 2**10:.1f} KB"
    return f"{size} bytes"


def check_upload(path: Path, name: str, max_bytes: int) -> None:
    """Refuse, naming the file, an upload of an unsupported type, empty, too large, or whose
    content is not of the type its name says."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kind = f"'{suffix}'" if suffix else "without a suffix"
        raise UnreadableFileError(
            f"{name}: files {kind} cannot be indexed; upload {SUPPORTED_KINDS} files "
            f"({', '.join(sorted(SUPPORTED_SUFFIXES))})"
        )
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFileError(f"{name}: the file is empty")
    if size > max_bytes:
        raise UnreadableFileError(
            f"{name}: {describe_size(size)} is over the upload limit of {describe_size(max_bytes)} "
            f"(setting max_upload_bytes)"
        )
    signature = _SIGNATURES.get(suffix)
    if signature is not None:
        with open(path, "rb") as handle:
            head = handle.read(1024)
        if signature[0] not in head[: 1024 if suffix == ".pdf" else len(signature[0])]:
            raise UnreadableFileError(f"{name}: not {signature[1]} (damaged, or misnamed?)")


def save_upload(path: Path, name: str, folder: Path, max_bytes: int) -> Path:
    """Check an uploaded file and copy it into `folder` under its safe name.

    A file already there with the same content is reused; one with other content is kept and
    the upload gets a numbered name ("report-2.pdf"), so nothing already stored is overwritten.
    """
    safe = safe_file_name(name)
    check_upload(path, safe, max_bytes)
    folder.mkdir(parents=True, exist_ok=True)
    folder = folder.resolve()
    digest = sha256_of(path)
    stem, suffix = Path(safe).stem, Path(safe).suffix
    for attempt in range(1, 1000):
        target = folder / (safe if attempt == 1 else f"{stem}-{attempt}{suffix}")
        if target.parent != folder:
            raise UnreadableFileError(f"{name}: the file name leads outside the upload folder")
        try:
            out = open(target, "xb")  # noqa: SIM115 (closed by the `with` below)
        except FileExistsError:
            if sha256_of(target) == digest:
                return target
            continue
        try:
            with out, open(path, "rb") as source:
                shutil.copyfileobj(source, out)
        except OSError as error:
            target.unlink(missing_ok=True)
            raise UnreadableFileError(
                f"{name}: cannot be saved ({error.strerror or error})"
            ) from error
        return target
    raise UnreadableFileError(f"{name}: too many uploads with this name; rename the file")
