"""The app in a real browser: Debian's headless Chromium driven by Playwright, against
`rag serve` started here on a free port with the local model. Each step saves a screenshot
under test-output/ui-browser/<test>/."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest
from conftest import ROOT, SEED_QUESTION
from playwright.sync_api import expect, sync_playwright

from ui import render

pytestmark = [pytest.mark.slow, pytest.mark.model]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = ROOT / "test-output" / "ui-browser"
ANSWERS = "#chat .message.bot:not(.pending)"  # Gradio adds a pending bubble while it works
ANSWER_SECONDS = 300  # the local model on 2 busy CPU cores
LIGHTHOUSE = (
    "# Quellport lighthouse\n\nThe Quellport lighthouse was built in 1887 by the engineer "
    "Ada Moravec. Its lamp was converted to electricity in 1931.\n"
)


class Server:
    """`rag serve` in a subprocess, its output collected as it runs."""

    def __init__(self, index: Path, env: dict[str, str]) -> None:
        self.index = index
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rag.cli",
                "serve",
                "--index",
                str(index),
                "--port",
                str(self.port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env={**os.environ, **env},
        )
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_until_serving(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while "rag: serving on" not in self.log:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"rag serve did not start:\n{self.log}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def app(library_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app over a private copy of the default library's index, answering with the local model."""
    index = tmp_path_factory.mktemp("ui") / "index"
    shutil.copytree(library_index, index)
    server = Server(index, {"RAG_GENERATOR": "local"})
    server.wait_until_serving()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install chromium (scripts/install.sh test does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    yield opened
    context.close()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[object, str], Path]:
    """shot(page, step) saves a screenshot as test-output/ui-browser/<test>/<NN>-<step>.png."""
    folder = SHOTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    taken: list[Path] = []

    def save(page, step: str) -> Path:
        path = folder / f"{len(taken) + 1:02d}-{step}.png"
        page.screenshot(path=str(path))
        taken.append(path)
        return path

    return save


def open_app(page, url: str) -> None:
    page.goto(url)
    page.locator("#question textarea").wait_for()


