"""The Gradio app: chat with clickable citations, a source viewer, a reviewer view, the library,
briefings, and work across documents (comparison tables, timelines, where sources disagree).

Only wiring: every operation is a call to `rag.library.Library` or another rag/ function, and
every piece of HTML comes from `ui.render`. `rag serve` starts it; `gr.api` exposes `ask`.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from rag.answering import Evidence, Queued, withdrawn
from rag.briefing import build_briefing
from rag.comparing import FORMATS as TABLE_FORMATS
from rag.comparing import (
    Cell,
    Comparison,
    clean_questions,
    compare_cells,
    export_comparison,
    resolve_documents,
)
from rag.disagreeing import find_disagreements
from rag.errors import RagError, SettingsError, SourceFileError
from rag.exporting import FORMATS, Exportable, export, to_markdown
from rag.library import Library
from rag.records import Answer, Citation, DocumentInfo
from rag.reviewing import write_review
from rag.timeline import build_timeline
from rag.uploads import SUPPORTED_KINDS
from rag.viewing import SourceView, copy_for_serving, drawn_page
from ui import render

if TYPE_CHECKING:
    from rag.watching import Watcher

STYLE = Path(__file__).with_name("style.css")
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"]
THEME = gr.themes.Soft(
    primary_hue="indigo",
    neutral_hue="slate",
    radius_size="lg",
    font=SYSTEM_FONTS,
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
).set(
    block_title_background_fill="transparent",
    block_title_padding="0",
    block_title_text_color="*neutral_500",
    block_title_text_size="*text_sm",
    block_label_background_fill="transparent",
)
# A click on any citation link (#cite-<turn>-<n>) in the page asks the server for that source.
CITATION_CLICKS = """
if (!window.ragCitationClicks) {
  window.ragCitationClicks = true;
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a[href^="#cite-"]');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const [, turn, n] = link.getAttribute('href').match(/^#cite-(\\d+)-(\\d+)$/) || [];
    if (turn !== undefined) trigger('click', {turn: Number(turn), n: Number(n)});
  }, true);
}
"""
SCROLL_TO_QUOTE = """
watch('value', () => {
  const passage = element.querySelector('.passage');
  const quote = element.querySelector('mark.quote');
  if (passage && quote) passage.scrollTop = quote.offsetTop - passage.clientHeight / 3;
});
"""
# A PDF page's box reaches down to the bottom of the window (at least 280 px tall), and the page
# is scrolled in it to show the quote's highlight a third of the way down; both again whenever
# the box is shown (in its tab) or the window changes size (fullscreen included).
SCROLL_TO_HIGHLIGHT = """
element.addEventListener('click', (event) => {
  if (!event.target.closest('.page-full')) return;
  if (document.fullscreenElement) document.exitFullscreen();
  else element.querySelector('.page-view').requestFullscreen();
});
const fit = () => {
  const box = element.querySelector('.page-scroll');
  const quote = element.querySelector('.page-quote');
  if (!box || !quote || !box.offsetParent) return;
  const top = box.getBoundingClientRect().top;
  const height = Math.min(innerHeight, Math.max(280, innerHeight - top - 16));
  box.style.maxHeight = document.fullscreenElement ? 'none' : `${height}px`;
  box.scrollTop += quote.getBoundingClientRect().top - top - box.clientHeight / 3;
};
const follow = () => {
  const box = element.querySelector('.page-scroll');
  if (box) new ResizeObserver(fit).observe(box);
};
addEventListener('resize', fit);
follow();  // the component is created, with its first page, when first shown
watch('value', follow);
"""
EMPTY_SOURCE = "Click a numbered citation in an answer to open its source here."
EMPTY_REVIEW = "Ask a question: each sentence of the answer, its citations and verdicts show here."
EMPTY_QUESTION = "Type a question first."
SCOPE_REMOVED = (
    "A document chosen in *Search in* has been removed from the library. The list is "
    "refreshed: choose again, or leave it empty to search every document."
)
PICKED_REMOVED = (
    "A document chosen in \u201c{picker}\u201d has been removed from the library. Reload the page to "
    "list the library as it is now, then choose again."
)
WATCH_LOG_LINES = 200
Turn = tuple[str, Answer]  # the question as typed, and its answer


class App:
    """The handlers of one app: a Library, and a private folder for the files it serves."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.files = Path(tempfile.mkdtemp(prefix="rag-app-"))
        atexit.register(shutil.rmtree, self.files, ignore_errors=True)
        self.watch_lines: deque[str] = deque(maxlen=WATCH_LOG_LINES)
        self.cancel_ingest = threading.Event()
        self.cancel_across = threading.Event()

    def cancel(self) -> str:
        """Stop the indexing of uploads after the file being read (what was stored stays)."""
        self.cancel_ingest.set()
        return "Cancelling after the file being indexed…"

    def watch(self) -> Watcher:
        """Keep the library current with the `watch_folders` setting, in the background."""
        from rag.watching import Watcher

        watcher = Watcher(self.library, self.library.settings.watch_folders, self.note_change)
        threading.Thread(target=watcher.start, name="watch-start", daemon=True).start()
        return watcher

    def note_change(self, line: str) -> None:
        """A line of the folder watcher: into the server's log and the Library tab."""
        stamped = f"{time.strftime('%H:%M:%S')} {line}"
        print(f"rag: watch: {stamped}", file=sys.stderr, flush=True)
        self.watch_lines.append(stamped)

    def watch_log(self) -> str:
        """The latest lines of the folder watcher, newest last."""
        return "\n".join(self.watch_lines)

    # -- chat --------------------------------------------------------------------------------

    def mode_label(self, mode: str) -> str:
        return render.generator_label(mode, self.library.settings)

    def respond(
        self,
        question: str,
        messages: list[dict[str, Any]],
        turns: list[Turn],
        mode: str,
        documents: list[str] | None,
    ) -> Iterator[tuple[Any, ...]]:
        """Show the evidence at once (in the chat and the Source pane), then stream the answer
        into the chat; when done, bind its citations, review it and open its citation [1].
        The last output is the note under the question box: why nothing was asked."""
        question = question.strip()
        keep = (gr.skip(),) * 4
        no_source = (gr.skip(),) * 3
        unasked = (gr.skip(),) * 3
        if not question:
            yield *unasked, *keep, *no_source, gr.update(value=EMPTY_QUESTION, visible=True)
            return
        if documents and self.removed(documents):
            yield *unasked, *keep, *no_source, gr.update(value=SCOPE_REMOVED, visible=True)
            return
        turn = len(turns)
        messages = [
            *messages,
            {"role": "user", "content": render.question_html(question)},
            {"role": "assistant", "content": render.streaming_html("")},
        ]
        yield "", messages, turns, *keep, *no_source, gr.update(value="", visible=False)
        evidence: Evidence | None = None
        text = ""
        history = [(asked, answer.text) for asked, answer in turns]
        try:
            for event in self.library.ask_stream(
                question, mode=mode, documents=documents or None, history=history
            ):
                if isinstance(event, Answer):
                    answer = event
                    break
                source = no_source
                if isinstance(event, Evidence):
                    evidence = event
                    status = "Reading the passages…"
                    source = self.evidence_source(event)
                elif isinstance(event, Queued):
                    status = f"Waiting for the model: {event.ahead} question(s) ahead"
                else:
                    text += event.text
                content = (
                    render.evidence_html(evidence, status, text)
                    if evidence is not None
                    else render.streaming_html(text)
                )
                messages[-1] = {"role": "assistant", "content": content}
                yield gr.skip(), messages, turns, *keep, *source, gr.skip()
        except RagError as error:
            messages[-1] = {"role": "assistant", "content": render.notice_html(str(error), "error")}
            yield gr.skip(), messages, turns, *keep, *no_source, gr.skip()
            return
        turns = [*turns, (question, answer)]
        asked = mode or self.library.settings.generator
        label = render.answer_label(
            answer.mode, asked, self.library.settings, withdrawn(answer, text)
        )
        content = render.answer_html(answer, turn, label)
        messages[-1] = {"role": "assistant", "content": content}
        yield gr.skip(), messages, turns, *self.review(turn, turns), *no_source, gr.skip()
        yield *unasked, *keep, *self.answer_source(answer), gr.skip()

    def removed(self, documents: list[str]) -> bool:
        """Whether a document chosen (by id) has left the library since the page listed it."""
        return not set(documents) <= {str(document.id) for document in self.library.documents()}

    def removed_note(self, documents: list[str] | None, picker: str) -> str | None:
        """What to tell a user whose chosen documents include one removed since the page
        listed it (the picker labelled `picker` is not refreshed by this tab's action)."""
        return PICKED_REMOVED.format(picker=picker) if self.removed(documents or []) else None

    def evidence_source(self, evidence: Evidence) -> tuple[Any, ...]:
        """The Source pane showing the best evidence quote in its page (no page image: it
        would take longer than the evidence is worth showing fast)."""
        if not evidence.quotes:
            return (gr.skip(),) * 3
        try:
            card = render.source_html(self.library.source_view(evidence.quotes[0]))
        except RagError as error:
            card = render.notice_html(str(error), "error")
        hidden = gr.update(value=None, visible=False)
        return card, hidden, hidden

    def new_conversation(self) -> tuple[Any, ...]:
        return (
            [],
            [],
            render.notice_html(EMPTY_SOURCE),
            gr.update(value=None, visible=False),
            gr.update(value=None, visible=False),
            *self.review(None, []),
        )

    # -- source viewer -------------------------------------------------------------------------

    def show_citation(self, turns: list[Turn], event: gr.EventData) -> tuple[Any, ...]:
        """Open the source of citation `event.n` of answer `event.turn`."""
        hidden = gr.update(value=None, visible=False)
        source_tab = gr.Tabs(selected="source")
        try:
            _, answer = turns[int(event.turn)]
            citation = next(c for c in answer.citations if c.n == int(event.n))
        except (IndexError, StopIteration, AttributeError, ValueError):
            notice = render.notice_html(
                "This citation belongs to an earlier conversation.", "error"
            )
            return notice, hidden, hidden, source_tab
        return (*self.citation_source(citation), source_tab)

    def answer_source(self, answer: Answer) -> tuple[Any, ...]:
        """The Source pane once an answer is final, in place of the evidence shown while it was
        written (numbered as the passages the model read, not as the answer's citations): the
        answer's citation [1], or the hint to click a citation when it cites none."""
        if not answer.citations:
            hidden = gr.update(value=None, visible=False)
            return render.notice_html(EMPTY_SOURCE), hidden, hidden
        return self.citation_source(answer.citations[0])

    def citation_source(self, citation: Citation) -> tuple[Any, ...]:
        """The Source pane for a citation: its card, its page image (a PDF's) and its original."""
        hidden = gr.update(value=None, visible=False)
        try:
            view = self.library.source_view(citation)
        except RagError as error:
            return render.notice_html(str(error), "error"), hidden, hidden
        try:
            served = copy_for_serving(view.document, self.files / "originals")
            page = self.page_view(served, view) if view.is_pdf else None
        except SourceFileError as error:
            card = render.source_html(view) + render.notice_html(str(error), "error")
            return card, hidden, hidden
        download = gr.update(value=str(served), visible=True, label=f"Download {served.name}")
        card = render.source_html(view, above_page=page is not None)
        return card, gr.update(value=page, visible=page is not None), download

    def page_view(self, path: Path, view: SourceView) -> str:
        """The PDF page of a citation with its quote highlighted, the highlight's box marked
        for the page to be scrolled to it."""
        span = (view.citation.page_start, view.citation.page_end)
        page = drawn_page(path, view.page, span, ocr=self.library.ocr())
        return render.page_html(page.image, f"Page {view.page.number}", page.highlight)

    # -- reviewer view -------------------------------------------------------------------------

    def review(self, turn: int | None, turns: list[Turn]) -> tuple[Any, ...]:
        """The review table of answer `turn`, the picker of answers, and the two export files."""
        choices = [(f"{i + 1}. {render.plain_question(q)}", i) for i, (q, _) in enumerate(turns)]
        if turn is None or not 0 <= turn < len(turns):
            hidden = gr.update(value=None, visible=False)
            picker = gr.update(choices=choices, value=None)
            return render.notice_html(EMPTY_REVIEW), picker, hidden, hidden
        answer = turns[turn][1]
        folder = self.files / "reviews" / uuid.uuid4().hex
        return (
            render.review_html(answer, turn),
            gr.update(choices=choices, value=turn),
            gr.update(value=str(write_review(answer, folder, "md")), visible=True),
            gr.update(value=str(write_review(answer, folder, "csv")), visible=True),
        )

    # -- library -------------------------------------------------------------------------------

    def library_view(
        self, scope: list[str] | None, brief_scope: list[str] | None, message: str = ""
    ) -> tuple[Any, ...]:
        """Stats, table, the document pickers of the chat, the library and the briefing (keeping
        the chosen documents that remain) and a message."""
        stats, table, chat, remove, brief, *_ = self.library_now(
            scope, None, brief_scope, None, None
        )
        return stats, table, chat, remove, brief, message

    def library_now(
        self,
        scope: list[str] | None,
        to_remove: str | None,
        brief_scope: list[str] | None,
        compare_scope: list[str] | None,
        across_scope: list[str] | None,
    ) -> tuple[Any, ...]:
        """The library as it is now, for a page (re)loaded or after a question or a removal:
        the header counts, the table and every document picker (keeping the chosen documents
        that remain), so that what another user or `rag` added or removed shows."""
        documents = self.library.documents()
        choices = render.document_choices(documents)
        still = to_remove in {value for _, value in choices}
        return (
            render.stats_html(self.library.status()),
            render.library_rows(documents),
            keep_chosen(choices, scope),
            gr.update(choices=choices, value=to_remove if still else None),
            keep_chosen(choices, brief_scope),
            keep_chosen(choices, compare_scope),
            keep_chosen(choices, across_scope),
        )

    def upload(
        self,
        files: list[str] | None,
        scope: list[str] | None,
        brief_scope: list[str] | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio injects progress through this default),
    ) -> tuple[Any, ...]:
        """Save and index uploaded files, reporting what was added and what was refused."""
        if not files:
            return (gr.skip(),) * 6 + (None,)

        started = time.monotonic()

        def step(file: str, done: int, total: int) -> None:
            left = (time.monotonic() - started) / done * (total - done) if done else None
            estimate = f" (about {left:.0f} s left)" if left is not None else ""
            progress((done, total), desc=f"Indexing {file}{estimate}" if file else "Saving")

        self.cancel_ingest.clear()
        uploads = [(Path(f), Path(f).name) for f in files]
        report = self.library.add_uploads(uploads, step, self.cancel_ingest)
        lines = [f"Added **{file}**." for file in report.indexed]
        if report.cancelled:
            lines.insert(0, "Cancelled: the files added so far stay; upload the others again.")
        lines += [f"**{file}** is already in the library." for file in report.unchanged]
        lines += [f"Could not add **{file}**: {reason}" for file, reason in report.skipped]
        lines += report.language_notes()
        return (*self.library_view(scope, brief_scope, "\n\n".join(lines)), None)

    def ask_removal(self, document_id: str | None) -> tuple[Any, ...]:
        """The first step of removing a document: the library message, the question naming it
        and what becomes of its file (shown with Confirm and Cancel), and the document held
        for Confirm."""
        closed = (gr.update(visible=False), "", None)
        if not document_id:
            return "Choose a document to remove.", *closed
        try:
            document = self.library.document(int(document_id))
        except RagError:
            return "That document is no longer in the library: the lists are refreshed.", *closed
        question = f"Remove **{document.title}** ({document.file}) from the library? "
        question += self.file_fate(document)
        return "", gr.update(visible=True), question, document_id

    def file_fate(self, document: DocumentInfo) -> str:
        """What removing a document does to its file (`Library.discard` deletes uploads)."""
        if Path(document.source).parent == self.library.upload_folder().resolve():
            return "Its uploaded file is deleted too."
        return "Its file stays on disk."

    def close_removal(self) -> tuple[Any, ...]:
        """Cancel a removal asked for: nothing is removed."""
        return "", gr.update(visible=False), None

    def confirm_removal(
        self, document_id: str | None, scope: list[str] | None, brief_scope: list[str] | None
    ) -> tuple[Any, ...]:
        """The second step of removing a document: `remove`, then close the question."""
        return (*self.remove(document_id, scope, brief_scope), gr.update(visible=False), None)

    def remove(
        self, document_id: str | None, scope: list[str] | None, brief_scope: list[str] | None = None
    ) -> tuple[Any, ...]:
        if not document_id:
            return self.library_view(scope, brief_scope, "Choose a document to remove.")
        try:
            document = self.library.discard(document_id)
        except RagError as error:
            return self.library_view(scope, brief_scope, f"Could not remove it: {error}")
        removed = f"Removed **{document.file}** ({document.title})."
        return self.library_view(scope, brief_scope, removed)

    # -- briefing ------------------------------------------------------------------------------

    def brief(
        self,
        topic: str,
        sections: float,
        mode: str,
        documents: list[str] | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio injects progress through this default),
    ) -> tuple[Any, ...]:
        """Write a cited briefing on a topic: its Markdown preview and .md/.docx/.pdf downloads."""
        hidden = (gr.update(value=None, visible=False),) * 3
        if not topic.strip():
            return ("Type a topic for the briefing.", *hidden)
        if note := self.removed_note(documents, "From"):
            return (note, *hidden)

        def step(label: str, done: int, total: int) -> None:
            progress((done, total), desc="Planning" if done == 0 else f"Writing: {label}")

        try:
            briefing = build_briefing(
                self.library,
                topic,
                int(sections),
                documents=documents or None,
                mode=mode,
                progress=step,
            )
            folder = self.files / uuid.uuid4().hex
            folder.mkdir()
            stem = "-".join(briefing.topic.lower().split())[:60] or "briefing"
            paths = [folder / f"{stem}-briefing{suffix}" for suffix in FORMATS]
            for path in paths:
                export(briefing, path)
        except RagError as error:
            return (f"**Could not write the briefing:** {error}", *hidden)
        downloads = (gr.update(value=str(path), visible=True) for path in paths)
        return (to_markdown(briefing), *downloads)

    # -- across documents ----------------------------------------------------------------------

    def stop_across(self) -> str:
        """Stop the comparison, timeline or search for disagreements after the step under way."""
        self.cancel_across.set()
        return "Cancelling after the step under way\u2026"

    def across_pickers(
        self, compare_scope: list[str] | None, across_scope: list[str] | None
    ) -> tuple[Any, Any]:
        """The document pickers of the Compare and Timeline tabs after an upload or a removal
        (keeping the chosen documents that remain)."""
        choices = render.document_choices(self.library.documents())
        return keep_chosen(choices, compare_scope), keep_chosen(choices, across_scope)

    def _folder(self) -> Path:
        folder = self.files / uuid.uuid4().hex
        folder.mkdir()
        return folder

    def compare(
        self, documents: list[str] | None, questions: str, mode: str
    ) -> Iterator[tuple[Any, ...]]:
        """Answer each question (one a line) from each document alone, streaming the table
        cell by cell; when done or cancelled, offer it as Markdown, CSV and Excel."""
        hidden = (gr.update(value=None, visible=False),) * len(TABLE_FORMATS)
        if note := self.removed_note(documents, "Documents to compare"):
            yield render.notice_html(note, "error"), "", *hidden
            return
        self.cancel_across.clear()
        try:
            chosen = resolve_documents(self.library, documents or [])
            asked = clean_questions((questions or "").splitlines())
        except RagError as error:
            yield render.notice_html(str(error), "error"), "", *hidden
            return
        total = len(chosen) * len(asked)
        cells: list[Cell] = []

        def table() -> str:
            return render.comparison_html(Comparison(chosen, asked, mode, cells))

        yield table(), f"Answering 0 of {total} cells\u2026", *hidden
        try:
            for cell in compare_cells(
                self.library,
                [str(d.id) for d in chosen],
                asked,
                mode=mode,
                cancel=self.cancel_across,
            ):
                cells.append(cell)
                yield table(), f"Answered {len(cells)} of {total} cells\u2026", *hidden
        except RagError as error:
            yield table(), f"**Stopped:** {error}", *hidden
            return
        comparison = Comparison(chosen, asked, mode, cells)
        folder = self._folder()
        paths = [folder / f"comparison{suffix}" for suffix in TABLE_FORMATS]
        for path in paths:
            export_comparison(comparison, path)
        status = (
            f"Done: {total} cells."
            if comparison.complete
            else f"Cancelled: {len(cells)} of {total} cells answered."
        )
        yield table(), status, *(gr.update(value=str(path), visible=True) for path in paths)

    def timeline(
        self,
        topic: str,
        documents: list[str] | None,
        mode: str,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio injects progress through this default),
    ) -> tuple[Any, ...]:
        """A cited timeline of the topic: its Markdown preview and .md/.docx/.pdf downloads."""
        hidden = (gr.update(value=None, visible=False),) * 3
        if not topic.strip():
            return ("Type a topic for the timeline.", *hidden)
        if note := self.removed_note(documents, "From"):
            return (note, *hidden)
        self.cancel_across.clear()

        def step(label: str, done: int, total: int) -> None:
            progress((done, total), desc="Finding dated events" if done < 2 else f"Writing {label}")

        try:
            timeline = build_timeline(
                self.library,
                topic,
                documents=documents or None,
                mode=mode,
                progress=step,
                cancel=self.cancel_across,
            )
        except RagError as error:
            return (f"**Could not make the timeline:** {error}", *hidden)
        return self._across_files(timeline, "timeline")

    def disagree(
        self,
        topic: str,
        documents: list[str] | None,
        mode: str,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio injects progress through this default),
    ) -> tuple[Any, ...]:
        """Where the documents disagree on the topic: the pairs found, to read and to download
        as .md/.docx/.pdf."""
        hidden = (gr.update(value=None, visible=False),) * 3
        if not topic.strip():
            return ("Type a topic to look for disagreements on.", *hidden)
        if note := self.removed_note(documents, "From"):
            return (note, *hidden)
        self.cancel_across.clear()

        def step(label: str, done: int, total: int) -> None:
            progress((done, total), desc="Comparing statements" if label == "done" else label)

        try:
            result = find_disagreements(
                self.library,
                topic,
                documents=documents or None,
                mode=mode,
                progress=step,
                cancel=self.cancel_across,
            )
        except RagError as error:
            return (f"**Could not compare the documents:** {error}", *hidden)
        return self._across_files(result, "disagreements")

    def _across_files(self, document: Exportable, stem: str) -> tuple[Any, ...]:
        """A timeline's or disagreement report's Markdown preview and its three downloads."""
        folder = self._folder()
        paths = [folder / f"{stem}{suffix}" for suffix in FORMATS]
        try:
            for path in paths:
                export(document, path)
        except RagError as error:
            hidden = (gr.update(value=None, visible=False),) * len(paths)
            return (f"**Could not write the files:** {error}", *hidden)
        return (to_markdown(document), *(gr.update(value=str(p), visible=True) for p in paths))

    # -- API -------------------------------------------------------------------------------------

    def ask(self, question: str, generator: str | None = None) -> dict[str, Any]:
        """Answer a question from the library: the JSON object that `rag ask --json` prints.
        `generator` is "extractive", "local" or "openai" (default: the `generator` setting)."""
        try:
            return self.library.ask(question, mode=generator or None).to_json()
        except RagError as error:
            raise gr.Error(str(error)) from error


