"""``steward bench bfcl`` in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.bfcl.purposes import PURPOSES
from cli.main import cli
from memory import default_path


def test_bench_bfcl_oracle_json(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["bench", "bfcl", "--model", "oracle", "--limit", "2", "--json", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["accuracy"] == 1.0 and summary["tasks"] == 2
    assert summary["category"] == "multi_turn_base" and summary["agent"] == "steward"
    assert Path(summary["files"]["results"]).exists()
    assert "accuracy 100.0%" in result.stderr  # the progress bar


def test_bench_bfcl_broken_oracle_text(tmp_path: Path) -> None:
    args = ["bench", "bfcl", "--model", "oracle-broken", "--limit", "2", "-q"]
    result = CliRunner().invoke(cli, [*args, "--agent", "single", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "0/2 passed, accuracy 0.0%" in result.stdout
    assert result.stderr == ""


def test_bench_bfcl_resumes_and_fresh_starts_over(tmp_path: Path) -> None:
    args = ["bench", "bfcl", "--model", "oracle", "--agent", "no-memory", "--limit", "1"]
    args += ["--out", str(tmp_path), "--json"]
    runner = CliRunner()
    assert json.loads(runner.invoke(cli, args).stdout)["tasks_run"] == 1
    again = runner.invoke(cli, args)
    assert json.loads(again.stdout)["tasks_run"] == 0
    assert "1 task(s) already done" in again.stderr
    assert json.loads(runner.invoke(cli, [*args, "--fresh"]).stdout)["tasks_run"] == 1


def test_bench_bfcl_rejects_an_unknown_category() -> None:
    result = CliRunner().invoke(cli, ["bench", "bfcl", "--category", "simple", "--model", "oracle"])
    assert result.exit_code == 2
    assert "multi_turn_base" in result.output


def test_bench_bfcl_unreachable_server_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "bench",
            "bfcl",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--limit",
            "1",
            "--out",
            str(tmp_path),
            "-q",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "unreachable" in result.stderr
    assert not any(p.read_text().strip() for p in tmp_path.glob("*.jsonl"))  # nothing scored


def _memory_list(db: Path | None = None) -> list[dict[str, object]]:
    where = [] if db is None else ["--db", str(db)]
    result = CliRunner().invoke(cli, ["memory", *where, "list", "--json"])
    assert result.exit_code == 0, result.output
    entries: list[dict[str, object]] = json.loads(result.stdout)
    return entries


def test_bench_learns_into_its_own_memory_file_and_leaves_yours_alone(tmp_path: Path) -> None:
    """The issue's check: after an oracle run, your store is empty and --out holds the memory,
    every entry marked as a scripted model's; the summary names the file."""
    out = tmp_path / "out"
    args = ["bench", "bfcl", "--model", "oracle", "--limit", "5", "--out", str(out)]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert not default_path().exists()  # the user's store under STEWARD_HOME
    assert _memory_list() == []
    entries = _memory_list(out / "memory.db")
    assert {e["kind"] for e in entries} == {"guideline", "expertise"}
    for entry in entries:
        provenance = entry["provenance"]
        assert isinstance(provenance, dict)
        assert provenance["model"] == "oracle" and provenance["source"] == "scripted"
        assert str(provenance["run_id"]).startswith("multi_turn_base_")
    memory = json.loads(result.stdout)["memory"]
    assert memory["path"] == str(out / "memory.db") and memory["user_store"] is False
    assert memory["learned_indices"] == [0, 1, 2, 3, 4]
    assert (out / "memory.db.learned.jsonl").exists()
    text = CliRunner().invoke(cli, [*args, "--offset", "5", "-q"])
    assert f"memory: memory file {out / 'memory.db'} (learning)" in text.stdout
    assert "learned from task indices 0-9" in text.stdout


