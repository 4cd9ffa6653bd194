"""Running an evaluation through the real pipeline: ingest the dataset, retrieve, answer, score."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rag.answering import EXTRACTIVE, model_judge
from rag.citations import Judge, strip_markers
from rag.embedding import Embedder
from rag.errors import RagError
from rag.evaluation.datasets import FINANCEBENCH, Dataset, QAItem, QASet, RetrievalSet
from rag.evaluation.metrics import (
    CitedSentence,
    citation_scores,
    contains_accepted,
    figure_recall,
    hit_at_k,
    mean,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
)
from rag.evaluation.reports import Report
from rag.generation import chat_model
from rag.ingesting import IngestReport, Progress
from rag.library import Library
from rag.records import Answer, Passage
from rag.settings import Settings
from rag.store import is_postgres_url

RETRIEVAL = "retrieval"
Row = dict[str, Any]  # one question's figures, as written to the per-question JSON
HIT_KS = (1, 3, 5, 10)
ANSWER_HIT_KS = (1, 5)
RECALL_DEPTH = 100  # documents ranked for Recall@100
RECALL_CANDIDATES = 300  # chunks taken from each search method to rank RECALL_DEPTH documents


def index_folder(settings: Settings, dataset: Dataset, embedder: Embedder) -> Path:
    """The cached index of a dataset: one per dataset, embedding model, backend and chunking."""
    chunking = f"{settings.chunk_tokens}x{settings.chunk_overlap_tokens}"
    return settings.eval_cache_dir / f"{dataset.name}-{embedder.name}-{embedder.backend}-{chunking}"


def ingest_dataset(
    library: Library, dataset: Dataset, progress: Progress | None = None
) -> IngestReport:
    """Bring the dataset's documents into the library's index; unchanged ones cost nothing."""
    if isinstance(dataset, RetrievalSet):
        return library.ingest_texts(dataset.corpus, progress)
    return library.ingest(dataset.documents, progress)


def settings_summary(library: Library) -> Row:
    """The settings that decide the figures of a run, with the model and backend that ran."""
    keys = (
        "embedding_model",
        "chunk_tokens",
        "chunk_overlap_tokens",
        "candidates",
        "fusion",
        "rrf_k",
        "dense_weight",
        "lexical_weight",
        "top_k",
        "index_dir",
    )
    embedder = library.embedder
    return {
        "model": embedder.name,
        "backend": embedder.backend,
        **{key: getattr(library.settings, key) for key in keys},
    }


def document_ranking(passages: list[Passage]) -> list[str]:
    """Documents in the order of their best chunk (a document scores as its best chunk)."""
    return list(dict.fromkeys(passage.file for passage in passages))


def _ranked_documents(library: Library, candidates: int, query: str) -> list[str]:
    everything = 2 * candidates  # the fused list is never longer
    passages = library.retrieve(query, k=everything, candidates=candidates)
    return document_ranking(passages)


def evaluate_retrieval(
    library: Library,
    dataset: RetrievalSet,
    *,
    limit: int | None = None,
    progress: Progress | None = None,
) -> Report:
    """nDCG@10, Recall@100 and MRR@10 of the documents ranked for each query.

    nDCG@10 and MRR@10 use the settings as given; Recall@100 ranks deeper, taking at least
    RECALL_CANDIDATES chunks from each search method.
    """
    started = time.perf_counter()
    settings = library.settings
    deep = max(settings.candidates, RECALL_CANDIDATES)
    queries = dataset.queries[:limit]
    rows: list[Row] = []
    for done, query in enumerate(queries):
        if progress:
            progress(query.id, done, len(queries))
        relevance = dataset.qrels[query.id]
        ranking = _ranked_documents(library, settings.candidates, query.text)
        deep_ranking = _ranked_documents(library, deep, query.text)
        rows.append(
            {
                "id": query.id,
                "ndcg@10": ndcg_at_k(ranking, relevance, 10),
                "recall@100": recall_at_k(deep_ranking, set(relevance), RECALL_DEPTH),
                "mrr@10": mrr_at_k(ranking, set(relevance), 10),
                "relevant": sorted(relevance),
                "top10": ranking[:10],
            }
        )
    if progress:
        progress("", len(queries), len(queries))
    metrics = {
        name: mean([row[name] for row in rows]) for name in ("ndcg@10", "recall@100", "mrr@10")
    }
    return Report(
        dataset=dataset.name,
        kind=dataset.kind,
        mode=RETRIEVAL,
        judge=None,
        questions=len(rows),
        settings=settings_summary(library),
        metrics=metrics,
        seconds=time.perf_counter() - started,
        rows=rows,
    )


def page_ranking(passages: list[Passage]) -> list[tuple[str, int | None]]:
    """The (file, page) of each passage, in rank order; page None for files without pages."""
    return [(passage.file, passage.page) for passage in passages]


def evidence_pages(item: QAItem) -> set[tuple[str, int | None]]:
    return {(evidence.file, evidence.page) for evidence in item.evidence}


def cited_sentences(answer: Answer) -> list[CitedSentence]:
    """The answer's sentences, markers removed, each with the texts of the passages it cites."""
    texts = {passage.chunk_id: passage.text for passage in answer.passages}
    cited = {citation.n: texts[citation.chunk_id] for citation in answer.citations}
    return [
        CitedSentence(strip_markers(s.text).strip(), [cited[n] for n in s.citations if n in cited])
        for s in answer.sentences
    ]