def ask(page, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")


def last_answer(page):
    return page.locator(ANSWERS).last


def wait_for_answer(page) -> None:
    """Until the newest answer is final: its citations are links (or it refused)."""
    page.wait_for_function(
        """() => {
            const last = [...document.querySelectorAll(ANSWERS)].pop();
            return last && !last.querySelector('.cursor') && last.querySelector('.answer-meta');
        }""".replace("ANSWERS", repr(ANSWERS)),
        timeout=ANSWER_SECONDS * 1000,
    )


def pick(page, dropdown: str, option: str) -> None:
    """Choose `option` in the Gradio dropdown with element id `dropdown`."""
    page.locator(f"#{dropdown} input").click()
    page.get_by_role("option", name=option).click()
    page.keyboard.press("Escape")


def test_seed_question_streams_a_cited_answer_that_opens_its_passage(app: Server, page, shot):
    open_app(page, app.url)
    assert "Local: Qwen2.5-Coder 1.5B" in page.locator("#generator input").input_value()
    shot(page, "ready")

    ask(page, SEED_QUESTION)
    page.wait_for_function(  # streaming: text shows while the answer is still being written
        """() => {
            const last = [...document.querySelectorAll(ANSWERS)].pop();
            return last && last.querySelector('.cursor') && last.innerText.trim().length > 0;
        }""".replace("ANSWERS", repr(ANSWERS)),
        timeout=ANSWER_SECONDS * 1000,
    )
    shot(page, "streaming")
    wait_for_answer(page)
    answer = last_answer(page)
    assert "7.6" in answer.inner_text()
    assert answer.locator("a.cite").count() >= 1
    assert "Local: Qwen2.5-Coder 1.5B" in answer.locator(".answer-meta").inner_text()
    shot(page, "answer")

    answer.locator("a.cite").first.click()
    quote = page.locator("#source mark.quote")
    quote.wait_for()
    assert "7.6 metric tons" in quote.inner_text()
    assert "000_2ab8909efb0e4c04.txt" in page.locator("#source .source-facts").inner_text()
    shot(page, "source")

    page.get_by_role("tab", name="Review").click()
    rows = page.locator("#review table.review tbody tr")
    rows.first.wait_for()
    assert "7.6" in rows.first.inner_text()
    assert page.locator("#review .badge").count() >= 1
    assert page.locator("#export-md").is_visible() and page.locator("#export-csv").is_visible()
    shot(page, "review")


# Records, in the page, when the newest answer first shows its evidence and first shows
# generated text (performance.now(), milliseconds), and the label the text is shown under.
WATCH_ANSWER = """() => {
    window.ragTimes = {};
    const note = () => {
        const last = [...document.querySelectorAll(ANSWERS)].pop();
        if (!last) return;
        const now = performance.now();
        if (last.querySelector('.evidence q') && window.ragTimes.evidence === undefined)
            window.ragTimes.evidence = now;
        const generated = last.querySelector('.generated');
        if (generated && generated.innerText.trim() && window.ragTimes.text === undefined) {
            window.ragTimes.text = now;
            window.ragTimes.draft = last.querySelector('.draft .label')?.innerText;
        }
    };
    new MutationObserver(note).observe(
        document.body, {subtree: true, childList: true, characterData: true}
    );
}""".replace("ANSWERS", repr(ANSWERS))


def test_the_evidence_shows_before_the_first_generated_word(app: Server, page, shot):
    open_app(page, app.url)
    page.evaluate(WATCH_ANSWER)
    ask(page, SEED_QUESTION)
    page.wait_for_function("() => window.ragTimes.evidence !== undefined", timeout=60_000)
    shot(page, "evidence")
    evidence = last_answer(page).locator(".evidence")
    assert "7.6 metric tons" in evidence.inner_text()  # the quoted sentence, with its document
    assert "000_2ab8909efb0e4c04.txt" in evidence.inner_text()
    assert "7.6 metric tons" in page.locator("#source mark.quote").inner_text()  # Source pane
    wait_for_answer(page)
    shot(page, "answer")
    times = page.evaluate("window.ragTimes")
    assert times.get("text") is not None, "no generated text was streamed"
    assert times["evidence"] < times["text"]
    assert times["draft"] == render.DRAFT_LABEL  # the streamed words are not yet checked
    print(f"\nevidence {(times['text'] - times['evidence']) / 1000:.1f} s before the first word")


def test_pdf_citation_shows_its_page_with_the_quote_and_the_original(app: Server, page, shot):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    open_app(page, app.url)
    pick(page, "generator", "Extractive (no model)")
    ask(page, "What is Australia's surface area?")
    wait_for_answer(page)
    answer = last_answer(page)
    assert "2.96 million" in answer.inner_text()
    assert "IF10491v14.pdf · p. 1" in answer.locator("a.source-chip").first.inner_text()
    shot(page, "answer")

    answer.locator("a.source-chip").first.click()
    page.locator("#page-image img").wait_for()
    assert "2.96 million sq. miles" in page.locator("#source mark.quote").inner_text()
    assert "Page 1 of 3" in page.locator("#source .source-facts").inner_text()
    width = page.locator("#page-image img").evaluate("image => image.naturalWidth")
    assert width > 800  # the rendered page, not an icon
    shot(page, "page")

    with page.expect_download() as download:
        page.locator("#original").click()
    saved = Path(download.value.path())
    assert download.value.suggested_filename == "IF10491v14.pdf"
    assert saved.read_bytes() == (ROOT / "corpus" / "IF10491v14.pdf").read_bytes()

    page.locator("#new-conversation").click()
    expect(page.locator(ANSWERS)).to_have_count(0)
    assert page.locator("#source mark.quote").count() == 0
    shot(page, "new-conversation")
    assert [
        url for url in requested if not url.startswith(app.url)
    ] == []  # nothing fetched from outside


def test_upload_ask_about_it_and_remove_it(app: Server, page, shot, tmp_path: Path):
    notes = tmp_path / "quellport-lighthouse.md"
    notes.write_text(LIGHTHOUSE)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 cut short")
    unknown = tmp_path / "soundings.xyz"
    unknown.write_text("12.5 18.0 22.4")
    open_app(page, app.url)
    page.get_by_role("tab", name="Library").click()
    shot(page, "library")

    page.locator("#upload input[type=file]").set_input_files(
        [str(notes), str(broken), str(unknown)]
    )
    message = page.locator("#library-message")
    message.get_by_text("Added quellport-lighthouse.md").wait_for(timeout=120_000)
    assert "Could not add broken.pdf: not a readable PDF" in message.inner_text()
    assert "Could not add soundings.xyz: files '.xyz' cannot be indexed" in message.inner_text()
    assert "quellport-lighthouse.md" in page.locator("#documents").inner_text()
    assert "20 documents" in page.locator("#stats").inner_text()
    shot(page, "uploaded")

    page.get_by_role("tab", name="Chat").click()
    ask(page, "Who built the Quellport lighthouse?")
    wait_for_answer(page)
    answer = last_answer(page)
    assert "Ada Moravec" in answer.inner_text()
    assert "quellport-lighthouse.md" in answer.locator("a.source-chip").first.inner_text()
    answer.locator("a.cite").first.click()
    page.locator("#source mark.quote").get_by_text("Ada Moravec").wait_for()
    shot(page, "answer-from-upload")

    page.get_by_role("tab", name="Library").click()
    pick(page, "remove-pick", "Quellport lighthouse (quellport-lighthouse.md)")
    page.locator("#remove").click()
    expect(page.locator("#remove-question")).to_contain_text("Its uploaded file is deleted too.")
    page.locator("#remove-yes").click()
    message.get_by_text("Removed quellport-lighthouse.md").wait_for()
    assert "quellport-lighthouse.md" not in page.locator("#documents").inner_text()
    assert "19 documents" in page.locator("#stats").inner_text()
    shot(page, "removed")


def extractive_app(library: Path, index: Path) -> Iterator[Server]:
    """The app over the files of `library`, answering without a model: it indexes them into
    `index` as it starts."""
    server = Server(
        index, {"RAG_GENERATOR": "extractive", "RAG_LIBRARY_PATHS": json.dumps([str(library)])}
    )
    server.wait_until_serving()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def quick_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app over a library of two notes, answering without a model: it indexes them as it
    starts."""
    folder = tmp_path_factory.mktemp("quick")
    (folder / "library").mkdir()
    (folder / "library" / "quellport-lighthouse.md").write_text(LIGHTHOUSE)
    (folder / "library" / "varn-ferry.md").write_text(FERRY)
    yield from extractive_app(folder / "library", folder / "index")


FERRY = "# Varn ferry\n\nThe Varn ferry sails from Quellport twice a day since May 2021.\n"
HARBOUR = "# Quellport harbour\n\nThe Quellport harbour was dredged to twelve metres in 1998.\n"


def offers(page, dropdown: str, option: str) -> bool:
    """Whether the Gradio dropdown with element id `dropdown` lists `option` when opened."""
    page.locator(f"#{dropdown} input").click()
    page.get_by_role("option").first.wait_for()
    names = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return any(option in name for name in names)


def test_a_reloaded_page_shows_the_library_as_it_is_now(quick_app: Server, browser, page, shot):
    """What another user uploads, or `rag remove` removes, shows once the page is reloaded; a
    document removed after it was chosen in Search in is named plainly, and dropped."""
    harbour = "Quellport harbour (quellport-harbour.md)"
    open_app(page, quick_app.url)
    assert "2 documents" in page.locator("#stats").inner_text()
    other = browser.new_context().new_page()  # another user, in another browser
    open_app(other, quick_app.url)
    other.get_by_role("tab", name="Library").click()
    notes = quick_app.index.parent / "quellport-harbour.md"
    notes.write_text(HARBOUR)
    other.locator("#upload input[type=file]").set_input_files(str(notes))
    other.locator("#library-message").get_by_text("Added quellport-harbour.md").wait_for()
    other.context.close()

    page.reload()
    page.locator("#question textarea").wait_for()
    expect(page.locator("#stats")).to_contain_text("3 documents")
    assert offers(page, "scope", harbour)
    page.get_by_role("tab", name="Library").click()
    expect(page.locator("#documents")).to_contain_text("quellport-harbour.md")
    assert offers(page, "remove-pick", harbour)
    page.get_by_role("tab", name="Briefing").click()
    assert offers(page, "brief-scope", harbour)
    page.get_by_role("tab", name="Compare").click()
    assert offers(page, "compare-scope", harbour)
    page.get_by_role("tab", name="Chat").click()
    shot(page, "reloaded-after-upload")

    pick(page, "scope", harbour)
    removed = subprocess.run(
        [sys.executable, "-m", "rag.cli", "remove", "quellport-harbour.md"]
        + ["--index", str(quick_app.index)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert removed.returncode == 0, removed.stderr
    ask(page, "How deep was the Quellport harbour dredged?")
    note = page.locator("#chat-note")
    expect(note).to_contain_text("A document chosen in Search in has been removed")
    assert "no document" not in note.inner_text()
    expect(page.locator(ANSWERS)).to_have_count(0)
    assert "dredged" in page.locator("#question textarea").input_value()  # to ask again
    expect(page.locator("#stats")).to_contain_text("2 documents")
    assert not offers(page, "scope", harbour)
    shot(page, "removed-from-search-in")

    page.reload()
    page.locator("#question textarea").wait_for()
    expect(page.locator("#stats")).to_contain_text("2 documents")
    assert not offers(page, "scope", harbour)
    shot(page, "reloaded-after-removal")


def test_removal_asks_first_and_cancel_keeps_the_document(quick_app: Server, page, shot):
    lighthouse = "Quellport lighthouse (quellport-lighthouse.md)"
    open_app(page, quick_app.url)
    page.get_by_role("tab", name="Library").click()
    page.locator("#remove").click()
    expect(page.locator("#library-message")).to_have_text("Choose a document to remove.")
    expect(page.locator("#remove-confirm")).to_be_hidden()

    pick(page, "remove-pick", lighthouse)
    page.locator("#remove").click()
    question = page.locator("#remove-question")
    expect(question).to_have_text(
        "Remove Quellport lighthouse (quellport-lighthouse.md) from the library? "
        "Its file stays on disk."
    )
    shot(page, "asked")
    page.locator("#remove-no").click()
    expect(page.locator("#remove-confirm")).to_be_hidden()
    assert "2 documents" in page.locator("#stats").inner_text()
    assert "quellport-lighthouse.md" in page.locator("#documents").inner_text()
    shot(page, "kept")

    pick(page, "remove-pick", lighthouse)
    page.locator("#remove").click()
    page.locator("#remove-yes").click()
    expect(page.locator("#library-message")).to_contain_text(
        "Removed quellport-lighthouse.md (Quellport lighthouse)."
    )
    expect(page.locator("#remove-confirm")).to_be_hidden()
    expect(page.locator("#stats")).to_contain_text("1 documents")
    assert "quellport-lighthouse.md" not in page.locator("#documents").inner_text()
    notes = quick_app.index.parent / "library" / "quellport-lighthouse.md"
    assert notes.is_file()
    shot(page, "removed")
    restored = subprocess.run(  # for the tests after this one
        [sys.executable, "-m", "rag.cli", "ingest", str(notes), "--index", str(quick_app.index)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert restored.returncode == 0, restored.stderr


def test_an_empty_question_says_so_and_a_question_shows_as_typed(quick_app: Server, page, shot):
    open_app(page, quick_app.url)
    page.locator("#question textarea").fill("   ")
    page.locator("#send").click()
    expect(page.locator("#chat-note")).to_have_text("Type a question first.")
    expect(page.locator("#chat .message")).to_have_count(0)
    shot(page, "empty")

    typed = "<img src=x> **When** does the `Varn ferry` sail?"
    ask(page, typed)
    wait_for_answer(page)
    expect(page.locator("#chat-note")).to_be_hidden()
    asked = page.locator("#chat .message.user").last
    assert asked.inner_text().strip() == typed
    assert asked.locator("img, strong, code").count() == 0
    shot(page, "asked")


IF12608 = "U.S. Interest in Seabed Mining in Areas Beyond National (IF12608v18.pdf)"
R47324 = "Seabed Mining in Areas Beyond National Jurisdiction: Issues for Congress (R47324v18.pdf)"


def test_a_timeline_and_a_disagreement_report_download_as_markdown_word_and_pdf(
    quick_app: Server, page, shot
):
    """Both work across the library without a model, and each offers the three formats."""
    open_app(page, quick_app.url)
    page.get_by_role("tab", name="Timeline").click()
    page.locator("#across-topic textarea").fill("the Quellport lighthouse")
    page.locator("#timeline-run").click()
    preview = page.locator("#across-preview")
    preview.get_by_text("1931: Its lamp was converted").wait_for(timeout=60_000)
    assert preview.inner_text().index("1887") < preview.inner_text().index("1931")
    downloads = {element: page.locator(f"#{element}") for element in FORMAT_BUTTONS}
    for button in downloads.values():
        expect(button).to_be_visible()
    shot(page, "timeline")

    page.locator("#disagree-run").click()
    preview.get_by_text("No disagreement found.").wait_for(timeout=60_000)
    assert "Where sources disagree: the Quellport lighthouse" in preview.inner_text()
    for element, button in downloads.items():
        expect(button).to_be_visible()
        with page.expect_download() as download:
            button.click()
        saved = Path(download.value.path()).read_bytes()
        assert saved.startswith(FORMAT_BUTTONS[element]), element
    shot(page, "disagreements")


FORMAT_BUTTONS = {
    "across-md": b"# Where sources disagree",
    "across-docx": b"PK",
    "across-pdf": b"%PDF",
}


def test_compare_tab_fills_the_table_cell_by_cell_and_cancels(app: Server, page, shot):
    open_app(page, app.url)
    page.get_by_role("tab", name="Compare").click()
    for option in (IF12608, R47324):  # typing filters the long list down to one option
        field = page.locator("#compare-scope input")
        field.click()
        field.fill(option.rsplit("(", 1)[1].rstrip(")"))
        page.get_by_role("option", name=option).click()
    page.keyboard.press("Escape")
    pick(page, "compare-generator", "Extractive (no model)")
    page.locator("#compare-questions textarea").fill(
        "Has the United States ratified UNCLOS?\nHow many exploration contracts has the ISA approved?"
    )
    shot(page, "filled")
    page.locator("#compare-run").click()
    status = page.locator("#compare-status")
    status.get_by_text("Done: 4 cells.").wait_for(timeout=120_000)
    table = page.locator("#compare-table table.comparison")
    assert table.locator("tbody tr").count() == 2
    assert (
        "R47324v18.pdf, p. " in table.inner_text() and "IF12608v18.pdf, p. " in table.inner_text()
    )
    for button in ("compare-md", "compare-csv", "compare-xlsx"):
        expect(page.locator(f"#{button}")).to_be_visible()
    shot(page, "table")

    # Cancelled while the local model answers: extractive cells now take milliseconds (their
    # sentences' vectors are saved), so 20 of them end before a click could stop them.
    many = "\n".join(f"What does the report say about seabed topic {n}?" for n in range(10))
    pick(page, "compare-generator", "Local: Qwen2.5-Coder 1.5B")
    page.locator("#compare-questions textarea").fill(many)
    page.locator("#compare-run").click()
    answering = re.compile(r"Answered \d+ of 20 cells")
    status.get_by_text(answering).wait_for(timeout=ANSWER_SECONDS * 1000)
    page.locator("#compare-cancel").click()
    status.get_by_text("Cancelled:").wait_for(timeout=ANSWER_SECONDS * 1000)
    assert "of 20 cells answered" in status.inner_text()
    shot(page, "cancelled")


def test_files_outside_what_the_app_serves_are_refused(app: Server):
    for path in (ROOT / "README.md", ROOT / "corpus" / "IF10491v14.pdf", Path("/etc/passwd")):
        response = httpx.get(f"{app.url}/gradio_api/file={path}")
        assert response.status_code in (403, 404), (path, response.status_code)


@pytest.fixture(scope="module")
def guarded_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app with a login, started where there is no index: it indexes its library first."""
    folder = tmp_path_factory.mktemp("guarded")
    (folder / "library").mkdir()
    (folder / "library" / "quellport-lighthouse.md").write_text(LIGHTHOUSE)
    server = Server(
        folder / "index",
        {
            "RAG_GENERATOR": "extractive",
            "RAG_LIBRARY_PATHS": json.dumps([str(folder / "library")]),
            "RAG_AUTH_USER": "analyst",
            "RAG_AUTH_PASSWORD": "correct horse",
        },
    )
    server.wait_until_serving()
    yield server
    server.stop()


def test_login_is_required_when_configured(guarded_app: Server, page, shot):
    assert "No index at" in guarded_app.log and "1 indexed" in guarded_app.log
    page.goto(guarded_app.url)
    page.get_by_label("username").fill("analyst")
    page.get_by_label("password").fill("wrong")
    shot(page, "login")
    page.get_by_role("button", name="Login").click()
    page.get_by_text("Incorrect Credentials").wait_for()
    shot(page, "refused")
    page.get_by_label("username").fill("analyst")  # the form is cleared after a refusal
    page.get_by_label("password").fill("correct horse")
    page.get_by_role("button", name="Login").click()
    page.locator("#question textarea").wait_for()
    assert "1 documents" in page.locator("#stats").inner_text()
    shot(page, "signed-in")
    assert httpx.get(f"{guarded_app.url}/config").status_code == 401


def test_ask_endpoint_returns_the_rag_ask_json_object(guarded_app: Server):
    from gradio_client import Client

    question = "Who built the Quellport lighthouse?"
    client = Client(guarded_app.url, auth=("analyst", "correct horse"), verbose=False)
    answer = client.predict(question, api_name="/ask")
    arguments = [str(argument) for argument in cast(list[str], guarded_app.process.args)]
    index = arguments[arguments.index("--index") + 1]
    cli = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", question, "--json", "--index", index],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "RAG_GENERATOR": "extractive"},
    )
    assert cli.returncode == 0, cli.stderr
    assert answer == json.loads(cli.stdout)
    assert (
        "Ada Moravec" in answer["answer"]
        and answer["citations"][0]["file"] == "quellport-lighthouse.md"
    )


