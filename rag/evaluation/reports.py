"""Evaluation results: one record per run, printed as a table and written as JSON."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rag.errors import RagError

METRIC_LABELS = {
    "ndcg@10": "nDCG@10",
    "recall@100": "Recall@100",
    "mrr@10": "MRR@10",
    "hit@1": "Hit@1",
    "hit@3": "Hit@3",
    "hit@5": "Hit@5",
    "hit@10": "Hit@10",
    "answer@1": "answer in passage 1",
    "answer@5": "answer in passages 1-5",
    "answered": "answered (answerable questions)",
    "correct": "correct answers",
    "figure_recall": "gold figures stated",
    "judge_correct": "correct per judge",
    "citation_recall": "citation recall (ALCE)",
    "citation_precision": "citation precision (ALCE)",
    "supported_sentences": "sentences verified supported",
    "refused_unanswerable": "refused (unanswerable questions)",
}


@dataclass
class Report:
    """The result of one evaluation run: settings, aggregate metrics and per-question rows."""

    dataset: str
    kind: str
    mode: str
    judge: str | None
    questions: int
    settings: dict[str, object]
    metrics: dict[str, float | None]
    seconds: float
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    rows: list[dict[str, object]] = field(default_factory=list)


def _fusion(settings: dict[str, object]) -> str:
    """'rrf_k 60' for reciprocal rank fusion, else the fusion's name."""
    if settings["fusion"] == "rrf":
        return f"rrf_k {settings['rrf_k']}"
    return str(settings["fusion"])


def format_table(report: Report) -> str:
    """The run's metrics as an aligned two-column table, under a line naming the settings."""
    s = report.settings
    lines = [
        f"{report.dataset} ({report.kind}): {report.questions} questions, mode {report.mode}"
        + (f", judge {report.judge}" if report.judge else "")
        + f", {report.seconds:.0f} s",
        f"model {s['model']} ({s['backend']}), chunks {s['chunk_tokens']}/"
        f"{s['chunk_overlap_tokens']} tokens, "
        f"fusion {_fusion(s)} dense {s['dense_weight']} lexical {s['lexical_weight']}, "
        f"candidates {s['candidates']}",
    ]
    labels = {name: METRIC_LABELS.get(name, name) for name in report.metrics}
    width = max(len("metric"), *(len(label) for label in labels.values()))
    lines += ["", f"{'metric':<{width}}  value", f"{'-' * width}  ------"]
    for name, value in report.metrics.items():
        shown = "n/a" if value is None else f"{value:.4f}"
        lines.append(f"{labels[name]:<{width}}  {shown}")
    return "\n".join(lines)


def write_json(report: Report, path: Path) -> None:
    """Write the report to `path` (atomically: a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(asdict(report), handle, ensure_ascii=False, indent=1, default=str)
            handle.write("\n")
        os.replace(name, path)
    except OSError as error:
        raise RagError(f"cannot write the report to {path} ({error.strerror or error})") from error
    finally:
        Path(name).unlink(missing_ok=True)
