"""The `rag` command: ingest, ask, brief, compare, disagree, timeline, status, remove."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.answering import (
    EXTRACTIVE,
    NOTHING_QUOTED,
    Evidence,
    Queued,
    TextPiece,
    declines,
    opening,
    withdrawn,
)
from rag.errors import RagError
from rag.evaluation.datasets import SPLITS
from rag.ingesting import IngestReport
from rag.library import Library
from rag.records import Answer
from rag.settings import PRESETS, Settings, load_settings, unknown_variables
from rag.store import is_postgres_url, open_store, store_location, without_password
from rag.uploads import describe_size


def _settings(args: argparse.Namespace, **more: object) -> Settings:
    """Settings with the command line's own: `--preset`, `--store`, else `--index` (which then
    wins over a `store` from RAG_STORE or rag.toml)."""
    store = args.store or (str(args.index) if args.index else None)
    return load_settings(index_dir=args.index, store=store, preset=args.preset, **more)


def _library(args: argparse.Namespace) -> Library:
    return Library(_settings(args))


def _location(settings: Settings) -> str:
    """The store's folder or URL (without its password), for a terminal."""
    location = store_location(settings)
    return (
        without_password(location) if is_postgres_url(location) else str(Path(location).resolve())
    )


def _progress_bar(desc: str = "ingest", unit: str = "file") -> Callable[[str, int, int], None]:
    from tqdm import tqdm

    bar: list[tqdm[Any]] = []

    def update(file: str, done: int, total: int) -> None:
        if not bar:
            bar.append(tqdm(total=total, unit=unit, desc=desc, file=sys.stderr))
        bar[0].n = done
        bar[0].set_postfix_str(file[-40:], refresh=True)
        if done == total:
            bar[0].close()

    return update


def _print_report(report: IngestReport) -> None:
    print(
        f"{report.files_seen} files: {len(report.indexed)} indexed, "
        f"{len(report.unchanged)} unchanged, {len(report.skipped)} skipped; "
        f"{report.pages} pages, {report.chunks} chunks in {report.seconds:.1f} s"
    )
    for file, reason in report.skipped:
        print(f"  skipped {file}: {reason}")
    for note in report.language_notes():
        print(f"  note: {note}")


def command_ingest(args: argparse.Namespace) -> int:
    library = _library(args)
    cancel = threading.Event()

    def stop(signum: int, frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nrag: stopping after this file (Ctrl+C again: at once)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, stop)
    try:
        paths = [Path(p) for p in args.paths] or None
        progress = None if args.quiet else _progress_bar()
        if args.ray:
            from rag.distributing import ingest_on_ray

            report = ingest_on_ray(
                library, paths or library.settings.library_paths, args.ray, progress
            )
        else:
            report = library.ingest(paths, progress, cancel)
    finally:
        signal.signal(signal.SIGINT, previous)
        library.close()
    _print_report(report)
    if report.cancelled:
        print("stopped: the files indexed so far stay; run it again to go on from there")
    nothing_read = report.skipped and not (report.indexed or report.unchanged)
    return 1 if nothing_read else 0


def command_watch(args: argparse.Namespace) -> int:
    from rag.watching import Watcher

    library = _library(args)
    settings = library.settings
    folders = [Path(p) for p in args.folders] or settings.watch_folders or settings.library_paths

    def say(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)

    watcher = Watcher(library, folders, say)
    try:
        watcher.start()
        say("ready (Ctrl+C stops)")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        say("stopped")
    finally:
        watcher.stop()
        library.close()
    return 0


VERDICT_MARKS = {"unsupported": "\u2717 unsupported", "uncited": "? uncited", "weak": "~ weak"}


def format_sources(answer: Answer) -> str:
    """The numbered sources of an answer and the sentences that failed the citation check."""
    lines = []
    flagged = [s for s in answer.sentences if s.verdict in VERDICT_MARKS]
    if flagged:
        lines += ["", "Citation check:"]
        lines += [f"  {VERDICT_MARKS[s.verdict]}: {s.text}" for s in flagged]
    if answer.removed_markers:
        lines.append(f"  {answer.removed_markers} citation(s) to passages not shown were removed")
    if answer.citations:
        lines += ["", "Sources:"]
    for citation in answer.citations:
        page = f", page {citation.page}" if citation.page is not None else ""
        lines.append(f"[{citation.n}] {citation.document} ({citation.file}{page})")
        lines.append(f"    \u201c{citation.quote}\u201d")
    return "\n".join(lines)


