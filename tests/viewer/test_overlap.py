"""Subtasks that run at the same time overlap on the timeline: a run of two independent
subtasks on models that take time to answer, drawn in the browser."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agents import AgentSettings
from apps.world import World
from memory.runs import RunStore
from modelclient.base import ChatMessage
from modelclient.testing import FunctionModel
from orchestrator import Orchestrator
from tests.orchestrator.helpers import act, kind, last_user, registry, scenario, verdict
from tests.viewer.browser import Browser
from viewer import write_html

PLAN = {
    "nodes": [
        {"id": "a", "task_token": "<app:notes>", "instruction": "Add a note 'milk'", "needs": []},
        {"id": "b", "task_token": "<app:mail>", "instruction": "Mail bob 'hi'", "needs": []},
    ]
}


def steward(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    if kind(schema) == "plan":
        return PLAN
    if kind(schema) == "evaluate":
        return verdict(True, key_info="done")
    return {"answer": "Done."}


def notes(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    if "Observation:" in last_user(messages):
        return act("finish", result="note N1")
    return act("add", text="milk")


def mail(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    if "Observation:" in last_user(messages):
        return act("finish", result="mailed")
    return act("send", to="bob", body="hi")


def parallel_run(tmp_path: Path, store: RunStore) -> str:
    reg = registry()
    models = {
        "steward": FunctionModel(steward, name="steward"),
        "<app:notes>": FunctionModel(notes, name="notes", delay_s=0.2),
        "<app:mail>": FunctionModel(mail, name="mail", delay_s=0.2),
    }
    orchestrator = Orchestrator(
        registry=reg,
        models=models.__getitem__,
        world=World.build(scenario(), {s.name: s.app_factory for s in reg}),
        settings=AgentSettings(),
        store=store,
        checkpoints=tmp_path / "checkpoints.db",
        run_settings={"scenario": scenario().model_dump()},
    )
    return asyncio.run(orchestrator.run("Note milk and mail bob")).run_id


BAR = "document.querySelector('.tl-row[data-id={}] .bar').getBoundingClientRect().{}"


def test_parallel_subtasks_overlap_on_the_timeline(browser: Browser, tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.db")
    try:
        page = write_html(store, parallel_run(tmp_path, store), tmp_path / "run.html")
    finally:
        store.close()
    browser.open(page.as_uri())
    browser.wait_for("document.body.dataset.rendered")
    a_left, a_right = (
        browser.evaluate(BAR.format("a", "left")),
        browser.evaluate(BAR.format("a", "right")),
    )
    b_left, b_right = (
        browser.evaluate(BAR.format("b", "left")),
        browser.evaluate(BAR.format("b", "right")),
    )
    overlap = min(a_right, b_right) - max(a_left, b_left)
    # each bar holds two model calls of 0.2 s; together they take about as long as one of them
    assert overlap > 0.5 * min(a_right - a_left, b_right - b_left), (
        a_left,
        a_right,
        b_left,
        b_right,
    )
    assert browser.errors() == []
