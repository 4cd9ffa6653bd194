"""The FAISS side of the store: an index kind chosen by size, and a layered index for updates.

Below `ann_threshold` vectors the index is exact (`IndexFlatIP`); at or above it, an inverted
file over 8-bit scalar-quantized vectors (`IndexIVFScalarQuantizer`, about sqrt(n) lists, searched
`nprobe` lists deep), a quarter the size of the exact one. Either sits in an `IndexIDMap2` so
that its ids are the chunk ids, and either opens memory-mapped from its file.

`LayeredIndex` is what the store searches: a base read from a file and never changed, a small
exact `delta` of the vectors added since, and the ids removed since (skipped at search time).
Adding a file thus costs time in proportion to its chunks; the base is rewritten only when the
layers on top of it have grown past a fraction of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

FLAT = "flat"
IVF = "ivf"
TRAINING_POINTS_PER_LIST = 40  # k-means sample per inverted list (FAISS warns below 39)
MMAP = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY  # maps flat codes and inverted lists


@dataclass(frozen=True)
class IndexPlan:
    """How large indexes are built and searched."""

    ann_threshold: int = 200_000  # vectors from which the base is approximate (IVF-SQ8)
    nprobe: int = 32  # inverted lists searched per query
    mmap_from_bytes: int = 64 << 20  # base files this large are opened memory-mapped
    delta_fraction: float = 0.05  # layers above this share of the base trigger a new base
    delta_minimum: int = 4096  # ... but never fewer changed vectors than this


def index_kind(count: int, plan: IndexPlan) -> str:
    return IVF if count >= plan.ann_threshold else FLAT


def list_count(count: int) -> int:
    """Inverted lists for `count` vectors: about sqrt(count), at least 16."""
    return max(16, int(math.sqrt(count)))


def new_flat(dimension: int) -> faiss.IndexIDMap2:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def new_ivf(dimension: int, count: int, sample: np.ndarray) -> faiss.IndexIDMap2:
    """An empty IVF-SQ8 index for about `count` vectors, trained on `sample`."""
    lists = min(list_count(count), max(1, len(sample) // TRAINING_POINTS_PER_LIST))
    quantizer = faiss.IndexFlatIP(dimension)
    ivf = faiss.IndexIVFScalarQuantizer(
        quantizer, dimension, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    ivf.train(np.ascontiguousarray(sample, dtype=np.float32))
    return faiss.IndexIDMap2(ivf)  # FAISS's Python wrappers keep `ivf` and `quantizer` alive


def training_size(count: int) -> int:
    return min(count, list_count(count) * TRAINING_POINTS_PER_LIST)


def build(
    dimension: int,
    count: int,
    plan: IndexPlan,
    sample: np.ndarray | None,
    batches: Iterable[tuple[np.ndarray, np.ndarray]],
) -> faiss.IndexIDMap2:
    """A base of the kind `count` calls for, filled from (ids, vectors) batches; IVF needs a
    training `sample` of about `training_size(count)` vectors."""
    if index_kind(count, plan) == IVF:
        if sample is None:
            raise ValueError("an IVF index needs a training sample")
        index = new_ivf(dimension, count, sample)
    else:
        index = new_flat(dimension)
    for ids, vectors in batches:
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
    return index


def read(path: Path, plan: IndexPlan) -> faiss.Index:
    """A base from its file, memory-mapped when large (RuntimeError if unreadable)."""
    mapped = path.stat().st_size >= plan.mmap_from_bytes
    return faiss.read_index(str(path), MMAP if mapped else 0)


def kind_of(index: faiss.Index) -> str | None:
    """FLAT or IVF for an index of this store's making, else None."""
    if not isinstance(index, faiss.IndexIDMap2):
        return None
    inner = faiss.downcast_index(index.index)
    if isinstance(inner, faiss.IndexFlatIP):
        return FLAT
    inner_product = inner.metric_type == faiss.METRIC_INNER_PRODUCT
    if isinstance(inner, faiss.IndexIVFScalarQuantizer) and inner_product:
        return IVF
    return None


def ids_of(index: faiss.IndexIDMap2) -> np.ndarray:
    ids: np.ndarray = faiss.vector_to_array(index.id_map)
    return ids


@dataclass
class LayeredIndex:
    """A base index (never modified, maybe memory-mapped) + an exact delta + removed ids."""

    base: faiss.IndexIDMap2
    base_generation: int  # the store generation whose chunks the base holds
    base_max_id: int  # the largest chunk id the base can hold: later ids are in the delta
    delta: faiss.IndexIDMap2
    removed: set[int] = field(default_factory=set)  # ids in the base that no longer exist

    @classmethod
    def over(cls, base: faiss.IndexIDMap2, generation: int, max_id: int) -> LayeredIndex:
        return cls(base, generation, max_id, new_flat(base.d))

    @property
    def ntotal(self) -> int:
        return int(self.base.ntotal) - len(self.removed) + int(self.delta.ntotal)

    @property
    def changes(self) -> int:
        """Vectors changed since the base: added ones plus removed ones."""
        return int(self.delta.ntotal) + len(self.removed)

    def needs_new_base(self, plan: IndexPlan) -> bool:
        return self.changes > max(plan.delta_minimum, plan.delta_fraction * int(self.base.ntotal))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.delta.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def remove(self, ids: Iterable[int]) -> None:
        ids = np.fromiter(ids, dtype=np.int64)
        if ids.size == 0:
            return
        in_delta = ids[ids > self.base_max_id]
        if in_delta.size:
            self.delta.remove_ids(in_delta)
        self.removed.update(ids[ids <= self.base_max_id].tolist())

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None, plan: IndexPlan
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the best `k`, best first, over both layers; only `allowed` ids if
        given."""
        found: list[tuple[np.ndarray, np.ndarray]] = []
        keep: list[object] = []  # FAISS selectors hold raw pointers: keep their owners alive
        for layer, removed in ((self.base, self.removed), (self.delta, set())):
            if layer.ntotal == 0:
                continue
            selector = _selector(allowed, removed, keep)
            if kind_of(layer) == IVF:
                params = faiss.SearchParametersIVF(sel=selector, nprobe=plan.nprobe)
            else:
                params = faiss.SearchParameters(sel=selector) if selector is not None else None
            scores, ids = layer.search(query, min(k, layer.ntotal), params=params)
            found.append((scores[0], ids[0]))
        if not found:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores = np.concatenate([s for s, _ in found])
        ids = np.concatenate([i for _, i in found])
        valid = ids >= 0
        scores, ids = scores[valid], ids[valid]
        order = np.argsort(-scores, kind="stable")[:k]
        return scores[order], ids[order]


def _selector(
    allowed: np.ndarray | None, removed: set[int], keep: list[object]
) -> faiss.IDSelector | None:
    """Ids in `allowed` (all if None) and not in `removed`; None when that is every id."""
    parts: list[faiss.IDSelector] = []
    if allowed is not None:
        parts.append(faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64)))
    if removed:
        gone = faiss.IDSelectorBatch(np.fromiter(removed, dtype=np.int64))
        keep.append(gone)
        parts.append(faiss.IDSelectorNot(gone))
    keep.extend(parts)
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    both = faiss.IDSelectorAnd(parts[0], parts[1])
    keep.append(both)
    return both