def format_answer(answer: Answer) -> str:
    """The answer and its numbered sources, for a terminal."""
    return answer.text + format_sources(answer)


def _mode(args: argparse.Namespace) -> str | None:
    return "extractive" if args.extractive else args.generator


def format_evidence(evidence: Evidence) -> str:
    """The evidence the model reads, shown before its answer: each passage's document and page,
    and the sentence most likely to answer, numbered as the answer will cite them; where none
    may, how the passage begins (`opening`)."""
    quotes = {quote.n: quote for quote in evidence.quotes}
    lines = ["Evidence:"]
    for n, passage in enumerate(evidence.passages, start=1):
        page = f", page {passage.page}" if passage.page is not None else ""
        lines.append(f"[{n}] {passage.title} ({passage.file}{page})")
        if n in quotes:
            lines.append(f"    \u201c{quotes[n].quote}\u201d")
        else:
            lines.append(f"    {NOTHING_QUOTED} {opening(passage)}")
    return "\n".join(lines)


# what the model writes is checked against its passages only once it has finished
DRAFT_HEADING = "Draft answer (checked when the model finishes):"
CHECKED_AS_DRAFTED = "Checked: the draft above is the answer."


def stream_to_terminal(
    library: Library,
    question: str,
    mode: str | None,
    documents: list[str] | None,
    history: list[tuple[str, str]],
) -> Answer:
    """Print the evidence, then the answer as it streams, then its checked form and sources;
    return it."""
    streamed: list[str] = []
    for event in library.ask_stream(question, mode=mode, documents=documents, history=history):
        if isinstance(event, Evidence):
            print(format_evidence(event), flush=True)
        elif isinstance(event, Queued):
            print(f"(waiting for the model: {event.ahead} question(s) ahead)", flush=True)
        elif isinstance(event, TextPiece):
            print(
                event.text if streamed else f"\n{DRAFT_HEADING}\n{event.text}", end="", flush=True
            )
            streamed.append(event.text)
        else:
            answer = event
    if not streamed:
        print(answer.text)
    else:
        print()
        said = "".join(streamed)
        if answer.mode == EXTRACTIVE:  # `quote_backs_generated`
            why = "gave no answer" if declines(said) else "answer did not pass the checks"
            print(f"\nThe model {why}; quoted from the library:\n" + answer.text)
        elif withdrawn(answer, said):  # `generated_answer_check`
            print("\nThe model's answer did not pass the checks:\n" + answer.text)
        elif said.strip() != answer.text.strip():
            print("\nChecked answer:\n" + answer.text)
        else:
            print(f"\n{CHECKED_AS_DRAFTED}")
    print(format_sources(answer))
    return answer


