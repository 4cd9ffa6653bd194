"""Locating models: shipped in an installed package, or a local folder or file."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from rag.errors import ModelUnavailableError

PACKAGE_PREFIX = "package:"


def resolve_embedding_model(source: str) -> Path:
    """The local folder of a sentence-transformers model named by `source`.

    `package:<module>` names a model shipped in an installed package (the offline default);
    anything else is a path to a model folder.
    """
    if source.startswith(PACKAGE_PREFIX):
        module_name = source.removeprefix(PACKAGE_PREFIX)
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ModelUnavailableError(
                f"embedding model package '{module_name}' is not installed "
                f"(pip install {module_name.replace('_', '-')})"
            ) from error
        return Path(module.get_model_path())
    path = Path(source).expanduser()
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise ModelUnavailableError(
            f"embedding model folder '{path}' not found or not a sentence-transformers model"
        )
    return path


def offline_environment() -> None:
    """Keep Hugging Face libraries from reaching for the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def sha256_of(path: Path, block_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(block_size):
            digest.update(block)
    return digest.hexdigest()


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _stamp(path: Path, sha256: str) -> dict[str, object]:
    stat = path.stat()
    return {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _verified_before(target: Path, sha256: str) -> bool:
    """Whether the sidecar records `sha256` for this very file (same size and mtime)."""
    try:
        return json.loads(_sidecar(target).read_text()) == _stamp(target, sha256)
    except (OSError, ValueError):
        return False


def _write_atomically(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write `target` through a temporary file in its folder, renamed into place on success."""
    descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)  # mkstemp makes it private; a model file is not
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _record_verified(target: Path, sha256: str) -> None:
    record = json.dumps(_stamp(target, sha256)).encode()
    _write_atomically(_sidecar(target), lambda handle: handle.write(record))


def assemble_parts(parts: Sequence[Path], target: Path, sha256: str, *, remedy: str) -> Path:
    """`target`: the files `parts` concatenated in order, checked against `sha256`.

    Built once and atomically: the file appears only complete and with the right checksum.
    A later call reuses a file of the right size, hashing it only if `<target>.sha256` does not
    already record the checksum for it. `remedy` tells the user how to repair missing or damaged
    parts.
    """
    missing = [part for part in parts if not part.is_file()]
    if missing:
        raise ModelUnavailableError(f"model part {missing[0]} not found; {remedy}")
    size = sum(part.stat().st_size for part in parts)
    if target.is_file() and target.stat().st_size == size:
        if _verified_before(target, sha256):
            return target
        if sha256_of(target) == sha256:
            _record_verified(target, sha256)
            return target

    def concatenate_checked(out: BinaryIO) -> None:
        digest = hashlib.sha256()
        for part in parts:
            with open(part, "rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
                    out.write(block)
        if digest.hexdigest() != sha256:
            raise ModelUnavailableError(
                f"the {len(parts)} parts of {target.name} join to sha256 {digest.hexdigest()}, "
                f"expected {sha256}: they are damaged or of another version; {remedy}"
            )

    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(target, concatenate_checked)
    _record_verified(target, sha256)
    return target