def answer_hits(item: QAItem, passages: list[Passage]) -> Row:
    """answer@k: whether one of the first k passages holds an accepted answer string, the
    retrieval accuracy of open-domain QA (DPR's top-k accuracy). It counts a passage that
    states the answer on another page than the set's evidence (a summary that repeats the
    body), which Hit@k does not; and a short answer ("9") that the passage has for another
    reason, which Hit@k does not either."""
    return {
        f"answer@{k}": float(any(contains_accepted(p.text, item.answers) for p in passages[:k]))
        for k in ANSWER_HIT_KS
    }


def correctness_claim(question: str, gold: str) -> str:
    """The claim a judge checks against a generated answer to score it as correct."""
    return f'The answer to the question "{question}" is: {gold}'


def _answer_row(item: QAItem, answer: Answer, kind: str, judge: Judge | None) -> Row:
    text = strip_markers(answer.text)
    row: Row = {"answer": answer.text, "refused": answer.refused}
    if not answer.refused:
        row["sentences"] = len(answer.sentences)
        row["supported_sentences"] = sum(s.verdict == "supported" for s in answer.sentences)
    if item.unanswerable:
        row["correct"] = answer.refused
        return row
    if kind == FINANCEBENCH:
        recall = figure_recall(item.answers[0], "" if answer.refused else text)
        row["figure_recall"] = recall  # None: the gold answer states no figure
        row["correct"] = None if recall is None else recall == 1.0
        if judge is not None:
            claim = correctness_claim(item.question, item.answers[0])
            row["judge_correct"] = not answer.refused and judge(claim, text) is True
    else:
        row["correct"] = not answer.refused and contains_accepted(text, item.answers)
    if judge is not None and not answer.refused:
        scores = citation_scores(cited_sentences(answer), judge)
        row["citation_recall"], row["citation_precision"] = scores.recall, scores.precision
    return row


def _qa_metrics(rows: list[Row], mode: str, kind: str, judged: bool) -> dict[str, float | None]:
    """Means over the answerable questions (refusals over the unanswerable ones); a metric
    that applies to none of the rows is n/a (None)."""
    answerable = [row for row in rows if not row["unanswerable"]]
    ranked = [f"hit@{k}" for k in HIT_KS] + ["mrr@10"]
    ranked += [f"answer@{k}" for k in ANSWER_HIT_KS if kind != FINANCEBENCH]
    metrics: dict[str, float | None] = {
        name: mean([row[name] for row in answerable if name in row]) for name in ranked
    }
    if mode == RETRIEVAL:
        return metrics
    unanswerable = [row for row in rows if row["unanswerable"]]
    metrics["answered"] = mean([float(not row["refused"]) for row in answerable])
    metrics["correct"] = mean([_float(row["correct"]) for row in answerable])
    names = ["figure_recall"] if kind == FINANCEBENCH else []
    if judged:
        names += ["judge_correct"] if kind == FINANCEBENCH else []
        names += ["citation_recall", "citation_precision"]
    for name in names:
        metrics[name] = mean([_float(row.get(name)) for row in answerable])
    metrics["supported_sentences"] = supported_share(rows)
    if unanswerable:
        metrics["refused_unanswerable"] = mean([float(row["refused"]) for row in unanswerable])
    return metrics