def survey_pdf(path: Path, basin: str, finding: str) -> None:
    """A one-page survey report titled after its basin, its finding the last line of the page."""
    from fpdf import FPDF

    pdf = FPDF(format="letter")
    pdf.set_title(f"Quellport harbour dredging survey: results of the {basin} basin campaign")
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    for section in range(1, 8):
        pdf.multi_cell(0, 6, f"Section {section}. " + HARBOUR_OFFICE * 3)
        pdf.ln(3)
    pdf.multi_cell(0, 6, finding)
    pdf.output(str(path))


HARBOUR_OFFICE = (
    "The harbour office keeps the tide tables, the pilot roster and the berth plan for the "
    "season. Fishing boats moor along the east quay and ferries at the west pier. "
)
NORTH = "Quellport harbour dredging survey: results of the northern basin campaign"
SOUTH = "Quellport harbour dredging survey: results of the southern basin campaign"


@pytest.fixture(scope="module")
def survey_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app over two PDF surveys whose titles differ only at their end, answering without a
    model; each cites a sentence at the foot of its page."""
    folder = tmp_path_factory.mktemp("surveys")
    (folder / "library").mkdir()
    survey_pdf(
        folder / "library" / "survey-north.pdf",
        "northern",
        "The northern basin was dredged to twelve metres in 1998.",
    )
    survey_pdf(
        folder / "library" / "survey-south.pdf",
        "southern",
        "The southern basin was dredged to nine metres in 2003.",
    )
    yield from extractive_app(folder / "library", folder / "index")


@pytest.fixture
def phone(browser) -> Iterator[object]:
    """A page in a phone-sized window (390 x 844)."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    yield opened
    context.close()


