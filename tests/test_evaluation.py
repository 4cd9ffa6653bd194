"""`rag eval`: metric arithmetic on hand-computed cases, dataset loaders, short end-to-end runs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import ROOT, SHARED_DATA

from rag.errors import DatasetError
from rag.evaluation.datasets import (
    BEIR,
    FINANCEBENCH,
    QUESTIONS,
    Evidence,
    QAItem,
    QASet,
    load_dataset,
    only_split,
)
from rag.evaluation.metrics import (
    CitedSentence,
    citation_scores,
    contains_accepted,
    figure_recall,
    figures,
    hit_at_k,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
)
from rag.evaluation.runners import (
    Row,
    answer_hits,
    document_ranking,
    evidence_pages,
    page_ranking,
    supported_share,
)
from rag.records import Passage

SCIFACT = SHARED_DATA / "scifact"
FINANCEBENCH_DIR = SHARED_DATA / "financebench"
QUESTION_SET = ROOT / "benchmarks" / "questions" / "library.jsonl"
PARAPHRASE_SET = ROOT / "benchmarks" / "questions" / "paraphrase.jsonl"
needs_data = pytest.mark.skipif(not SCIFACT.is_dir(), reason="no ../shared/data beside the repo")


# -- ranking metrics ---------------------------------------------------------------------------


def test_ndcg_binary_and_graded():
    # relevant at ranks 1 and 3 of two relevant: (1 + 1/log2(4)) / (1 + 1/log2(3))
    assert ndcg_at_k(["a", "x", "b"], {"a": 1, "b": 1}, 10) == pytest.approx(
        (1 + 0.5) / (1 + 1 / math.log2(3))
    )
    # graded: gain 2 at rank 2, gain 1 at rank 1; ideal puts the 2 first
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 1}, 10) == pytest.approx(
        (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    )
    assert ndcg_at_k(["x", "y", "a"], {"a": 1}, 2) == 0.0  # beyond the cut-off
    assert ndcg_at_k(["a"], {"a": 1}, 10) == 1.0


def test_recall_mrr_and_hit():
    ranking = ["x", "a", "y", "b", "z"]
    assert recall_at_k(ranking, {"a", "b", "c"}, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, {"a", "b", "c"}, 100) == pytest.approx(2 / 3)
    assert mrr_at_k(ranking, {"b", "a"}, 10) == 0.5
    assert mrr_at_k(ranking, {"b"}, 3) == 0.0
    assert hit_at_k(ranking, {"y"}, 3) == 1.0
    assert hit_at_k(ranking, {"y"}, 2) == 0.0


def _passage(file: str, page: int | None, chunk_id: int = 1) -> Passage:
    return Passage(chunk_id, 1, "t", file, page, 0, 1, "text", 1.0)


def test_documents_rank_by_their_best_chunk_and_evidence_hits_need_the_page():
    passages = [_passage(name, None) for name in ("d2", "d1", "d2", "d3")]
    assert document_ranking(passages) == ["d2", "d1", "d3"]
    item = QAItem("q", "?", ["x"], [Evidence("r.pdf", 4), Evidence("r.pdf", 6)])
    ranking = page_ranking([_passage("r.pdf", 5), _passage("s.pdf", 4), _passage("r.pdf", 6)])
    assert mrr_at_k(ranking, evidence_pages(item), 10) == pytest.approx(1 / 3)
    assert hit_at_k(ranking, evidence_pages(item), 2) == 0.0
    seed = QAItem("q", "?", ["x"], [Evidence("seed.txt", None)])
    assert hit_at_k(page_ranking([_passage("seed.txt", None)]), evidence_pages(seed), 1) == 1.0


def test_an_answer_is_found_in_passages_on_any_page_but_as_a_whole_figure():
    item = QAItem("q", "How many?", ["9", "nine"], [Evidence("r.pdf", 6)])
    summary = Passage(1, 1, "R", "r.pdf", 1, 0, 30, "Nine tankers joined in 2026.", 1.0)
    other = Passage(2, 1, "R", "r.pdf", 6, 0, 30, "It cost $19 million in 2019.", 1.0)
    assert answer_hits(item, [summary, other]) == {"answer@1": 1.0, "answer@5": 1.0}
    assert answer_hits(item, [other, summary]) == {"answer@1": 0.0, "answer@5": 1.0}
    assert answer_hits(item, [other]) == {"answer@1": 0.0, "answer@5": 0.0}


# -- answers -----------------------------------------------------------------------------------


def test_accepted_strings_and_figures():
    assert contains_accepted("It seized 7.6  Metric Tons. [1]", ["7.6 metric tons", "7.6 tons"])
    assert not contains_accepted("It seized 7 tons.", ["7.6 tons"])


def test_an_accepted_number_is_a_whole_number_and_an_accepted_word_may_be_inflected():
    assert not contains_accepted("As of January 31, 2026, the ISA had 31 contracts.", ["6"])
    assert not contains_accepted("It seized 7.65 tons.", ["7.6"])
    assert not contains_accepted("It seized 17.6 tons.", ["7.6"])
    assert contains_accepted("The ISA approved 6 extensions.", ["six", "6"])
    assert contains_accepted("a 15-point proposal", ["15-point"])
    assert contains_accepted("до Владивостока за семь дней", ["Владивосток"])
    assert figures("$1,577.00 in FY2022 and 2021, up 3.5% [2] to -2.2") == [
        Decimal("1577.00"),
        Decimal("3.5"),
        Decimal("2.2"),
    ]
    assert figure_recall("$1577.00", "Capital expenditure was $1,577 million. [1]") == 1.0
    assert figure_recall("30.8%", "The margin was about 31%.") == 1.0  # rounding
    assert figure_recall("0.66", "The ratio rounds to 1 [1].") == 0.0  # marker is no figure
    assert figure_recall("36.8% in FY2021 and 34.6% in FY2022", "It fell to 34.6%.") == 0.5
    assert figure_recall("Yes, it did.", "Yes.") is None


# -- ALCE citation quality with a fake judge (the arithmetic, not the judge, is under test) --


def judge_by_keywords(claim: str, passage: str) -> bool:
    """Supports when every word of the claim is somewhere in the passage."""
    return all(word in passage.split() for word in claim.split())


def test_citation_recall_and_precision_by_hand():
    sentences = [
        CitedSentence("a b", ["a b"]),  # supported, 1 citation: precise
        CitedSentence("a c", ["a", "c", "z"]),  # supported jointly; a and c needed, z not
        CitedSentence("a d", ["a d", "a d x"]),  # each alone supports: neither is needless
        CitedSentence("q", ["r"]),  # unsupported: its citation counts as imprecise
        CitedSentence("e", []),  # no citation: unsupported, adds no citation
    ]
    scores = citation_scores(sentences, judge_by_keywords)
    assert (scores.sentences, scores.supported) == (5, 3)
    assert scores.recall == pytest.approx(3 / 5)
    assert (scores.citations, scores.precise) == (7, 5)  # 1 + (a, c) + (both) of 7
    assert scores.precision == pytest.approx(5 / 7)


def test_supported_share_counts_sentences_of_the_answers_given():
    rows: list[Row] = [
        {"refused": False, "sentences": 3, "supported_sentences": 2},
        {"refused": False, "sentences": 1, "supported_sentences": 0},  # an unanswerable one
        {"refused": True},
    ]
    assert supported_share(rows) == 0.5
    assert supported_share([{"refused": True}]) is None


def test_citation_scores_treat_an_undecided_judge_as_no():
    undecided = citation_scores([CitedSentence("a", ["a"])], lambda claim, passage: None)
    assert (undecided.recall, undecided.precision) == (0.0, 0.0)
    empty = citation_scores([], judge_by_keywords)
    assert (empty.recall, empty.precision) == (0.0, 0.0)


# -- datasets ----------------------------------------------------------------------------------


@needs_data
def test_loaders_recognise_each_layout():
    scifact = load_dataset(SCIFACT, [])
    assert scifact.kind == BEIR and len(scifact.queries) == 300 and len(scifact.corpus) == 5183
    assert sum(len(docs) for docs in scifact.qrels.values()) == 339
    finance = load_dataset(FINANCEBENCH_DIR, [])
    assert finance.kind == FINANCEBENCH
    assert (len(finance.items), len(finance.documents)) == (56, 35)
    amazon = next(i for i in finance.items if i.answers == ["93.86"])
    # the data's 0-based pages 37 and 39
    assert amazon.evidence == [Evidence("AMAZON_2017_10K.pdf", p) for p in (38, 40)]
    questions = load_dataset(QUESTION_SET, [ROOT / "corpus", ROOT / "seeds"])
    assert questions.kind == QUESTIONS and len(questions.items) == 65
    assert sum(item.unanswerable for item in questions.items) == 14


def test_the_paraphrase_set_splits_into_dev_and_test_halves():
    paraphrase = load_dataset(PARAPHRASE_SET, [ROOT / "corpus", ROOT / "seeds"])
    assert isinstance(paraphrase, QASet) and len(paraphrase.items) >= 120
    dev, test = only_split(paraphrase, "dev"), only_split(paraphrase, "test")
    assert (dev.label, test.label) == ("paraphrase-dev", "paraphrase-test")
    assert len(dev.items) + len(test.items) == len(paraphrase.items)
    assert not {i.id for i in dev.items} & {i.id for i in test.items}
    for half in (dev, test):  # the same mix of unanswerable questions in each half
        share = sum(i.unanswerable for i in half.items) / len(half.items)
        assert 0.15 <= share <= 0.25


@needs_data
def test_a_split_must_be_dev_or_test(tmp_path: Path):
    questions = tmp_path / "set.jsonl"
    good = '{"id": "q1", "question": "?", "answers": [], "unanswerable": true, "split": "dev"}'
    questions.write_text(good + "\n")
    with pytest.raises(DatasetError, match='no questions with "split": "test"'):
        only_split(load_dataset(questions, []), "test")
    questions.write_text(good.replace('"dev"', '"train"') + "\n")
    with pytest.raises(DatasetError, match="line 1: field 'split' is 'train'"):
        load_dataset(questions, [])
    with pytest.raises(DatasetError, match="applies to question sets"):
        only_split(load_dataset(SCIFACT, []), "dev")


def test_unknown_or_broken_dataset_is_a_clear_error(tmp_path: Path):
    with pytest.raises(DatasetError, match="not a dataset this command knows"):
        load_dataset(tmp_path, [])
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_dataset(tmp_path / "missing", [])
    broken = tmp_path / "set.jsonl"
    broken.write_text('{"id": "q1", "question": "?"}\n')
    with pytest.raises(DatasetError, match="set.jsonl, line 1: no field 'unanswerable'"):
        load_dataset(broken, [])
    good = '{"id": "q1", "question": "?", "answers": [], "unanswerable": true}'
    broken.write_text(good + "\nnot json\n")
    with pytest.raises(DatasetError, match="set.jsonl, line 2: not JSON"):
        load_dataset(broken, [])


# -- end to end --------------------------------------------------------------------------------


def rag(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def _scifact_slice(folder: Path, queries: int = 5, distractors: int = 40) -> None:
    """A BEIR folder from real SciFact: the first test queries, their documents, distractors."""
    (folder / "qrels").mkdir(parents=True)
    lines = (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()
    qrels = [line.split("\t") for line in lines[1:]]
    chosen = list(dict.fromkeys(q for q, _, _ in qrels))[:queries]
    kept = [row for row in qrels if row[0] in chosen]
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join("\t".join(r) + "\n" for r in kept)
    )
    relevant = {doc for _, doc, _ in kept}
    corpus = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").read_text().splitlines()]
    docs = [d for d in corpus if d["_id"] in relevant] + [
        d for d in corpus if d["_id"] not in relevant
    ][:distractors]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    queries_all = [json.loads(q) for q in (SCIFACT / "queries.jsonl").read_text().splitlines()]
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps(q) + "\n" for q in queries_all if q["_id"] in chosen)
    )


@needs_data
@pytest.mark.slow
def test_eval_of_a_beir_slice_prints_a_table_and_writes_json(tmp_path: Path):
    dataset = tmp_path / "scifact-slice"
    _scifact_slice(dataset)
    out = tmp_path / "scifact.json"
    env = {"RAG_EVAL_CACHE_DIR": str(tmp_path / "cache")}
    run = rag("eval", str(dataset), "--limit", "4", "--out", str(out), env=env)
    assert run.returncode == 0, run.stderr
    assert "scifact-slice (beir): 4 questions, mode retrieval" in run.stdout
    for label in ("nDCG@10", "Recall@100", "MRR@10"):
        assert label in run.stdout
    assert "eval" in run.stderr  # the progress bar
    report = json.loads(out.read_text())
    assert report["questions"] == 4 and len(report["rows"]) == 4
    assert report["settings"]["model"] and report["settings"]["dense_weight"] is not None
    assert 0.5 <= report["metrics"]["ndcg@10"] <= 1.0  # 45 documents: retrieval must find most
    assert report["metrics"]["recall@100"] == 1.0  # every document is within 100
    cached = list((tmp_path / "cache").iterdir())
    assert len(cached) == 1 and cached[0].name.startswith("scifact-slice-")
    # retrieval only: no sentence of the corpus was embedded for quoting
    assert not (cached[0] / "sentence-vectors.sqlite").exists()

    again = rag("eval", str(dataset), "--limit", "4", "--out", str(out), "--quiet", env=env)
    assert again.returncode == 0, again.stderr
    assert "indexed" not in again.stdout  # the cached index is reused as it is


@pytest.mark.slow
@pytest.mark.model
def test_eval_of_the_question_set_answers_and_judges_citations(library_index: Path, tmp_path: Path):
    out = tmp_path / "questions.json"
    run = rag(
        "eval",
        str(QUESTION_SET),
        "--index",
        str(library_index),
        "--mode",
        "extractive",
        "--limit",
        "3",
        "--out",
        str(out),
        "--quiet",
    )
    assert run.returncode == 0, run.stderr
    assert "library (questions): 3 questions, mode extractive, judge local" in run.stdout
    report = json.loads(out.read_text())
    metrics = report["metrics"]
    for name in (
        "hit@1",
        "hit@3",
        "hit@5",
        "hit@10",
        "mrr@10",
        "answer@1",
        "answer@5",
        "correct",
        "citation_recall",
        "citation_precision",
    ):
        assert 0.0 <= metrics[name] <= 1.0, name
    assert metrics["supported_sentences"] == 1.0  # extractive sentences quote their passage
    for label in (
        "Hit@5",
        "answer in passages 1-5",
        "citation recall (ALCE)",
        "citation precision (ALCE)",
        "sentences verified supported",
    ):
        assert label in run.stdout
    assert metrics["hit@10"] == 1.0  # these three facts are found by retrieval
    rows = report["rows"]
    assert [row["id"] for row in rows] == ["q001", "q002", "q003"]
    assert rows[0]["correct"] is True and "7.6 metric tons" in rows[0]["answer"]