def keep_chosen(choices: list[tuple[str, str]], chosen: list[str] | None) -> Any:
    """A multiselect document picker with these (label, id) choices, keeping the chosen
    documents that remain among them."""
    remaining = {value for _, value in choices}
    return gr.update(choices=choices, value=[d for d in chosen or [] if d in remaining])


def build_app(library: Library) -> gr.Blocks:
    """The app's page and events, bound to `library`."""
    app = App(library)
    settings = library.settings
    modes = library.generators()
    documents = library.documents()
    private: dict[str, Any] = {"api_visibility": "private"}
    # analytics off: no telemetry or version check calls to api.gradio.app (the app is offline)
    blocks = gr.Blocks(title="Report library", fill_width=True, analytics_enabled=False)
    with blocks:
        with gr.Row(elem_id="top"):
            gr.HTML(render.BRAND, js_on_load=None)
            stats = gr.HTML(render.stats_html(library.status()), elem_id="stats", js_on_load=None)
        bridge = gr.HTML("", js_on_load=CITATION_CLICKS, elem_id="citation-bridge")
        turns = gr.State([])
        with gr.Tabs(elem_id="main-tabs"):
            with gr.Tab("Chat", id="chat"), gr.Row(equal_height=False):
                with gr.Column(scale=5, elem_id="chat-column"):
                    with gr.Row(elem_id="controls", equal_height=True):
                        scope = gr.Dropdown(
                            render.document_choices(documents),
                            value=[],
                            multiselect=True,
                            label="Search in (all when empty)",
                            scale=2,
                            min_width=210,  # its label on one line
                            elem_id="scope",
                        )
                        generator = gr.Dropdown(
                            [(app.mode_label(mode), mode) for mode in modes],
                            value=settings.generator if settings.generator in modes else modes[0],
                            label="Answer with",
                            scale=2,
                            min_width=render.picker_width(app.mode_label(mode) for mode in modes),
                            elem_id="generator",
                        )
                        new = gr.Button(
                            "New conversation",
                            size="sm",
                            variant="secondary",
                            scale=0,
                            min_width=140,
                            elem_id="new-conversation",
                        )
                    chatbot = gr.Chatbot(
                        elem_id="chat",
                        height="56vh",
                        show_label=False,
                        layout="bubble",
                        buttons=["copy"],
                        feedback_options=None,
                        autoscroll=True,
                        placeholder=(
                            "<div class='empty-chat'><div class='big'>Ask the library</div>"
                            "<div>Every sentence of an answer cites the passage it comes "
                            "from. Click a number to see it on the page.</div></div>"
                        ),
                    )
                    with gr.Row(elem_id="composer"):
                        question = gr.Textbox(
                            placeholder="Ask a question about the reports…",
                            show_label=False,
                            lines=1,
                            max_lines=6,
                            scale=8,
                            autofocus=True,
                            elem_id="question",
                            container=False,
                        )
                        send = gr.Button(
                            "Ask",
                            variant="primary",
                            scale=1,
                            elem_id="send",
                            min_width=80,
                        )
                    chat_note = gr.Markdown(visible=False, elem_id="chat-note")
                with gr.Column(scale=5, elem_id="side"):
                    with gr.Tabs(selected="source", elem_id="side-tabs") as side_tabs:
                        with gr.Tab("Source", id="source"):
                            source = gr.HTML(
                                render.notice_html(EMPTY_SOURCE),
                                elem_id="source",
                                js_on_load=SCROLL_TO_QUOTE,
                            )
                            page_image = gr.HTML(
                                visible=False,
                                elem_id="page-image",
                                js_on_load=SCROLL_TO_HIGHLIGHT,
                            )
                            original = gr.DownloadButton(
                                "Download original",
                                visible=False,
                                size="sm",
                                elem_id="original",
                            )
                        with gr.Tab("Review", id="review"):
                            review_pick = gr.Dropdown([], label="Answer", elem_id="review-pick")
                            review = gr.HTML(
                                render.notice_html(EMPTY_REVIEW),
                                elem_id="review",
                                js_on_load=None,
                            )
                            with gr.Row():
                                export_md = gr.DownloadButton(
                                    "Export Markdown",
                                    visible=False,
                                    size="sm",
                                    elem_id="export-md",
                                )
                                export_csv = gr.DownloadButton(
                                    "Export CSV",
                                    visible=False,
                                    size="sm",
                                    elem_id="export-csv",
                                )
            with gr.Tab("Library", id="library"), gr.Row(equal_height=False):
                with gr.Column(scale=7):
                    table = gr.Dataframe(
                        render.library_rows(documents),
                        headers=render.LIBRARY_COLUMNS,
                        interactive=False,
                        wrap=True,
                        elem_id="documents",
                        show_label=False,
                        max_height=640,
                        column_widths=["36%", "20%", "8%", "8%", "11%", "17%"],
                    )
                with gr.Column(scale=3, elem_id="library-side"):
                    uploads = gr.File(
                        label="Add documents",
                        file_count="multiple",
                        # no client-side type filter: its refusal is a toast that fades;
                        # the library's names the file and the types it reads, and stays
                        type="filepath",
                        elem_id="upload",
                        height=150,
                    )
                    gr.Markdown(
                        f"{SUPPORTED_KINDS}; up to "
                        f"{settings.max_upload_bytes / 2**20:.0f} MB each.",
                        elem_id="upload-help",
                    )
                    to_remove = gr.Dropdown(
                        render.document_choices(documents),
                        value=None,
                        label="Remove a document",
                        elem_id="remove-pick",
                    )
                    remove = gr.Button("Remove", variant="stop", size="sm", elem_id="remove")
                    with gr.Column(visible=False, elem_id="remove-confirm") as removal:
                        removal_question = gr.Markdown(elem_id="remove-question")
                        with gr.Row():
                            confirm_remove = gr.Button(
                                "Confirm", variant="stop", size="sm", elem_id="remove-yes"
                            )
                            keep_document = gr.Button("Cancel", size="sm", elem_id="remove-no")
                    to_remove_held = gr.State(None)
                    cancel = gr.Button("Cancel indexing", size="sm", elem_id="cancel-ingest")
                    library_message = gr.Markdown(elem_id="library-message")
                    watch_log = gr.Textbox(
                        label="Watched folders: changes",
                        lines=6,
                        max_lines=12,
                        interactive=False,
                        visible=bool(settings.watch_folders),
                        elem_id="watch-log",
                    )
                    watch_timer = gr.Timer(2.0, active=bool(settings.watch_folders))
            with gr.Tab("Briefing", id="briefing"), gr.Row(equal_height=False):
                with gr.Column(scale=3, elem_id="briefing-side"):
                    topic = gr.Textbox(
                        label="Topic",
                        placeholder="e.g. seabed mining",
                        elem_id="brief-topic",
                    )
                    brief_sections = gr.Slider(
                        1,
                        8,
                        value=5,
                        step=1,
                        label="Sections",
                        elem_id="brief-sections",
                    )
                    brief_scope = gr.Dropdown(
                        render.document_choices(documents),
                        value=[],
                        multiselect=True,
                        label="From (empty: every document)",
                        elem_id="brief-scope",
                    )
                    brief_generator = gr.Dropdown(
                        [(app.mode_label(mode), mode) for mode in modes],
                        value=settings.generator if settings.generator in modes else modes[0],
                        label="Write with",
                        elem_id="brief-generator",
                    )
                    write = gr.Button("Write briefing", variant="primary", elem_id="brief-write")
                    brief_md = gr.DownloadButton(
                        "Markdown", visible=False, size="sm", elem_id="brief-md"
                    )
                    brief_docx = gr.DownloadButton(
                        "Word", visible=False, size="sm", elem_id="brief-docx"
                    )
                    brief_pdf = gr.DownloadButton(
                        "PDF", visible=False, size="sm", elem_id="brief-pdf"
                    )
                with gr.Column(scale=7):
                    brief_preview = gr.Markdown(
                        "A briefing plans sub-questions on the topic, answers each with "
                        "checked citations and lists every quoted passage.",
                        elem_id="brief-preview",
                    )

            with gr.Tab("Compare", id="compare"), gr.Row(equal_height=False):
                with gr.Column(scale=3, elem_id="compare-side"):
                    compare_scope = gr.Dropdown(
                        render.document_choices(documents),
                        value=[],
                        multiselect=True,
                        label="Documents to compare",
                        elem_id="compare-scope",
                    )
                    compare_questions = gr.Textbox(
                        label="Questions, one a line (at most 10)",
                        lines=5,
                        max_lines=12,
                        placeholder="Has the United States ratified UNCLOS?",
                        elem_id="compare-questions",
                    )
                    compare_generator = gr.Dropdown(
                        [(app.mode_label(mode), mode) for mode in modes],
                        value=settings.generator if settings.generator in modes else modes[0],
                        label="Answer with",
                        elem_id="compare-generator",
                    )
                    with gr.Row():
                        compare_run = gr.Button("Compare", variant="primary", elem_id="compare-run")
                        compare_stop = gr.Button("Cancel", size="sm", elem_id="compare-cancel")
                    compare_status = gr.Markdown(elem_id="compare-status")
                    compare_files = [
                        gr.DownloadButton(
                            name, visible=False, size="sm", elem_id=f"compare-{suffix[1:]}"
                        )
                        for name, suffix in zip(
                            ("Markdown", "CSV", "Excel"), TABLE_FORMATS, strict=True
                        )
                    ]
                with gr.Column(scale=7):
                    compare_table = gr.HTML(
                        render.notice_html(
                            "Each question is answered from each document alone, with its "
                            "citations; a cell without an answer reads 'Not in this document.'"
                        ),
                        elem_id="compare-table",
                        js_on_load=None,
                    )
            with gr.Tab("Timeline", id="timeline"), gr.Row(equal_height=False):
                with gr.Column(scale=3, elem_id="timeline-side"):
                    across_topic = gr.Textbox(
                        label="Topic", placeholder="e.g. Strait of Hormuz", elem_id="across-topic"
                    )
                    across_scope = gr.Dropdown(
                        render.document_choices(documents),
                        value=[],
                        multiselect=True,
                        label="From (empty: every document)",
                        elem_id="across-scope",
                    )
                    across_generator = gr.Dropdown(
                        [(app.mode_label(mode), mode) for mode in modes],
                        value=settings.generator if settings.generator in modes else modes[0],
                        label="Write with",
                        elem_id="across-generator",
                    )
                    with gr.Row():
                        timeline_run = gr.Button(
                            "Timeline", variant="primary", elem_id="timeline-run"
                        )
                        disagree_run = gr.Button("Where sources disagree", elem_id="disagree-run")
                    across_stop = gr.Button("Cancel", size="sm", elem_id="across-cancel")
                    across_message = gr.Markdown(elem_id="across-message")
                    across_files = [
                        gr.DownloadButton(name, visible=False, size="sm", elem_id=element)
                        for name, element in (
                            ("Markdown", "across-md"),
                            ("Word", "across-docx"),
                            ("PDF", "across-pdf"),
                        )
                    ]
                with gr.Column(scale=7):
                    across_preview = gr.Markdown(
                        "A timeline lists the dated events on a topic in date order, each with "
                        "its citation. *Where sources disagree* lists statements of different "
                        "documents that conflict, both quoted.",
                        elem_id="across-preview",
                    )

        review_outputs = [review, review_pick, export_md, export_csv]
        ask: dict[str, Any] = {
            "fn": app.respond,
            "inputs": [question, chatbot, turns, generator, scope],
            "outputs": [
                question,
                chatbot,
                turns,
                *review_outputs,
                source,
                page_image,
                original,
                chat_note,
            ],
            # not queued behind another user's answer: evidence and extractive answers come at
            # once, and questions for the local model take turns inside (AnswerChain.model_queue)
            "concurrency_limit": None,
            "show_progress": "hidden",
            **private,
        }
        pickers = [scope, to_remove, brief_scope, compare_scope, across_scope]
        library_now: dict[str, Any] = {
            "fn": app.library_now,
            "inputs": pickers,
            "outputs": [stats, table, *pickers],
            "show_progress": "hidden",
            **private,
        }
        blocks.load(**library_now)  # a page (re)loaded shows the library as it is now
        question.submit(**ask).then(**library_now)
        send.click(**ask).then(**library_now)
        conversation_outputs = [chatbot, turns, source, page_image, original, *review_outputs]
        new.click(app.new_conversation, None, conversation_outputs, **private)
        chatbot.clear(app.new_conversation, None, conversation_outputs, **private)
        bridge.click(
            app.show_citation, [turns], [source, page_image, original, side_tabs], **private
        )
        review_pick.input(app.review, [review_pick, turns], review_outputs, **private)
        library_outputs = [stats, table, scope, to_remove, brief_scope, library_message]
        across_pickers: dict[str, Any] = {
            "fn": app.across_pickers,
            "inputs": [compare_scope, across_scope],
            "outputs": [compare_scope, across_scope],
            **private,
        }
        uploads.upload(
            app.upload, [uploads, scope, brief_scope], [*library_outputs, uploads], **private
        ).then(**across_pickers)
        removal_outputs = [library_message, removal, removal_question, to_remove_held]
        remove.click(app.ask_removal, [to_remove], removal_outputs, **private).then(**library_now)
        confirm_remove.click(
            app.confirm_removal,
            [to_remove_held, scope, brief_scope],
            [*library_outputs, removal, to_remove_held],
            **private,
        ).then(**across_pickers)
        for closing in (keep_document.click, to_remove.input):
            closing(app.close_removal, None, [library_message, removal, to_remove_held], **private)
        write.click(
            app.brief,
            [topic, brief_sections, brief_generator, brief_scope],
            [brief_preview, brief_md, brief_docx, brief_pdf],
            **private,
        )
        compare_run.click(
            app.compare,
            [compare_scope, compare_questions, compare_generator],
            [compare_table, compare_status, *compare_files],
            **private,
        )
        across_inputs = [across_topic, across_scope, across_generator]
        timeline_run.click(app.timeline, across_inputs, [across_preview, *across_files], **private)
        disagree_run.click(app.disagree, across_inputs, [across_preview, *across_files], **private)
        for stop, message in ((compare_stop, compare_status), (across_stop, across_message)):
            # not queued behind the job it cancels
            stop.click(app.stop_across, None, message, concurrency_limit=None, **private)
        watch_timer.tick(app.watch_log, None, watch_log, **private)
        # not queued behind the upload it cancels
        cancel.click(app.cancel, None, library_message, concurrency_limit=None, **private)
        gr.api(app.ask, api_name="ask", concurrency_limit=None)  # as the chat: see `ask` above
    if settings.watch_folders:
        app.watch()
    return blocks


