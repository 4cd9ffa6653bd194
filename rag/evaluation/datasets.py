"""Evaluation datasets: loaders for BEIR retrieval sets, FinanceBench and the project's questions.

`load_dataset(path)` tells the layouts apart:
- a folder with `corpus.jsonl`, `queries.jsonl` and `qrels/` is a BEIR retrieval set (SciFact);
- a folder with `financebench_open_source.jsonl` and `pdfs/` is FinanceBench;
- a `.jsonl` file is a question set in the format of `benchmarks/questions/library.jsonl`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal, cast

from rag.errors import DatasetError
from rag.ingesting import TextDocument

BEIR: Final = "beir"
FINANCEBENCH: Final = "financebench"
QUESTIONS: Final = "questions"
FINANCEBENCH_QUESTIONS = "financebench_open_source.jsonl"


@dataclass(frozen=True)
class Query:
    """A query of a retrieval set."""

    id: str
    text: str


@dataclass(frozen=True)
class RetrievalSet:
    """A BEIR-layout set: a corpus of short documents, queries and graded relevance."""

    name: str
    corpus: list[TextDocument]
    queries: list[Query]
    qrels: dict[str, dict[str, int]]  # query id -> document id -> relevance (> 0)
    kind: Literal["beir"] = BEIR


@dataclass(frozen=True)
class Evidence:
    """Where the answer to a question is: a file and its 1-based page (None: the whole file)."""

    file: str
    page: int | None


@dataclass(frozen=True)
class QAItem:
    """A question with its gold answer(s) and evidence.

    For FinanceBench `answers` holds the one gold answer; for a project question set the
    accepted answer strings, any of which makes an answer correct.
    """

    id: str
    question: str
    answers: list[str]
    evidence: list[Evidence]
    unanswerable: bool = False
    quote: str | None = None
    split: str | None = None  # "dev" or "test" where the set is split (tune on dev only)


@dataclass(frozen=True)
class QASet:
    """Questions over documents that are ingested as files."""

    name: str
    kind: Literal["financebench", "questions"]
    documents: list[Path]  # files and folders to ingest
    items: list[QAItem] = field(default_factory=list)
    split: str | None = None  # the half of a split set these items are, if only one

    @property
    def label(self) -> str:
        """The set's name as reports show it: with its split, if only one half is taken."""
        return f"{self.name}-{self.split}" if self.split else self.name


Dataset = RetrievalSet | QASet