def test_bench_learns_into_your_store_only_when_asked(tmp_path: Path) -> None:
    """--memory-db user: your store learns, but what the oracle taught is not offered to a
    normal run unless asked; a failing run and --no-learn add nothing."""
    from agents.memory_experience import MemoryExperience
    from memory import MemoryStore

    runner = CliRunner()
    args = ["bench", "bfcl", "--model", "oracle", "-q", "--out", str(tmp_path), "--memory-db"]
    result = runner.invoke(cli, [*args, "user", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert f"memory: your memory store {default_path()}" in result.stdout
    entries = _memory_list()
    assert entries and {e["provenance"]["source"] for e in entries} == {"scripted"}  # type: ignore[index]
    assert not (tmp_path / "memory.db").exists()
    request = str(next(e for e in entries if e["kind"] == "guideline")["instruction"])
    with MemoryStore() as store:
        normal = MemoryExperience(store)  # what `steward run` builds
        text, found = normal.guidelines_for(request)
        assert text == "" and found[0]["ids"] == []
        text, _ = MemoryExperience(store, include_scripted=True).guidelines_for(request)
        assert request in text
    broken = [*args, "user", "--model", "oracle-broken", "--limit", "2", "--offset", "2"]
    assert runner.invoke(cli, broken).exit_code == 0
    assert len(_memory_list()) == len(entries)
    frozen = [*args, "user", "--limit", "2", "--offset", "4", "--no-learn", "--json"]
    assert json.loads(runner.invoke(cli, frozen).stdout)["accuracy"] == 1.0
    assert len(_memory_list()) == len(entries)


def test_memory_db_rejects_a_folder(tmp_path: Path) -> None:
    args = ["bench", "bfcl", "--model", "oracle", "--limit", "1", "--memory-db", str(tmp_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "is a folder" in result.output
    assert "--memory-db FILE|user" in CliRunner().invoke(cli, ["bench", "bfcl", "--help"]).stdout


def test_a_memory_never_evaluates_a_task_index_it_learned_from(tmp_path: Path) -> None:
    """Task N of every category is a version of base task N: after learning from base 0-2, the
    same memory refuses miss_param 0-4 (and base 0-2 again), and runs miss_param 3-4."""
    runner = CliRunner()
    args = ["bench", "bfcl", "--model", "oracle", "-q", "--out", str(tmp_path)]
    assert runner.invoke(cli, [*args, "--limit", "3"]).exit_code == 0
    other = [*args, "--category", "multi_turn_miss_param"]
    refused = runner.invoke(cli, [*other, "--limit", "5"])
    assert refused.exit_code == 2, refused.output
    assert "has learned from task(s) 0-2 (multi_turn_base)" in refused.stderr
    assert not list(tmp_path.glob("multi_turn_miss_param*.jsonl"))  # nothing ran
    again = runner.invoke(cli, [*args, "--limit", "3", "--fresh"])
    assert again.exit_code == 2 and "task(s) 0-2" in again.stderr
    fine = runner.invoke(cli, [*other, "--offset", "3", "--limit", "2", "--json"])
    assert fine.exit_code == 0, fine.output
    assert json.loads(fine.stdout)["memory"]["learned_indices"] == [0, 1, 2, 3, 4]
    # memory off: nothing to leak
    off = runner.invoke(cli, [*other, "--limit", "2", "--agent", "no-memory"])
    assert off.exit_code == 0, off.output


def test_bench_with_hybrid_memory_retrieval(tmp_path: Path) -> None:
    pytest.importorskip("tokenizers", reason='needs pip install "steward[embeddings]"')
    runner = CliRunner()
    memory = tmp_path / "memory.db"
    args = ["bench", "bfcl", "--model", "oracle", "--limit", "2", "-q", "--memory-db", str(memory)]
    assert runner.invoke(cli, [*args, "--out", str(tmp_path)]).exit_code == 0  # fills it (fts)
    again = [*args, "--offset", "2", "--no-learn", "--memory-retrieval", "hybrid", "--json"]
    result = runner.invoke(cli, [*again, "--scripted-memory", "--out", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == 1.0
    stats = json.loads(
        runner.invoke(cli, ["memory", "--db", str(memory), "stats", "--json"]).stdout
    )
    assert stats["vectors"]["guideline"] == stats["guidelines"]["count"] > 0  # backfilled
    run_text = runner.invoke(cli, ["bench", "bfcl", "--memory-retrieval", "cosine"])
    assert run_text.exit_code == 2 and "fts" in run_text.output


def test_the_summary_counts_model_calls_by_purpose(tmp_path: Path) -> None:
    args = ["bench", "bfcl", "--model", "oracle", "--limit", "2", "--json", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    calls = summary["calls_by_purpose"]
    assert calls["plan"] > 0 and calls["act"] > 0 and calls["evaluate"] > 0
    # BFCL scores the apps, never the answer: no model call writes it
    assert calls["answer"] == calls["replan"] == calls["summarize"] == 0
    assert calls["fallbacks"] == {} and calls["retries"] == 0
    requests = sum(calls[p] for p in PURPOSES) + calls["other"] + calls["reasks"]
    assert requests == summary["totals"]["model_calls"]
    per_task = summary["task_calls_by_purpose"]
    assert set(per_task) == {"multi_turn_base_0", "multi_turn_base_1"}
    assert sum(t["act"] for t in per_task.values()) == calls["act"]
    assert summary["calls_by_purpose_per_task"]["act"] == calls["act"] / 2
    table = (tmp_path / "results.md").read_text()
    assert "## Model calls by purpose" in table
    assert "| multi_turn_base_0 |" in table and "| all |" in table
    text = CliRunner().invoke(cli, [*args[:-3], "-q", "--out", str(tmp_path)])
    assert "calls per task by purpose: plan " in text.stdout
    assert "plan fallbacks 0" in text.stdout


def test_results_made_with_other_settings_are_not_resumed(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["bench", "bfcl", "--model", "oracle", "--agent", "no-memory", "-q"]
    args += ["--out", str(tmp_path), "--limit", "1"]
    assert runner.invoke(cli, [*args, "--max-steps", "6"]).exit_code == 0
    other = runner.invoke(cli, [*args, "--max-steps", "5"])
    assert other.exit_code == 2
    assert "other settings (settings.max_steps, single_max_steps differ)" in other.output
    assert "--fresh" in other.output
    more = runner.invoke(cli, [*args[:-2], "--limit", "2", "--max-steps", "6", "--json"])
    assert json.loads(more.stdout)["tasks_run"] == 1  # same settings: resumed, one more task
    assert runner.invoke(cli, [*args, "--max-steps", "5", "--fresh"]).exit_code == 0


@pytest.mark.parametrize(
    ("agent", "extra", "resumed"),
    [("steward", [], False), ("steward", ["--scripted-memory"], True), ("single", [], True)],
)
def test_results_made_before_the_scripted_filter(
    tmp_path: Path, agent: str, extra: list[str], resumed: bool
) -> None:
    """Results saved before the filter existed were offered every entry: a steward resumes
    them only with --scripted-memory; an agent without memory resumes them as they are."""
    args = ["bench", "bfcl", "--model", "oracle", "--agent", agent, "-q", "--out", str(tmp_path)]
    assert CliRunner().invoke(cli, [*args, "--limit", "1", *extra]).exit_code == 0
    (saved,) = tmp_path.glob("*.settings.json")
    settings = json.loads(saved.read_text())
    settings.pop("include_scripted", None)
    saved.write_text(json.dumps(settings))
    more = CliRunner().invoke(cli, [*args, "--limit", "2", "--offset", "0", *extra])
    if resumed:
        assert more.exit_code == 0, more.output
    else:
        assert more.exit_code == 2 and "include_scripted differ" in more.output
