"""Load: 20 concurrent clients ask the real app (`rag serve`, extractive answers) over loopback
through its API endpoint `ask`; every call must return a valid `rag ask --json` object. Also with
two `rag serve` processes sharing one library in PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from load import load_questions, reply_problem, run_load, serving, start_child  # noqa: E402
from reliability import open_library  # noqa: E402

from rag.settings import load_settings  # noqa: E402
from rag.store import open_store  # noqa: E402
from rag.store.migrating import migrate  # noqa: E402

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
        result = run_load([url], CLIENTS, load_questions(QUESTIONS))
    assert result.errors == []
    assert result.invalid == []
    assert len(result.latencies) == QUESTIONS
    assert 0 < result.refused < QUESTIONS  # the question set holds answerable and unanswerable


def test_two_servers_sharing_one_postgresql_library(library_index: Path, postgres_database: str):
    with open_library(library_index) as library:
        source = library.store()
        target = open_store(
            load_settings(store=postgres_database), source.model, source.dimension, create=True
        )
        migrate(source, target)
        target.close()
    with (
        serving(library_index, postgres_database) as first,
        serving(library_index, postgres_database) as second,
    ):
        result = run_load([first, second], CLIENTS, load_questions(QUESTIONS))
    assert result.errors == []
    assert result.invalid == []
    assert len(result.latencies) == QUESTIONS


def ended(pid: int) -> bool:
    """Whether process `pid` is gone (or a zombie: ended, not yet reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal")
def test_a_server_ends_with_a_killed_load_run(tmp_path: Path) -> None:
    """A server once outlived its load run: a child of `start_child` ends with its parent even
    when the parent is killed outright."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys, time; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); "
            "from load import start_child; "
            "print(start_child(['sleep', '300']).pid, flush=True); time.sleep(300)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert not ended(child)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while not ended(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ended(child)
    with start_child(["sleep", "300"]) as alive:  # and a parent that lives on keeps its child
        time.sleep(0.5)
        assert alive.poll() is None
        alive.kill()