BASINS = "How deep were the northern and the southern basin dredged?"
# Where the highlight of the quote is, against the page's box and the window.
HIGHLIGHT_PLACE = """() => {
    const box = document.querySelector('#page-image .page-scroll');
    const quote = document.querySelector('#page-image .page-quote');
    const sheet = quote.parentElement.getBoundingClientRect();
    const seen = box.getBoundingClientRect(), marked = quote.getBoundingClientRect();
    return {
        fromTop: (marked.top - sheet.top) / sheet.height,
        scrolls: box.scrollHeight > box.clientHeight,
        inBox: marked.top >= seen.top && marked.bottom <= seen.top + box.clientHeight,
        inWindow: marked.top >= 0 && marked.bottom <= window.innerHeight,
    };
}"""
# The colour of the page image just inside the top left corner of the quote's marked box.
MARKED_COLOUR = """() => {
    const image = document.querySelector('#page-image img');
    const quote = document.querySelector('#page-image .page-quote');
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const x = Math.round(parseFloat(quote.style.left) / 100 * image.naturalWidth) + 3;
    const y = Math.round(parseFloat(quote.style.top) / 100 * image.naturalHeight) + 3;
    return [...context.getImageData(x, y, 1, 1).data.slice(0, 3)];
}"""


# The part of the page image's box that the window shows.
PAGE_SHOWN = """() => {
    const rect = document.querySelector('#page-image .page-scroll').getBoundingClientRect();
    const top = Math.max(rect.top, 0), bottom = Math.min(rect.bottom, window.innerHeight);
    return {x: rect.left, y: top, width: rect.width, height: Math.max(bottom - top, 1)};
}"""


