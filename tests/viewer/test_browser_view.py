"""The run page in a real browser (headless chromium): the graph's nodes and the timeline's
bars are there, clicks show a subtask's whole history, app data holding HTML is shown as text
and never runs, a large run opens fast, and no script error is logged."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from memory.runs import RunStore
from tests.viewer.browser import FLAGS, Browser
from tests.viewer.demo import HOSTILE
from tests.viewer.records import big_record, replanned_record
from viewer import write_html
from viewer.model import build_view
from viewer.page import render_page

COUNT = "document.querySelectorAll({!r}).length"


def count(browser: Browser, selector: str) -> int:
    return int(browser.evaluate(COUNT.format(selector)))


def click(browser: Browser, selector: str) -> None:
    browser.evaluate(
        f"document.querySelector({selector!r})"
        ".dispatchEvent(new MouseEvent('click', {bubbles: true}))"
    )


def open_page(browser: Browser, path: Path) -> None:
    browser.open(path.as_uri())
    browser.wait_for("document.body.dataset.rendered")


def test_the_demo_run_renders_with_its_graph_and_timeline(
    browser: Browser, store: RunStore, demo: str, tmp_path: Path
) -> None:
    open_page(browser, write_html(store, demo, tmp_path / "run.html"))
    assert count(browser, "svg.graph .node") == 3
    assert count(browser, "svg.graph .node.st-succeeded") == 3
    assert count(browser, "svg.graph .edge") == 2
    assert count(browser, ".tl-row .bar") == 3
    assert count(browser, ".tl-row .item.call") == 14
    assert count(browser, ".tl-row .item.tool") == 4
    assert count(browser, ".tl-row .attempt.bad") == 1
    assert count(browser, "#subtasks tbody tr") == 3
    assert count(browser, "#calls tbody tr") == 14
    # a node's texts stay inside its box: the tweet's long instruction is cut, whole in its title
    widest = "Math.max(...Array.from(document.querySelectorAll('.node text'), t => t.getComputedTextLength()))"
    assert browser.evaluate(widest) <= browser.evaluate(
        "Number(document.querySelector('svg.graph').dataset.nodeWidth) - 20"
    )
    s2 = "document.querySelector('.node[data-id=s2] text:nth-of-type(2)').textContent"
    assert browser.evaluate(s2).startswith("Tweet '<script>") and browser.evaluate(s2).endswith(
        "\u2026"
    )
    assert HOSTILE in browser.evaluate(
        "document.querySelector('.node[data-id=s2] title').textContent"
    )
    assert browser.evaluate("window.stewardErrors") == []
    assert browser.errors() == []


def test_clicking_a_node_shows_the_subtasks_whole_history(
    browser: Browser, store: RunStore, demo: str, tmp_path: Path
) -> None:
    open_page(browser, write_html(store, demo, tmp_path / "run.html"))
    click(browser, ".node[data-id=s3]")
    assert browser.evaluate("document.querySelector('#subtask .subtask').dataset.id") == "s3"
    assert count(browser, "#subtask .attempt-box") == 2
    assert count(browser, "#subtask .attempt-box.bad") == 1
    text = browser.evaluate("document.querySelector('#subtask').innerText")
    assert "Bob is USR002, not USR009" in text and "verdict: wrong_result" in text
    assert "Receiver ID 'USR009' not found" in text
    click(browser, ".tl-row[data-id=s1]")  # the timeline's rows too
    assert browser.evaluate("document.querySelector('#subtask .subtask').dataset.id") == "s1"
    assert browser.errors() == []


def test_html_in_app_data_is_shown_as_text_and_never_runs(
    browser: Browser, store: RunStore, demo: str, tmp_path: Path
) -> None:
    open_page(browser, write_html(store, demo, tmp_path / "run.html"))
    click(browser, ".node[data-id=s2]")
    assert browser.evaluate("document.title").startswith("Steward run")  # not 'pwned'
    assert count(browser, "img") == 0
    assert count(browser, "script") == 3  # the page's own
    changes = browser.evaluate("document.querySelector('#apps').innerText")
    assert HOSTILE in changes
    assert HOSTILE in browser.evaluate("document.querySelector('#subtask').innerText")
    assert browser.errors() == []


def test_every_plan_of_a_replanned_run_is_shown(browser: Browser, tmp_path: Path) -> None:
    record = replanned_record()
    flow = "the note's id is N1, and it says to buy milk, eggs and bread"
    next(s for s in record.subtasks if s.id == "a").key_info = flow
    page = tmp_path / "replan.html"
    page.write_text(render_page(build_view(record)))
    open_page(browser, page)
    assert count(browser, ".tabs .tab") == 2
    assert count(browser, "svg.graph .node") == 2  # the latest plan first
    assert count(browser, "svg.graph .node.replanned") == 1
    # the edge says what flows along it, cut to the room between columns, whole in its title
    label = browser.evaluate("document.querySelector('.edge .edge-label').textContent")
    assert flow.startswith(label[:-1]) and label.endswith("\u2026")
    room = "Number(document.querySelector('svg.graph').dataset.gap) - 12"
    width = "document.querySelector('.edge .edge-label').getComputedTextLength()"
    assert 0 < browser.evaluate(width) <= browser.evaluate(room)
    assert browser.evaluate("document.querySelector('.edge title').textContent").endswith(flow)
    click(browser, ".tab[data-plan='0']")
    assert count(browser, "svg.graph .node") == 3
    assert count(browser, "svg.graph .node.st-failed") == 1
    assert count(browser, "svg.graph .node.st-skipped") == 1
    assert browser.errors() == []


def test_a_run_with_128_subtasks_opens_fast(browser: Browser, tmp_path: Path) -> None:
    page = tmp_path / "big.html"
    page.write_text(render_page(build_view(big_record(128, attempts=3, steps=10))))
    start = time.perf_counter()
    open_page(browser, page)
    elapsed = time.perf_counter() - start
    print(f"128 subtasks: {page.stat().st_size / 1e6:.1f} MB, opened in {elapsed:.2f} s")
    assert count(browser, "svg.graph .node") == 128
    assert count(browser, ".tl-row .bar") == 128
    assert elapsed < 10.0
    click(browser, ".node[data-id=s77]")
    assert count(browser, "#subtask .attempt-box") == 3
    assert browser.errors() == []


def test_chromium_screenshots_the_file_from_the_command_line(
    chromium: str, store: RunStore, demo: str, tmp_path: Path
) -> None:
    """What a reader does by hand: chromium --screenshot of the written file."""
    page = write_html(store, demo, tmp_path / "out.html")
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    args = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
            "--window-size=1280,1000", page.as_uri()]  # fmt: skip
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