def command_ask(args: argparse.Namespace) -> int:
    library = _library(args)
    try:
        if args.json:
            answer = library.ask(args.question, mode=_mode(args), documents=args.docs)
            print(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
        else:
            stream_to_terminal(library, args.question, _mode(args), args.docs, [])
    finally:
        library.close()
    return 0


def command_chat(args: argparse.Namespace) -> int:
    library = _library(args)
    history: list[tuple[str, str]] = []
    print(
        "Ask about the library; follow-up questions use the conversation. "
        "'/new' starts over, an empty line or Ctrl-D quits."
    )
    try:
        while True:
            try:
                question = input("\n> ").strip()
            except EOFError:
                break
            if not question:
                break
            if question == "/new":
                history.clear()
                continue
            answer = stream_to_terminal(library, question, _mode(args), args.docs, history)
            history.append((question, answer.text))
    finally:
        library.close()
    return 0


def command_status(args: argparse.Namespace) -> int:
    library = _library(args)
    try:
        stats = library.status()
        documents = library.documents() if args.documents else []
    finally:
        library.close()
    print(f"store:     {stats.location}")
    print(f"documents: {stats.documents}")
    print(f"pages:     {stats.pages}")
    print(f"chunks:    {stats.chunks}")
    print(f"model:     {stats.model} ({stats.dimension}-d)")
    print(f"size:      {describe_size(stats.bytes_on_disk)}")
    for document in documents:
        print(
            f"  {document.id:>4}  {document.file}  {document.pages} pages, "
            f"{document.chunks} chunks, added {document.added_at}  {document.title}"
        )
    return 0


def command_remove(args: argparse.Namespace) -> int:
    library = _library(args)
    try:
        for reference in args.documents:
            document = library.remove(reference)
            print(f"removed {document.file} ({document.chunks} chunks): {document.title}")
    finally:
        library.close()
    return 0


def command_migrate(args: argparse.Namespace) -> int:
    from rag.store.migrating import migrate

    library = _library(args)
    try:
        source = library.store()
        target_settings = library.settings.model_copy(update={"store": args.to})
        if _location(library.settings) == _location(target_settings):
            raise RagError(f"--to {args.to}: that is where the library already is")
        target = open_store(target_settings, source.model, source.dimension, create=True)
        try:
            report = migrate(source, target, None if args.quiet else _progress_bar("migrate"))
        finally:
            target.close()
    finally:
        library.close()
    print(
        f"{_location(library.settings)} -> {_location(target_settings)}: "
        f"{report.copied} documents copied ({report.chunks} chunks), "
        f"{report.already_there} already there, in {report.seconds:.1f} s"
    )
    return 0


def command_check(args: argparse.Namespace) -> int:
    library = _library(args)
    try:
        report = library.check(repair=args.repair)
    finally:
        library.close()
    print(f"store:    {_location(library.settings)}")
    print(f"checked:  {', '.join(report.checked)}")
    for finding in report.findings:
        state = "repaired" if finding.repaired else "PROBLEM "
        print(f"{state} {finding.check}: {finding.problem}\n         -> {finding.action}")
    remaining = len(report.remaining)
    print("no problems remain" if report.ok else f"problems remaining: {remaining}")
    return 0 if report.ok else 1


def command_eval(args: argparse.Namespace) -> int:
    from rag.evaluation.datasets import QASet, load_dataset, only_split
    from rag.evaluation.reports import format_table, write_json
    from rag.evaluation.runners import (
        RETRIEVAL,
        choose_mode,
        eval_judge,
        eval_library,
        evaluate,
        ingest_dataset,
    )

    settings = load_settings(preset=args.preset)
    dataset = load_dataset(Path(args.dataset), settings.library_paths)
    if args.split:
        dataset = only_split(dataset, args.split)
    mode = choose_mode(dataset, args.mode)
    judge_name = args.judge or ("openai" if settings.openai_base_url else "local")
    judge = None
    if mode != RETRIEVAL and judge_name != "none":
        judge = eval_judge(settings, judge_name)
    library = eval_library(settings, dataset, args.index)
    try:
        ingested = ingest_dataset(
            library, dataset, None if args.quiet else _progress_bar("ingest", "document")
        )
        if ingested.indexed or ingested.skipped:
            _print_report(ingested)
        report = evaluate(
            library,
            dataset,
            mode=mode,
            judge=judge,
            judge_name=judge_name if judge else None,
            limit=args.limit,
            progress=None if args.quiet else _progress_bar("eval", "question"),
        )
    finally:
        library.close()
    label = dataset.label if isinstance(dataset, QASet) else dataset.name
    out = args.out or settings.eval_cache_dir / "results" / f"{label}-{mode}.json"
    write_json(report, out)
    print(format_table(report))
    print(f"\nper-question results: {out}")
    return 0


def command_serve(args: argparse.Namespace) -> int:
    from rag.errors import MissingIndexError

    library = Library(_settings(args, host=args.host, port=args.port))
    stop = threading.Event()

    def save_sentences() -> None:
        try:
            library.save_sentence_vectors(stop)
        except RagError as error:  # the app answers on; its answers embed their own sentences
            print(f"rag: sentence vectors not saved: {error}", file=sys.stderr)

    saving = threading.Thread(target=save_sentences, name="rag-sentences", daemon=True)
    try:
        try:
            library.status()
        except MissingIndexError:
            paths = ", ".join(str(path) for path in library.settings.library_paths)
            print(
                f"No index at {_location(library.settings)}: indexing {paths} first",
                file=sys.stderr,
            )
            # the sentences are embedded once the app answers (below), not before it starts
            _print_report(library.ingest(progress=_progress_bar(), embed_sentences=False))
        from ui.app import launch  # imported here: gradio takes seconds to import

        app = launch(library)
        print(f"rag: serving on {app.local_url} (Ctrl+C stops)", flush=True)
        if library.settings.embed_sentences_at_ingest:
            saving.start()  # those of a library indexed without them, while the app answers
        app.block_thread()
    finally:
        stop.set()
        if saving.is_alive():
            saving.join(timeout=30)
        library.close()
    return 0


def command_brief(args: argparse.Namespace) -> int:
    from rag.briefing import build_briefing
    from rag.exporting import FORMATS, export

    if args.out.suffix.lower() not in FORMATS:
        raise RagError(f"--out {args.out}: end the file name in {', '.join(FORMATS)}")
    library = _library(args)
    try:
        briefing = build_briefing(
            library,
            args.topic,
            args.sections,
            documents=args.docs,
            mode=_mode(args),
            progress=None if args.quiet else _progress_bar("brief", unit="step"),
            timeline=args.timeline,
        )
    finally:
        library.close()
    export(briefing, args.out)
    if briefing.covered:
        print(
            f"{args.out}: {len(briefing.sections)} sections, {len(briefing.references)} "
            f"references from {len(briefing.cited_documents)} documents"
        )
    else:
        print(f"{args.out}: not in the library (no passage is close enough to the topic)")
    return 0


def _check_out(out: Path | None, formats: tuple[str, ...]) -> None:
    """Refuse an --out file whose suffix names no format, before any work is done."""
    if out is not None and out.suffix.lower() not in formats:
        raise RagError(f"--out {out}: end the file name in {', '.join(formats)}")


def command_compare(args: argparse.Namespace) -> int:
    from rag.comparing import (
        FORMATS,
        Comparison,
        clean_questions,
        compare_cells,
        export_comparison,
        resolve_documents,
    )

    _check_out(args.out, FORMATS)
    questions = clean_questions(args.question)
    library = _library(args)
    try:
        documents = resolve_documents(library, args.docs)
        mode = _mode(args) or library.settings.generator
        cells = []
        total = len(documents) * len(questions)
        progress = None if args.quiet else _progress_bar("compare", "answer")
        if progress is not None:
            progress("", 0, total)  # the bar times the first answer too
        for cell in compare_cells(library, [str(d.id) for d in documents], questions, mode=mode):
            cells.append(cell)
            if progress is not None:
                progress(cell.document.file, len(cells), total)
            print(f"\n{cell.document.file}")
            print(f"Q: {cell.question}")
            print(f"A: {cell.text}" + (format_sources(cell.answer) if cell.found else ""))
    finally:
        library.close()
    if args.out is not None:
        export_comparison(Comparison(documents, questions, mode, cells), args.out)
        print(f"\n{args.out}: {len(documents)} documents \u00d7 {len(questions)} questions")
    return 0


def command_timeline(args: argparse.Namespace) -> int:
    from rag.exporting import FORMATS, event_line, export
    from rag.timeline import build_timeline

    _check_out(args.out, FORMATS)
    library = _library(args)
    try:
        timeline = build_timeline(
            library,
            args.topic,
            documents=args.docs,
            mode=_mode(args),
            progress=None if args.quiet else _progress_bar("timeline", unit="step"),
        )
    finally:
        library.close()
    if not timeline.covered:
        print("No dated event on this topic in the library.")
    for event in timeline.events:
        page = f", page {event.citation.page}" if event.citation.page is not None else ""
        print(f"{event_line(event)}\n    {event.citation.file}{page}")
    if args.out is not None:
        export(timeline, args.out)
        print(f"\n{args.out}: {len(timeline.events)} events")
    return 0


def command_disagree(args: argparse.Namespace) -> int:
    from rag.disagreeing import find_disagreements
    from rag.exporting import FORMATS, export, to_markdown

    _check_out(args.out, FORMATS)
    library = _library(args)
    try:
        result = find_disagreements(
            library,
            args.topic,
            documents=args.docs,
            mode=_mode(args),
            progress=None if args.quiet else _progress_bar("disagree", unit="pair"),
        )
    finally:
        library.close()
    print(to_markdown(result))
    if args.out is not None:
        export(result, args.out)
        print(f"{args.out}: {len(result.conflicts)} disagreements")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Cited answers from a library of reports, offline."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--index",
        metavar="PATH",
        type=Path,
        default=None,
        help="index folder (default: RAG_INDEX_DIR, rag.toml, or ./index)",
    )
    common.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=None,
        help="named defaults: fast (the default) or quality (EmbeddingGemma; see README)",
    )
    common.add_argument(
        "--store",
        metavar="FOLDER_OR_URL",
        default=None,
        help="where the library is stored: a folder, or postgresql://user@host/db "
        "(default: RAG_STORE, rag.toml, else --index)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", parents=[common], help="index files and folders")
    ingest.add_argument("paths", nargs="*", help="files or folders (default: corpus/ and seeds/)")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="load, split and embed on a Ray cluster (pip install 'rag[ray]'): its address, or "
        "'auto' for the one this machine runs, else a local instance on loopback",
    )
    ingest.set_defaults(run=command_ingest)

    watch = commands.add_parser(
        "watch", parents=[common], help="keep the index current with folders as they change"
    )
    watch.add_argument(
        "folders", nargs="*", help="folders (default: watch_folders, else corpus/ and seeds/)"
    )
    watch.set_defaults(run=command_watch)

    ask = commands.add_parser("ask", parents=[common], help="answer a question with citations")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.set_defaults(run=command_ask)

    chat = commands.add_parser("chat", parents=[common], help="a conversation with follow-ups")
    chat.set_defaults(run=command_chat)
    for sub in (ask, chat):
        sub.add_argument(
            "--generator",
            choices=["extractive", "local", "openai"],
            help="answerer (default: the generator setting, 'local')",
        )
        sub.add_argument("--extractive", action="store_true", help="same as --generator extractive")
        sub.add_argument("--docs", nargs="+", metavar="DOC", help="only search these documents")

    status = commands.add_parser("status", parents=[common], help="what the index holds")
    status.add_argument("--documents", action="store_true", help="list every document")
    status.set_defaults(run=command_status)

    remove = commands.add_parser("remove", parents=[common], help="delete documents")
    remove.add_argument("documents", nargs="+", metavar="DOC", help="id, file, path or title")
    remove.set_defaults(run=command_remove)

    check = commands.add_parser(
        "check",
        parents=[common],
        help="verify the index; --repair fixes what it can",
        description="Verifies SQLite, FTS5, stored vectors, the model, the FAISS file, files "
        "left by crashes, and the source files; exit status 1 while problems remain.",
    )
    check.add_argument(
        "--repair",
        action="store_true",
        help="rebuild the FAISS file and the FTS5 index from SQLite, remove files crashes left",
    )
    check.set_defaults(run=command_check)

    move = commands.add_parser(
        "migrate",
        parents=[common],
        help="copy the library to another store (folder or postgresql:// URL)",
        description="Copies documents, pages, chunks and vectors, with their ids, into another "
        "store without embedding again; an interrupted copy resumes where it stopped.",
    )
    move.add_argument("--to", required=True, metavar="FOLDER_OR_URL", help="the target store")
    move.add_argument("--quiet", action="store_true", help="no progress bar")
    move.set_defaults(run=command_migrate)

    evaluate = commands.add_parser(
        "eval",
        help="measure retrieval, answer and citation quality on a dataset",
        description="DATASET: a BEIR folder (e.g. ../shared/data/scifact), a FinanceBench "
        "folder, or a question-set .jsonl (benchmarks/questions/library.jsonl). Its documents "
        "are ingested (unchanged ones skipped) into the --index given, else into a cached "
        "index under eval_cache_dir; a copy of them at another path is a new document.",
    )
    evaluate.add_argument("dataset", metavar="DATASET")
    evaluate.add_argument(
        "--index",
        metavar="FOLDER_OR_URL",
        default=None,
        help="index folder or postgresql:// URL for the dataset's documents (default: a "
        "cached folder per dataset)",
    )
    evaluate.add_argument(
        "--preset", choices=list(PRESETS), default=None, help="named defaults: fast or quality"
    )
    evaluate.add_argument(
        "--mode",
        choices=["retrieval", "extractive", "local", "openai"],
        help="'retrieval' scores retrieval only; the others also answer with that generator "
        "(default: retrieval for BEIR sets, else extractive)",
    )
    evaluate.add_argument(
        "--judge",
        choices=["local", "openai", "none"],
        help="model that judges citation support and answer correctness "
        "(default: openai when openai_base_url is set, else local)",
    )
    evaluate.add_argument(
        "--split",
        choices=SPLITS,
        help="only this half of a split question set (tune on dev, report test)",
    )
    evaluate.add_argument("--limit", type=int, metavar="N", help="only the first N questions")
    evaluate.add_argument("--out", type=Path, metavar="FILE.json", help="where to write JSON")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bars")
    evaluate.set_defaults(run=command_eval)

    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="the web app: chat, sources, review, library",
    )
    serve.add_argument("--host", help="address to listen on (default: host setting, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: port setting, 7860)")
    serve.set_defaults(run=command_serve)

    brief = commands.add_parser(
        "brief",
        parents=[common],
        help="a cited briefing on a topic (.md, .docx or .pdf)",
    )
    brief.add_argument("topic", metavar="TOPIC")
    brief.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE",
        help="where to write it; the suffix picks the format: .md, .docx or .pdf",
    )
    brief.add_argument("--sections", type=int, default=5, metavar="N", help="sections (default 5)")
    brief.add_argument("--docs", nargs="+", metavar="DOC", help="only use these documents")
    brief.add_argument(
        "--generator",
        choices=["extractive", "local", "openai"],
        help="writer of questions and answers (default: the generator setting, 'local')",
    )
    brief.add_argument("--extractive", action="store_true", help="same as --generator extractive")
    brief.add_argument("--quiet", action="store_true", help="no progress bar")
    brief.add_argument(
        "--timeline", action="store_true", help="add a Timeline section of dated events"
    )
    brief.set_defaults(run=command_brief)

    comparison = commands.add_parser(
        "compare",
        parents=[common],
        help="answer questions from each document alone: a documents x questions table",
        description="Each question is answered from each document alone, with the same "
        "citation check as `rag ask`; a cell with no answer reads 'Not in this document.'",
    )
    comparison.add_argument(
        "--docs", nargs="+", default=[], metavar="DOC", help="the documents to compare"
    )
    comparison.add_argument(
        "--question",
        action="append",
        default=[],
        metavar="QUESTION",
        help="a question (repeat for more, at most 10)",
    )
    comparison.add_argument(
        "--out", type=Path, metavar="FILE", help="also write the table: .md, .csv or .xlsx"
    )
    comparison.add_argument("--quiet", action="store_true", help="no progress bar")
    timeline = commands.add_parser(
        "timeline",
        parents=[common],
        help="dated events on a topic across the library, in date order, cited",
        description="Sentences that state a date (day, month or year; 'last year' only where "
        "the document's own date is known) in passages on the topic, sorted by date.",
    )
    timeline.add_argument("topic", metavar="TOPIC")
    timeline.add_argument("--docs", nargs="+", metavar="DOC", help="only use these documents")
    timeline.add_argument(
        "--out", type=Path, metavar="FILE", help="also write it: .md, .docx or .pdf"
    )
    timeline.add_argument("--quiet", action="store_true", help="no progress bar")
    timeline.set_defaults(run=command_timeline)
    disagree = commands.add_parser(
        "disagree",
        parents=[common],
        help="statements of different documents on a topic that conflict, both cited",
        description="Compares statements of different documents about the same thing: figures "
        "of the same measure and years that differ are reported; figures for different years "
        "or in different units are not. With a chat model, opposite claims too, and the model "
        "must confirm each pair.",
    )
    disagree.add_argument("topic", metavar="TOPIC")
    disagree.add_argument("--docs", nargs="+", metavar="DOC", help="only compare these documents")
    disagree.add_argument(
        "--out", type=Path, metavar="FILE", help="also write it: .md, .docx or .pdf"
    )
    disagree.add_argument("--quiet", action="store_true", help="no progress bar")
    disagree.set_defaults(run=command_disagree)
    for sub in (comparison, timeline, disagree):
        sub.add_argument(
            "--generator",
            choices=["extractive", "local", "openai"],
            help="answerer (default: the generator setting, 'local')",
        )
        sub.add_argument("--extractive", action="store_true", help="same as --generator extractive")
    comparison.set_defaults(run=command_compare)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for variable in unknown_variables():
        print(f"rag: warning: {variable} names no setting; it is ignored", file=sys.stderr)
    try:
        status: int = args.run(args)
        return status
    except RagError as error:
        print(f"rag: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output closed it ("rag status | head -1")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the exit's flush writes nowhere
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