def highlighted_pixels(png: bytes) -> int:
    """How many pixels of a screenshot have the colour of a quote's highlight on white paper."""
    import numpy as np
    from PIL import Image

    red, green, blue = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).transpose(2, 0, 1)
    return int(((red > 245) & (green > 220) & (green < 250) & (blue > 145) & (blue < 185)).sum())


def test_a_quote_low_on_a_pdf_page_is_in_view_when_its_page_opens(survey_app: Server, page, shot):
    """Each citation opens its page in the Source pane scrolled to its highlight, which lies at
    the foot of the page, within the page's box and the window."""
    open_app(page, survey_app.url)
    ask(page, BASINS)
    wait_for_answer(page)
    opened = "document.querySelector('#page-image img')?.src"
    number = "document.querySelector('#source .source-head .num')?.innerText"
    page.wait_for_function(f"() => {number} === '1' && {opened}")  # [1] opens by itself
    for n in (1, 2, 1):
        if page.evaluate(number) != str(n):
            before = page.evaluate(opened)
            last_answer(page).locator(f'a.cite[href$="-{n}"]').click()
            page.wait_for_function(
                f"(before) => {number} === '{n}' && {opened} !== before", arg=before
            )
        assert "basin was dredged" in page.locator("#source mark.quote").inner_text()
        page.wait_for_function(f"() => ({HIGHLIGHT_PLACE})().inBox")
        place = page.evaluate(HIGHLIGHT_PLACE)
        assert place["fromTop"] > 0.8  # the foot of the page, out of view unless scrolled to
        assert place["scrolls"] and place["inBox"] and place["inWindow"], place
        red, green, blue = page.evaluate(MARKED_COLOUR)
        assert red > 200 and blue < 200, (red, green, blue)  # the highlight's yellow
        assert highlighted_pixels(page.screenshot(clip=page.evaluate(PAGE_SHOWN))) > 100
        shot(page, f"citation-{n}")


