"""``steward bench bfcl`` in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli


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


def _memory_list() -> list[dict[str, object]]:
    result = CliRunner().invoke(cli, ["memory", "list", "--json"])
    assert result.exit_code == 0, result.output
    entries: list[dict[str, object]] = json.loads(result.stdout)
    return entries


def test_bench_fills_the_memory_that_steward_memory_lists(tmp_path: Path) -> None:
    """The issue's check: an oracle run fills the user's memory; a failing run adds nothing."""
    runner = CliRunner()
    args = ["bench", "bfcl", "--model", "oracle", "--limit", "2", "-q", "--out", str(tmp_path)]
    assert runner.invoke(cli, args).exit_code == 0
    entries = _memory_list()
    kinds = {e["kind"] for e in entries}
    assert kinds == {"guideline", "expertise"}
    for entry in entries:
        provenance = entry["provenance"]
        assert isinstance(provenance, dict)
        assert provenance["model"] == "oracle" and provenance["source"] == "bench"
        assert str(provenance["run_id"]).startswith("multi_turn_base_")
    broken = ["bench", "bfcl", "--model", "oracle-broken", "--limit", "2", "--offset", "2"]
    assert runner.invoke(cli, [*broken, "-q", "--out", str(tmp_path)]).exit_code == 0
    assert len(_memory_list()) == len(entries)
    # a passing run with --no-learn reads memory but writes nothing
    frozen = ["bench", "bfcl", "--model", "oracle", "--limit", "2", "--offset", "4"]
    result = runner.invoke(cli, [*frozen, "--no-learn", "--json", "--out", str(tmp_path)])
    assert json.loads(result.stdout)["accuracy"] == 1.0
    assert len(_memory_list()) == len(entries)


def test_bench_with_hybrid_memory_retrieval(tmp_path: Path) -> None:
    pytest.importorskip("tokenizers", reason='needs pip install "steward[embeddings]"')
    runner = CliRunner()
    args = ["bench", "bfcl", "--model", "oracle", "--limit", "2", "-q", "--out", str(tmp_path)]
    assert runner.invoke(cli, args).exit_code == 0  # fills memory (fts)
    again = [*args[:-3], "--no-learn", "--memory-retrieval", "hybrid", "--json"]
    result = runner.invoke(cli, [*again, "--out", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == 1.0
    stats = json.loads(runner.invoke(cli, ["memory", "stats", "--json"]).stdout)
    assert stats["vectors"]["guideline"] == stats["guidelines"]["count"] > 0  # backfilled
    run_text = runner.invoke(cli, ["bench", "bfcl", "--memory-retrieval", "cosine"])
    assert run_text.exit_code == 2 and "fts" in run_text.output


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