def auth(library: Library) -> tuple[str, str] | None:
    """The login the settings ask for, if any."""
    settings = library.settings
    if settings.auth_user is None and settings.auth_password is None:
        return None
    if not settings.auth_user or settings.auth_password is None:
        raise SettingsError(
            "auth_user and auth_password must be set together (RAG_AUTH_USER, RAG_AUTH_PASSWORD)"
        )
    return settings.auth_user, settings.auth_password.get_secret_value()


def warm_up(library: Library) -> None:
    """Load the models in the background so that the first question does not wait for them."""

    def run() -> None:
        try:
            library.warm_up()
        except RagError as error:
            print(f"rag: warning: {error}", file=sys.stderr)

    threading.Thread(target=run, name="warm-up", daemon=True).start()


def launch(library: Library) -> gr.Blocks:
    """Start serving the app on the configured host and port (with the configured login) in
    the background; the caller waits with `.block_thread()`."""
    settings = library.settings
    blocks = build_app(library)
    warm_up(library)
    try:
        blocks.queue(default_concurrency_limit=1).launch(
            server_name=settings.host,
            server_port=settings.port,
            auth=auth(library),
            auth_message="Sign in to the report library.",
            max_file_size=settings.max_upload_bytes,
            theme=THEME,
            css_paths=[STYLE],
            ssr_mode=False,
            footer_links=["api"],
            show_error=True,
            quiet=True,
            prevent_thread_lock=True,
        )
    except OSError as error:  # the port is taken, or the address is not this machine's
        raise RagError(
            f"cannot listen on {settings.host}:{settings.port} ({error}); choose another --port"
        ) from error
    return blocks
