"""The view data built from run records: graphs laid out, the timeline in real time, long
texts kept within budget, app changes in words."""

from __future__ import annotations

import json
import time

import pytest

from agents.plan import SchedulingGraph, Subtask
from memory.runs import RunStore
from tests.viewer.demo import HOSTILE
from tests.viewer.records import big_record, replanned_record
from viewer.graph import layout, plan_fallbacks
from viewer.model import build_view
from viewer.page import render_page, script_json
from viewer.source import load_actions, load_record, version
from viewer.texts import fair_cap


def node(node_id: str, *needs: str) -> Subtask:
    return Subtask(id=node_id, task_token="<app:notes>", instruction=node_id, needs=list(needs))


def test_the_demo_run_as_a_view(store: RunStore, demo: str) -> None:
    record = load_record(store, demo)
    view = build_view(record, load_actions(store, demo))
    [plan] = view["plans"]
    assert [n["id"] for n in plan["nodes"]] == ["s1", "s2", "s3"]
    assert {n["status"] for n in plan["nodes"]} == {"succeeded"}
    assert [(e["from"], e["to"], e["label"]) for e in plan["edges"]] == [
        ("s1", "s3", "done"),
        ("s2", "s3", "done"),
    ]
    steward, *rows = view["timeline"]["rows"]
    assert [i["purpose"] for i in steward["items"]] == ["plan", "answer"]
    assert [r["id"] for r in rows] == ["s1", "s2", "s3"]
    s3 = rows[2]
    assert [(a["number"], a["success"]) for a in s3["attempts"]] == [(1, False), (2, True)]
    tools = [i for i in s3["items"] if i["kind"] == "tool"]
    assert [(t["tool"], t["status"]) for t in tools] == [
        ("send_message", "undone"),
        ("send_message", "done"),
    ]
    for row in rows:  # everything sits inside its subtask's bar
        for item in row["items"]:
            assert row["start"] - 1e-3 <= item["start"] <= item["end"] <= row["end"] + 1e-3
    history = view["subtasks"][2]["history"]
    assert history[0]["verdict"]["tips"] == "Bob is USR002, not USR009"
    assert history[1]["tips"] == "Bob is USR002, not USR009"
    assert history[0]["rolled_back"] is True
    first_call = history[0]["calls"][0]
    assert view["texts"][first_call["prompt"][0]["text"]].startswith("You operate the messaging")
    posting = next(a for a in view["apps"] if a["app"] == "posting")
    assert posting["state"] == "changed" and any(HOSTILE in c for c in posting["changes"])
    assert view["run"]["usage"]["calls"] == 14


def test_a_replanned_run_shows_every_plan_with_replanned_and_fallback_nodes() -> None:
    view = build_view(replanned_record())
    first, second = view["plans"]
    assert (first["label"], second["label"]) == ("plan", "re-plan 1")
    assert {n["id"]: n["status"] for n in first["nodes"]} == {
        "a": "succeeded",
        "b": "failed",
        "c": "skipped",
    }
    marks = {n["id"]: (n["replanned"], n["fallback"]) for n in second["nodes"]}
    assert marks == {"a": (False, None), "b_r1": (True, None)}


@pytest.mark.parametrize(
    ("plans", "fallbacks", "expected"),
    [
        (1, [], [None]),
        (1, ["apps"], ["apps"]),
        (2, ["template:7"], ["template:7", None]),
        (2, ["template:7", "apps"], ["template:7", "apps"]),
        (2, ["apps", "apps"], ["apps", "apps"]),
        (3, ["apps"], [None, None, None]),  # which plan is not recorded: none is marked
    ],
)
def test_fallbacks_are_placed_only_where_the_record_says_which_plan(
    plans: int, fallbacks: list[str], expected: list[str | None]
) -> None:
    assert plan_fallbacks(plans, fallbacks) == expected


def test_layout_puts_each_node_right_of_what_it_needs() -> None:
    graph = SchedulingGraph(nodes=[node("a"), node("b"), node("c", "a", "b"), node("d", "c")])
    at, width, height = layout(graph)
    assert at["a"][0] == at["b"][0] < at["c"][0] < at["d"][0]
    assert at["a"][1] != at["b"][1]
    assert width > at["d"][0] and height > max(y for _, y in at.values())


def test_layout_survives_a_cycle_and_unknown_needs() -> None:
    graph = SchedulingGraph(nodes=[node("a", "b"), node("b", "a"), node("c", "zz", "c")])
    at, _, _ = layout(graph)
    assert set(at) == {"a", "b", "c"}


def test_tool_calls_without_journal_times_are_placed_after_their_model_call() -> None:
    record = replanned_record()
    view = build_view(record)  # no journal
    row = next(r for r in view["timeline"]["rows"] if r["id"] == "a")
    tools = [i for i in row["items"] if i["kind"] == "tool"]
    calls = [i for i in row["items"] if i["kind"] == "call" and i["purpose"] == "act"]
    assert len(tools) == 2 and all(t["estimated"] for t in tools)
    assert [t["start"] for t in tools] == [c["end"] for c in calls]


def test_long_texts_stay_within_the_budget() -> None:
    assert fair_cap([10, 10, 10], 100, 50) == 50
    assert fair_cap([10, 1000, 1000], 210, 5000) == 100
    record = replanned_record()
    record.subtasks[0].history[0].steps[0].observation = "z" * 200_000
    view = build_view(record)
    observation = view["subtasks"][0]["history"][0]["steps"][0]["observation"]
    assert len(observation) < 5000 and "more characters" in observation


def test_a_run_with_128_subtasks_and_long_histories_stays_small_and_fast() -> None:
    record = big_record(128, attempts=3, steps=10)
    start = time.perf_counter()
    page = render_page(build_view(record))
    elapsed = time.perf_counter() - start
    size = len(page.encode())
    print(f"128 subtasks, 384 attempts, 3840 tool calls: {size / 1e6:.1f} MB in {elapsed:.2f} s")
    assert size < 12_000_000 and size < len(record.model_dump_json()) / 2
    assert elapsed < 5.0


def test_script_json_cannot_close_its_element() -> None:
    text = script_json({"x": "</script><script>alert(1)</script>&amp;"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"x": "</script><script>alert(1)</script>&amp;"}


def test_the_version_changes_when_the_run_changes(store: RunStore, demo: str) -> None:
    before = version(store, demo)
    assert version(store, demo) == before
    store.save_step(demo, progress={"status": "failed"})
    assert version(store, demo) != before
