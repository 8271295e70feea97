"""The trained-experts report: rows over the tasks every arm finished, turn-weighted per-turn
accuracy, and the turns a trained arm passes beyond its untrained arm (and the reverse)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.bfcl.experts_report import build, markdown
from benchmarks.bfcl.results import TaskResult, Totals


def _write(out: Path, arm: str, results: list[tuple[str, int, int, bool]]) -> None:
    folder = out / "eval" / arm
    folder.mkdir(parents=True)
    for category in {task.rsplit("_", 1)[0] for task, *_ in results}:
        lines = [
            TaskResult(
                id=task, category=category, agent="a", mode="turns", model="m", valid=valid,
                turns_passed=passed, turn_count=count,
                totals=Totals(model_calls=10, prompt_tokens=3000, wall_s=60.0),
            ).model_dump_json()
            for task, passed, count, valid in results
            if task.rsplit("_", 1)[0] == category
        ]  # fmt: skip
        (folder / f"{category}__a__turns__m.jsonl").write_text("\n".join(lines) + "\n")


def test_rows_compare_the_same_tasks_and_count_turns_gained_and_lost(tmp_path: Path) -> None:
    _write(tmp_path, "steward-untrained", [
        ("multi_turn_base_1", 1, 4, False), ("multi_turn_base_3", 0, 2, False),
        ("multi_turn_miss_func_1", 2, 2, True), ("multi_turn_base_5", 4, 4, True),
    ])  # fmt: skip
    _write(
        tmp_path,
        "steward-trained",
        [
            ("multi_turn_base_1", 3, 4, False),
            ("multi_turn_base_3", 0, 2, False),
            ("multi_turn_miss_func_1", 1, 2, False),
        ],
    )  # fmt: skip (base_5 not finished yet: left out of every row)
    (tmp_path / "train-steward.json").write_text(json.dumps({"adapters": [
        {"task_token": "steward", "steps": 30, "examples": 40, "train_s": 120.0,
         "loss_first": 2.0, "loss_last": 0.5},
    ]}))  # fmt: skip
    data = build(tmp_path)
    assert data["tasks"] == ["multi_turn_base_1", "multi_turn_base_3", "multi_turn_miss_func_1"]
    untrained, trained = data["arms"]
    assert untrained["arm"] == "steward-untrained" and "vs_untrained" not in untrained
    assert (untrained["turns_passed"], untrained["turns"], untrained["passed"]) == (3, 8, 1)
    assert trained["per_turn_accuracy"] == 0.5  # 4 of 8 turns, weighted by turns
    assert trained["vs_untrained"] == {"gained": 2, "lost": 1}
    assert trained["by_category"]["multi_turn_miss_func"] == {
        "tasks": 1, "passed": 0, "per_turn_accuracy": 0.5,
    }  # fmt: skip
    assert trained["prompt_tokens_per_call"] == 300 and trained["wall_s_per_task"] == 60.0
    assert trained["training"]["steps"] == 30
    text = markdown(data)
    assert text.startswith("3 tasks that every arm finished.")
    assert "| steward-trained | 0/3 | 50.0% (4/8) | +2 / -1 |" in text
    assert "30 steps, 40 examples, 2 min" in text


def test_an_arm_with_no_results_is_left_out(tmp_path: Path) -> None:
    _write(tmp_path, "single-untrained", [("multi_turn_base_1", 1, 4, False)])
    (tmp_path / "eval" / "single-trained").mkdir()
    data = build(tmp_path)
    assert [r["arm"] for r in data["arms"]] == ["single-untrained"]
    assert build(tmp_path / "nothing") == {"tasks": [], "arms": []}


def test_behaviour_counts_the_verdicts_and_the_commonest_attempts(tmp_path: Path) -> None:
    """On the teacher's runs of base task 0, where every subtask is first attempted one call
    short and rejected, then retried and accepted."""
    import asyncio

    from benchmarks.bfcl.experts_behaviour import behaviour
    from benchmarks.bfcl.experts_behaviour import markdown as behaviour_markdown
    from benchmarks.bfcl.teach import teacher_examples
    from memory.runs import RunStore

    asyncio.run(teacher_examples("multi_turn_base", [0], tmp_path / "t", reject_share=1.0))
    store = RunStore(tmp_path / "t" / "runs.db")
    runs = [r["run_id"] for r in store.list_runs(100)]  # the task's 4 turns
    store.close()
    seen = behaviour(tmp_path / "t" / "runs.db", runs)
    assert (seen["attempts"], seen["judged"], seen["accepted"]) == (8, 8, 0.5)
    assert seen["patterns"][0]["share"] >= seen["patterns"][-1]["share"]
    assert sum(p["share"] for p in seen["patterns"]) <= 1
    assert behaviour(tmp_path / "t" / "runs.db", [])["attempts"] == 0
    assert behaviour(tmp_path / "none.db", runs) == {}
    text = behaviour_markdown([{"arm": "teacher", "behaviour": seen}])
    assert "| teacher | 8 | 50% of 8 |" in text
    looping = {"attempts": 1, "judged": 0, "accepted": None,
               "patterns": [{"pattern": " -> ".join(["ls", "cd"] * 20), "share": 1.0}]}  # fmt: skip
    text = behaviour_markdown([{"arm": "loop", "behaviour": looping}])
    assert "`ls -> cd -> ls -> cd -> ls -> cd -> ... (40 steps)` 100%" in text
