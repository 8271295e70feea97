"""A running run's page follows it: the page is opened while a scripted run waits in its
second subtask, and it redraws itself, with no reload, as the run goes on and ends."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents import AgentSettings
from apps.world import World
from core.paths import data_dir
from memory.runs import RunStore
from modelclient.base import ChatMessage
from modelclient.testing import FunctionModel
from orchestrator import Orchestrator
from tests.orchestrator.helpers import act, kind, last_user, registry, scenario, verdict
from tests.viewer.browser import Browser
from viewer.server import UiServer, UiSources

PLAN = {
    "nodes": [
        {"id": "a", "task_token": "<app:notes>", "instruction": "Add a note 'milk'", "needs": []},
        {"id": "b", "task_token": "<app:mail>", "instruction": "Mail the id", "needs": ["a"]},
    ]
}


def steward(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    if kind(schema) == "plan":
        return PLAN
    if kind(schema) == "evaluate":
        return verdict(True, key_info="N1")
    return {"answer": "Done."}


def notes(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    if "Observation:" in last_user(messages):
        return act("finish", result="note N1")
    return act("add", text="milk")


class Gate:
    """Holds the mail agent's first answer until the test opens the gate."""

    def __init__(self) -> None:
        self.open = threading.Event()

    async def mail(self, messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        if "Observation:" in last_user(messages):
            return act("finish", result="mailed")
        await asyncio.to_thread(self.open.wait, 60)
        return act("send", to="bob", body="N1")


@pytest.fixture
def run(tmp_path: Path) -> Iterator[tuple[Gate, threading.Thread]]:
    gate = Gate()
    reg = registry()
    models = {
        "steward": FunctionModel(steward, name="steward"),
        "<app:notes>": FunctionModel(notes, name="notes", delay_s=0.05),
        "<app:mail>": FunctionModel(gate.mail, name="mail", delay_s=0.05),
    }
    orchestrator = Orchestrator(
        registry=reg,
        models=models.__getitem__,
        world=World.build(scenario(), {s.name: s.app_factory for s in reg}),
        settings=AgentSettings(),
        store=RunStore(data_dir() / "runs.db"),
        checkpoints=tmp_path / "checkpoints.db",
        run_settings={"scenario": scenario().model_dump()},
    )
    thread = threading.Thread(
        target=lambda: asyncio.run(orchestrator.run("Note milk and mail its id")), daemon=True
    )
    thread.start()
    try:
        yield gate, thread
    finally:
        gate.open.set()
        thread.join(timeout=60)


def wait_until_b_runs(store: RunStore) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = store.list_runs(1)
        if runs:
            details = store.details(runs[0]["run_id"])
            if details.get("a", {}).get("status") == "succeeded" and (
                details.get("b", {}).get("status") == "running"
            ):
                return str(runs[0]["run_id"])
        time.sleep(0.05)
    raise AssertionError("the run did not reach its second subtask")


NODE = "document.querySelector('.node[data-id={}]').classList.contains('st-{}')"


def test_the_page_of_a_running_run_updates_itself(
    run: tuple[Gate, threading.Thread], browser: Browser
) -> None:
    gate, thread = run
    store = RunStore(data_dir() / "runs.db")
    run_id = wait_until_b_runs(store)
    server = UiServer(UiSources(store=data_dir() / "runs.db"))
    server.start()
    try:
        browser.open(f"{server.url}run/runs/{run_id}")
        browser.wait_for("document.body.dataset.rendered")
        assert browser.evaluate(NODE.format("a", "succeeded"))
        assert browser.evaluate(NODE.format("b", "running"))
        assert browser.evaluate("document.querySelector('header .badge').textContent") == "running"
        assert "updating while the run goes on" in browser.evaluate(
            "document.getElementById('live').textContent"
        )
        browser.evaluate("window.sameDocument = true")
        drawn = int(browser.evaluate("document.body.dataset.rendered"))

        gate.open.set()
        thread.join(timeout=60)
        browser.wait_for(
            NODE.format("b", "succeeded")
            + " && document.querySelector('header .badge').textContent === 'succeeded'",
            timeout=30,
        )
        assert browser.evaluate("window.sameDocument") is True  # redrawn, not reloaded
        assert int(browser.evaluate("document.body.dataset.rendered")) > drawn
        assert (
            browser.evaluate("document.querySelectorAll('.tl-row[data-id=b] .item.tool').length")
            == 1
        )
        browser.wait_for("document.getElementById('live').textContent.includes('has ended')")
        assert browser.errors() == []
    finally:
        server.shutdown()
        server.server_close()
        store.close()