def _jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) for each line of a JSON-lines file; `where` names file and line."""
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise DatasetError(f"{path}, line {number}: not JSON ({error})") from error
                if not isinstance(record, dict):
                    raise DatasetError(f"{path}, line {number}: not a JSON object")
                yield f"{path}, line {number}", record
    except OSError as error:
        raise DatasetError(f"cannot read {path} ({error.strerror or error})") from error


def _field(record: dict[str, Any], name: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if name not in record:
        raise DatasetError(f"{where}: no field '{name}'")
    if not isinstance(record[name], kind):
        raise DatasetError(f"{where}: field '{name}' has the wrong type ({record[name]!r:.80})")
    return record[name]


def load_beir(folder: Path, split: str = "test") -> RetrievalSet:
    """A BEIR folder: `corpus.jsonl` (_id, title, text), `queries.jsonl` (_id, text) and
    `qrels/<split>.tsv` (query-id, corpus-id, score). Only queries with relevant documents
    in the split are kept; each document is indexed as its title and text."""
    corpus_file, queries_file = folder / "corpus.jsonl", folder / "queries.jsonl"
    corpus = [
        TextDocument(
            id=str(_field(r, "_id", where, (str, int))),
            title=str(r.get("title") or ""),
            text="\n\n".join(p for p in (r.get("title"), r.get("text")) if p),
        )
        for where, r in _jsonl(corpus_file)
    ]
    qrels = _read_qrels(folder / "qrels" / f"{split}.tsv")
    queries = [
        Query(id=str(_field(r, "_id", where, (str, int))), text=str(_field(r, "text", where, str)))
        for where, r in _jsonl(queries_file)
    ]
    queries = [query for query in queries if query.id in qrels]
    if not queries:
        raise DatasetError(
            f"{folder}: no query of {queries_file.name} has qrels in split '{split}'"
        )
    return RetrievalSet(name=folder.name, corpus=corpus, queries=queries, qrels=qrels)


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle, delimiter="\t"):
                if len(row) < 3 or row[0] == "query-id":
                    continue
                try:
                    score = int(row[2])
                except ValueError as error:
                    raise DatasetError(f"{path}: relevance '{row[2]}' is not an integer") from error
                if score > 0:
                    qrels.setdefault(row[0], {})[row[1]] = score
    except OSError as error:
        raise DatasetError(f"cannot read qrels {path} ({error.strerror or error})") from error
    return qrels


def _financebench_evidence(item: object, where: str) -> Evidence:
    if not isinstance(item, dict):
        raise DatasetError(f"{where}: an evidence item is not an object")
    page = cast(int, _field(item, "evidence_page_num", where, int))
    return Evidence(f"{_field(item, 'doc_name', where, str)}.pdf", page + 1)


def load_financebench(folder: Path) -> QASet:
    """FinanceBench's open-source questions whose PDF is in `pdfs/`; evidence pages, given
    zero-based, become 1-based."""
    questions_file = folder / FINANCEBENCH_QUESTIONS
    pdfs = {path.stem: path for path in sorted((folder / "pdfs").glob("*.pdf"))}
    items, documents = [], []
    for where, record in _jsonl(questions_file):
        doc_name = str(_field(record, "doc_name", where, str))
        if doc_name not in pdfs:
            continue
        evidence = _field(record, "evidence", where, list)
        items.append(
            QAItem(
                id=str(_field(record, "financebench_id", where, str)),
                question=str(_field(record, "question", where, str)),
                answers=[str(_field(record, "answer", where, str))],
                evidence=[_financebench_evidence(e, where) for e in evidence],
            )
        )
        if pdfs[doc_name] not in documents:
            documents.append(pdfs[doc_name])
    if not items:
        raise DatasetError(f"{folder}: no question of {questions_file.name} has its PDF in pdfs/")
    return QASet(name=folder.name, kind=FINANCEBENCH, documents=documents, items=items)


def load_questions(path: Path, library_paths: list[Path]) -> QASet:
    """A project question set (see benchmarks/questions/README.md) over `library_paths`, or
    over its own documents when a folder of the same name sits beside it
    (`multilingual.jsonl` and `multilingual/`)."""
    items = []
    for where, record in _jsonl(path):
        unanswerable = bool(_field(record, "unanswerable", where, bool))
        file = record.get("file")
        items.append(
            QAItem(
                id=str(_field(record, "id", where, str)),
                question=str(_field(record, "question", where, str)),
                answers=[str(a) for a in _field(record, "answers", where, list)],
                evidence=[] if unanswerable or not file else [Evidence(file, record.get("page"))],
                unanswerable=unanswerable,
                quote=record.get("quote"),
                split=_split(record, where),
            )
        )
    if not items:
        raise DatasetError(f"{path}: no questions")
    own_documents = path.with_suffix("")
    documents = [own_documents] if own_documents.is_dir() else list(library_paths)
    return QASet(name=path.stem, kind=QUESTIONS, documents=documents, items=items)


SPLITS = ("dev", "test")


def _split(record: dict[str, Any], where: str) -> str | None:
    split = record.get("split")
    if split is not None and split not in SPLITS:
        raise DatasetError(f"{where}: field 'split' is {split!r}, not one of {', '.join(SPLITS)}")
    return split


def only_split(dataset: Dataset, split: str) -> QASet:
    """The items of one half ("dev" or "test") of a split question set."""
    if not isinstance(dataset, QASet):
        raise DatasetError(f"{dataset.name}: --split applies to question sets, not BEIR folders")
    items = [item for item in dataset.items if item.split == split]
    if not items:
        raise DatasetError(f'{dataset.name}: no questions with "split": "{split}"')
    return replace(dataset, items=items, split=split)


def load_dataset(path: Path, library_paths: list[Path]) -> Dataset:
    """The dataset at `path`, its layout recognised from the files there."""
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_file() and path.suffix == ".jsonl":
        return load_questions(path, library_paths)
    if (path / "corpus.jsonl").is_file() and (path / "queries.jsonl").is_file():
        return load_beir(path)
    if (path / FINANCEBENCH_QUESTIONS).is_file():
        return load_financebench(path)
    raise DatasetError(
        f"{path}: not a dataset this command knows: expected a BEIR folder (corpus.jsonl, "
        f"queries.jsonl, qrels/), a FinanceBench folder ({FINANCEBENCH_QUESTIONS}, pdfs/) or "
        "a question-set .jsonl file"
    )
