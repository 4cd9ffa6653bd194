"""Load: 20 concurrent clients ask the real app (`rag serve`, extractive answers) over loopback
through its API endpoint `ask`; every call must return a valid `rag ask --json` object."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from load import load_questions, reply_problem, run_load, serving  # noqa: E402

pytestmark = pytest.mark.slow

CLIENTS = 20
QUESTIONS = 100  # benchmarks/load.py asks 200 (BENCHMARKS.md); 5 per client here


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ({"answer": "x"}, "not an answer object"),
        (
            {
                "answer": "Seized. [1]",
                "refused": False,
                "mode": "extractive",
                "citations": [],
                "sentences": [],
                "removed_markers": 0,
            },
            "an answer without citations",
        ),
        (
            {
                "answer": "Guess.",
                "refused": True,
                "mode": "extractive",
                "citations": [],
                "sentences": [],
                "removed_markers": 0,
            },
            "a refusal with text or citations",
        ),
    ],
)
def test_invalid_replies_are_caught(reply: dict, problem: str):
    assert problem in (reply_problem(reply) or "")


def test_twenty_concurrent_clients_get_valid_answers(library_index: Path):
    with serving(library_index) as url:
        result = run_load(url, CLIENTS, load_questions(QUESTIONS))
    assert result.errors == []
    assert result.invalid == []
    assert len(result.latencies) == QUESTIONS
    assert 0 < result.refused < QUESTIONS  # the question set holds answerable and unanswerable
