"""How much lower a question scores against its evidence written in another language.

`other_language_gap` is added to the similarity of a sentence in another language than the
question, so that `min_sentence_relevance` means the same across languages. It is measured on
pairs that differ only in language: dev questions of the paraphrase set against their evidence
quote in English and in Spanish, French and Russian translations of it
(`questions/crosslingual_dev.jsonl`, translated for the project). Sentences are embedded as the
extractive answerer embeds them (`SentenceVectors`, no prompt). The gap is the median of the
paired drops, pooled over the three languages (the median: robust to the odd pair that a
translation's wording moves).

    .venv/bin/python benchmarks/calibrate_crosslingual.py [--preset quality] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from rag.embedding import SentenceVectors, get_embedder
from rag.evaluation.datasets import load_questions
from rag.settings import load_settings

HERE = Path(__file__).resolve().parent / "questions"
LANGUAGES = ("es", "fr", "ru")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=["fast", "quality"], default="quality")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    settings = load_settings(preset=args.preset)
    vectors = SentenceVectors(
        get_embedder(
            settings.embedding_model,
            settings.embedding_batch_size,
            settings.model_cache_dir,
            settings.embedding_backend,
            settings.embedding_threads,
        )
    )
    paraphrase = load_questions(HERE / "paraphrase.jsonl", settings.library_paths)
    questions = {item.id: item for item in paraphrase.items}
    translations = [
        json.loads(line)
        for line in (HERE / "crosslingual_dev.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    same: list[float] = []
    drops: dict[str, list[float]] = {language: [] for language in LANGUAGES}
    for row in translations:
        item = questions[row["id"]]
        assert item.split == "dev", f"{row['id']} is not a dev question"
        texts = [item.question, str(item.quote), *(row[language] for language in LANGUAGES)]
        embedded = vectors.embed(texts)
        similarities = embedded[1:] @ embedded[0]
        same.append(float(similarities[0]))
        for language, similarity in zip(LANGUAGES, similarities[1:], strict=True):
            drops[language].append(float(similarities[0] - similarity))

    pooled = [drop for values in drops.values() for drop in values]
    result = {
        "preset": args.preset,
        "model": settings.embedding_model,
        "pairs": len(translations),
        "same_language_median": float(np.median(same)),
        "drop_median": {language: float(np.median(values)) for language, values in drops.items()},
        "drop_mean": {language: float(np.mean(values)) for language, values in drops.items()},
        "pairs_lower_in_other_language": float(np.mean(np.array(pooled) > 0)),
        "other_language_gap": round(float(np.median(pooled)), 3),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