def test_sources_name_their_documents_by_their_whole_titles(survey_app: Server, browser, shot):
    """Two titles that differ only at their end are told apart under the answer, at a desktop
    width and a phone's."""
    for width, height in ((1440, 900), (390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        open_app(page, survey_app.url)
        ask(page, BASINS)
        wait_for_answer(page)
        chips = last_answer(page).locator("a.source-chip")
        expect(chips).to_have_count(2)
        titles = chips.locator(".title").all_inner_texts()
        assert sorted(titles) == [NORTH, SOUTH]
        for chip in chips.all():
            title = chip.locator(".title")
            assert chip.get_attribute("title").startswith(title.inner_text())
            assert title.evaluate("title => title.scrollWidth <= title.clientWidth")  # not cut
        shot(page, f"sources-{width}")
        context.close()


# The generator's name against the room its field leaves it before the dropdown's arrow, and
# whether the field's label overflows.
GENERATOR_ROOM = """(element) => {
    const field = document.querySelector(`#${element} input`);
    const arrow = document.querySelector(`#${element} .icon-wrap`);
    const label = document.querySelector(`#${element} [data-testid=block-info]`);
    const style = getComputedStyle(field);
    const canvas = document.createElement('canvas').getContext('2d');
    canvas.font = style.font;
    const start = field.getBoundingClientRect().left + parseFloat(style.paddingLeft);
    return {
        name: field.value,
        text: canvas.measureText(field.value).width,
        room: arrow.getBoundingClientRect().left - start,
        labelFits: label.scrollWidth <= label.clientWidth,
    };
}"""


def open_tab(page, name: str) -> None:
    """Open the main tab `name`, from the menu of tabs that do not fit when the window is narrow."""
    tab = page.get_by_role("tab", name=name)
    if tab.count() == 0:
        page.get_by_role("button", name="More tabs").click()
        page.locator(".overflow-dropdown button", has_text=name).click()
    else:
        tab.click()


def test_the_generator_pickers_show_the_generators_whole_name(quick_app: Server, browser, shot):
    local = "Local: Qwen2.5-Coder 1.5B"
    pickers = {
        "Chat": "generator",
        "Briefing": "brief-generator",
        "Compare": "compare-generator",
        "Timeline": "across-generator",
    }
    for width in (1024, 1280, 1440, 390):
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        open_app(page, quick_app.url)
        for tab, picker in pickers.items():
            open_tab(page, tab)
            pick(page, picker, local)
            room = page.evaluate(GENERATOR_ROOM, picker)
            assert room["name"] == local
            assert room["text"] <= room["room"] and room["labelFits"], (width, picker, room)
        open_tab(page, "Chat")
        shot(page, f"chat-{width}")
        context.close()


# Elements whose content is cut at their side, or that reach past the window's right edge other
# than in a box that scrolls sideways within the window; Gradio's hidden copy of the tab bar (it
# measures the tabs) aside.
OVERFLOWING = """() => {
    const scrollable = (element) => {
        for (let box = element.parentElement; box; box = box.parentElement)
            if (['auto', 'scroll'].includes(getComputedStyle(box).overflowX))
                return box.getBoundingClientRect().right <= window.innerWidth + 0.5;
        return false;
    };
    const out = [];
    for (const element of document.querySelectorAll('.gradio-container *')) {
        if (element.closest('.visually-hidden, .sr-only')) continue;
        const rect = element.getBoundingClientRect();
        if (!rect.width || !rect.height) continue;
        const cut = ['hidden', 'clip'].includes(getComputedStyle(element).overflowX)
            && element.scrollWidth > element.clientWidth + 1
            && !['INPUT', 'TEXTAREA'].includes(element.tagName);
        const past = rect.right > window.innerWidth + 0.5 && !scrollable(element);
        if (cut || past)
            out.push(`${element.tagName}#${element.id}.${element.className}: ${
                (element.innerText || '').slice(0, 40)}`);
    }
    return out;
}"""


def assert_fits(page) -> None:
    """The page fits the window's width: nothing to scroll sideways, cut or out of view."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate(OVERFLOWING) == []


def test_a_phone_shows_the_answer_its_sources_and_every_tab_within_its_width(
    survey_app: Server, phone, shot
):
    open_app(phone, survey_app.url)
    ask(phone, BASINS)
    wait_for_answer(phone)
    phone.locator("#page-image .page-quote").wait_for(state="attached")
    assert_fits(phone)
    shot(phone, "answer")
    phone.locator("#side-tabs").scroll_into_view_if_needed()
    shot(phone, "source")
    phone.get_by_role("tab", name="Review").click()
    expect(phone.locator("#review table.review")).to_be_visible()
    assert_fits(phone)
    shot(phone, "review")
    for tab in ("Library", "Briefing", "Compare", "Timeline"):
        phone.evaluate("window.scrollTo(0, 0)")
        open_tab(phone, tab)
        assert_fits(phone)
        shot(phone, tab.lower())
