"""A run waiting for a person's decision (an action needing approval) is shown as waiting: its
node in the waiting colour, its open attempt with no verdict yet, and its live page saying what
it waits for."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from core.paths import data_dir
from tests.viewer.browser import Browser
from tests.viewer.demo import INSTRUCTION, write_script
from viewer.server import UiServer, UiSources

FILL = "getComputedStyle(document.querySelector('.node[data-id={}] rect')).fill"


def waiting_run(folder: Path) -> str:
    """The demo run without approvals: it stops before posting the tweet (exit 4)."""
    args = ["run", INSTRUCTION, "--model", f"script:{write_script(folder)}", "--no-memory",
            "-q", "--json", "--approve", "ask"]  # fmt: skip
    result = CliRunner().invoke(cli, args, input="")
    assert result.exit_code == 4, result.output
    return str(json.loads(result.stdout[result.stdout.index("{") :])["run_id"])


def test_a_waiting_run_is_shown_as_waiting(browser: Browser, tmp_path: Path) -> None:
    run_id = waiting_run(tmp_path)
    server = UiServer(UiSources(store=data_dir() / "runs.db"))
    server.start()
    try:
        browser.open(f"{server.url}run/runs/{run_id}")
        browser.wait_for("document.body.dataset.rendered")
        assert browser.evaluate("document.querySelector('header .badge').textContent") == "waiting"
        assert browser.evaluate(
            "document.querySelector('.node[data-id=s2]').classList.contains('st-waiting')"
        )
        assert browser.evaluate(FILL.format("s2")) not in (
            browser.evaluate(FILL.format("s3")),  # pending
            browser.evaluate(FILL.format("s1")),  # succeeded
        )
        assert "waiting" in browser.evaluate("document.querySelector('.legend').textContent")
        live = browser.evaluate("document.getElementById('live').textContent")
        assert f"waits for a person's decision (steward approve {run_id}" in live
        browser.evaluate(
            "document.querySelector('.node[data-id=s2]')"
            ".dispatchEvent(new MouseEvent('click', {bubbles: true}))"
        )
        assert (
            browser.evaluate("document.querySelectorAll('#subtask .attempt-box.open').length") == 1
        )
        assert (
            browser.evaluate("document.querySelectorAll('#subtask .attempt-box.bad').length") == 0
        )
        assert browser.errors() == []
    finally:
        server.shutdown()
        server.server_close()