def supported_share(rows: list[Row]) -> float | None:
    """Share of the sentences of all answers given (answerable questions or not) that the
    pipeline's own citation check verified as supported; None when no answer was given."""
    sentences = sum(int(row.get("sentences", 0)) for row in rows)
    supported = sum(int(row.get("supported_sentences", 0)) for row in rows)
    return supported / sentences if sentences else None


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def evaluate_qa(
    library: Library,
    dataset: QASet,
    *,
    mode: str,
    judge: Judge | None = None,
    judge_name: str | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> Report:
    """Evidence-page Hit@k and MRR@10 of retrieval, then (unless `mode` is "retrieval") the
    answer of `mode` scored for correctness and, with a judge, for ALCE citation quality."""
    started = time.perf_counter()
    items = dataset.items[:limit]
    rows: list[Row] = []
    for done, item in enumerate(items):
        if progress:
            progress(item.id, done, len(items))
        passages = library.retrieve(item.question, k=max(HIT_KS))
        row: Row = {
            "id": item.id,
            "question": item.question,
            "gold": item.answers,
            "unanswerable": item.unanswerable,
        }
        if item.evidence:
            ranking, relevant = page_ranking(passages), evidence_pages(item)
            row |= {f"hit@{k}": hit_at_k(ranking, relevant, k) for k in HIT_KS}
            row["mrr@10"] = mrr_at_k(ranking, relevant, 10)
            row["retrieved"] = ranking
            if dataset.kind != FINANCEBENCH:  # its answers are sentences, not strings to find
                row |= answer_hits(item, passages)
        if mode != RETRIEVAL:
            answer = library.ask(item.question, mode=mode)
            row |= _answer_row(item, answer, dataset.kind, judge)
        rows.append(row)
    if progress:
        progress("", len(items), len(items))
    return Report(
        dataset=dataset.label,
        kind=dataset.kind,
        mode=mode,
        judge=judge_name,
        questions=len(rows),
        settings=settings_summary(library),
        metrics=_qa_metrics(rows, mode, dataset.kind, judge is not None),
        seconds=time.perf_counter() - started,
        rows=rows,
    )


def choose_mode(dataset: Dataset, requested: str | None) -> str:
    """The mode to run: `requested`, else retrieval for BEIR sets and extractive for the rest."""
    if isinstance(dataset, RetrievalSet):
        if requested not in (None, RETRIEVAL):
            raise RagError(
                f"{dataset.name} is a retrieval set without answers: use --mode retrieval"
            )
        return RETRIEVAL
    return requested or EXTRACTIVE


def evaluate(
    library: Library,
    dataset: Dataset,
    *,
    mode: str | None = None,
    judge: Judge | None = None,
    judge_name: str | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> Report:
    """Score the library's pipeline on a dataset whose documents are already ingested."""
    mode = choose_mode(dataset, mode)
    if isinstance(dataset, RetrievalSet):
        return evaluate_retrieval(library, dataset, limit=limit, progress=progress)
    return evaluate_qa(
        library,
        dataset,
        mode=mode,
        judge=judge,
        judge_name=judge_name,
        limit=limit,
        progress=progress,
    )


def eval_judge(settings: Settings, generator: str) -> Judge:
    """The judge `rag ask` uses, asking the chat model of `generator` ("local" or "openai")."""
    return model_judge(chat_model(settings, generator))


def eval_library(settings: Settings, dataset: Dataset, index: str | None) -> Library:
    """A Library over `index` (a folder or a postgresql:// URL), or over the dataset's cached
    index under `eval_cache_dir`. A retrieval set's sentences are not embedded at ingest:
    nothing quotes them."""
    if isinstance(dataset, RetrievalSet):
        settings = settings.model_copy(update={"embed_sentences_at_ingest": False})
    if index is not None and is_postgres_url(index):
        return Library(settings.model_copy(update={"store": index}))
    folder = Path(index) if index else index_folder(settings, dataset, Library(settings).embedder)
    return Library(settings.model_copy(update={"store": None, "index_dir": folder}))
