"""Briefing sections: do their sentences belong under their heading, and are the topic's reports cited?

For each topic, with the reports a reader would expect it to cite (chosen by hand from the
default library's titles), builds one briefing with sub-questions from the headings of the
reports' sections (`briefing_headings` on) and one with sub-questions from each passage's key
phrase (off), on the same index, one after the other. The local model then judges every
section sentence twice: is it about its section's sub-question, and is it about the topic
(P(yes) >= 0.5, read from the model's logits). Prints one row per topic and variant, and the
totals, as a Markdown table; `--out` writes every sub-question and sentence with its verdicts.

    .venv/bin/python benchmarks/briefing_sections.py --index index [--mode extractive]
        [--sections 5] [--out sections.json]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from rag.briefing import Briefing, build_briefing
from rag.citations import strip_markers
from rag.generation import yes_probability
from rag.library import Library
from rag.settings import load_settings

TOPICS = {  # topic -> files of the default library a briefing on it should cite
    "seabed mining": ["R47324v18.pdf", "IF12608v18.pdf"],
    "Iran's nuclear program": ["IF12106v21.pdf", "IN12678v4.pdf"],
    "decentralized finance": ["R48883v4.pdf"],
    "advanced energy technologies": ["gao-07-106.pdf"],
    "shipping through the Strait of Hormuz": ["R48903v3.pdf", "IN12678v4.pdf"],
}
JUDGE_SYSTEM = (
    "You check whether a sentence of a briefing belongs where it is. Reply with one word: yes "
    "or no. Say yes only if the sentence is about what the heading names."
)
ON_TOPIC = 0.5


@dataclass
class Tally:
    """Counts for one briefing, or summed over briefings."""

    sections: int = 0
    sentences: int = 0
    on_heading: int = 0
    on_topic: int = 0
    expected: int = 0
    cited: int = 0

    def add(self, other: Tally) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def share(self, count: int) -> str:
        return f"{count / self.sentences:.2f}" if self.sentences else "-"

    def row(self, label: str) -> str:
        return (
            f"| {label} | {self.sections} | {self.sentences} | {self.share(self.on_heading)} | "
            f"{self.share(self.on_topic)} | {self.cited} / {self.expected} |"
        )


def belongs(library: Library, heading: str, sentence: str) -> float:
    """The local model's probability that the sentence is about the heading."""
    chat = library.chat_model("local")
    prompt = f"Heading: {heading}\n\nSentence: {sentence}\n\nIs the sentence about the heading?"
    return yes_probability(chat, JUDGE_SYSTEM, prompt)


def judged(library: Library, briefing: Briefing, expected: list[str]) -> tuple[Tally, list[dict]]:
    """The briefing's counts, and each of its sentences with the judge's two probabilities."""
    tally = Tally(sections=len(briefing.sections), expected=len(expected))
    cited = {Path(reference.file).name for reference in briefing.references}
    tally.cited = len(cited & set(expected))
    details = []
    for section in briefing.sections:
        for sentence in section.sentences:
            text = strip_markers(sentence.text)
            on_heading = belongs(library, section.question, text)
            on_topic = belongs(library, briefing.topic, text)
            tally.sentences += 1
            tally.on_heading += on_heading >= ON_TOPIC
            tally.on_topic += on_topic >= ON_TOPIC
            details.append(
                {
                    "question": section.question,
                    "sentence": text,
                    "p_on_heading": round(on_heading, 3),
                    "p_on_topic": round(on_topic, 3),
                }
            )
    return tally, details


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--mode", default="extractive", choices=["extractive", "local", "openai"])
    parser.add_argument("--sections", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    variants = {"headings": True, "key phrases": False}
    totals = {label: Tally() for label in variants}
    rows: list[str] = []
    report: list[dict] = []
    for topic, expected in TOPICS.items():
        for label, headings in variants.items():
            library = Library(load_settings(index_dir=args.index, briefing_headings=headings))
            briefing = build_briefing(library, topic, args.sections, mode=args.mode)
            tally, details = judged(library, briefing, expected)
            totals[label].add(tally)
            rows.append(tally.row(f"{topic}, {label}"))
            report.append({"topic": topic, "variant": label, **vars(tally), "judged": details})
    print(
        "| topic, sub-questions from | sections | sentences | on their heading | on the topic "
        "| expected reports cited |\n|---|---|---|---|---|---|"
    )
    print("\n".join(rows))
    for label, tally in totals.items():
        print(tally.row(f"**all, {label}**"))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
